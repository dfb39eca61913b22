//! Choice states through the engine: the specification's example, Default,
//! `States.NoChoiceMatched`, and a missing variable.

use crate::{route, run};
use asl_engine::{ExecutionStatus, Registry};
use serde_json::{json, Value};

/// The specification's Choice example (ChoiceStateX), with Pass states as targets.
fn spec_machine() -> Value {
    json!({"StartAt": "ChoiceStateX", "States": {
        "ChoiceStateX": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "IsNumeric": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}
            ], "Next": "ValueInTwenties"},
            {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold", "Next": "StartAudit"}
        ], "Default": "RecordEvent"},
        "Public": {"Type": "Succeed"},
        "ValueInTwenties": {"Type": "Succeed"},
        "StartAudit": {"Type": "Succeed"},
        "RecordEvent": {"Type": "Succeed"}
    }})
}

async fn target(input: Value) -> (ExecutionStatus, Vec<String>) {
    let (done, h) = run(spec_machine(), Registry::new(), input).await;
    (done.status, route(&h))
}

#[tokio::test(start_paused = true)]
async fn spec_example_private_22_goes_to_value_in_twenties() {
    let (status, r) = target(json!({"type": "Private", "value": 22})).await;
    assert_eq!(status, ExecutionStatus::Succeeded);
    assert_eq!(r, vec!["ChoiceStateX", "ValueInTwenties"]);
}

#[tokio::test(start_paused = true)]
async fn spec_example_public_goes_to_public() {
    assert_eq!(
        target(json!({"type": "Public"})).await.1,
        vec!["ChoiceStateX", "Public"]
    );
}

#[tokio::test(start_paused = true)]
async fn spec_example_rating_above_threshold_starts_an_audit() {
    let (_, r) =
        target(json!({"type": "Private", "value": 5, "rating": 9, "auditThreshold": 5})).await;
    assert_eq!(r, vec!["ChoiceStateX", "StartAudit"]);
}

#[tokio::test(start_paused = true)]
async fn spec_example_no_rule_matches_so_default_is_taken() {
    let (_, r) =
        target(json!({"type": "Private", "value": 5, "rating": 1, "auditThreshold": 5})).await;
    assert_eq!(r, vec!["ChoiceStateX", "RecordEvent"]);
}

#[tokio::test(start_paused = true)]
async fn spec_example_missing_rating_is_a_runtime_error() {
    // `$.rating` is compared without an IsPresent guard.
    let (done, _) = run(
        spec_machine(),
        Registry::new(),
        json!({"type": "Private", "value": 5}),
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("$.rating"));
}

#[tokio::test(start_paused = true)]
async fn no_match_and_no_default_is_no_choice_matched() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "BooleanEquals": true, "Next": "Yes"}]},
        "Yes": {"Type": "Succeed"}
    }});
    let (done, _) = run(def, Registry::new(), json!({"x": false})).await;
    assert_eq!(done.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test(start_paused = true)]
async fn choice_applies_input_path_and_output_path() {
    let def = json!({"StartAt": "C", "States": {
        "C": {"Type": "Choice", "InputPath": "$.inner", "OutputPath": "$.v",
              "Choices": [{"Variable": "$.v", "StringMatches": "rc-*", "Next": "Done"}]},
        "Done": {"Type": "Succeed"}
    }});
    let (done, _) = run(def, Registry::new(), json!({"inner": {"v": "rc-1.4.0"}})).await;
    assert_eq!(done.output, Some(json!("rc-1.4.0")));
}

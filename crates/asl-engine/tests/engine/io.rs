//! Input and output processing: InputPath, Parameters, ResultSelector, ResultPath,
//! OutputPath and the context object, including the specification's worked examples.

use crate::{run, FN};
use asl_engine::{LambdaError, Registry};
use serde_json::{json, Value};

fn adder() -> Registry {
    Registry::new().lambda("add", |v: Value| async move {
        let (a, b) = (v["val1"].as_i64(), v["val2"].as_i64());
        match (a, b) {
            (Some(a), Some(b)) => Ok(json!(a + b)),
            _ => Err(LambdaError::new(
                "BadInput",
                "val1 and val2 must be integers",
            )),
        }
    })
}

/// The Amazon States Language specification's path-processing example: InputPath
/// selects the numbers, the task adds them, ResultPath puts the sum beside the input.
#[tokio::test(start_paused = true)]
async fn spec_example_input_path_result_path() {
    let def = json!({"StartAt": "Add", "States": {"Add": {
        "Type": "Task", "Resource": format!("{FN}add"),
        "InputPath": "$.numbers", "ResultPath": "$.sum", "End": true
    }}});
    let (done, _) = run(
        def,
        adder(),
        json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}}),
    )
    .await;
    assert_eq!(
        done.output,
        Some(json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7}))
    );
}

#[tokio::test(start_paused = true)]
async fn output_path_selects_part_of_the_merged_result() {
    let def = json!({"StartAt": "Add", "States": {"Add": {
        "Type": "Task", "Resource": format!("{FN}add"),
        "InputPath": "$.numbers", "ResultPath": "$.sum", "OutputPath": "$.sum", "End": true
    }}});
    let (done, _) = run(def, adder(), json!({"numbers": {"val1": 1, "val2": 2}})).await;
    assert_eq!(done.output, Some(json!(3)));
}

#[tokio::test(start_paused = true)]
async fn result_path_null_keeps_the_input_and_discards_the_result() {
    let def = json!({"StartAt": "Add", "States": {"Add": {
        "Type": "Task", "Resource": format!("{FN}add"), "ResultPath": null, "End": true
    }}});
    let (done, _) = run(def, adder(), json!({"val1": 1, "val2": 2})).await;
    assert_eq!(done.output, Some(json!({"val1": 1, "val2": 2})));
}

#[tokio::test(start_paused = true)]
async fn input_path_and_output_path_null_give_an_empty_object() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "InputPath": null, "Next": "Q"},
        "Q": {"Type": "Pass", "ResultPath": "$.seen", "OutputPath": null, "End": true}
    }});
    let (done, h) = run(def, Registry::new(), json!({"a": 1})).await;
    assert_eq!(done.output, Some(json!({})));
    // Q received P's output: the empty object.
    let q_in = h.iter().find(|e| e.state_name() == Some("Q")).unwrap();
    assert_eq!(
        q_in.details,
        asl_engine::Details::StateEntered {
            name: "Q".into(),
            input: json!({}).into()
        }
    );
}

#[tokio::test(start_paused = true)]
async fn parameters_build_the_effective_input_from_input_context_and_intrinsics() {
    let reg = Registry::new().lambda("echo", |v: Value| async move { Ok(v) });
    let def = json!({"StartAt": "Echo", "States": {"Echo": {
        "Type": "Task", "Resource": format!("{FN}echo"),
        "Parameters": {
            "flagged": true,
            "parts": {"first.$": "$.vals[0]", "last3.$": "$.vals[-3:]"},
            "execution.$": "$$.Execution.Name",
            "state.$": "$$.State.Name",
            "started.$": "$$.Execution.StartTime",
            "original.$": "$$.Execution.Input.flagged",
            "id.$": "$$.Execution.Id",
            "entered.$": "$$.State.EnteredTime",
            "machine.$": "$$.StateMachine.Id",
            "greeting.$": "States.Format('run {} of {}', $$.Execution.Name, $$.StateMachine.Name)"
        },
        "End": true
    }}});
    let (done, _) = run(
        def,
        reg,
        json!({"flagged": 7, "vals": [0, 10, 20, 30, 40, 50]}),
    )
    .await;
    let out = done.output.unwrap();
    assert_eq!(out["flagged"], json!(true));
    assert_eq!(out["parts"], json!({"first": 0, "last3": [30, 40, 50]}));
    assert_eq!(out["execution"], json!(done.name));
    assert_eq!(out["state"], json!("Echo"));
    assert_eq!(out["started"], json!("2026-01-01T00:00:00.000Z"));
    assert_eq!(out["original"], json!(7));
    assert_eq!(out["id"], json!(done.execution_arn));
    assert_eq!(out["entered"], json!("2026-01-01T00:00:00.000Z"));
    assert_eq!(out["machine"], json!(done.state_machine_arn));
    assert_eq!(out["greeting"], json!(format!("run {} of test", done.name)));
}

#[tokio::test(start_paused = true)]
async fn result_selector_shapes_the_result_before_result_path() {
    let reg = Registry::new().lambda("big", |_| async move {
        Ok(json!({"output": {"ClusterId": "j-123", "Status": "READY"}, "noise": [1, 2, 3]}))
    });
    let def = json!({"StartAt": "T", "States": {"T": {
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": format!("{FN}big")},
        "ResultSelector": {"ClusterId.$": "$.Payload.output.ClusterId", "code.$": "$.StatusCode"},
        "ResultPath": "$.cluster", "End": true
    }}});
    let (done, _) = run(def, reg, json!({"keep": 1})).await;
    assert_eq!(
        done.output,
        Some(json!({"keep": 1, "cluster": {"ClusterId": "j-123", "code": 200}}))
    );
}

#[tokio::test(start_paused = true)]
async fn pass_result_and_parameters() {
    let def = json!({"StartAt": "Fixed", "States": {
        "Fixed": {"Type": "Pass", "Result": {"x": 1}, "ResultPath": "$.fixed", "Next": "Shaped"},
        "Shaped": {"Type": "Pass", "Parameters": {"copy.$": "$.fixed.x", "n": 2}, "ResultPath": "$.shaped", "End": true}
    }});
    let (done, _) = run(def, Registry::new(), json!({"in": true})).await;
    assert_eq!(
        done.output,
        Some(json!({"in": true, "fixed": {"x": 1}, "shaped": {"copy": 1, "n": 2}}))
    );
}

#[tokio::test(start_paused = true)]
async fn a_missing_input_path_fails_the_execution_with_states_runtime() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": "$.absent", "End": true}}});
    let (done, _) = run(def, Registry::new(), json!({})).await;
    assert_eq!(done.status, asl_engine::ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("$.absent"));
}

#[tokio::test(start_paused = true)]
async fn a_result_path_through_a_non_object_is_a_runtime_error() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.s.x", "End": true}}});
    let (done, _) = run(def, Registry::new(), json!({"s": "text"})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test(start_paused = true)]
async fn a_missing_parameters_path_is_a_runtime_error_even_with_catch_all() {
    let reg = Registry::new().lambda("echo", |v: Value| async move { Ok(v) });
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": format!("{FN}echo"), "Parameters": {"x.$": "$.nope"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}
    }});
    let (done, _) = run(def, reg, json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test(start_paused = true)]
async fn state_entered_time_is_when_the_state_was_entered() {
    let def = json!({"StartAt": "W", "States": {
        "W": {"Type": "Wait", "Seconds": 10, "Next": "P"},
        "P": {"Type": "Pass", "Parameters": {"entered.$": "$$.State.EnteredTime", "started.$": "$$.Execution.StartTime"}, "End": true}
    }});
    let (done, _) = run(def, Registry::new(), json!({})).await;
    assert_eq!(
        done.output,
        Some(json!({"entered": "2026-01-01T00:00:10.000Z", "started": "2026-01-01T00:00:00.000Z"}))
    );
}

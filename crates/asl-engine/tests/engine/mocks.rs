//! Step Functions Local mock-config test cases, data-driven from `tests/fixtures/`.

use crate::{route, secs_between};
use asl_engine::{Clock, Engine, EngineConfig, MockConfig, StateMachine};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

async fn check_fixture(dir: &Path, machine: &str) -> usize {
    let subs: BTreeMap<String, String> =
        match std::fs::read_to_string(dir.join("substitutions.json")) {
            Ok(t) => serde_json::from_str(&t).unwrap(),
            Err(_) => BTreeMap::new(),
        };
    let definition = read(&dir.join("definition.asl.json"));
    let config = MockConfig::parse(&read(&dir.join("mock-config.json"))).unwrap();
    let expected: BTreeMap<String, Value> =
        serde_json::from_str(&read(&dir.join("expected.json"))).unwrap();
    for (case, want) in &expected {
        let sm = StateMachine::from_template(&definition, &subs).unwrap();
        let executor = config.executor(machine, case, &sm, None).unwrap();
        let engine = Engine::with_options(
            Arc::new(executor),
            Clock::fixed(),
            EngineConfig::default(),
            Some(1),
        );
        let arn = engine.register_state_machine(machine, sm).unwrap();
        let done = engine
            .run(&arn, Some(case), want["input"].clone())
            .await
            .unwrap();
        let h = engine.get_execution_history(&done.execution_arn).unwrap();
        let ctx = format!("{}#{case}", dir.display());
        assert_eq!(
            done.status.to_string(),
            want["status"].as_str().unwrap(),
            "{ctx}: {done:?}"
        );
        if let Some(o) = want.get("output") {
            assert_eq!(done.output.as_ref(), Some(o), "{ctx}");
        }
        if let Some(e) = want.get("error") {
            assert_eq!(done.error.as_deref(), e.as_str(), "{ctx}");
        }
        let want_route: Vec<String> = serde_json::from_value(want["route"].clone()).unwrap();
        assert_eq!(route(&h), want_route, "{ctx}");
        if let Some(filters) = want.get("events") {
            check_events(&serde_json::to_value(&h).unwrap(), filters, &ctx);
        }
        if let Some(s) = want.get("elapsedSeconds") {
            assert_eq!(
                secs_between(&h[0], h.last().unwrap()),
                s.as_f64().unwrap(),
                "{ctx}"
            );
        }
    }
    expected.len()
}

/// Each filter of `expected.json`'s `events` — `{"type", "details"?, "inputContains"?,
/// "count"}` — matches exactly `count` events of the history as AWS shapes it: of that
/// type, whose `…EventDetails` hold every field of `details`, and whose `input` contains
/// `inputContains`: the queries mock-config users make on `GetExecutionHistory`.
fn check_events(history: &Value, filters: &Value, ctx: &str) {
    for f in filters.as_array().unwrap() {
        let matching = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["type"] == f["type"])
            .filter(|e| {
                let details = e
                    .as_object()
                    .unwrap()
                    .iter()
                    .find(|(k, _)| k.ends_with("EventDetails"))
                    .map(|(_, v)| v.clone())
                    .unwrap_or(Value::Null);
                let fields = f.get("details").and_then(Value::as_object);
                fields.is_none_or(|m| m.iter().all(|(k, v)| &details[k] == v))
                    && f.get("inputContains").is_none_or(|want| {
                        details["input"]
                            .as_str()
                            .is_some_and(|i| i.contains(want.as_str().unwrap()))
                    })
            })
            .count();
        assert_eq!(
            Some(matching as u64),
            f["count"].as_u64(),
            "{ctx}: events {f}"
        );
    }
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

#[tokio::test(start_paused = true)]
async fn aws_guide_lambda_sqs_mock_cases() {
    assert_eq!(
        check_fixture(&fixtures().join("lambda-sqs"), "LambdaSQSIntegration").await,
        3
    );
}

#[tokio::test(start_paused = true)]
async fn retry_precedence_mock_cases() {
    assert_eq!(
        check_fixture(&fixtures().join("retry-precedence"), "retry-precedence").await,
        4
    );
}

/// Runs `definition` with an inline mock config's test case `case` of machine `m`.
async fn run_inline(
    definition: Value,
    config: Value,
    case: &str,
) -> asl_engine::ExecutionDescription {
    let sm = StateMachine::from_value(&definition).unwrap();
    let config = MockConfig::from_value(&config).unwrap();
    let executor = config.executor("m", case, &sm, None).unwrap();
    let engine = Engine::with_options(
        Arc::new(executor),
        Clock::fixed(),
        EngineConfig::default(),
        None,
    );
    let arn = engine.register_state_machine("m", sm).unwrap();
    engine.run(&arn, None, serde_json::json!({})).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn mocked_wait_for_task_token_answers_at_once() {
    let def = serde_json::json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "f", "Payload": {"t.$": "$$.Task.Token"}}, "End": true}}});
    let config = serde_json::json!({
        "StateMachines": {"m": {"TestCases": {"Approved": {"Approve": "Yes"}}}},
        "MockedResponses": {"Yes": {"0": {"Return": {"approved": true}}}}
    });
    let done = run_inline(def, config, "Approved").await;
    assert_eq!(done.output, Some(serde_json::json!({"approved": true})));
}

#[tokio::test(start_paused = true)]
async fn running_past_the_mocked_invocations_is_a_runtime_error() {
    let def = serde_json::json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "f"}, "Retry": [{"ErrorEquals": ["E"], "MaxAttempts": 5}], "End": true}}});
    let config = serde_json::json!({
        "StateMachines": {"m": {"TestCases": {"c": {"T": "Fails"}}}},
        "MockedResponses": {"Fails": {"0-1": {"Throw": {"Error": "E", "Cause": "x"}}}}
    });
    let done = run_inline(def, config, "c").await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(done.cause.unwrap().contains("invocation 2"));
}

#[tokio::test(start_paused = true)]
async fn deployment_shaped_mock_cases() {
    assert_eq!(
        check_fixture(&fixtures().join("deploy-poll"), "deploy-poll").await,
        6
    );
}

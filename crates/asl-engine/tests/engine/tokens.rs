//! `.waitForTaskToken`: the approval mechanism. Success, failure, the 24-hour
//! timeout on virtual time, heartbeats, and the API errors for bad or late answers.

use crate::{engine_with, of_type, route, secs_between, FN};
use asl_engine::{Engine, EngineError, EventType, ExecutionStatus, LambdaError, Registry};
use serde_json::{json, Value};
use std::time::Duration;
use tokio::sync::mpsc;

/// An engine whose `request-approval` Lambda hands each task token to the test.
fn approval_engine() -> (Engine, mpsc::UnboundedReceiver<String>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let reg = Registry::new().lambda("request-approval", move |v: Value| {
        let tx = tx.clone();
        async move {
            let token = v["token"]
                .as_str()
                .ok_or_else(|| LambdaError::new("BadInput", "no token"))?
                .to_string();
            let _ = tx.send(token);
            Ok(json!({"emailed": true}))
        }
    });
    (engine_with(reg), rx)
}

fn approval_machine(extra: Value) -> String {
    let mut wait = json!({
        "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": format!("{FN}request-approval"), "Payload": {"token.$": "$$.Task.Token", "tag.$": "$.tag"}},
        "TimeoutSeconds": 86400, "ResultPath": "$.approval", "Next": "Deploy",
        "Catch": [
            {"ErrorEquals": ["Rejected"], "ResultPath": "$.error", "Next": "Cancelled"},
            {"ErrorEquals": ["States.Timeout", "States.HeartbeatTimeout"], "ResultPath": "$.error", "Next": "Cancelled"}
        ]
    });
    for (k, v) in extra.as_object().unwrap() {
        wait[k] = v.clone();
    }
    json!({"StartAt": "Wait for Approval", "States": {
        "Wait for Approval": wait,
        "Deploy": {"Type": "Succeed"},
        "Cancelled": {"Type": "Fail", "Error": "Cancelled"}
    }})
    .to_string()
}

async fn start(engine: &Engine, def: String) -> String {
    let sm = engine
        .create_state_machine("approvals", &def, &Default::default())
        .unwrap();
    engine
        .start_execution(&sm, Some("rc-1"), json!({"tag": "rc-1.4.0"}))
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn send_task_success_continues_with_the_output() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({}))).await;
    let token = tokens.recv().await.unwrap();
    engine
        .send_task_success(&token, r#"{"approved": true, "by": "ana"}"#)
        .unwrap();
    let done = engine.wait_for_execution(&exec).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        done.output.unwrap()["approval"],
        json!({"approved": true, "by": "ana"})
    );
    let h = engine.get_execution_history(&exec).unwrap();
    let t: Vec<_> = h.iter().map(|e| e.event_type).collect();
    let submitted = t
        .iter()
        .position(|e| *e == EventType::TaskSubmitted)
        .unwrap();
    assert_eq!(t[submitted + 1], EventType::TaskSucceeded);
}

#[tokio::test(start_paused = true)]
async fn send_task_failure_routes_through_catch() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({}))).await;
    let token = tokens.recv().await.unwrap();
    engine
        .send_task_failure(&token, "Rejected", "tests are flaky")
        .unwrap();
    let done = engine.wait_for_execution(&exec).await.unwrap();
    assert_eq!(done.error.as_deref(), Some("Cancelled"));
    assert_eq!(
        route(&engine.get_execution_history(&exec).unwrap()),
        vec!["Wait for Approval", "Cancelled"]
    );
}

#[tokio::test(start_paused = true)]
async fn nobody_answers_for_24_hours_so_the_task_times_out() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({}))).await;
    let token = tokens.recv().await.unwrap();
    let done = engine.wait_for_execution(&exec).await.unwrap();
    assert_eq!(done.error.as_deref(), Some("Cancelled"));
    let h = engine.get_execution_history(&exec).unwrap();
    let timed_out = of_type(&h, EventType::TaskTimedOut);
    assert_eq!(timed_out[0].error(), Some("States.Timeout"));
    assert_eq!(secs_between(&h[0], timed_out[0]), 86400.0);
    // A late click gets the API's answer, not a panic or a second decision.
    let late = engine.send_task_success(&token, "{}").unwrap_err();
    assert!(matches!(late, EngineError::TaskTimedOut(_)), "{late}");
}

#[tokio::test(start_paused = true)]
async fn heartbeats_keep_a_task_alive() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({"HeartbeatSeconds": 60}))).await;
    let token = tokens.recv().await.unwrap();
    for _ in 0..5 {
        tokio::time::sleep(Duration::from_secs(50)).await;
        engine.send_task_heartbeat(&token).unwrap();
    }
    engine.send_task_success(&token, "true").unwrap();
    let done = engine.wait_for_execution(&exec).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Succeeded);
}

#[tokio::test(start_paused = true)]
async fn a_missed_heartbeat_is_a_heartbeat_timeout() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({"HeartbeatSeconds": 60}))).await;
    let _token = tokens.recv().await.unwrap();
    let done = engine.wait_for_execution(&exec).await.unwrap();
    let h = engine.get_execution_history(&exec).unwrap();
    let timed_out = of_type(&h, EventType::TaskTimedOut);
    assert_eq!(timed_out[0].error(), Some("States.HeartbeatTimeout"));
    assert_eq!(secs_between(&h[0], timed_out[0]), 60.0);
    assert_eq!(done.error.as_deref(), Some("Cancelled"));
}

#[tokio::test(start_paused = true)]
async fn a_token_answers_once() {
    let (engine, mut tokens) = approval_engine();
    let exec = start(&engine, approval_machine(json!({}))).await;
    let token = tokens.recv().await.unwrap();
    engine.send_task_success(&token, "1").unwrap();
    assert!(matches!(
        engine.send_task_success(&token, "2"),
        Err(EngineError::TaskTimedOut(_))
    ));
    assert!(matches!(
        engine.send_task_failure(&token, "Rejected", ""),
        Err(EngineError::TaskTimedOut(_))
    ));
    assert!(matches!(
        engine.send_task_heartbeat(&token),
        Err(EngineError::TaskTimedOut(_))
    ));
    assert_eq!(
        engine
            .wait_for_execution(&exec)
            .await
            .unwrap()
            .output
            .unwrap()["approval"],
        json!(1)
    );
}

#[tokio::test(start_paused = true)]
async fn bad_tokens_and_outputs_are_api_errors() {
    let (engine, mut tokens) = approval_engine();
    let _exec = start(&engine, approval_machine(json!({}))).await;
    let token = tokens.recv().await.unwrap();
    assert!(matches!(
        engine.send_task_success("not-a-token", "{}"),
        Err(EngineError::InvalidToken(_))
    ));
    assert!(matches!(
        engine.send_task_success("", "{}"),
        Err(EngineError::InvalidToken(_))
    ));
    assert!(matches!(
        engine.send_task_success(&token, "{not json"),
        Err(EngineError::InvalidOutput(_))
    ));
    assert!(matches!(
        engine.send_task_failure(&token, &"E".repeat(257), ""),
        Err(EngineError::InvalidOutput(_))
    ));
    // The bad calls did not consume the token.
    engine.send_task_success(&token, "{}").unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_failing_callback_invocation_fails_the_task_without_waiting() {
    let reg = Registry::new().lambda("request-approval", |_| async {
        Err(LambdaError::new("MailDown", "smtp refused"))
    });
    let engine = engine_with(reg);
    let exec = start(&engine, approval_machine(json!({}))).await;
    let done = engine.wait_for_execution(&exec).await.unwrap();
    assert_eq!(done.error.as_deref(), Some("MailDown"));
    let h = engine.get_execution_history(&exec).unwrap();
    assert!(of_type(&h, EventType::TaskSubmitted).is_empty());
    assert_eq!(secs_between(&h[0], h.last().unwrap()), 0.0);
}

#[tokio::test(start_paused = true)]
async fn each_retry_gets_a_new_token() {
    let (engine, mut tokens) = approval_engine();
    let def = approval_machine(
        json!({"TimeoutSeconds": 10, "Retry": [{"ErrorEquals": ["States.Timeout"], "MaxAttempts": 1}]}),
    );
    let exec = start(&engine, def).await;
    let first = tokens.recv().await.unwrap();
    let second = tokens.recv().await.unwrap();
    assert_ne!(first, second);
    assert!(matches!(
        engine.send_task_success(&first, "{}"),
        Err(EngineError::TaskTimedOut(_))
    ));
    engine.send_task_success(&second, r#""ok""#).unwrap();
    assert_eq!(
        engine.wait_for_execution(&exec).await.unwrap().status,
        ExecutionStatus::Succeeded
    );
}

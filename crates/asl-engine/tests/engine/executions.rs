//! Executions: names and idempotent starts, several at once, StopExecution, the
//! execution-level timeout, listing.

use crate::{engine_with, of_type, FN};
use asl_engine::{EngineError, EventType, ExecutionStatus, Registry};
use serde_json::json;
use std::time::Duration;

fn waiting_machine() -> String {
    json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "Next": "Done"}, "Done": {"Type": "Succeed"}}}).to_string()
}

#[tokio::test(start_paused = true)]
async fn same_name_and_input_while_running_is_the_same_execution() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    let a = engine
        .start_execution(&sm, Some("rc-1.4.0-abc123"), json!({"tag": "rc-1.4.0"}))
        .unwrap();
    let b = engine
        .start_execution(&sm, Some("rc-1.4.0-abc123"), json!({"tag": "rc-1.4.0"}))
        .unwrap();
    assert_eq!(a, b);
    assert_eq!(engine.list_executions(&sm, None).len(), 1);
    let other = engine
        .start_execution(&sm, Some("rc-1.4.0-abc123"), json!({"tag": "rc-9"}))
        .unwrap_err();
    assert!(matches!(other, EngineError::ExecutionAlreadyExists(_)));
    engine.wait_for_execution(&a).await.unwrap();
    let after = engine
        .start_execution(&sm, Some("rc-1.4.0-abc123"), json!({"tag": "rc-1.4.0"}))
        .unwrap_err();
    assert!(matches!(after, EngineError::ExecutionAlreadyExists(_)));
}

#[tokio::test(start_paused = true)]
async fn invalid_execution_names_are_refused() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    for bad in [
        "",
        "has space",
        "a/b",
        "x".repeat(81).as_str(),
        "semi;colon",
    ] {
        assert!(
            matches!(
                engine.start_execution(&sm, Some(bad), json!({})),
                Err(EngineError::InvalidName(_))
            ),
            "{bad:?}"
        );
    }
    assert!(engine
        .start_execution(&sm, Some("rc-1.4.0_ok"), json!({}))
        .is_ok());
}

#[tokio::test(start_paused = true)]
async fn several_executions_run_at_once() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    let arns: Vec<_> = (0..5)
        .map(|i| {
            engine
                .start_execution(&sm, Some(&format!("run-{i}")), json!({"i": i}))
                .unwrap()
        })
        .collect();
    assert_eq!(
        engine
            .list_executions(&sm, Some(ExecutionStatus::Running))
            .len(),
        5
    );
    let t0 = engine.clock().now();
    for arn in &arns {
        assert_eq!(
            engine.wait_for_execution(arn).await.unwrap().status,
            ExecutionStatus::Succeeded
        );
    }
    // They waited side by side: ten minutes in all, not fifty.
    assert_eq!((engine.clock().now() - t0).num_seconds(), 600);
    assert_eq!(
        engine
            .list_executions(&sm, Some(ExecutionStatus::Succeeded))
            .len(),
        5
    );
}

#[tokio::test(start_paused = true)]
async fn stop_execution_aborts_the_running_state() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    let arn = engine
        .start_execution(&sm, Some("victim"), json!({}))
        .unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    engine
        .stop_execution(&arn, Some("Superseded"), Some("rc-1.4.1 replaces it"))
        .unwrap();
    let done = engine.wait_for_execution(&arn).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::Aborted);
    assert_eq!(done.error.as_deref(), Some("Superseded"));
    let h = engine.get_execution_history(&arn).unwrap();
    assert_eq!(of_type(&h, EventType::WaitStateAborted).len(), 1);
    assert_eq!(h.last().unwrap().event_type, EventType::ExecutionAborted);
    // Stopping again changes nothing.
    engine.stop_execution(&arn, None, None).unwrap();
    assert_eq!(
        engine.describe_execution(&arn).unwrap().error.as_deref(),
        Some("Superseded")
    );
}

#[tokio::test(start_paused = true)]
async fn stopping_closes_open_task_tokens() {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let reg = Registry::new().lambda("ask", move |v: serde_json::Value| {
        let _ = tx.send(v["t"].as_str().unwrap_or_default().to_string());
        async { Ok(json!({})) }
    });
    let engine = engine_with(reg);
    let def = json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": format!("{FN}ask"), "Payload": {"t.$": "$$.Task.Token"}}, "End": true}}});
    let sm = engine
        .create_state_machine("m", &def.to_string(), &Default::default())
        .unwrap();
    let arn = engine.start_execution(&sm, None, json!({})).unwrap();
    let token = rx.recv().await.unwrap();
    engine.stop_execution(&arn, None, None).unwrap();
    engine.wait_for_execution(&arn).await.unwrap();
    assert!(matches!(
        engine.send_task_success(&token, "{}"),
        Err(EngineError::TaskTimedOut(_))
    ));
    let h = engine.get_execution_history(&arn).unwrap();
    assert_eq!(of_type(&h, EventType::TaskStateAborted).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn execution_timeout_seconds_times_the_execution_out() {
    let engine = engine_with(Registry::new());
    let def = json!({"TimeoutSeconds": 60, "StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 600, "End": true}}});
    let sm = engine
        .create_state_machine("m", &def.to_string(), &Default::default())
        .unwrap();
    let done = engine.run(&sm, None, json!({})).await.unwrap();
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    assert_eq!(
        (done.stop_date.unwrap() - done.start_date).num_seconds(),
        60
    );
}

#[tokio::test(start_paused = true)]
async fn unknown_state_machines_and_executions_are_api_errors() {
    let engine = engine_with(Registry::new());
    assert!(matches!(
        engine.start_execution("arn:nope", None, json!({})),
        Err(EngineError::StateMachineDoesNotExist(_))
    ));
    assert!(matches!(
        engine.describe_execution("arn:nope"),
        Err(EngineError::ExecutionDoesNotExist(_))
    ));
}

#[tokio::test(start_paused = true)]
async fn substitutions_are_applied_and_missing_ones_refused() {
    let engine = engine_with(Registry::new().lambda("f", |v| async move { Ok(v) }));
    let def = r#"{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "${FnArn}", "End": true}}}"#;
    let err = engine
        .create_state_machine("m", def, &Default::default())
        .unwrap_err();
    assert!(err.to_string().contains("'FnArn'"), "{err}");
    let subs = [("FnArn".to_string(), format!("{FN}f"))].into();
    let sm = engine.create_state_machine("m", def, &subs).unwrap();
    assert_eq!(
        engine.run(&sm, None, json!(3)).await.unwrap().output,
        Some(json!(3))
    );
}

#[tokio::test]
async fn start_outside_a_runtime_is_an_error_not_a_panic() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    let result = std::thread::spawn(move || engine.start_execution(&sm, None, json!({})))
        .join()
        .unwrap();
    assert!(matches!(result, Err(EngineError::NoRuntime)));
}

#[tokio::test(start_paused = true)]
async fn oversized_input_is_refused() {
    let engine = engine_with(Registry::new());
    let sm = engine
        .create_state_machine("m", &waiting_machine(), &Default::default())
        .unwrap();
    let big = json!({"x": "y".repeat(300 * 1024)});
    assert!(matches!(
        engine.start_execution(&sm, None, big),
        Err(EngineError::InvalidExecutionInput(_))
    ));
}

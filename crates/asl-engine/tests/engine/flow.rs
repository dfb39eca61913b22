//! Wait, Parallel, Map, Succeed and Fail, with virtual time.

use crate::{of_type, route, run, secs_between, FN};
use asl_engine::{Details, EventType, ExecutionStatus, LambdaError, Registry};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

async fn waited(wait: Value, input: Value) -> f64 {
    let mut state = wait;
    state["Type"] = json!("Wait");
    state["End"] = json!(true);
    let (done, h) = run(
        json!({"StartAt": "W", "States": {"W": state}}),
        Registry::new(),
        input,
    )
    .await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:?}");
    secs_between(
        of_type(&h, EventType::WaitStateEntered)[0],
        of_type(&h, EventType::WaitStateExited)[0],
    )
}

#[tokio::test(start_paused = true)]
async fn wait_seconds() {
    assert_eq!(waited(json!({"Seconds": 30}), json!({})).await, 30.0);
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_path() {
    assert_eq!(
        waited(json!({"SecondsPath": "$.delay"}), json!({"delay": 90})).await,
        90.0
    );
}

#[tokio::test(start_paused = true)]
async fn wait_timestamp() {
    // The fixed clock starts at 2026-01-01T00:00:00Z.
    assert_eq!(
        waited(json!({"Timestamp": "2026-01-01T01:00:00Z"}), json!({})).await,
        3600.0
    );
}

#[tokio::test(start_paused = true)]
async fn wait_timestamp_path() {
    assert_eq!(
        waited(
            json!({"TimestampPath": "$.at"}),
            json!({"at": "2026-01-02T00:00:00Z"})
        )
        .await,
        86400.0
    );
}

#[tokio::test(start_paused = true)]
async fn wait_timestamp_in_the_past_does_not_wait() {
    assert_eq!(
        waited(json!({"Timestamp": "2020-01-01T00:00:00Z"}), json!({})).await,
        0.0
    );
}

#[tokio::test(start_paused = true)]
async fn wait_seconds_path_must_be_a_non_negative_integer() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.d", "End": true}}});
    let (done, _) = run(def, Registry::new(), json!({"d": "soon"})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

/// A polling loop (Wait + Choice) over a counter finishes instantly on the paused
/// clock while recording the 10-second waits.
#[tokio::test(start_paused = true)]
async fn wait_loop_runs_instantly_on_virtual_time() {
    let calls = Arc::new(AtomicUsize::new(0));
    let c = calls.clone();
    let reg = Registry::new().lambda("poll", move |_| {
        let n = c.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok(json!({"ready": n >= 5})) }
    });
    let def = json!({"StartAt": "Check", "States": {
        "Check": {"Type": "Task", "Resource": format!("{FN}poll"), "ResultPath": "$.status", "Next": "Ready?"},
        "Ready?": {"Type": "Choice", "Choices": [{"Variable": "$.status.ready", "BooleanEquals": true, "Next": "Done"}], "Default": "Sleep"},
        "Sleep": {"Type": "Wait", "Seconds": 10, "Next": "Check"},
        "Done": {"Type": "Succeed"}
    }});
    let (done, h) = run(def, reg, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    assert_eq!(of_type(&h, EventType::WaitStateEntered).len(), 4);
    assert_eq!(secs_between(&h[0], h.last().unwrap()), 40.0);
}

#[tokio::test(start_paused = true)]
async fn parallel_returns_branch_outputs_in_order() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "ResultPath": "$.results", "End": true,
    "Branches": [
        {"StartAt": "Slow", "States": {"Slow": {"Type": "Wait", "Seconds": 5, "Next": "A"}, "A": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "Parameters": {"v.$": "$.v"}, "End": true}}}
    ]}}});
    let (done, h) = run(def, Registry::new(), json!({"v": 1})).await;
    assert_eq!(
        done.output,
        Some(json!({"v": 1, "results": ["a", {"v": 1}]}))
    );
    let t = types(&h);
    assert_eq!(
        t[..3],
        [
            EventType::ExecutionStarted,
            EventType::ParallelStateEntered,
            EventType::ParallelStateStarted
        ]
    );
    assert_eq!(
        t[t.len() - 3..],
        [
            EventType::ParallelStateSucceeded,
            EventType::ParallelStateExited,
            EventType::ExecutionSucceeded
        ]
    );
}

use crate::types;

#[tokio::test(start_paused = true)]
async fn a_failing_branch_fails_the_parallel_and_aborts_its_siblings() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Next": "Unreached",
            "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.error", "Next": "Handled"}],
            "Branches": [
                {"StartAt": "Long", "States": {"Long": {"Type": "Wait", "Seconds": 3600, "End": true}}},
                {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "BranchBroke", "Cause": "it broke"}}}
            ]},
        "Unreached": {"Type": "Succeed"},
        "Handled": {"Type": "Succeed"}
    }});
    let (done, h) = run(def, Registry::new(), json!({"x": 1})).await;
    assert_eq!(
        done.output,
        Some(json!({"x": 1, "error": {"Error": "BranchBroke", "Cause": "it broke"}}))
    );
    assert_eq!(route(&h).last().map(String::as_str), Some("Handled"));
    assert_eq!(of_type(&h, EventType::WaitStateAborted).len(), 1);
    assert_eq!(of_type(&h, EventType::ParallelStateFailed).len(), 1);
    // The sibling was cut short at once, not after its hour.
    assert!(secs_between(&h[0], h.last().unwrap()) < 1.0);
}

#[tokio::test(start_paused = true)]
async fn map_runs_each_item_with_item_selector_and_keeps_order() {
    let reg = Registry::new().lambda("double", |v: Value| async move {
        tokio::time::sleep(Duration::from_secs(10 - v["value"].as_u64().unwrap_or(0))).await;
        Ok(json!({"index": v["index"], "doubled": v["value"].as_i64().unwrap_or(0) * 2}))
    });
    let def = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "ItemsPath": "$.numbers", "ResultPath": "$.out", "End": true,
        "ItemSelector": {"value.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "tag.$": "$.tag"},
        "ItemProcessor": {"StartAt": "Double", "States": {"Double": {"Type": "Task", "Resource": format!("{FN}double"), "End": true}}}
    }}});
    let (done, h) = run(def, reg, json!({"tag": "rc-1", "numbers": [1, 2, 3]})).await;
    assert_eq!(
        done.output.unwrap()["out"],
        json!([{"index": 0, "doubled": 2}, {"index": 1, "doubled": 4}, {"index": 2, "doubled": 6}])
    );
    let started = of_type(&h, EventType::MapStateStarted);
    assert_eq!(started[0].details, Details::MapStarted { length: 3 });
    assert_eq!(of_type(&h, EventType::MapIterationSucceeded).len(), 3);
}

#[tokio::test(start_paused = true)]
async fn map_max_concurrency_limits_parallel_iterations() {
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (f, p) = (in_flight.clone(), peak.clone());
    let reg = Registry::new().lambda("work", move |v: Value| {
        let (f, p) = (f.clone(), p.clone());
        async move {
            let now = f.fetch_add(1, Ordering::SeqCst) + 1;
            p.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_secs(1)).await;
            f.fetch_sub(1, Ordering::SeqCst);
            Ok(v)
        }
    });
    let def = json!({"StartAt": "Each", "States": {"Each": {
        "Type": "Map", "MaxConcurrency": 2, "End": true,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Task", "Resource": format!("{FN}work"), "End": true}}}
    }}});
    let (done, h) = run(def, reg, json!([1, 2, 3, 4, 5])).await;
    assert_eq!(done.output, Some(json!([1, 2, 3, 4, 5])));
    assert_eq!(peak.load(Ordering::SeqCst), 2);
    // Five one-second items two at a time take three seconds.
    assert_eq!(secs_between(&h[0], h.last().unwrap()), 3.0);
}

#[tokio::test(start_paused = true)]
async fn map_over_a_non_array_is_a_runtime_error() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.x", "End": true,
        "ItemProcessor": {"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}});
    let (done, _) = run(def, Registry::new(), json!({"x": {"a": 1}})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test(start_paused = true)]
async fn a_failed_iteration_fails_the_map_with_its_error() {
    let reg = Registry::new().lambda("check", |v: Value| async move {
        if v == json!(2) {
            Err(LambdaError::new("BadItem", "item 2 is bad"))
        } else {
            Ok(v)
        }
    });
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "C", "States": {"C": {"Type": "Task", "Resource": format!("{FN}check"), "End": true}}}}}});
    let (done, h) = run(def, reg, json!([1, 2, 3])).await;
    assert_eq!(done.error.as_deref(), Some("BadItem"));
    assert_eq!(of_type(&h, EventType::MapIterationFailed).len(), 1);
    assert_eq!(of_type(&h, EventType::MapStateFailed).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn succeed_applies_input_and_output_paths() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    let (done, h) = run(def, Registry::new(), json!({"a": {"b": 5}})).await;
    assert_eq!(done.output, Some(json!(5)));
    assert_eq!(
        types(&h),
        vec![
            EventType::ExecutionStarted,
            EventType::SucceedStateEntered,
            EventType::SucceedStateExited,
            EventType::ExecutionSucceeded
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn fail_with_literal_error_and_cause() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Rejected", "Cause": "not today"}}});
    let (done, h) = run(def, Registry::new(), json!({})).await;
    assert_eq!(
        (done.error.as_deref(), done.cause.as_deref()),
        (Some("Rejected"), Some("not today"))
    );
    assert_eq!(
        types(&h),
        vec![
            EventType::ExecutionStarted,
            EventType::FailStateEntered,
            EventType::ExecutionFailed
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn fail_with_error_path_and_intrinsic_cause_path() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.kind",
        "CausePath": "States.Format('stage {} failed: {}', $.stage, $.why)"}}});
    let (done, _) = run(
        def,
        Registry::new(),
        json!({"kind": "DeployFailed", "stage": "deploy", "why": "quota"}),
    )
    .await;
    assert_eq!(done.error.as_deref(), Some("DeployFailed"));
    assert_eq!(done.cause.as_deref(), Some("stage deploy failed: quota"));
}

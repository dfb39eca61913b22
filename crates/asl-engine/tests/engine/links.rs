//! The shape of a history around Parallel, Map and caught errors, as AWS records it:
//! which events there are and what each `previousEventId` points to. The expected
//! tables follow executions recorded against AWS (LocalStack's snapshot recordings of
//! real histories, `MaxConcurrency: 1` where iterations must not interleave); the
//! definitions here are ours, shaped as those were.

use crate::run;
use asl_engine::{EventType, HistoryEvent, LambdaError, Registry};
use serde_json::{json, Value};

use EventType::*;

/// `(id, previousEventId, type)` of every event, in order.
fn links(h: &[HistoryEvent]) -> Vec<(u64, u64, EventType)> {
    h.iter()
        .map(|e| (e.id, e.previous_event_id, e.event_type))
        .collect()
}

fn fails() -> Registry {
    Registry::new().lambda("fails", |_| async {
        Err(LambdaError::new("Boom", "it broke"))
    })
}

fn branch_that_fails() -> Value {
    json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom", "Cause": "it broke"}}})
}

/// A caught Task error still exits the Task, with the catcher's output; the catcher's
/// state follows that exit.
#[tokio::test(start_paused = true)]
async fn a_caught_task_error_exits_the_task_with_the_catchers_output() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
              "Parameters": {"FunctionName": format!("{}fails", crate::FN)},
              "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Fallback"}],
              "End": true},
        "Fallback": {"Type": "Pass", "End": true}}});
    let (done, h) = run(def, fails(), json!({"in": 1})).await;
    assert_eq!(
        links(&h),
        vec![
            (1, 0, ExecutionStarted),
            (2, 0, TaskStateEntered),
            (3, 2, TaskScheduled),
            (4, 3, TaskStarted),
            (5, 4, TaskFailed),
            (6, 5, TaskStateExited),
            (7, 6, PassStateEntered),
            (8, 7, PassStateExited),
            (9, 8, ExecutionSucceeded),
        ]
    );
    // A Lambda error's cause is its JSON envelope, as AWS gives it.
    let cause = r#"{"errorMessage":"it broke","errorType":"Boom"}"#;
    let caught = json!({"in": 1, "error": {"Error": "Boom", "Cause": cause}});
    assert_eq!(done.output, Some(caught.clone()));
    let exited = serde_json::to_value(&h[5]).unwrap();
    let output = &exited["stateExitedEventDetails"]["output"];
    assert_eq!(
        serde_json::from_str::<Value>(output.as_str().unwrap()).unwrap(),
        caught
    );
}

/// A failing Parallel: `ParallelStateFailed` links to the failing branch's last event;
/// caught, the Parallel exits after it.
#[tokio::test(start_paused = true)]
async fn a_failed_parallel_links_to_the_failing_branch_and_exits_when_caught() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch_that_fails()],
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Pass", "End": true}}});
    let (_, h) = run(def, Registry::new(), json!({})).await;
    assert_eq!(
        links(&h),
        vec![
            (1, 0, ExecutionStarted),
            (2, 0, ParallelStateEntered),
            (3, 2, ParallelStateStarted),
            (4, 3, FailStateEntered),
            (5, 4, ParallelStateFailed),
            (6, 5, ParallelStateExited),
            (7, 6, PassStateEntered),
            (8, 7, PassStateExited),
            (9, 8, ExecutionSucceeded),
        ]
    );
}

/// A retried Parallel starts again from the failing branch's last event, and records
/// `ParallelStateFailed` once, when the error is final.
#[tokio::test(start_paused = true)]
async fn a_retried_parallel_fails_once_when_its_retries_are_spent() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [branch_that_fails()],
              "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 2}],
              "End": true}}});
    let (done, h) = run(def, Registry::new(), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("Boom"));
    assert_eq!(
        links(&h),
        vec![
            (1, 0, ExecutionStarted),
            (2, 0, ParallelStateEntered),
            (3, 2, ParallelStateStarted),
            (4, 3, FailStateEntered),
            (5, 4, ParallelStateStarted),
            (6, 5, FailStateEntered),
            (7, 6, ParallelStateStarted),
            (8, 7, FailStateEntered),
            (9, 8, ParallelStateFailed),
            (10, 9, ExecutionFailed),
        ]
    );
}

fn map(items: Value, processor: Value, extra: Value) -> Value {
    let mut m = json!({"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1,
        "ItemProcessor": processor, "End": true});
    m.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    json!({"StartAt": "Items", "States": {
        "Items": {"Type": "Pass", "Result": items, "ResultPath": "$.items", "Next": "M"},
        "M": m}})
}

/// One at a time, each iteration starts from the last event of the one before it, and
/// `MapStateSucceeded` and `MapStateExited` both link to the last iteration's end.
#[tokio::test(start_paused = true)]
async fn map_iterations_one_at_a_time_chain_from_the_iteration_before() {
    let processor = json!({"StartAt": "H", "States": {"H": {"Type": "Pass", "End": true}}});
    let (_, h) = run(
        map(json!([1, 2]), processor, json!({})),
        Registry::new(),
        json!({}),
    )
    .await;
    assert_eq!(
        links(&h),
        vec![
            (1, 0, ExecutionStarted),
            (2, 0, PassStateEntered),
            (3, 2, PassStateExited),
            (4, 3, MapStateEntered),
            (5, 4, MapStateStarted),
            (6, 5, MapIterationStarted),
            (7, 6, PassStateEntered),
            (8, 7, PassStateExited),
            (9, 8, MapIterationSucceeded),
            (10, 8, MapIterationStarted),
            (11, 10, PassStateEntered),
            (12, 11, PassStateExited),
            (13, 12, MapIterationSucceeded),
            (14, 13, MapStateSucceeded),
            (15, 13, MapStateExited),
            (16, 15, ExecutionSucceeded),
        ]
    );
}

/// A failing iteration: `MapStateFailed` (and a retry's `MapStateStarted`) link to
/// the iteration's last event, as its `MapIterationFailed` does; caught, the Map exits
/// after `MapStateFailed`.
#[tokio::test(start_paused = true)]
async fn a_failed_map_links_to_the_failing_iteration_and_fails_once() {
    let processor = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "Boom"}}});
    let extra = json!({
        "Retry": [{"ErrorEquals": ["Boom"], "IntervalSeconds": 1, "MaxAttempts": 1}],
        "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]});
    let mut def = map(json!([1]), processor, extra);
    def["States"]["Caught"] = json!({"Type": "Succeed"});
    let (_, h) = run(def, Registry::new(), json!({})).await;
    assert_eq!(
        links(&h),
        vec![
            (1, 0, ExecutionStarted),
            (2, 0, PassStateEntered),
            (3, 2, PassStateExited),
            (4, 3, MapStateEntered),
            (5, 4, MapStateStarted),
            (6, 5, MapIterationStarted),
            (7, 6, FailStateEntered),
            (8, 7, MapIterationFailed),
            (9, 7, MapStateStarted),
            (10, 9, MapIterationStarted),
            (11, 10, FailStateEntered),
            (12, 11, MapIterationFailed),
            (13, 11, MapStateFailed),
            (14, 13, MapStateExited),
            (15, 14, SucceedStateEntered),
            (16, 15, SucceedStateExited),
            (17, 16, ExecutionSucceeded),
        ]
    );
}

/// At 10,000 items: one at a time, every iteration after the first starts from the
/// event before the previous iteration's end; all at once, every iteration starts
/// from `MapStateStarted`.
#[tokio::test(start_paused = true)]
async fn six_thousand_iterations_link_as_their_concurrency_says() {
    // 6,000 one-Pass iterations: 24,008 events, within the history quota.
    let items: Vec<u64> = (0..6_000).collect();
    let processor = json!({"StartAt": "H", "States": {"H": {"Type": "Pass", "End": true}}});
    for concurrency in [1, 0] {
        let mut def = map(json!(items), processor.clone(), json!({}));
        def["States"]["M"]["MaxConcurrency"] = json!(concurrency);
        let (done, h) = run(def, Registry::new(), json!({})).await;
        let outputs = done.output.as_ref().and_then(Value::as_array).map(Vec::len);
        assert_eq!(outputs, Some(6_000));
        let started = h
            .iter()
            .find(|e| e.event_type == MapStateStarted)
            .unwrap()
            .id;
        let starts: Vec<&HistoryEvent> = h
            .iter()
            .filter(|e| e.event_type == MapIterationStarted)
            .collect();
        assert_eq!(starts.len(), 6_000);
        for (i, s) in starts.iter().enumerate() {
            let want = if i == 0 || concurrency == 0 {
                started
            } else {
                // The previous iteration's MapIterationSucceeded is the event before
                // this one; both link to its last state event.
                h[(s.id - 2) as usize].previous_event_id
            };
            assert_eq!(
                s.previous_event_id, want,
                "iteration {i}, concurrency {concurrency}"
            );
        }
    }
}

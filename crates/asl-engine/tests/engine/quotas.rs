//! A Standard execution's hard quotas. The history: 25,000 events. An execution
//! whose 25,000th event is its `ExecutionSucceeded` succeeds; any other fails with
//! `ExecutionFailed` as that event, and nothing catches it (AWS: "Avoid reaching the
//! history quota"). The time: one year, whatever its `TimeoutSeconds`.

use crate::run;
use asl_engine::{
    Details, EventType, ExecutionStatus, Registry, HISTORY_FULL, MAX_EXECUTION_SECONDS,
    MAX_HISTORY_EVENTS,
};
use serde_json::{json, Value};

/// A Pass, then a one-at-a-time Map of `n` Pass iterations: 4n + 8 events.
fn map_of(n: usize) -> Value {
    let items: Vec<usize> = (0..n).collect();
    json!({"StartAt": "Items", "States": {
        "Items": {"Type": "Pass", "Result": items, "ResultPath": "$.items", "Next": "M"},
        "M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
              "ItemProcessor": {"StartAt": "H", "States": {"H": {"Type": "Pass", "End": true}}}}}})
}

fn failed_on_a_full_history(status: ExecutionStatus, history: &[asl_engine::HistoryEvent]) {
    assert_eq!(status, ExecutionStatus::Failed);
    assert_eq!(history.len(), MAX_HISTORY_EVENTS);
    let last = &history[MAX_HISTORY_EVENTS - 1];
    assert_eq!(
        (last.id, last.event_type),
        (25_000, EventType::ExecutionFailed)
    );
    match &last.details {
        Details::ExecutionError { error, cause } => {
            assert_eq!(
                (error.as_str(), cause.as_str()),
                ("States.Runtime", HISTORY_FULL)
            )
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn an_execution_whose_last_event_is_the_25000th_succeeds() {
    let (done, h) = run(map_of(6248), Registry::new(), json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(h.len(), MAX_HISTORY_EVENTS);
    assert_eq!(
        h[MAX_HISTORY_EVENTS - 1].event_type,
        EventType::ExecutionSucceeded
    );
}

#[tokio::test(start_paused = true)]
async fn one_more_iteration_fails_it_at_event_25000() {
    let (done, h) = run(map_of(6249), Registry::new(), json!({})).await;
    failed_on_a_full_history(done.status, &h);
}

/// A loop that never ends on its own ends with the history: no catcher, not even
/// `States.ALL` around it, turns that into a success.
#[tokio::test(start_paused = true)]
async fn an_endless_loop_fails_when_the_history_is_full_and_nothing_catches_it() {
    let looping = json!({"StartAt": "A", "States": {
        "A": {"Type": "Pass", "Next": "B"},
        "B": {"Type": "Choice", "Choices": [{"Variable": "$", "IsPresent": true, "Next": "A"}], "Default": "A"}}});
    let caught = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "Branches": [looping.clone()], "End": true,
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}]},
        "Caught": {"Type": "Succeed"}}});
    for def in [looping, caught] {
        let (done, h) = run(def, Registry::new(), json!({})).await;
        failed_on_a_full_history(done.status, &h);
    }
}

#[tokio::test(start_paused = true)]
async fn an_execution_times_out_after_a_year_whatever_its_timeout_seconds() {
    let hold = json!({"StartAt": "Hold", "States": {"Hold": {"Type": "Wait", "Seconds": 99_999_999, "End": true}}});
    let mut longer = hold.clone();
    longer["TimeoutSeconds"] = json!(99_999_999);
    for def in [hold, longer] {
        let (done, h) = run(def, Registry::new(), json!({})).await;
        assert_eq!(done.status, ExecutionStatus::TimedOut);
        let lasted = (done.stop_date.unwrap() - done.start_date).num_seconds();
        assert_eq!(lasted as u64, MAX_EXECUTION_SECONDS);
        let last = h.last().unwrap();
        assert_eq!(last.event_type, EventType::ExecutionTimedOut);
        match &last.details {
            Details::ExecutionError { error, cause } => {
                assert_eq!(error, "States.Timeout");
                assert!(
                    cause.contains("maximum execution time of one year"),
                    "{cause}"
                );
            }
            other => panic!("{other:?}"),
        }
    }
}

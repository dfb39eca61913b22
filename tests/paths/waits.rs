//! The event-driven deploy waits: a stack's and an Amplify job's own status events
//! resume the waiting task; a missed event is caught by the task's timeout and one
//! status read, bounded by the configured number of reads.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::JobStatus;

pub async fn a_missed_stack_event_is_caught_by_one_status_read() {
    let flow = Flow::new();
    flow.stacks.events.miss();
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Deploy Infrastructure",
            "Await Stack Event",
            "Capture Stack Outputs",
            "Deploy Frontend",
            "Integration Tests",
        ],
    );
    assert_eq!(r.iter().filter(|s| *s == "Await Stack Event").count(), 1);
    assert_never_enters(&r, &["Await Frontend Event"]);
    assert_eq!(
        output(&done)["infrastructure"],
        json!({"stackName": "app-staging", "stackStatus": "UPDATE_COMPLETE"})
    );
    assert_eq!(only_outcome(&flow).attributes["outcome"], "success");
    assert!(flow.table.waiters().is_empty());
}

pub async fn a_stack_slower_than_the_first_wait_is_resumed_by_its_event() {
    let flow = Flow::new();
    // UPDATE_COMPLETE at 1000 s: after the deploy task's 900 s timeout.
    flow.stacks.events.set_every(Duration::from_secs(500));
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    let reads = r.iter().filter(|s| *s == "Await Stack Event").count();
    // 900 s: read, still in progress; 960 s: read again; 1000 s: the event answers.
    assert_eq!(reads, 2, "{r:#?}");
    assert_passes_through(
        &r,
        &[
            "Deploy Infrastructure",
            "Await Stack Event",
            "Capture Stack Outputs",
        ],
    );
    assert!(flow.table.waiters().is_empty());
}

pub async fn a_missed_frontend_event_is_caught_by_one_job_read() {
    let flow = Flow::new();
    flow.hosting.events.miss();
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Deploy Frontend",
            "Await Frontend Event",
            "Integration Tests",
        ],
    );
    assert_eq!(r.iter().filter(|s| *s == "Await Frontend Event").count(), 1);
    assert_never_enters(&r, &["Await Stack Event"]);
    assert_eq!(
        output(&done)["frontend"]["url"],
        "https://staging.example.test"
    );
}

pub async fn a_frontend_job_that_never_ends_fails_with_wait_exhausted() {
    let flow = Flow::with_settings(Settings {
        max_polls: 2,
        ..Flow::new().settings.clone()
    });
    flow.hosting.set_job_statuses(&[JobStatus::Running]);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("WaitExhausted"));
    let r = route(&h);
    assert_eq!(
        r.iter().filter(|s| *s == "Await Frontend Event").count(),
        2,
        "{r:#?}"
    );
    assert_passes_through(&r, &["Deploy Frontend Failed", "Notify Failure"]);
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Deploy Frontend", "WaitExhausted")
    );
    assert!(m.body.contains("frontend job 1"), "{}", m.body);
}

/// A run stopped while its stack deploys leaves its waiter behind; the next run of
/// the same stack replaces it (the holder is no longer running) and deploys.
pub async fn a_run_stopped_mid_deploy_does_not_block_the_next_one() {
    let flow = Flow::new();
    flow.stacks.events.set_every(Duration::from_secs(5000));
    let first = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    for _ in 0..10_000 {
        if flow.table.waiters().contains_key("wait#stack#app-staging") {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let left = flow.table.waiters();
    assert_eq!(left["wait#stack#app-staging"].execution_id, first);
    flow.engine
        .stop_execution(&first, Some("Operator"), Some("wrong candidate"))
        .unwrap_or_else(|e| panic!("stop: {e}"));
    let (stopped, _) = flow.finish(&first).await;
    assert_eq!(stopped.status, ExecutionStatus::Aborted);
    // The stopped run's waiter is still there; the next candidate deploys anyway.
    assert!(flow.table.waiters().contains_key("wait#stack#app-staging"));
    flow.stacks.events.set_every(Duration::from_secs(20));
    let second = flow.start("rc-1.4.1", SHA2).await;
    flow.approve("rc-1.4.1").await;
    let (done, h) = flow.finish(&second).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_passes_through(
        &route(&h),
        &["Deploy Infrastructure", "Capture Stack Outputs"],
    );
    assert!(
        flow.table.waiters().is_empty(),
        "{:?}",
        flow.table.waiters()
    );
}

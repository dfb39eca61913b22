//! The production definition's failures after approval and its notices' own failures.

use crate::promotion::*;
use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::JobStatus;
use std::time::Duration;

pub async fn a_production_change_set_that_cannot_be_created_fails_before_approval() {
    let flow = Flow::new();
    flow.production.stacks.fail_create("Template format error");
    let arn = staged_and_promoted(&flow).await;
    fails_at(
        &flow,
        &arn,
        &["Create Change Set", "Production Preview Failed"],
        "Create Change Set",
        "ChangeSetFailed",
    )
    .await;
}

pub async fn a_failed_production_change_set_fails_before_approval() {
    let flow = Flow::new();
    flow.production
        .stacks
        .fail_change_set("Parameters: [Env] must have values");
    let arn = staged_and_promoted(&flow).await;
    fails_at(
        &flow,
        &arn,
        &["Describe Change Set", "Production Preview Failed"],
        "Create Change Set",
        "ChangeSetFailed",
    )
    .await;
}

pub async fn a_production_checklist_that_cannot_be_written_fails_before_approval() {
    let flow = Flow::new();
    flow.stage("rc-1.4.0", SHA).await;
    flow.artifacts
        .break_keys_containing(&format!("{PROD_RUN}checklist"));
    let arn = flow.promote(TAG, SHA);
    fails_at(
        &flow,
        &arn,
        &["Generate Checklist Failed"],
        "Generate Checklist",
        "DependencyRefused",
    )
    .await;
}

pub async fn a_rolled_back_production_stack_read_after_a_missed_event_fails_the_deploy() {
    let flow = Flow::new();
    flow.production.stacks.events.miss();
    flow.production
        .stacks
        .after_execute(&["UPDATE_ROLLBACK_COMPLETE"]);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Await Stack Event", "Deploy Infrastructure Failed"],
        "Deploy Infrastructure",
        "StackDeployFailed",
    )
    .await;
    assert!(flow.production.hosting.jobs().is_empty());
}

pub async fn a_rolled_back_production_stack_fails_the_deploy() {
    let flow = Flow::new();
    flow.production
        .stacks
        .after_execute(&["UPDATE_ROLLBACK_COMPLETE"]);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Deploy Infrastructure", "Deploy Infrastructure Failed"],
        "Deploy Infrastructure",
        "StackDeployFailed",
    )
    .await;
}

pub async fn slow_production_waits_are_read_again_until_they_end_and_no_change_skips_the_deploy() {
    let flow = Flow::new();
    flow.production.stacks.set_no_changes();
    flow.production.stacks.set_pending_polls(1);
    flow.production.hosting.events.miss();
    flow.production
        .hosting
        .events
        .set_every(Duration::from_secs(450));
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    assert_never_enters(&r, &["Deploy Infrastructure"]);
    assert_passes_through(
        &r,
        &[
            "Change Set Ready?",
            "Wait for Change Set",
            "Describe Change Set",
        ],
    );
    assert!(
        r.iter().filter(|s| *s == "Await Frontend Event").count() >= 2,
        "{r:#?}"
    );
}

pub async fn a_slow_production_stack_is_read_again_until_it_settles() {
    let flow = Flow::new();
    flow.production.stacks.events.miss();
    flow.production
        .stacks
        .events
        .set_every(Duration::from_secs(600));
    flow.production
        .stacks
        .after_execute(&["UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"]);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    assert!(
        r.iter().filter(|s| *s == "Await Stack Event").count() >= 2,
        "{r:#?}"
    );
}

pub async fn production_outputs_that_cannot_be_recorded_fail_the_deploy() {
    let flow = Flow::new();
    flow.artifacts
        .break_keys_containing(&format!("{PROD_RUN}stack-outputs"));
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Capture Stack Outputs", "Deploy Infrastructure Failed"],
        "Deploy Infrastructure",
        "DependencyRefused",
    )
    .await;
}

pub async fn a_failed_production_frontend_job_fails_the_frontend_stage() {
    let flow = Flow::new();
    flow.production
        .hosting
        .set_job_statuses(&[JobStatus::Failed]);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Deploy Frontend", "Deploy Frontend Failed"],
        "Deploy Frontend",
        "AmplifyJobFailed",
    )
    .await;
}

pub async fn a_failed_production_frontend_job_read_after_a_missed_event_fails_the_frontend_stage() {
    let flow = Flow::new();
    flow.production.hosting.events.miss();
    flow.production
        .hosting
        .set_job_statuses(&[JobStatus::Failed]);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Await Frontend Event", "Deploy Frontend Failed"],
        "Deploy Frontend",
        "AmplifyJobFailed",
    )
    .await;
}

pub async fn a_failing_smoke_test_fails_the_promotion_by_name() {
    let flow = Flow::new();
    flow.production
        .http
        .route("https://production.example.test/content", 500, "down");
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Test Results", "Smoke Tests Failed"],
        "Smoke Tests",
        "IntegrationTestsFailed",
    )
    .await;
}

pub async fn smoke_suites_that_cannot_be_read_fail_the_smoke_tests() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    // Approved and validated; then the bucket refuses the suites' definitions.
    flow.wait_for_state(&arn, "Capture Stack Outputs").await;
    flow.artifacts
        .break_keys_containing(&format!("{PROD_RUN}suites/"));
    fails_at(
        &flow,
        &arn,
        &["Smoke Tests", "Smoke Tests Failed"],
        "Smoke Tests",
        "DependencyRefused",
    )
    .await;
}

pub async fn a_v_tag_that_is_not_a_version_fails_preflight_and_a_second_start_is_ignored() {
    let flow = Flow::new();
    let bad = flow.promote("vnext", SHA);
    let (done, h) = flow.finish(&bad).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Preflight Failed", "Notify Failure"]);
    let m = outcome_of(&flow, "vnext");
    assert_eq!(m.attributes["error"], "InvalidCandidate");
    flow.stage("rc-1.4.0", SHA).await;
    let first = flow.promote(TAG, SHA);
    let again = flow
        .engine
        .start_execution(
            flow.world.production_machine.as_deref().unwrap_or_default(),
            Some("v1.4.0--again"),
            serde_json::json!({"repository": "acme/shop", "tag": TAG, "sha": SHA, "pushedBy": "ana"}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (done, h) = flow.finish(&again).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(&route(&h), &["Already Running?", "Duplicate Ignored"]);
    flow.approve_production(TAG).await;
    assert_eq!(
        flow.finish(&first).await.0.status,
        ExecutionStatus::Succeeded
    );
}

pub async fn production_notices_that_fail_still_end_each_run() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    flow.notifier.fail_next(4);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Notify Success", "Notification Failed"]);
    flow.production
        .hosting
        .set_job_statuses(&[JobStatus::Failed]);
    let failing = flow.promote("v1.4.1", SHA);
    flow.approve_production("v1.4.1").await;
    flow.notifier.fail_next(4);
    let (done, h) = flow.finish(&failing).await;
    assert_eq!(done.error.as_deref(), Some("AmplifyJobFailed"));
    assert_passes_through(&route(&h), &["Notify Failure", "Deployment Failed"]);
    // Neither notice went out from the run: the end-of-run rule sent each.
    for tag in [TAG, "v1.4.1"] {
        let m = outcome_of(&flow, tag);
        assert!(
            m.subject.contains("its own notification did not go out"),
            "{}",
            m.subject
        );
    }
}

pub async fn a_production_cancellation_notice_that_fails_still_ends_the_run() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    let id = flow.link(TAG, "approval-request", "dana").await;
    flow.notifier.fail_next(4);
    flow.decide(&id, false, Some("not today")).await.ok();
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Notify Cancelled", "Workflow Cancelled"]);
}

pub async fn a_release_that_cannot_be_published_fails_the_promotion_after_the_deploy() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.repository.fail("GitHub answered 502");
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Mark Promoted", "Mark Promoted Failed"],
        "Mark Promoted",
        "DependencyRefused",
    )
    .await;
    assert!(
        flow.production.stacks.executed(),
        "deployed: the notice says the release step failed"
    );
}

pub async fn evidence_that_cannot_be_recorded_leaves_the_release_without_it_and_the_run_promoted() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.artifacts
        .break_keys_containing(&format!("{PROD_RUN}evidence"));
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_passes_through(
        &route(&h),
        &[
            "Notify Success",
            "Record Release Evidence",
            "Release Evidence Not Recorded",
            "Promoted",
        ],
    );
    let m = production_outcome(&flow);
    assert!(m.body.contains("Evidence: not recorded"), "{}", m.body);
    let (_, notes) = flow
        .repository
        .published()
        .last()
        .cloned()
        .unwrap_or_default();
    assert!(!notes.contains("## Production evidence"), "{notes}");
}

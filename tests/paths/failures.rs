//! The routes the happy path and the classic failures leave out: every failure edge of
//! the definition, the waits that run out, the no-change deploy, and notifications
//! that themselves fail.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::{ApprovalKind, Approver};

/// The route of a run that ended before anyone was asked to approve.
fn no_approval_was_asked(flow: &Flow) {
    assert!(
        flow.notifier
            .messages()
            .iter()
            .all(|(t, _)| *t != Topic::Approvals),
        "nobody is asked to approve what cannot be deployed"
    );
    assert!(flow.table.records().is_empty());
}

pub async fn a_failed_package_build_ends_the_run_before_approval() {
    let flow = Flow::new();
    flow.builds.fail("package");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("PackageFailed"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Package App",
            "No Package or Preview",
            "Package & Preview Failed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    assert_never_enters(&r, &["Generate Checklist", "Wait for Approval"]);
    no_approval_was_asked(&flow);
    let m = assert_failed_at(&flow, "Package & Preview", "PackageFailed");
    assert!(
        m.body.contains("ended FAILED"),
        "the build is named: {}",
        m.body
    );
}

pub async fn a_change_set_that_cannot_be_created_ends_the_run_before_approval() {
    let flow = Flow::new();
    flow.stacks
        .fail_create("ValidationError: Template format error: unresolved resource Bucket");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("PackageFailed"));
    assert_passes_through(
        &route(&h),
        &[
            "Create Change Set",
            "No Package or Preview",
            "Package & Preview Failed",
        ],
    );
    no_approval_was_asked(&flow);
    let m = assert_failed_at(&flow, "Package & Preview", "PackageFailed");
    assert!(m.body.contains("unresolved resource Bucket"), "{}", m.body);
}

pub async fn a_failed_change_set_ends_the_run_before_approval() {
    let flow = Flow::new();
    flow.stacks
        .fail_change_set("Requires capabilities : [CAPABILITY_AUTO_EXPAND]");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("PackageFailed"));
    assert_passes_through(
        &route(&h),
        &[
            "Describe Change Set",
            "No Package or Preview",
            "Package & Preview Failed",
        ],
    );
    no_approval_was_asked(&flow);
    let m = assert_failed_at(&flow, "Package & Preview", "PackageFailed");
    assert!(m.body.contains("CAPABILITY_AUTO_EXPAND"), "{}", m.body);
}

pub async fn a_change_set_still_being_computed_is_waited_for() {
    let flow = Flow::new();
    flow.stacks.set_pending_polls(2);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let r = route(&h);
    assert_eq!(
        r.iter().filter(|s| *s == "Wait for Change Set").count(),
        2,
        "{r:#?}"
    );
    assert_eq!(output(&done)["checklist"]["changes"]["adds"], 1);
}

pub async fn every_failed_check_is_recorded_and_approving_over_them_needs_a_reason() {
    let flow = Flow::new();
    for check in ["eslint", "typescript", "unit-tests", "security-scan"] {
        flow.builds.fail(check);
    }
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    assert!(matches!(
        flow.decide(&id, true, None).await,
        Err(Refusal::ReasonRequired { .. })
    ));
    let reason = "all four are known flaky on the runner image; tracked in #412";
    assert_eq!(
        flow.decide(&id, true, Some(reason)).await,
        Ok(Decided::Approved)
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(
        &route(&h),
        &[
            "Generate Checklist",
            "Wait for Approval",
            "Ready for Production",
        ],
    );
    let r = route(&h);
    for failed in [
        "ESLint Failed",
        "TypeScript Failed",
        "Unit Tests Failed",
        "Security Scan Failed",
    ] {
        assert!(r.iter().any(|s| s == failed), "{failed} not entered");
    }
    assert_eq!(
        output(&done)["checklist"]["failedChecks"],
        json!(["ESLint", "TypeScript", "Unit Tests", "Security Scan"])
    );
    // The checks and the reason travel to everyone told, and into the release notes.
    let m = only_outcome(&flow);
    assert!(
        m.body
            .contains("Approved over failed checks: ESLint, TypeScript, Unit Tests, Security Scan")
            && m.body.contains(reason),
        "{}",
        m.body
    );
    let notes = run_artifact(&flow, "release-notes.md");
    assert!(
        notes.contains("ESLint, TypeScript, Unit Tests, Security Scan")
            && notes.contains(&stagegate::text::md(reason)),
        "{notes}"
    );
    let approval = String::from_utf8(
        flow.artifacts
            .get_sync(&format!("{RUN}approval.json"))
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(
        approval.contains(reason) && approval.contains("\"bob\""),
        "{approval}"
    );
}

pub async fn no_infrastructure_change_skips_the_deploy() {
    let flow = Flow::new();
    flow.stacks.set_no_changes();
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Validate Infrastructure",
            "Infrastructure Changes?",
            "Capture Stack Outputs",
            "Deploy Frontend",
            "Ready for Production",
        ],
    );
    assert_never_enters(&r, &["Deploy Infrastructure", "Await Stack Event"]);
    assert!(!flow.stacks.executed(), "nothing was executed");
    assert_eq!(output(&done)["validation"]["noChanges"], true);
    let m = only_outcome(&flow);
    assert!(m.body.contains("no changes: deploy skipped"), "{}", m.body);
}

pub async fn a_change_set_that_cannot_execute_fails_the_infrastructure_stage() {
    let flow = Flow::new();
    flow.stacks
        .fail_execute("InvalidChangeSetStatus: the change set is EXECUTE_IN_PROGRESS");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("StackDeployFailed"));
    assert_passes_through(
        &route(&h),
        &["Deploy Infrastructure", "Deploy Infrastructure Failed"],
    );
    assert_failed_at(&flow, "Deploy Infrastructure", "StackDeployFailed");
}

pub async fn outputs_that_cannot_be_recorded_fail_the_infrastructure_stage() {
    let flow = Flow::new();
    flow.artifacts.break_keys_containing("stack-outputs.json");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("DependencyRefused"));
    assert_passes_through(
        &route(&h),
        &["Capture Stack Outputs", "Deploy Infrastructure Failed"],
    );
    assert_failed_at(&flow, "Deploy Infrastructure", "DependencyRefused");
}

pub async fn a_stack_that_never_settles_fails_with_wait_exhausted() {
    let flow = Flow::with_settings(Settings {
        max_polls: 3,
        ..Flow::new().settings.clone()
    });
    flow.stacks.after_execute(&["UPDATE_IN_PROGRESS"]);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("WaitExhausted"));
    let r = route(&h);
    // No terminal event ever comes: one status read per timeout, three in all.
    assert_eq!(
        r.iter().filter(|s| *s == "Await Stack Event").count(),
        3,
        "{r:#?}"
    );
    let m = assert_failed_at(&flow, "Deploy Infrastructure", "WaitExhausted");
    assert!(m.body.contains("after 3 status reads"), "{}", m.body);
}

pub async fn a_frontend_missing_its_stack_output_fails_the_frontend_stage() {
    let flow = Flow::new();
    flow.stacks.set_outputs(&[]);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("InvalidInput"));
    assert_passes_through(&route(&h), &["Deploy Frontend", "Deploy Frontend Failed"]);
    let m = assert_failed_at(&flow, "Deploy Frontend", "InvalidInput");
    assert!(m.body.contains("'ApiUrl'"), "{}", m.body);
}

pub async fn suites_that_cannot_be_read_fail_the_integration_tests() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    // The suites were pinned, approved and validated; then the bucket refuses them.
    flow.wait_for_state(&arn, "Capture Stack Outputs").await;
    flow.artifacts
        .break_keys_containing(&format!("{RUN}suites/"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(
        &route(&h),
        &["Integration Tests", "Integration Tests Failed"],
    );
    assert_failed_at(&flow, "Integration Tests", "DependencyRefused");
}

pub async fn a_response_time_over_budget_fails_the_performance_stage() {
    let flow = Flow::new();
    let spec = json!({"budgets": [{"name": "home", "url": "${frontendUrl}/", "requests": 5, "p95Ms": 300}]});
    stagegate::ports::Artifacts::put(
        &flow.artifacts,
        &format!("{RUN}performance.json"),
        "application/json",
        serde_json::to_vec(&spec).unwrap_or_default(),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    flow.http
        .route_timed("https://staging.example.test/", 200, "home", 900);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("PerformanceBudgetExceeded"));
    let r = route(&h);
    assert_passes_through(&r, &["Performance Tests", "Performance Tests Failed"]);
    assert_never_enters(&r, &["Mark Release Ready"]);
    let m = assert_failed_at(&flow, "Performance Tests", "PerformanceBudgetExceeded");
    assert!(m.body.contains("home"), "{}", m.body);
}

pub async fn a_checklist_that_cannot_be_written_fails_before_approval() {
    let flow = Flow::new();
    flow.artifacts.break_keys_containing("checklist");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("DependencyRefused"));
    assert_passes_through(
        &route(&h),
        &["Generate Checklist", "Generate Checklist Failed"],
    );
    no_approval_was_asked(&flow);
    assert_failed_at(&flow, "Generate Checklist", "DependencyRefused");
}

pub async fn a_release_that_cannot_be_published_fails_the_release_stage() {
    let flow = Flow::new();
    flow.repository
        .fail("403 Resource not accessible by integration");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("DependencyRefused"));
    assert_passes_through(
        &route(&h),
        &["Mark Release Ready", "Mark Release Ready Failed"],
    );
    let m = assert_failed_at(&flow, "Mark Release Ready", "DependencyRefused");
    assert!(m.body.contains("Resource not accessible"), "{}", m.body);
}

pub async fn no_approver_for_deployments_fails_by_name() {
    let flow = Flow::with_approvers(
        Flow::new().settings.clone(),
        vec![Approver {
            decides: vec![ApprovalKind::Acceptance],
            ..stagegate::testing::approver("pat", None)
        }],
    );
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("NoApprovers"));
    assert_passes_through(
        &route(&h),
        &["Wait for Approval", "Wait for Approval Failed"],
    );
    no_approval_was_asked(&flow);
    let m = assert_failed_at(&flow, "Wait for Approval", "NoApprovers");
    assert!(m.body.contains("stagegate approvers add"), "{}", m.body);
}

/// SNS fails for the cancellation notice and its retries: the run still ends
/// cancelled, and the end-of-run rule tells everyone.
pub async fn a_cancellation_notice_that_fails_still_ends_the_run_and_is_sent_by_the_rule() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    flow.notifier.fail_next(4);
    flow.decide(&id, false, Some("not this week")).await.ok();
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Notify Cancelled", "Workflow Cancelled"]);
    let m = only_outcome(&flow);
    assert!(
        m.subject.contains("its own notification did not go out"),
        "{}",
        m.subject
    );
}

/// The same for a failure notice.
pub async fn a_failure_notice_that_fails_still_ends_the_run_and_is_sent_by_the_rule() {
    let flow = Flow::new();
    flow.hosting
        .set_job_statuses(&[stagegate::ports::JobStatus::Failed]);
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    flow.notifier.fail_next(4);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("AmplifyJobFailed"));
    assert_passes_through(&route(&h), &["Notify Failure", "Deployment Failed"]);
    let m = only_outcome(&flow);
    assert!(
        m.subject.contains("its own notification did not go out"),
        "{}",
        m.subject
    );
    assert!(m.body.contains("AmplifyJobFailed"), "{}", m.body);
}

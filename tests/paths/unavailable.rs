//! A check the build service could not run is not a failed check: nobody may approve
//! over it. And an error without a `Cause` (the specification says an error SHOULD
//! have one) takes the same route as one with.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::TaskCallbacks;

/// Each check, and the package build, refused by the build service (access denied,
/// a missing project, throttled past the retries, the task's timeout; with a cause or
/// without) ends the run before anyone is asked, as `ChecksUnavailable` naming it.
pub async fn a_check_that_could_not_run_ends_the_run_as_checks_unavailable() {
    let cases = [
        (
            "eslint",
            "ESLint Unavailable",
            "ESLint",
            "CodeBuild.AccessDeniedException",
            "not authorized to perform: codebuild:StartBuild",
        ),
        (
            "typescript",
            "TypeScript Unavailable",
            "TypeScript",
            "CodeBuild.ResourceNotFoundException",
            "",
        ),
        (
            "unit-tests",
            "Unit Tests Unavailable",
            "Unit Tests",
            "CodeBuild.ThrottlingException",
            "Rate exceeded",
        ),
        (
            "security-scan",
            "Security Scan Unavailable",
            "Security Scan",
            "States.Timeout",
            "",
        ),
        (
            "package",
            "Package Unavailable",
            "Package App",
            "CodeBuild.AccountLimitExceededException",
            "too many builds",
        ),
    ];
    for (check, state, name, error, cause) in cases {
        let flow = Flow::new();
        flow.builds.unavailable(check, error, cause);
        let arn = flow.start("rc-1.4.0", SHA).await;
        let (done, h) = flow.finish(&arn).await;
        assert_eq!(done.error.as_deref(), Some("ChecksUnavailable"), "{check}");
        let r = route(&h);
        let expected = [
            state,
            "Checks Unavailable",
            "Notify Failure",
            "Deployment Failed",
        ];
        assert_passes_through(&r, &expected);
        assert_never_enters(&r, &["Generate Checklist", "Wait for Approval"]);
        let m = assert_failed_at(&flow, "Pre-Deployment Checks", "ChecksUnavailable");
        assert!(
            m.body.contains(&format!("{name} could not run")) && m.body.contains(error),
            "{check}: {}",
            m.body
        );
        let asked = flow
            .notifier
            .messages()
            .into_iter()
            .any(|(t, _)| t == Topic::Approvals);
        assert!(!asked, "{check}: nobody is asked to approve over it");
    }
}

/// A build that ran and failed with an error that has no cause is still a failed
/// check: recorded, shown, and approvable with a reason.
pub async fn a_failed_check_without_a_cause_is_still_a_failed_check() {
    let flow = Flow::new();
    flow.builds.unavailable("eslint", "States.TaskFailed", "");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    let reason = "the rule is new and noisy; fixed in rc-1.4.1";
    assert_eq!(
        flow.decide(&id, true, Some(reason)).await,
        Ok(Decided::Approved)
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(
        &route(&h),
        &["ESLint Ran?", "ESLint Failed", "Ready for Production"],
    );
    assert_eq!(
        output(&done)["checklist"]["failedChecks"],
        json!(["ESLint"])
    );
}

/// A command suite the build service could not run ends the run at the integration
/// tests as `ChecksUnavailable`, not as a failed case.
pub async fn a_command_suite_that_could_not_run_is_checks_unavailable() {
    let flow = crate::commands::with_e2e();
    flow.builds
        .unavailable("suite:e2e", "CodeBuild.AccessDeniedException", "");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("ChecksUnavailable"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Suite Ran?",
            "Suite Unavailable",
            "Integration Tests Failed",
        ],
    );
    assert_never_enters(&r, &["Read Suite Report", "Test Results"]);
    let m = assert_failed_at(&flow, "Integration Tests", "ChecksUnavailable");
    assert!(
        m.body.contains("command suite e2e could not run"),
        "{}",
        m.body
    );
}

/// A rejection sent without a cause ends the run cancelled and notified, as one with.
pub async fn a_cancellation_without_a_cause_is_still_cancelled_and_told() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approval_link("rc-1.4.0").await;
    let token = flow
        .table
        .records()
        .into_iter()
        .find(|r| r.tag == "rc-1.4.0")
        .map(|r| r.task_token)
        .unwrap_or_else(|| panic!("no approval record"));
    flow.sfn
        .fail(&token, "Rejected", "")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("Rejected"));
    assert_passes_through(
        &route(&h),
        &[
            "Approval Rejected",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    let m = only_outcome(&flow);
    assert_eq!(m.attributes["outcome"], "cancelled");
}

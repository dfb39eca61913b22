//! User Acceptance Testing: the stakeholders' sign-off after the tests, when the
//! repository asks for it: signed off, rejected, timed out, superseded, nobody to ask,
//! and skipped when not configured.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::{ApprovalKind, Approver};

pub async fn user_acceptance_sign_off_completes_the_release() {
    let flow = with_user_acceptance();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    let uat = flow.acceptance_link("rc-1.4.0").await;
    assert_eq!(flow.decide(&uat, true, None).await, Ok(Decided::Approved));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(
        &route(&h),
        &[
            "Performance Tests",
            "User Acceptance Required?",
            "User Acceptance Testing",
            "Mark Release Ready",
            "Ready for Production",
        ],
    );
    assert_eq!(output(&done)["acceptance"]["approvers"], json!(["carol"]));
    let sign_off = flow
        .notifier
        .messages()
        .into_iter()
        .find(|(_, m)| m.attributes["kind"] == "acceptance-request")
        .map(|(_, m)| m);
    assert!(sign_off.is_some_and(|m| m.body.contains("Try it: https://staging.example.test")));
    // Both gates are on the record: the approval record, the notes, the message.
    let record: Value =
        serde_json::from_str(&run_artifact(&flow, "approval.json")).unwrap_or_default();
    assert_eq!(
        record["deployment"]["approvers"],
        json!(["bob"]),
        "{record}"
    );
    assert_eq!(
        record["userAcceptance"]["approvers"],
        json!(["carol"]),
        "{record}"
    );
    let notes = run_artifact(&flow, "release-notes.md");
    assert!(
        notes.contains("## User acceptance\n\n- Approved by carol"),
        "{notes}"
    );
    let m = only_outcome(&flow);
    assert!(
        m.body.contains("User acceptance:\n  Approved by carol"),
        "{}",
        m.body
    );
}

pub async fn rejected_user_acceptance_cancels_before_release() {
    let flow = with_user_acceptance();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    let uat = flow.acceptance_link("rc-1.4.0").await;
    assert_eq!(
        flow.decide(&uat, false, Some("checkout copy is wrong"))
            .await,
        Ok(Decided::Rejected)
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("Rejected"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "User Acceptance Testing",
            "Acceptance Rejected",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    assert_never_enters(&r, &["Mark Release Ready"]);
    let m = only_outcome(&flow);
    assert_eq!(outcome_at(&m), ("cancelled", "User Acceptance Testing"));
    assert!(m.body.contains("checkout copy is wrong"), "{}", m.body);
}

pub async fn user_acceptance_is_skipped_unless_configured() {
    let flow = Flow::new();
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(
        &route(&h),
        &["User Acceptance Required?", "Mark Release Ready"],
    );
    assert_never_enters(&route(&h), &["User Acceptance Testing"]);
}

pub async fn no_approver_for_user_acceptance_fails_at_that_stage() {
    let settings = Settings {
        user_acceptance: true,
        ..Flow::new().settings.clone()
    };
    let flow = Flow::with_approvers(
        settings,
        vec![Approver {
            decides: vec![ApprovalKind::Deployment],
            ..stagegate::testing::approver("bob", Some("bob-gh"))
        }],
    );
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("NoApprovers"));
    assert_passes_through(
        &route(&h),
        &["User Acceptance Testing", "User Acceptance Testing Failed"],
    );
    assert_failed_at(&flow, "User Acceptance Testing", "NoApprovers");
}

pub async fn user_acceptance_without_a_decision_times_out() {
    let flow = with_user_acceptance();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    let _ = flow.acceptance_link("rc-1.4.0").await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_passes_through(
        &route(&h),
        &[
            "User Acceptance Testing",
            "Acceptance Timed Out",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    let m = only_outcome(&flow);
    assert_eq!(outcome_at(&m), ("cancelled", "User Acceptance Testing"));
}

pub async fn a_newer_candidate_supersedes_one_in_user_acceptance() {
    let flow = with_user_acceptance();
    let old = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    let _ = flow.acceptance_link("rc-1.4.0").await;
    let _new = flow.start("rc-1.4.1", SHA2).await;
    let (done, h) = flow.finish(&old).await;
    assert_eq!(done.error.as_deref(), Some("Superseded"));
    assert_passes_through(
        &route(&h),
        &[
            "User Acceptance Testing",
            "Acceptance Superseded",
            "Notify Cancelled",
        ],
    );
    let m = flow
        .outcome_messages()
        .into_iter()
        .find(|m| m.attributes["tag"] == "rc-1.4.0")
        .expect("the old candidate's outcome");
    assert!(
        m.body.contains("rc-1.4.1"),
        "the newer candidate is named: {}",
        m.body
    );
}

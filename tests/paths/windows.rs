//! The production definition's deployment windows, freezes and break-glass, on
//! virtual time (the engine's clock starts on Friday 2026-01-02, 00:00 UTC).

use crate::promotion::*;
use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::windows::Calendar;
use stagegate_paths::promotion::ProductionSite;
use std::sync::atomic::Ordering;

/// Production configured with this calendar.
fn with_calendar(json: &str) -> Flow {
    let calendar = Calendar::parse(json).unwrap_or_else(|e| panic!("{e}"));
    Flow::with_production(Settings {
        calendar: Some(calendar),
        ..ProductionSite::new().settings
    })
}

/// When run `arn` first entered `state`, by its history.
fn entered_at(flow: &Flow, arn: &str, state: &str) -> chrono::DateTime<chrono::Utc> {
    let history = flow.engine.get_execution_history(arn).unwrap_or_default();
    history
        .iter()
        .find(|e| matches!(&e.details, asl_engine::Details::StateEntered { name, .. } if name == state))
        .map(|e| e.timestamp)
        .unwrap_or_else(|| panic!("{state} was not entered"))
}

/// A freeze over the whole test's time, waiting or ending runs.
const FROZEN: &str = r#"{"timeZone": "UTC", "freezes": [{"from": "2026-01-01", "to": "2026-01-31", "reason": "January freeze"}], "duringFreeze": "end"}"#;

pub async fn an_approved_promotion_outside_its_window_waits_for_the_next_opening() {
    let flow = with_calendar(
        r#"{"timeZone": "UTC", "windows": [{"days": "Mon", "from": "09:00", "to": "10:00"}]}"#,
    );
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_passes_through(
        &route(&h),
        &[
            "Check Deployment Window",
            "Window Open?",
            "Wait for Deployment Window",
            "Check Deployment Window",
            "Window Open?",
            "Validate Infrastructure",
        ],
    );
    let validated = entered_at(&flow, &arn, "Validate Infrastructure");
    let monday = "2026-01-05T09:00:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap_or_default();
    assert!(
        validated >= monday,
        "deployed at {validated}, before the window opened"
    );
    let m = production_outcome(&flow);
    assert!(
        m.body
            .contains("Deployment window: inside Mon 09:00-10:00 (UTC)"),
        "{}",
        m.body
    );
}

pub async fn a_freeze_that_ends_runs_cancels_an_approved_promotion_and_says_why() {
    let flow = with_calendar(FROZEN);
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(
        &route(&h),
        &[
            "Check Deployment Window",
            "Deployment Frozen",
            "Notify Cancelled",
        ],
    );
    let m = production_outcome(&flow);
    assert_production(
        &m,
        "cancelled",
        "Check Deployment Window",
        Some("DeploymentFrozen"),
    );
    assert!(m.body.contains("January freeze"), "{}", m.body);
    nothing_deployed(&flow);
}

pub async fn two_approvers_breaking_the_glass_with_reasons_deploy_in_a_freeze_on_the_record() {
    let flow = with_calendar(FROZEN);
    let arn = staged_and_promoted(&flow).await;
    flow.breaking_glass.store(true, Ordering::Relaxed);
    for who in ["dana", "erin"] {
        let id = flow.link(TAG, "approval-request", who).await;
        let reason = format!("{who}: the CVE fix cannot wait");
        flow.decide(&id, true, Some(&reason))
            .await
            .unwrap_or_else(|r| panic!("{r:?}"));
    }
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let m = production_outcome(&flow);
    assert!(
        m.body
            .contains("Break-glass: the deployment window was overridden by dana and erin"),
        "{}",
        m.body
    );
    let e = stagegate::manifest::evidence::verify(&flow.artifacts, &flow.signer, PROD_RUN)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert!(
        e.decisions.iter().all(|d| d.break_glass),
        "{:?}",
        e.decisions
    );
    let window = e.window.unwrap_or_default();
    assert_eq!(
        window["breakGlass"]["approvers"],
        serde_json::json!(["dana", "erin"])
    );
}

pub async fn a_window_the_run_cannot_live_to_see_ends_it_naming_when() {
    let flow = with_calendar(
        r#"{"timeZone": "UTC", "freezes": [{"from": "2026-01-01", "to": "2026-01-20", "reason": "audit"}]}"#,
    );
    let arn = staged_and_promoted(&flow).await;
    flow.approve_production(TAG).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Window Unreachable", "Notify Cancelled"]);
    let m = production_outcome(&flow);
    assert_production(
        &m,
        "cancelled",
        "Check Deployment Window",
        Some("WindowUnreachable"),
    );
    assert!(m.body.contains("2026-01-21 00:00:00 UTC"), "{}", m.body);
}

pub async fn a_tampered_approval_answer_fails_the_window_check_by_name() {
    let flow = with_calendar(FROZEN);
    let arn = staged_and_promoted(&flow).await;
    flow.link(TAG, "approval-request", "dana").await;
    let record = flow
        .table
        .records()
        .into_iter()
        .find(|r| r.tag == TAG)
        .expect("the approval");
    flow.engine
        .send_task_success(&record.task_token, r#"{"votes": "all of them"}"#)
        .unwrap_or_else(|e| panic!("{e}"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(
        &route(&h),
        &["Check Deployment Window Failed", "Notify Failure"],
    );
    assert_production(
        &production_outcome(&flow),
        "failure",
        "Check Deployment Window",
        Some("InvalidInput"),
    );
    nothing_deployed(&flow);
}

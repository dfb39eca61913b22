//! One test per route of `statemachine/production.asl.json`: a staged commit promoted
//! by a `v*` tag, through the real definition on virtual time.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::Message;
use stagegate::Settings;
use stagegate_paths::promotion::{ProductionSite, SMOKE};
use std::time::Duration;

pub(crate) const TAG: &str = "v1.4.0";
pub(crate) const PROD_RUN: &str = "runs/v1.4.0--0123456789ab/";

/// The production outcome notice (staging's are the others).
pub(crate) fn production_outcome(flow: &Flow) -> Message {
    outcome_of(flow, TAG)
}

/// The one outcome notice of the run of `tag`.
pub(crate) fn outcome_of(flow: &Flow, tag: &str) -> Message {
    let mut notices: Vec<Message> = flow
        .outcome_messages()
        .into_iter()
        .filter(|m| m.attributes.get("tag").map(String::as_str) == Some(tag))
        .collect();
    assert_eq!(notices.len(), 1, "one production notice: {notices:#?}");
    notices.remove(0)
}

pub(crate) fn assert_production(m: &Message, outcome: &str, stage: &str, error: Option<&str>) {
    let got = (
        m.attributes["outcome"].as_str(),
        m.attributes["stage"].as_str(),
        m.attributes.get("error").map(String::as_str),
        m.attributes["environment"].as_str(),
    );
    assert_eq!(got, (outcome, stage, error, "production"), "{m:#?}");
}

/// A staged commit and its production run, up to the production approvals.
pub(crate) async fn staged_and_promoted(flow: &Flow) -> String {
    flow.stage("rc-1.4.0", SHA).await;
    flow.promote(TAG, SHA)
}

pub(crate) fn nothing_deployed(flow: &Flow) {
    assert!(
        !flow.production.stacks.executed(),
        "no production change set executed"
    );
    assert!(
        flow.production.hosting.jobs().is_empty(),
        "no production frontend job"
    );
}

/// The production run ends failed at `stage` with `error`, told once.
pub(crate) async fn fails_at(flow: &Flow, arn: &str, states: &[&str], stage: &str, error: &str) {
    let (done, h) = flow.finish(arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    assert_passes_through(&route(&h), states);
    assert_production(&production_outcome(flow), "failure", stage, Some(error));
}

/// The staged code object (content-addressed, pinned by staging).
pub(crate) fn staged_code(flow: &Flow) -> String {
    let prefix = "runs/rc-1.4.0--0123456789ab/code/";
    let key = flow
        .artifacts
        .keys()
        .into_iter()
        .find(|k| k.starts_with(prefix));
    key.unwrap_or_else(|| panic!("no {prefix}"))
}

pub async fn a_staged_commit_soaks_is_approved_by_a_quorum_and_is_promoted() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    let builds = flow.builds.requests().len();
    // One approval is not the quorum: the run still waits.
    assert_eq!(
        flow.decide_production(TAG, "dana", true).await,
        Decided::Recorded { remaining: 1 }
    );
    assert_eq!(
        flow.decide_production(TAG, "erin", true).await,
        Decided::Approved
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(
        flow.builds.requests().len(),
        builds,
        "production built nothing"
    );
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Preflight",
            "Verify Staged Release",
            "Soak Done?",
            "Wait for Soak",
            "Create Change Set",
            "Generate Checklist",
            "Wait for Production Approval",
            "Validate Infrastructure",
            "Deploy Infrastructure",
            "Capture Stack Outputs",
            "Deploy Frontend",
            "Smoke Tests",
            "Test Results",
            "Mark Promoted",
            "Notify Success",
            "Record Release Evidence",
            "Promoted",
        ],
    );
    let notice = production_outcome(&flow);
    assert_production(&notice, "success", "Promoted", None);
    // What could not be the same bytes is said, not hidden.
    let rebuilt = "the frontend built by Amplify from the same commit (not staging's bundle bytes)";
    assert!(notice.body.contains(rebuilt), "{}", notice.body);
    let record = notice
        .body
        .split("Staging → production:")
        .nth(1)
        .unwrap_or_default();
    for step in [
        "ready on staging (rc-1.4.0)",
        "soak done",
        "approved by dana",
        "approved by erin",
        "deployment window: no deployment windows",
    ] {
        assert!(
            record.contains(step),
            "no {step:?} in the record:\n{}",
            notice.body
        );
    }
    promoted_from_the_staged_objects(&flow).await;
    // Two runs counted: the staging one, then the promotion, each by its stage.
    let runs = [("staging", "success"), ("production", "success")];
    assert_run_metrics(&flow, &runs, "Wait for Production Approval");
}

pub async fn a_commit_no_staging_run_made_ready_is_not_staged_and_nothing_deploys() {
    let flow = Flow::new();
    let arn = flow.promote(TAG, SHA);
    fails_at(
        &flow,
        &arn,
        &["Verify Staged Release", "Not Staged", "Notify Failure"],
        "Verify Staged Release",
        "NotStaged",
    )
    .await;
    nothing_deployed(&flow);
    let m = production_outcome(&flow);
    assert!(m.body.contains("no staging run of"), "{}", m.body);
}

pub async fn one_changed_byte_of_a_staged_object_is_evidence_invalid_before_anything_deploys() {
    let flow = Flow::new();
    flow.stage("rc-1.4.0", SHA).await;
    let code = staged_code(&flow);
    flow.artifacts
        .put_sync(&code, "application/octet-stream", "the api's codf");
    let arn = flow.promote(TAG, SHA);
    fails_at(
        &flow,
        &arn,
        &["Verify Staged Release", "Evidence Invalid"],
        "Verify Staged Release",
        "EvidenceInvalid",
    )
    .await;
    assert!(
        production_outcome(&flow).body.contains(&code),
        "the notice names the object"
    );
    nothing_deployed(&flow);
    assert!(
        flow.production.stacks.last_request().is_none(),
        "not even a preview"
    );
}

pub async fn a_promotion_before_the_soak_is_refused_when_configured() {
    let flow = Flow::with_production(Settings {
        refuse_unsoaked: true,
        ..ProductionSite::new().settings
    });
    let arn = staged_and_promoted(&flow).await;
    fails_at(
        &flow,
        &arn,
        &["Verify Staged Release", "Soak Incomplete"],
        "Verify Staged Release",
        "SoakIncomplete",
    )
    .await;
    nothing_deployed(&flow);
}

pub async fn a_staged_record_that_cannot_be_read_fails_verification_by_name() {
    let flow = Flow::new();
    flow.stage("rc-1.4.0", SHA).await;
    flow.artifacts.break_keys_containing("staged/");
    let arn = flow.promote(TAG, SHA);
    fails_at(
        &flow,
        &arn,
        &["Verify Staged Release Failed"],
        "Verify Staged Release",
        "DependencyRefused",
    )
    .await;
}

pub async fn a_commit_soaked_long_ago_goes_straight_to_its_preview_and_a_rejection_cancels() {
    let flow = Flow::new();
    flow.stage("rc-1.4.0", SHA).await;
    tokio::time::sleep(Duration::from_secs(25 * 3600)).await;
    let arn = flow.promote(TAG, SHA);
    assert_eq!(
        flow.decide_production(TAG, "dana", false).await,
        Decided::Rejected
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let r = route(&h);
    assert_never_enters(&r, &["Wait for Soak", "Validate Infrastructure"]);
    assert_passes_through(
        &r,
        &[
            "Soak Done?",
            "Create Change Set",
            "Approval Rejected",
            "Notify Cancelled",
        ],
    );
    let m = production_outcome(&flow);
    assert_production(
        &m,
        "cancelled",
        "Wait for Production Approval",
        Some("Rejected"),
    );
    assert!(m.body.contains("the error budget is spent"), "{}", m.body);
    nothing_deployed(&flow);
}

pub async fn no_production_decision_times_out_and_is_cancelled() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Approval Timed Out", "Notify Cancelled"]);
    assert_production(
        &production_outcome(&flow),
        "cancelled",
        "Wait for Production Approval",
        Some("States.Timeout"),
    );
    nothing_deployed(&flow);
}

pub async fn a_newer_promotion_supersedes_one_waiting_and_a_newer_rc_does_not() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.link(TAG, "approval-request", "dana").await;
    // A newer candidate on staging is another lane: the promotion keeps waiting.
    flow.stage("rc-1.5.0", SHA2).await;
    let newer = flow.promote("v1.5.0", SHA2);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_passes_through(&route(&h), &["Approval Superseded", "Notify Cancelled"]);
    assert_production(
        &production_outcome(&flow),
        "cancelled",
        "Wait for Production Approval",
        Some("Superseded"),
    );
    flow.approve_production("v1.5.0").await;
    let (done, _) = flow.finish(&newer).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
}

pub async fn too_few_production_approvers_fail_the_approval_by_name() {
    let flow = Flow::with_production(Settings {
        required_approvals: 3,
        ..ProductionSite::new().settings
    });
    let arn = staged_and_promoted(&flow).await;
    fails_at(
        &flow,
        &arn,
        &["Wait for Production Approval Failed"],
        "Wait for Production Approval",
        "NoApprovers",
    )
    .await;
}

pub async fn a_staged_object_changed_after_the_production_approval_is_artifact_changed() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.link(TAG, "approval-request", "erin").await;
    let code = staged_code(&flow);
    flow.artifacts
        .put_sync(&code, "application/octet-stream", "the api's codf");
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Validate Infrastructure", "Artifact Changed"],
        "Validate Infrastructure",
        "ArtifactChanged",
    )
    .await;
    nothing_deployed(&flow);
}

pub async fn a_production_stack_changed_after_approval_fails_validation() {
    let flow = Flow::new();
    let arn = staged_and_promoted(&flow).await;
    flow.link(TAG, "approval-request", "erin").await;
    flow.production.stacks.bump_version();
    flow.approve_production(TAG).await;
    fails_at(
        &flow,
        &arn,
        &["Validate Infrastructure Failed"],
        "Validate Infrastructure",
        "ValidationFailed",
    )
    .await;
    nothing_deployed(&flow);
}

/// Production deployed the staged template to its own stack and site, published the
/// latest release, and ran only the smoke suites; its evidence names staging's.
async fn promoted_from_the_staged_objects(flow: &Flow) {
    // Production deployed the staged template (no package, no build) to its own
    // stack, and its own site for the staged commit.
    let req = flow
        .production
        .stacks
        .last_request()
        .expect("a production change set");
    assert_eq!(
        req.template_uri,
        "runs/rc-1.4.0--0123456789ab/packaged.yaml"
    );
    assert_eq!(req.stack_name, "app-production");
    // The production tag's release, at the staged commit, marked latest.
    let published = flow.repository.published();
    let (tag, notes) = published.last().expect("a release");
    assert_eq!(tag, TAG);
    assert!(
        notes.starts_with(&format!("latest release at {SHA}")),
        "{notes}"
    );
    assert!(
        notes.contains("## Promoted from staging") && notes.contains("rc-1.4.0--0123456789ab"),
        "{notes}"
    );
    same_proof_in_checklist_and_notes(flow, notes);
    // Once the notice went out, the release names the run's signed evidence.
    let evidence = format!("`{PROD_RUN}evidence.json` (sha256 `");
    assert!(
        notes.contains("## Production evidence") && notes.contains(&evidence),
        "{notes}"
    );
    assert!(flow.production.stacks.executed());
    assert_eq!(flow.production.hosting.jobs(), vec![SHA.to_string()]);
    let smoke: Vec<String> = flow
        .production
        .http
        .requests()
        .iter()
        .map(|r| r.url.clone())
        .collect();
    let want: Vec<String> = SMOKE
        .iter()
        .map(|s| format!("https://production.example.test/{s}"))
        .collect();
    assert_eq!(
        smoke, want,
        "the smoke suites ran against production, nothing else"
    );
    // The production evidence verifies and names what it promotes.
    let e = stagegate::manifest::evidence::verify(&flow.artifacts, &flow.signer, PROD_RUN)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    let promotes = e.promotes.expect("what it promotes");
    assert_eq!(promotes["stagingRun"], "rc-1.4.0--0123456789ab");
    let gates: Vec<(&str, &str)> = e
        .decisions
        .iter()
        .map(|d| (d.gate.as_str(), d.approver.as_str()))
        .collect();
    assert_eq!(gates, [("production", "dana"), ("production", "erin")]);
}

/// The approvers' checklist and the release notes say what staging proved in the same
/// words.
fn same_proof_in_checklist_and_notes(flow: &Flow, notes: &str) {
    let checklist = flow
        .artifacts
        .get_sync(&format!("{PROD_RUN}checklist.md"))
        .map(|b| String::from_utf8_lossy(&b).into_owned())
        .unwrap_or_default();
    let proof: Vec<&str> = checklist
        .lines()
        .skip_while(|l| *l != "## What staging proved")
        .filter(|l| {
            [
                "- Staging run:",
                "- Staging evidence:",
                "- Backend:",
                "- Frontend:",
            ]
            .iter()
            .any(|p| l.starts_with(p))
        })
        .collect();
    assert_eq!(proof.len(), 4, "{checklist}");
    for line in proof {
        assert!(notes.contains(line), "{line}\n{notes}");
    }
}

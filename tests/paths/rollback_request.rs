//! Rollbacks on request (`stagegate rollback ENV --to TAG`), through the real
//! definitions: on staging, a plan (the release verified, previewed, put on a
//! checklist) then staging's approval and the deploy, tests and bake of its staged
//! objects; in production, the promotion route with its quorum and no second soak.
//! Refused before anyone is asked when the release never went live on the stage.

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::Artifacts as _;

const RC13: &str = "rc-1.3.0--fedcba987654";

/// What is recorded under `key`, as JSON (`null` when nothing is).
async fn record(flow: &Flow, key: &str) -> Value {
    let bytes = flow.artifacts.get(key).await.unwrap_or_default();
    serde_json::from_slice(&bytes.unwrap_or_default()).unwrap_or_default()
}

/// rc-1.3.0 (SHA2) then rc-1.4.0 (SHA) went live on staging.
async fn two_releases(flow: &Flow) {
    flow.stage("rc-1.3.0", SHA2).await;
    flow.stage("rc-1.4.0", SHA).await;
}

/// Asks for the rollback (as [`Flow::request_rollback`]) and waits for `approver`'s
/// new approval email of it (the release's own, from when it first went out, is
/// older); the run and the link id.
async fn ask(
    flow: &Flow,
    production: bool,
    tag: &str,
    sha: &str,
    minute: u32,
    approver: &str,
) -> (String, String) {
    let before = flow.sent_link(tag, "approval-request", approver);
    let arn = flow.request_rollback(production, tag, sha, minute);
    for _ in 0..100_000 {
        match flow.sent_link(tag, "approval-request", approver) {
            Some(id) if Some(&id) != before.as_ref() => return (arn, id),
            _ => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
        }
    }
    panic!("no rollback approval email for {tag} to {approver}");
}

/// The approval records of rc-1.3.0: its first run's, and the rollback's, marked so.
fn asked_as_a_rollback(flow: &Flow) {
    let mut asked: Vec<bool> = flow
        .table
        .records()
        .iter()
        .filter(|r| r.tag == "rc-1.3.0")
        .map(|r| r.rollback)
        .collect();
    asked.sort();
    assert_eq!(
        asked,
        [false, true],
        "the first run's approval, and the rollback's"
    );
}

/// `approver` decides the rollback through link `id`.
async fn decide(flow: &Flow, id: &str, approve: bool) -> Decided {
    let reason = (!approve).then_some("the fix is on its way");
    flow.decide(id, approve, reason)
        .await
        .unwrap_or_else(|r| panic!("deciding: {r:?}"))
}

fn the_rollback_notice(flow: &Flow) -> stagegate::ports::Message {
    let notices = flow.outcome_messages();
    notices.last().cloned().expect("the rollback's notice")
}

pub async fn a_rollback_asked_for_on_staging_is_previewed_approved_and_redeploys_the_release() {
    let flow = Flow::new();
    two_releases(&flow).await;
    let builds = flow.builds.requests().len();
    flow.stacks.set_pending_polls(1);
    let (arn, id) = ask(&flow, false, "rc-1.3.0", SHA2, 5, "bob").await;
    let asked = flow.notifier.messages();
    let (_, email) = asked.last().expect("the approval email");
    assert_eq!(email.subject, "Roll staging back to rc-1.3.0 of acme/shop?");
    asked_as_a_rollback(&flow);
    assert_eq!(decide(&flow, &id, true).await, Decided::Approved);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    let order = [
        "Rollback Requested?",
        "Plan Rollback",
        "Verify Rollback Release",
        "Rollback Checks",
        "Preview Rollback",
        "Describe Rollback Preview",
        "Rollback Preview Ready?",
        "Wait for Rollback Preview",
        "Describe Rollback Preview",
        "Rollback Checklist",
        "Wait for Approval",
        "Validate Infrastructure",
        "Deploy Frontend",
        "Integration Tests",
        "Mark Release Ready",
        "Notify Success",
        "Ready for Production",
    ];
    assert_passes_through(&r, &order);
    assert_never_enters(&r, &["Pre-Deployment Checks", "User Acceptance Testing"]);
    assert_eq!(flow.builds.requests().len(), builds, "nothing rebuilt");
    // rc-1.3.0's own pinned template on the staging stack; its commit on the site.
    let request = flow
        .stacks
        .last_request()
        .expect("the rollback's change set");
    assert_eq!(request.template_uri, format!("runs/{RC13}/packaged.yaml"));
    assert_eq!(flow.hosting.jobs().last().map(String::as_str), Some(SHA2));
    let notice = the_rollback_notice(&flow);
    assert_eq!(
        notice.subject,
        "↩️ staging is rolled back to acme/shop rc-1.3.0 (was rc-1.4.0)"
    );
    assert!(notice.body.contains("on request of ana"), "{}", notice.body);
    let run = "runs/rollback--rc-1.3.0--fedcba987654--20260101T0905/";
    let checklist = flow.artifacts.get(&format!("{run}checklist.md")).await;
    let checklist = String::from_utf8(checklist.unwrap_or_default().unwrap_or_default());
    let checklist = checklist.unwrap_or_default();
    assert!(
        checklist.starts_with("# Rollback checklist: acme/shop rc-1.3.0"),
        "{checklist}"
    );
    assert!(checklist.contains("Live now: rc-1.4.0"), "{checklist}");
    // On the record: both releases, the rollback counted, rc-1.3.0 live again with
    // its own predecessor (none), rc-1.4.0's kept.
    let e = stagegate::manifest::evidence::verify(&flow.artifacts, &flow.signer, run).await;
    let e = e
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(e.replaces.unwrap_or_default()["tag"], "rc-1.4.0");
    let rollbacks = flow.world.metrics.of("Rollbacks");
    assert_eq!(rollbacks.len(), 1);
    assert_eq!(rollbacks[0]["Trigger"], "requested");
    let live = record(&flow, "live/staging.json").await;
    assert_eq!(
        (live["tag"].as_str(), live.get("previous")),
        (Some("rc-1.3.0"), None)
    );
    let newer = record(&flow, "live/staging/released/rc-1.4.0.json").await;
    assert_eq!(newer["previous"], "rc-1.3.0");
}

pub async fn a_rollback_to_a_release_that_never_went_live_is_refused_before_anyone_is_asked() {
    let flow = Flow::new();
    flow.stage("rc-1.4.0", SHA).await;
    // Never live here; then the one live now.
    for (tag, sha, minute, why) in [
        (
            "rc-1.3.0",
            SHA2,
            7,
            "rc-1.3.0 never went live on staging through stagegate",
        ),
        (
            "rc-1.4.0",
            SHA,
            8,
            "rc-1.4.0 is what is live on staging now",
        ),
    ] {
        let asked = flow.sent_links("approval-request", "bob").len();
        let arn = flow.request_rollback(false, tag, sha, minute);
        let (done, h) = flow.finish(&arn).await;
        assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
        let states = ["Plan Rollback", "Plan Rollback Failed", "Notify Failure"];
        assert_passes_through(&route(&h), &states);
        let notice = the_rollback_notice(&flow);
        let got = (
            notice.attributes["stage"].as_str(),
            notice.attributes.get("error"),
        );
        assert_eq!(got, ("Plan Rollback", Some(&"RollbackRefused".to_string())));
        assert!(notice.body.contains(why), "{why:?} not in\n{}", notice.body);
        let links = flow.sent_links("approval-request", "bob");
        assert_eq!(links.len(), asked, "nobody asked: {links:?}");
    }
    let live = record(&flow, "live/staging.json").await;
    assert_eq!(live["tag"], "rc-1.4.0", "what is live stays");
}

/// The rollback of `env` (its state machine, its hosting's jobs) to `tag` at `sha`,
/// rejected by `approver` at its gate `gate`: cancelled, nothing deployed, `stays` is
/// still live.
async fn rejected(
    flow: &Flow,
    env: &str,
    (tag, sha): (&str, &str),
    approver: &str,
    gate: &str,
    stays: &str,
) {
    let production = env == "production";
    let jobs = |flow: &Flow| match production {
        true => flow.production.hosting.jobs().len(),
        false => flow.hosting.jobs().len(),
    };
    let before = jobs(flow);
    let (arn, id) = ask(flow, production, tag, sha, 9, approver).await;
    assert_eq!(decide(flow, &id, false).await, Decided::Rejected);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    let states = [gate, "Approval Rejected", "Workflow Cancelled"];
    assert_passes_through(&route(&h), &states);
    assert_eq!(jobs(flow), before, "nothing deployed");
    assert_eq!(
        record(flow, &format!("live/{env}.json")).await["tag"],
        stays
    );
    assert!(flow.world.metrics.of("Rollbacks").is_empty());
}

pub async fn a_rejected_rollback_is_cancelled_and_the_live_release_stays() {
    let flow = Flow::new();
    two_releases(&flow).await;
    rejected(
        &flow,
        "staging",
        ("rc-1.3.0", SHA2),
        "bob",
        "Wait for Approval",
        "rc-1.4.0",
    )
    .await;
}

pub async fn a_rollback_asked_for_twice_runs_once() {
    let flow = Flow::new();
    two_releases(&flow).await;
    let (first, id) = ask(&flow, false, "rc-1.3.0", SHA2, 10, "bob").await;
    // Asked again a minute later, while the first waits: a duplicate of its claim.
    let second = flow.request_rollback(false, "rc-1.3.0", SHA2, 11);
    let (done, h) = flow.finish(&second).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_passes_through(
        &route(&h),
        &["Preflight", "Already Running?", "Duplicate Ignored"],
    );
    assert_eq!(decide(&flow, &id, true).await, Decided::Approved);
    let (done, _) = flow.finish(&first).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(flow.world.metrics.of("Rollbacks").len(), 1, "one rollback");
}

pub async fn a_requested_rollback_whose_bake_fails_is_not_rolled_back_again() {
    let flow = Flow::with_settings(crate::bake::baking());
    flow.alarms.define(&[crate::bake::ALARM]);
    two_releases(&flow).await;
    let (arn, id) = ask(&flow, false, "rc-1.3.0", SHA2, 12, "bob").await;
    assert_eq!(decide(&flow, &id, true).await, Decided::Approved);
    flow.wait_for_state(&arn, "Wait to Bake").await;
    flow.alarms.trip(crate::bake::ALARM, 9.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RollbackFailed"), "{done:#?}");
    assert_passes_through(
        &route(&h),
        &[
            "Bake Failed",
            "Roll Back",
            "Rollback Failed",
            "Rollback Incomplete",
        ],
    );
    let notice = the_rollback_notice(&flow);
    assert!(
        notice
            .body
            .contains("itself a rollback on request to rc-1.3.0"),
        "{}",
        notice.body
    );
}

/// Staged and promoted `v<version>` at `sha`, to its end.
async fn promoted(flow: &Flow, version: &str, sha: &str) {
    flow.stage(&format!("rc-{version}"), sha).await;
    let arn = flow.promote(&format!("v{version}"), sha);
    flow.approve_production(&format!("v{version}")).await;
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
}

pub async fn a_production_rollback_is_approved_by_the_quorum_and_redeploys_without_a_second_soak() {
    let flow = Flow::with_production(stagegate_paths::promotion::ProductionSite::new().settings);
    promoted(&flow, "1.3.0", SHA2).await;
    promoted(&flow, "1.4.0", SHA).await;
    let (arn, dana) = ask(&flow, true, "v1.3.0", SHA2, 20, "dana").await;
    let asked = flow.notifier.messages();
    let (_, email) = asked.last().expect("the approval email");
    assert_eq!(
        email.subject,
        "Roll production back to v1.3.0 of acme/shop?"
    );
    let erin = asked_too(&flow, "v1.3.0", "erin");
    // One approval is not production's quorum.
    assert_eq!(
        decide(&flow, &dana, true).await,
        Decided::Recorded { remaining: 1 }
    );
    assert_eq!(decide(&flow, &erin, true).await, Decided::Approved);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    let order = [
        "Verify Staged Release",
        "Soak Done?",
        "Create Change Set",
        "Generate Checklist",
        "Wait for Production Approval",
        "Deploy Frontend",
        "Mark Promoted",
        "Promoted",
    ];
    assert_passes_through(&r, &order);
    assert_never_enters(&r, &["Wait for Soak"]);
    assert_eq!(
        flow.production.hosting.jobs().last().map(String::as_str),
        Some(SHA2)
    );
    let notice = outcome_of_run(&flow, "v1.3.0");
    assert_eq!(
        notice.subject,
        "↩️ production is rolled back to acme/shop v1.3.0 (was v1.4.0)"
    );
    assert_eq!(record(&flow, "live/production.json").await["tag"], "v1.3.0");
    // Back to a release that never went live in production: refused by name.
    let arn = flow.request_rollback(true, "v1.2.0", SHA2, 21);
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    let notice = outcome_of_run(&flow, "v1.2.0");
    let got = (
        notice.attributes["stage"].as_str(),
        notice.attributes["error"].as_str(),
    );
    assert_eq!(
        got,
        ("Verify Staged Release", "RollbackRefused"),
        "{notice:#?}"
    );
    assert!(
        notice.body.contains("v1.2.0 never went live on production"),
        "{}",
        notice.body
    );
}

pub async fn a_production_rollback_rejected_by_one_approver_is_cancelled() {
    let flow = Flow::with_production(stagegate_paths::promotion::ProductionSite::new().settings);
    promoted(&flow, "1.3.0", SHA2).await;
    promoted(&flow, "1.4.0", SHA).await;
    let gate = "Wait for Production Approval";
    rejected(
        &flow,
        "production",
        ("v1.3.0", SHA2),
        "dana",
        gate,
        "v1.4.0",
    )
    .await;
}

/// `approver`'s link of the rollback of `tag` already asked for: the newest one.
fn asked_too(flow: &Flow, tag: &str, approver: &str) -> String {
    let id = flow.sent_link(tag, "approval-request", approver);
    id.unwrap_or_else(|| panic!("no email of {tag} to {approver}"))
}

/// The last outcome notice of the runs of `tag`.
fn outcome_of_run(flow: &Flow, tag: &str) -> stagegate::ports::Message {
    let notices: Vec<_> = flow
        .outcome_messages()
        .into_iter()
        .filter(|m| m.attributes.get("tag").map(String::as_str) == Some(tag))
        .collect();
    notices.last().cloned().expect("a notice")
}

//! Which candidate runs: a newer tag supersedes an older one waiting for approval or
//! still in its checks; a second start of the same candidate, later or at the same
//! moment, does not deploy twice.

use crate::*;
use asl_engine::ExecutionStatus;

pub async fn a_newer_candidate_supersedes_one_waiting_for_approval() {
    let flow = Flow::new();
    let old = flow.start("rc-1.4.0", SHA).await;
    let old_link = flow.approval_link("rc-1.4.0").await;
    let new = flow.start("rc-1.4.1", SHA2).await;
    let (done, h) = flow.finish(&old).await;
    assert_eq!(done.error.as_deref(), Some("Superseded"));
    assert_passes_through(
        &route(&h),
        &[
            "Wait for Approval",
            "Approval Superseded",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    let cancelled = flow.outcome_messages();
    assert_eq!(cancelled.len(), 1);
    assert!(
        cancelled[0].subject.contains("rc-1.4.0") && cancelled[0].subject.contains("superseded"),
        "{}",
        cancelled[0].subject
    );
    assert!(matches!(
        flow.decide(&old_link, true, None).await,
        Err(Refusal::Superseded)
    ));
    // The newer one carries on to its own approval.
    let new_link = flow.approval_link("rc-1.4.1").await;
    assert_eq!(
        flow.decide(&new_link, true, None).await,
        Ok(Decided::Approved)
    );
    assert_eq!(flow.finish(&new).await.0.status, ExecutionStatus::Succeeded);
    let out = flow
        .engine
        .describe_execution(&new)
        .map(|d| output(&d))
        .unwrap_or_default();
    assert_eq!(out["preflight"]["superseded"], json!(["rc-1.4.0"]));
    let old_cancelled = &flow.outcome_messages()[0];
    assert_eq!(
        old_cancelled.subject,
        "🚫 acme/shop rc-1.4.0 was cancelled (superseded by a newer candidate)"
    );
    assert_eq!(
        outcome_at(old_cancelled),
        ("cancelled", "Wait for Approval")
    );
    assert_artifacts(&flow, RUN, &["checklist.md"], &["stack-outputs.json"]);
}

pub async fn a_duplicate_trigger_does_not_start_a_second_deployment() {
    let flow = Flow::new();
    let first = flow.start("rc-1.4.0", SHA).await;
    let _ = flow.approval_link("rc-1.4.0").await;
    // The same delivery again: same deterministic name, same input → the same run.
    let again = flow
        .engine
        .start_execution(
            &flow.state_machine,
            Some("rc-1.4.0--0123456789ab"),
            json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": SHA, "pushedBy": "ana", "pusher": github_pusher("ana")}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(again, first);
    // A manual start under another name for the same tag and commit ends at once.
    let dup = flow
        .engine
        .start_execution(
            &flow.state_machine,
            Some("manual-1"),
            json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": SHA, "pushedBy": "carol", "pusher": github_pusher("carol")}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (done, h) = flow.finish(&dup).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        route(&h),
        vec!["Preflight", "Already Running?", "Duplicate Ignored"]
    );
    assert_eq!(output(&done)["preflight"]["duplicateOf"], json!(first));
    assert!(
        flow.outcome_messages().is_empty(),
        "a duplicate sends no notification"
    );
    let approvals = flow
        .notifier
        .messages()
        .into_iter()
        .filter(|(t, _)| *t == Topic::Approvals)
        .count();
    assert_eq!(
        approvals, 2,
        "one approval email per approver, not two rounds"
    );
    assert_eq!(flow.table.records().len(), 1, "one approval, not two");
    assert_artifacts(&flow, "runs/manual-1/", &[], &["checklist.md"]);
}

/// The newer candidate starts while the older one still runs its checks: the older
/// one asks nobody and ends superseded, when it reaches Wait for Approval.
pub async fn a_newer_candidate_supersedes_one_still_in_its_checks() {
    let flow = Flow::new();
    let old = flow.start("rc-1.4.0", SHA).await;
    // The checks take a minute (scripted builds); the newer tag lands meanwhile.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let _new = flow.start("rc-1.4.1", SHA2).await;
    let (done, h) = flow.finish(&old).await;
    assert_eq!(done.error.as_deref(), Some("Superseded"));
    assert_passes_through(
        &route(&h),
        &[
            "Pre-Deployment Checks",
            "Wait for Approval",
            "Approval Superseded",
            "Notify Cancelled",
        ],
    );
    let asked: Vec<String> = flow
        .notifier
        .messages()
        .into_iter()
        .filter(|(t, _)| *t == Topic::Approvals)
        .map(|(_, m)| m.attributes["tag"].clone())
        .collect();
    assert!(
        asked.iter().all(|t| t == "rc-1.4.1"),
        "nobody is asked about the superseded candidate: {asked:?}"
    );
    let m = flow
        .outcome_messages()
        .into_iter()
        .find(|m| m.attributes["tag"] == "rc-1.4.0")
        .expect("the old candidate's outcome");
    assert!(m.body.contains("rc-1.4.1 replaces rc-1.4.0"), "{}", m.body);
}

/// Two starts of the same candidate in the same instant (two webhook deliveries, a
/// manual start racing the webhook): one claim, one run, one duplicate.
pub async fn two_starts_of_one_candidate_at_the_same_moment_run_once() {
    let flow = Flow::new();
    flow.publish_suites("manual-a").await;
    flow.publish_suites("manual-b").await;
    let input = json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": SHA, "pushedBy": "ana", "pusher": github_pusher("ana")});
    let a = flow
        .engine
        .start_execution(&flow.state_machine, Some("manual-a"), input.clone())
        .unwrap_or_else(|e| panic!("{e}"));
    let b = flow
        .engine
        .start_execution(&flow.state_machine, Some("manual-b"), input)
        .unwrap_or_else(|e| panic!("{e}"));
    let ((da, ha), (db, hb)) = tokio::join!(
        async {
            let first = flow.link("rc-1.4.0", "approval-request", "bob").await;
            flow.decide(&first, true, None).await.ok();
            flow.finish(&a).await
        },
        flow.finish(&b)
    );
    let duplicates = [&ha, &hb]
        .iter()
        .filter(|h| route(h).iter().any(|s| s == "Duplicate Ignored"))
        .count();
    assert_eq!(duplicates, 1, "exactly one run is a duplicate");
    assert_eq!(
        [da.status, db.status],
        [ExecutionStatus::Succeeded, ExecutionStatus::Succeeded]
    );
    assert_eq!(flow.table.records().len(), 1, "one approval was requested");
}

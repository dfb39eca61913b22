//! Past the example's sizes: what grows with the input stays in the bucket, and no
//! state of the run grows with it (Step Functions fails a run whose state passes
//! 256 KB, with an error no catch handles).

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::flow::SuiteResult;
use stagegate::ports::ResourceChange;

/// The bound every event of a run's history stays under, whatever the input.
const BOUND: usize = 64 * 1024;

/// The largest event of a history, in bytes, and its id.
fn largest(h: &[asl_engine::HistoryEvent]) -> (usize, u64) {
    h.iter()
        .map(|e| {
            (
                serde_json::to_vec(e).map(|v| v.len()).unwrap_or(usize::MAX),
                e.id,
            )
        })
        .max()
        .unwrap_or((0, 0))
}

/// A change set of 1,000 resources: previewed, approved, validated and deployed, the
/// checklist lists every one, and no event of the history carries 64 KB.
pub async fn a_thousand_resource_changes_keep_every_state_under_64_kb() {
    let flow = Flow::new();
    let changes: Vec<ResourceChange> = (0..1_000)
        .map(|i| ResourceChange {
            action: if i % 3 == 0 { "Modify" } else { "Add" }.into(),
            logical_id: format!("Resource{i:04}"),
            resource_type: "AWS::SQS::Queue".into(),
            replacement: if i % 3 == 0 { "False" } else { "" }.into(),
        })
        .collect();
    flow.stacks.set_changes(changes);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert!(
        flow.stacks.executed(),
        "validated against the digest, then deployed"
    );
    let (size, at) = largest(&h);
    assert!(size < BOUND, "event {at} carries {size} bytes");
    let checklist = run_artifact(&flow, "checklist.md");
    for row in [
        "| Modify | Resource0000 | AWS::SQS::Queue | False |",
        "| Modify | Resource0999 | AWS::SQS::Queue | False |",
    ] {
        assert!(checklist.contains(row), "every change is listed: {row}");
    }
    let listed = checklist.matches("| AWS::SQS::Queue |").count();
    assert_eq!(listed, 1_000);
    assert_eq!(output(&done)["checklist"]["changes"]["adds"], 666);
}

/// 10,000 commits since the previous candidate: the run ends ready, the state
/// carries their count, the notes list the first ones and say how to see the rest.
pub async fn ten_thousand_commits_keep_every_state_under_64_kb() {
    let flow = Flow::new();
    let commits = (0..10_000)
        .map(|i| stagegate::ports::Commit {
            sha: format!("{i:040x}"),
            subject: format!("feat(checkout): step {i}"),
            author: "ana".into(),
        })
        .collect();
    flow.repository.set_commits(commits);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let (size, at) = largest(&h);
    assert!(size < BOUND, "event {at} carries {size} bytes");
    assert_eq!(output(&done)["release"]["commits"], 10_000);
    let notes = run_artifact(&flow, "release-notes.md");
    assert!(
        notes.contains("…and 9500 more commits: `git log rc-1.3.0.."),
        "{}",
        &notes[..notes.len().min(2000)]
    );
    assert!(notes.len() < 125_000, "{} characters", notes.len());
}

/// A command suite of 10,000 passing cases: the run ends ready, the report holds
/// every case, and no event of the history carries 64 KB.
pub async fn ten_thousand_cases_keep_every_state_under_64_kb() {
    let flow = crate::commands::with_e2e();
    let mut junit = String::from("<testsuite name=\"e2e\">");
    for i in 0..10_000 {
        junit.push_str(&format!(
            "<testcase classname=\"checkout\" name=\"case {i}\" time=\"0.01\"/>"
        ));
    }
    junit.push_str("</testsuite>");
    flow.builds.report("e2e", &junit);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let (largest, at) = h
        .iter()
        .map(|e| {
            (
                serde_json::to_vec(e).map(|v| v.len()).unwrap_or(usize::MAX),
                e.id,
            )
        })
        .max()
        .unwrap_or((0, 0));
    assert!(largest < BOUND, "event {at} carries {largest} bytes");
    let report = flow
        .artifacts
        .get_sync("runs/rc-1.4.0--0123456789ab/test-report.json")
        .unwrap_or_default();
    let suites: Vec<SuiteResult> = serde_json::from_slice(&report).unwrap_or_default();
    let e2e = suites.iter().find(|s| s.suite == "e2e");
    assert_eq!(
        e2e.map(|s| (s.cases.len(), s.passed)),
        Some((10_000, 10_000))
    );
}

/// Twenty `rc-*` tags of one repository pushed within a minute: each newer candidate
/// supersedes the older ones, so exactly one waits for approval at the end, every
/// other run ends cancelled and is told so once, and the one left deploys.
pub async fn twenty_tags_in_a_minute_leave_one_waiting_and_tell_the_rest() {
    let flow = Flow::new();
    let mut runs = Vec::new();
    for i in 0..20u32 {
        let sha = format!("{:040x}", i + 1);
        runs.push(flow.start(&format!("rc-1.4.{i}"), &sha).await);
        tokio::time::sleep(std::time::Duration::from_secs(3)).await;
    }
    let newest = flow.approval_link("rc-1.4.19").await;
    for (i, arn) in runs.iter().enumerate().take(19) {
        let (done, _) = flow.finish(arn).await;
        assert_eq!(done.error.as_deref(), Some("Superseded"), "rc-1.4.{i}");
    }
    let told = flow.outcome_messages();
    assert_eq!(
        told.len(),
        19,
        "{:?}",
        told.iter().map(|m| &m.subject).collect::<Vec<_>>()
    );
    for i in 0..19 {
        let subject = format!("acme/shop rc-1.4.{i} was cancelled (superseded");
        let once = told.iter().filter(|m| m.subject.contains(&subject)).count();
        assert_eq!(once, 1, "rc-1.4.{i} told once");
    }
    let pending: Vec<String> = flow
        .table
        .records()
        .into_iter()
        .filter(|r| r.state == stagegate::ports::ApprovalState::Pending)
        .map(|r| r.tag)
        .collect();
    assert_eq!(pending, ["rc-1.4.19"]);
    assert_eq!(
        flow.decide(&newest, true, None).await,
        Ok(Decided::Approved)
    );
    assert_eq!(
        flow.finish(&runs[19]).await.0.status,
        ExecutionStatus::Succeeded
    );
}

/// Fifty deliveries of one push (GitHub redelivering, a retried rule, people starting
/// it by hand): one run, one approval request, one notice.
pub async fn fifty_deliveries_of_one_push_start_one_run() {
    let flow = Flow::new();
    let mut arns = std::collections::BTreeSet::new();
    for _ in 0..50 {
        arns.insert(flow.start("rc-1.4.0", SHA).await);
    }
    assert_eq!(arns.len(), 1, "{arns:?}");
    flow.approve("rc-1.4.0").await;
    let arn = arns.into_iter().next().unwrap_or_default();
    assert_eq!(flow.finish(&arn).await.0.status, ExecutionStatus::Succeeded);
    let asked = flow
        .notifier
        .messages()
        .into_iter()
        .filter(|(_, m)| {
            m.attributes.get("kind").map(String::as_str) == Some("approval-request")
                && m.attributes.get("approver").map(String::as_str) == Some("bob")
        })
        .count();
    assert_eq!(asked, 1, "one approval request to bob");
    only_outcome(&flow);
}

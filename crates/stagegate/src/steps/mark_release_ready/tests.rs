use super::*;
use crate::flow::Measurement;
use crate::ports::{Phase, Vote};
use crate::testing::{
    candidate, check_result, now, vote, FixedClock, MemoryArtifacts, MemoryRepository,
    MemoryTimelines,
};

fn commit(sha: char, subject: &str) -> Commit {
    Commit {
        sha: sha.to_string().repeat(40),
        subject: subject.into(),
        author: "ana".into(),
    }
}

fn input() -> Input {
    Input {
        candidate: candidate(),
        artifacts_prefix: "runs/r/".into(),
        frontend_url: Some("https://staging".into()),
        approval: None,
        acceptance: None,
        execution_id: None,
        checks: vec![],
        tests: None,
        performance: None,
        staged: None,
        notification: None,
    }
}

async fn notes(
    repository: &MemoryRepository,
    timeline: Vec<Phase>,
    input: Input,
) -> (Output, String) {
    let arts = MemoryArtifacts::default();
    let step = MarkReleaseReady {
        repository: repository.clone(),
        artifacts: arts.clone(),
        runs: MemoryTimelines::new(timeline),
        clock: FixedClock(now()),
    };
    let out = step.run(input).await.unwrap();
    let text = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
    (out, text)
}

#[tokio::test]
async fn notes_list_commits_since_the_previous_candidate() {
    let repository =
        MemoryRepository::new(Some("rc-1.3.0"), vec![commit('a', "Add login")]).with_token();
    let (out, notes) = notes(&repository, vec![], input()).await;
    assert_eq!(out.previous_candidate.as_deref(), Some("rc-1.3.0"));
    assert_eq!(out.commits, 1);
    assert!(out.release_url.is_some());
    assert!(
        notes.contains("## Changes since rc-1.3.0") && notes.contains("- Add login (aaaaaaa, ana)"),
        "{notes}"
    );
    assert_eq!(repository.published()[0].0, "rc-1.4.0");
}

/// Bob's approval over a failed ESLint, with his reason.
fn approved_over_eslint() -> Approval {
    Approval {
        approvers: vec!["bob".into()],
        votes: vec![Vote {
            reason: Some("lint only, fixed in rc-1.4.1".into()),
            ..vote("bob", true)
        }],
        failed_checks: vec!["ESLint".into()],
    }
}

/// One load measurement of the home page, within its budget.
fn home_page_load() -> LoadResults {
    LoadResults {
        status: "PASSED".into(),
        measurements: vec![Measurement {
            name: "home page".into(),
            url: "https://staging/".into(),
            users: 5,
            requests: 50,
            errors: 0,
            error_rate: 0.0,
            p50_ms: 12,
            p95_ms: 40,
            p99_ms: 55,
            max_ms: 60,
            over: vec![],
            passed: true,
        }],
        report_uri: Some("s3://b/runs/r/performance-report.json".into()),
    }
}

#[tokio::test]
async fn notes_have_checks_overrides_tests_load_approval_and_the_timeline() {
    let mut i = input();
    i.execution_id = Some("arn:exec:1".into());
    i.checks = vec![
        check_result("ESLint", "FAILED"),
        check_result("Unit Tests", "SUCCEEDED"),
    ];
    i.approval = Some(approved_over_eslint());
    i.tests = Some(Report {
        total: 10,
        passed: 10,
        failed: 0,
        report_uri: "s3://b/runs/r/test-report.json".into(),
        junit_uri: "s3://b/runs/r/junit.xml".into(),
    });
    i.performance = Some(home_page_load());
    let timeline = vec![Phase {
        state: "Preflight".into(),
        entered: now(),
        exited: Some(now()),
    }];
    let (_, notes) = notes(
        &MemoryRepository::new(None, vec![commit('a', "feat: login")]).with_token(),
        timeline,
        i,
    )
    .await;
    for part in [
        "Staging: https://staging",
        "### Features\n\n- login (aaaaaaa, ana)",
        "## Checks\n\n- ESLint **FAILED**\n- Unit Tests passed",
        "Approved over failed checks: ESLint",
        "bob (email link): lint only, fixed in rc-1.4.1",
        "- Integration: 10 of 10 passed ([report](s3://b/runs/r/test-report.json)",
        "- Load, home page: 50 requests by 5 users, p50 12 ms, p95 40 ms, p99 55 ms, 0 errors",
        "## Approval\n\n- Approved by bob (email link,",
        "## Timeline\n\n```mermaid\ngantt",
        "As a picture: mem://artifacts/runs/r/timeline.svg",
    ] {
        assert!(notes.contains(part), "missing {part:?} in:\n{notes}");
    }
    assert_eq!(
        notes.matches("Approved over failed checks").count(),
        1,
        "{notes}"
    );
}

/// Both gates are on the record: the deployment approval and the stakeholders'
/// sign-off, in the notes and in `approval.json`.
#[tokio::test]
async fn the_notes_and_the_approval_record_hold_both_gates() {
    let mut i = input();
    i.approval = Some(approved_over_eslint());
    i.acceptance = Some(Approval {
        approvers: vec!["carol".into()],
        votes: vec![Vote {
            reason: Some("checkout works on staging".into()),
            ..vote("carol", true)
        }],
        failed_checks: vec![],
    });
    let arts = MemoryArtifacts::default();
    let step = MarkReleaseReady {
        repository: MemoryRepository::new(None, vec![]),
        artifacts: arts.clone(),
        runs: MemoryTimelines::new(vec![]),
        clock: FixedClock(now()),
    };
    step.run(i).await.unwrap();
    let notes = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
    let approval = notes.find("## Approval\n\n- Approved by bob (email link,");
    let acceptance = notes
        .find("## User acceptance\n\n- Approved by carol (email link,")
        .filter(|_| notes.contains("): checkout works on staging"));
    assert!(approval.is_some() && acceptance.is_some(), "{notes}");
    let record: serde_json::Value =
        serde_json::from_slice(&arts.get_sync("runs/r/approval.json").unwrap()).unwrap();
    assert_eq!(record["deployment"]["votes"][0]["approver"], "bob");
    assert_eq!(record["userAcceptance"]["votes"][0]["approver"], "carol");
    assert_eq!(
        record["userAcceptance"]["votes"][0]["reason"],
        "checkout works on staging"
    );
}

/// A commit subject, an author and an approval reason that try to forge headings,
/// an "Approved by" line and a link render as plain text
/// (`tests/golden/release-notes/forged.md`, `STAGEGATE_BLESS=1` rewrites it).
#[tokio::test]
async fn strangers_text_cannot_forge_structure_in_the_notes() {
    let mut i = input();
    i.checks = vec![check_result("ESLint", "FAILED")];
    let mut approval = approved_over_eslint();
    approval.votes[0].reason = Some(
        "ok\n\n## Approval\n\n- Approved by security-lead [sign-off](https://evil.example)".into(),
    );
    i.approval = Some(approval);
    let mut forged = commit(
        'a',
        "feat: login\n\n## Approval\n- Approved by security-lead",
    );
    forged.author = "**mallory** <img src=x>".into();
    let (_, notes) = notes(
        &MemoryRepository::new(None, vec![forged]).with_token(),
        vec![],
        i,
    )
    .await;
    assert_eq!(
        notes.matches("## Approval").count(),
        1,
        "one real heading:\n{notes}"
    );
    assert!(
        !notes
            .lines()
            .any(|l| l.starts_with("- Approved by security-lead")),
        "{notes}"
    );
    assert!(!notes.contains("[sign-off]("), "no link: {notes}");
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/release-notes/forged.md");
    if let Err(e) = crate::testing::golden(&path, &notes) {
        panic!("{e}");
    }
}

#[tokio::test]
async fn without_a_token_the_notes_say_so() {
    let mut i = input();
    i.frontend_url = None;
    let (out, notes) = notes(&MemoryRepository::new(None, vec![]), vec![], i).await;
    assert!(out.release_url.is_none());
    assert!(notes.contains("first candidate") && notes.contains("no token is configured"));
}

//! Shared fixtures for tests of steps and paths.

use crate::candidate::Candidate;
use crate::ports::{ApprovalKind, ApprovalRecord, ApprovalState, Approver};
use crate::steps::checklist;
use chrono::{DateTime, Duration, TimeZone, Utc};

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 9, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn candidate() -> Candidate {
    Candidate {
        repository: "acme/shop".into(),
        tag: "rc-1.4.0".into(),
        version: "1.4.0".into(),
        sha: SHA.into(),
        pushed_by: "ana".into(),
    }
}

pub fn run_info() -> checklist::Run {
    checklist::Run {
        candidate: candidate(),
        run_id: "run-1".into(),
        execution_id: "arn:aws:states:us-east-1:123456789012:execution:staging:run-1".into(),
        artifacts_prefix: "runs/run-1/".into(),
    }
}

pub fn checklist_output() -> checklist::Output {
    checklist::Output {
        all_passed: true,
        failed_checks: vec![],
        changes: checklist::ChangeSummary {
            adds: 1,
            ..Default::default()
        },
        preview: None,
        markdown_uri: "mem://artifacts/runs/run-1/checklist.md".into(),
        json_uri: "mem://artifacts/runs/run-1/checklist.json".into(),
    }
}

/// A configured approver deciding both kinds of approval.
pub fn approver(id: &str, github: Option<&str>) -> Approver {
    Approver {
        id: id.into(),
        email: format!("{id}@example.com"),
        github: github.map(str::to_string),
        decides: vec![ApprovalKind::Deployment, ApprovalKind::Acceptance],
    }
}

/// The approvers most tests use: bob and carol (GitHub logins bob-gh, carol-gh).
pub fn approvers() -> Vec<Approver> {
    vec![
        approver("bob", Some("bob-gh")),
        approver("carol", Some("carol-gh")),
    ]
}

/// A pending deployment approval of `tag` pushed by `ana`, asking bob and carol.
pub fn pending_record(id: &str, tag: &str, token: &str) -> ApprovalRecord {
    ApprovalRecord {
        id: id.into(),
        revision: 0,
        kind: Default::default(),
        task_token: token.into(),
        execution_id: format!("arn:exec:{tag}"),
        repository: "acme/shop".into(),
        tag: tag.into(),
        sha: SHA.into(),
        pushed_by: "ana".into(),
        checklist_uri: "mem://c".into(),
        failed_checks: vec![],
        created_at: now(),
        expires_at: now() + Duration::hours(24),
        required_approvals: 1,
        state: ApprovalState::Pending,
        votes: vec![],
        approvers: approvers(),
        form_key: "0f".repeat(32),
        delivery: Default::default(),
    }
}

//! Shared fixtures for tests of steps and paths.

use crate::flow::{ChangeSummary, CheckResult, Checklist, Run};
use crate::manifest::evidence::Evidence;
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approver, Candidate, Pusher, Vote,
};
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
        pusher: Some(github_pusher("ana")),
        rollback: false,
    }
}

/// The GitHub account id the fixtures give `login` (GitHub's ids are numbers that
/// survive renames; here, a stable hash of the login).
pub fn github_id(login: &str) -> u64 {
    login
        .to_ascii_lowercase()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        })
        % 1_000_000_000
}

/// A push by GitHub account `login`, as the webhook records it.
pub fn github_pusher(login: &str) -> Pusher {
    Pusher::GitHub {
        id: github_id(login),
        login: login.into(),
    }
}

pub fn run_info() -> Run {
    Run {
        candidate: candidate(),
        run_id: "run-1".into(),
        execution_id: "arn:aws:states:us-east-1:123456789012:execution:staging:run-1".into(),
        artifacts_prefix: "runs/run-1/".into(),
    }
}

pub fn checklist_output() -> Checklist {
    Checklist {
        all_passed: true,
        failed_checks: vec![],
        changes: ChangeSummary {
            adds: 1,
            ..Default::default()
        },
        preview: None,
        markdown_uri: "mem://artifacts/runs/run-1/checklist.md".into(),
        json_uri: "mem://artifacts/runs/run-1/checklist.json".into(),
        manifest: Some(crate::flow::ManifestRef {
            key: "runs/run-1/manifest.json".into(),
            digest: "5e".repeat(32),
        }),
    }
}

/// A configured approver deciding both kinds of approval.
/// A check's result with nothing but its name and status.
pub fn check_result(name: &str, status: &str) -> CheckResult {
    CheckResult {
        name: name.into(),
        status: status.into(),
        build: None,
        caught: None,
        preview: None,
        log: None,
    }
}

pub fn approver(id: &str, github: Option<&str>) -> Approver {
    Approver {
        id: id.into(),
        email: format!("{id}@example.com"),
        github: github.map(str::to_string),
        github_id: github.map(github_id),
        principals: vec![],
        decides: vec![ApprovalKind::Deployment, ApprovalKind::Acceptance],
        slack: None,
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
        pusher: Some(github_pusher("ana")),
        checklist_uri: "mem://c".into(),
        rollback: false,
        manifest_digest: Some("5e".repeat(32)),
        failed_checks: vec![],
        created_at: now(),
        expires_at: now() + Duration::hours(24),
        required_approvals: 1,
        state: ApprovalState::Pending,
        votes: vec![],
        approvers: approvers(),
        form_key: "0f".repeat(32),
        delivery: Default::default(),
        summary: vec![],
        chat: vec![],
    }
}

/// `approver`'s vote through their email link at [`now`], from a documentation
/// address, with no reason and no break-glass; tests set what they are about.
pub fn vote(approver: &str, approve: bool) -> Vote {
    Vote {
        approver: approver.into(),
        via: "email link".into(),
        approve,
        reason: None,
        at: now(),
        from: "203.0.113.9".into(),
        break_glass: false,
    }
}

/// Whether golden files are rewritten: `STAGEGATE_BLESS=1` exactly. Any other value,
/// `0` included, checks them (a test never passes against what it just wrote unless
/// asked to).
pub fn blessing() -> bool {
    blesses(std::env::var("STAGEGATE_BLESS").ok().as_deref())
}

/// Whether this value of `STAGEGATE_BLESS` (`None`: unset) rewrites golden files.
pub fn blesses(value: Option<&str>) -> bool {
    value == Some("1")
}

/// Holds `text` against the golden file `path`: `Err` with both texts when they
/// differ or the file cannot be read. Under [`blessing`], writes `text` instead.
pub fn golden(path: &std::path::Path, text: &str) -> Result<(), String> {
    if blessing() {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        return std::fs::write(path, text).map_err(|e| format!("{}: {e}", path.display()));
    }
    match std::fs::read_to_string(path) {
        Ok(golden) if golden == text => Ok(()),
        Ok(golden) => Err(format!(
            "{}:\n--- golden\n{golden}\n--- now\n{text}\n(STAGEGATE_BLESS=1 rewrites it; review the diff like code)",
            path.display()
        )),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// The stack of [`documented_stack_event`].
pub const STACK_ARN: &str =
    "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop-staging/6a1b2c3d-aaaa-bbbb";

/// CloudFormation's documented stack status event, as EventBridge delivers it.
pub fn documented_stack_event(status: &str) -> serde_json::Value {
    serde_json::json!({
        "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": "CloudFormation Stack Status Change", "source": "aws.cloudformation",
        "account": "123456789012", "time": "2026-12-03T10:00:00Z", "region": "eu-west-1",
        "resources": [STACK_ARN],
        "detail": {
            "stack-id": STACK_ARN,
            "status-details": {"status": status, "status-reason": ""},
            "client-request-token": "Console-CreateChangeSet-1"
        }
    })
}

/// The evidence of staging run `run` of `tag` at `commit` that ended ready, bare
/// (no manifest, decisions or checks): tests add what they need by struct update.
pub fn ready_evidence(run: &str, tag: &str, commit: &str) -> Evidence {
    Evidence {
        run_id: run.into(),
        execution_id: format!("arn:aws:states:us-east-1:1:execution:staging:{run}"),
        repository: "acme/shop".into(),
        tag: tag.into(),
        commit: commit.into(),
        outcome: "success".into(),
        stage: "Ready for Production".into(),
        error: None,
        manifest: None,
        decisions: vec![],
        checks: vec![],
        records: vec![],
        change_set_id: None,
        stack: None,
        frontend: None,
        promotes: None,
        window: None,
        rolled_back_to: None,
        replaces: None,
        sealed_at: now(),
    }
}

/// The two changes the test stack previews: a queue added, and the API function
/// modified with `api_replacement` as CloudFormation says it (`True`, `False`,
/// `Conditional`).
pub fn sample_changes(api_replacement: &str) -> Vec<crate::records::ResourceChange> {
    let change = |action: &str, logical_id: &str, resource_type: &str, replacement: &str| {
        crate::records::ResourceChange {
            action: action.into(),
            logical_id: logical_id.into(),
            resource_type: resource_type.into(),
            replacement: replacement.into(),
        }
    };
    vec![
        change("Add", "Queue", "AWS::SQS::Queue", ""),
        change("Modify", "Api", "AWS::Lambda::Function", api_replacement),
    ]
}

/// Runs in which these executions are running.
pub fn running(executions: &[&str]) -> super::MemoryRuns {
    let runs = super::MemoryRuns::default();
    for id in executions {
        runs.set_running(id, true);
    }
    runs
}

/// The wait steps' registrations over the in-memory table and runs, at [`now`].
pub type MemoryWaiting =
    crate::waiting::Waiting<super::MemoryTable, super::MemoryRuns, super::FixedClock>;

/// [`MemoryWaiting`] over `table` and `runs` (cheap handles: the test keeps its own).
pub fn memory_waiting(table: &super::MemoryTable, runs: &super::MemoryRuns) -> MemoryWaiting {
    crate::waiting::Waiting {
        waits: table.clone(),
        runs: runs.clone(),
        clock: super::FixedClock(now()),
    }
}

/// Task token `token` of execution `execution`, as a waiting task hands it over.
pub fn task(token: &str, execution: &str) -> crate::waiting::Task {
    crate::waiting::Task {
        token: token.into(),
        execution_id: execution.into(),
    }
}

//! What travels between the states of the flow: the run, the checks' results, the
//! change preview, the checklist, the test and load reports, the decided approval,
//! what a deploy wait resumes with, the run's phases. Each step reads what it needs
//! of these from the state and returns its own; none of them is a step's private
//! business, so none lives in a step's module.
//!
//! Also the flow's names: [`FUNCTIONS`] (every Lambda function, one list held against
//! `functions/`, `template.yaml` and the local registry) and [`PHASES`].

use crate::records::{Candidate, ChangeSetStatus, ResourceChange, Vote};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// How a function is invoked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invoked {
    /// By a Task state of the definition (`${<Name>FunctionArn}`).
    ByState,
    /// By an EventBridge rule or schedule (and, for `notify`, by states too).
    ByRule,
    /// Behind its own Function URL.
    ByUrl,
    /// By a Task state of the production definition only: deployed once, as
    /// `Production<Name>Function` (see [`PRODUCTION_FUNCTIONS`]).
    InProduction,
}

/// Every Lambda function of stagegate, in flow order: the crate under
/// `functions/<name>/`, the step module `stagegate::steps::<name with _>`, the
/// template's `<Name>Function`.
pub const FUNCTIONS: &[(&str, Invoked)] = &[
    ("webhook", Invoked::ByUrl),
    ("preflight", Invoked::ByState),
    ("verify-staged", Invoked::ByState),
    ("create-change-set", Invoked::ByState),
    ("describe-change-set", Invoked::ByState),
    ("generate-checklist", Invoked::ByState),
    ("request-approval", Invoked::ByState),
    ("approval-page", Invoked::ByUrl),
    ("reconcile-approvals", Invoked::ByRule),
    ("slack-interactivity", Invoked::ByUrl),
    ("validate-infrastructure", Invoked::ByState),
    ("deploy-infrastructure", Invoked::ByState),
    ("await-stack", Invoked::ByState),
    ("resume-wait", Invoked::ByRule),
    ("capture-outputs", Invoked::ByState),
    ("deploy-frontend", Invoked::ByState),
    ("await-frontend", Invoked::ByState),
    ("run-test-suite", Invoked::ByState),
    ("read-suite-report", Invoked::ByState),
    ("test-report", Invoked::ByState),
    ("performance-tests", Invoked::ByState),
    ("bake", Invoked::ByState),
    ("roll-back", Invoked::ByState),
    ("mark-release-ready", Invoked::ByState),
    ("check-deployment-window", Invoked::InProduction),
    ("notify", Invoked::ByState),
];

/// The functions the production state machine (`statemachine/production.asl.json`)
/// invokes, by state or (resume-wait) by its status rules: each is deployed a second
/// time from the same binary, with the production role and settings, as the
/// template's `Production<Name>Function` (locally `production-<name>`).
pub const PRODUCTION_FUNCTIONS: &[&str] = &[
    "preflight",
    "verify-staged",
    "create-change-set",
    "describe-change-set",
    "generate-checklist",
    "request-approval",
    "check-deployment-window",
    "validate-infrastructure",
    "deploy-infrastructure",
    "await-stack",
    "resume-wait",
    "capture-outputs",
    "deploy-frontend",
    "await-frontend",
    "run-test-suite",
    "test-report",
    "bake",
    "roll-back",
    "mark-release-ready",
    "notify",
];

/// The production deployment of function `name`: `production-<name>`.
pub fn production_name(name: &str) -> String {
    format!("production-{name}")
}

/// The names of [`FUNCTIONS`].
pub fn function_names() -> impl Iterator<Item = &'static str> {
    FUNCTIONS.iter().map(|(name, _)| *name)
}

/// The phases of a run, in flow order: the top-level states people follow (the
/// rehearsal's progress and timeline, the release notes' Gantt chart).
pub const PHASES: &[&str] = &[
    "Preflight",
    "Pre-Deployment Checks",
    "Generate Checklist",
    "Wait for Approval",
    "Validate Infrastructure",
    "Deploy Infrastructure",
    "Capture Stack Outputs",
    "Deploy Frontend",
    "Integration Tests",
    "Command Suites",
    "Test Results",
    "Performance Tests",
    "Bake",
    "Roll Back",
    "User Acceptance Testing",
    "Mark Release Ready",
    "Notify Success",
    "Notify Failure",
    "Notify Cancelled",
];

/// The phases of a production run (`statemachine/production.asl.json`), in flow order.
pub const PRODUCTION_PHASES: &[&str] = &[
    "Preflight",
    "Verify Staged Release",
    "Wait for Soak",
    "Create Change Set",
    "Generate Checklist",
    "Wait for Production Approval",
    "Check Deployment Window",
    "Wait for Deployment Window",
    "Validate Infrastructure",
    "Deploy Infrastructure",
    "Capture Stack Outputs",
    "Deploy Frontend",
    "Smoke Tests",
    "Test Results",
    "Bake",
    "Roll Back",
    "Mark Promoted",
    "Notify Success",
    "Notify Failure",
    "Notify Cancelled",
];

/// The run id (the execution's name) from its id (ARN) or a bare name.
pub fn run_id(execution_id: &str) -> &str {
    execution_id.rsplit(':').next().unwrap_or(execution_id)
}

/// Whether `run` can be a run id: one path segment of letters, digits, '.', '_' and
/// '-' (an execution name, `rc-1.4.0--0123456789ab`), never `.` or `..`, at most 80
/// characters (Step Functions' limit for a name) — so it never leads out of the runs'
/// prefix.
pub fn is_run_id(run: &str) -> bool {
    !run.is_empty()
        && run.len() <= 80
        && run != "."
        && run != ".."
        && run
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
}

/// The run, as later states read it from Preflight's result (`$.preflight`).
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub candidate: Candidate,
    pub run_id: String,
    pub execution_id: String,
    pub artifacts_prefix: String,
}

/// The change preview as it moves through the Package & Preview loop and into the
/// checklist, the approval and Validate Infrastructure.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub change_set_id: String,
    pub stack_name: String,
    pub status: ChangeSetStatus,
    /// The changes; in the state, only the first ones (`crate::results`).
    #[serde(default)]
    pub changes: Vec<ResourceChange>,
    /// The stack's version when the preview was made ("" if it does not exist).
    #[serde(default)]
    pub stack_version: String,
    pub attempt: u32,
    /// Changes not carried here: the whole list is at `changes_key`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// Where the whole list of changes goes (set by Create Change Set).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub changes_key: String,
    /// SHA-256 of the whole list as JSON: what Validate Infrastructure compares.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub changes_digest: String,
}

/// One branch of Pre-Deployment Checks, as the state machine records it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CheckResult {
    pub name: String,
    /// `SUCCEEDED` passes; anything else (`FAILED`, `FAULT`, `TIMED_OUT`, ...) fails.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub build: Option<String>,
    /// The error the state machine caught when the build failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub caught: Option<Caught>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
    /// The build's log (CodeBuild's deep link; a file locally), when it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// An error as a Catch hands it on: its name, and a cause when it has one (the
/// specification says an error SHOULD have one, not that it does).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Caught {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    /// The name of the error a failed check ended with.
    pub fn error(&self) -> Option<&str> {
        self.caught.as_ref().map(|c| c.error.as_str())
    }

    /// Where the check's log is: recorded when it passed, and inside the failed
    /// build (the error's cause) when it did not.
    pub fn log_link(&self) -> Option<String> {
        self.log.clone().or_else(|| {
            let cause = self.caught.as_ref()?.cause.as_deref()?;
            let cause: serde_json::Value = serde_json::from_str(cause).ok()?;
            cause["Build"]["Logs"]["DeepLink"]
                .as_str()
                .map(str::to_string)
        })
    }
}

/// The change preview in numbers.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSummary {
    pub adds: usize,
    pub modifies: usize,
    pub removes: usize,
    pub replacements: usize,
    pub no_changes: bool,
    pub available: bool,
}

impl ChangeSummary {
    /// The counts of a computed change set.
    pub fn of(changes: &[ResourceChange]) -> ChangeSummary {
        let count = |action: &str| changes.iter().filter(|c| c.action == action).count();
        ChangeSummary {
            adds: count("Add"),
            modifies: count("Modify"),
            removes: count("Remove"),
            replacements: changes
                .iter()
                .filter(|c| c.replacement == "True" || c.replacement == "Conditional")
                .count(),
            no_changes: changes.is_empty(),
            available: true,
        }
    }
}

/// The checklist (Generate Checklist's result): what the approver is shown.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Checklist {
    pub all_passed: bool,
    pub failed_checks: Vec<String>,
    pub changes: ChangeSummary,
    pub preview: Option<Preview>,
    pub markdown_uri: String,
    pub json_uri: String,
    /// The manifest of everything the approval binds (`manifest.json`: each artifact's
    /// SHA-256 and store version); `None` only where packaging failed and no approval
    /// is asked.
    #[serde(default)]
    pub manifest: Option<ManifestRef>,
}

/// Where a run's manifest is, and the SHA-256 of its bytes: what the approver is
/// shown and what Validate Infrastructure checks the bucket against after approval.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestRef {
    pub key: String,
    pub digest: String,
}

/// What a production run promotes, as Verify Staged Release found it (`$.staged`):
/// the staging run that proved the commit, its verified evidence and manifest, and
/// the soak.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StagedRelease {
    pub commit: String,
    /// The staging run and its tag (`rc-1.4.0`).
    pub staging_run: String,
    pub staging_tag: String,
    /// The staging run's signed evidence bundle.
    pub evidence: ManifestRef,
    /// The manifest staging's approval bound: the objects production deploys.
    pub manifest: ManifestRef,
    pub first_ready_at: DateTime<Utc>,
    /// When the soak ends; `soaked` when it has.
    pub soak_until: DateTime<Utc>,
    pub soaked: bool,
    /// Staging's checks as its evidence recorded them (for the production checklist).
    pub checks: Vec<CheckResult>,
    /// Staging's decisions, one line each (approval and sign-off).
    pub decisions: Vec<String>,
    /// A rollback on request: the release live now, which this run replaces (tag,
    /// commit, run).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<serde_json::Value>,
}

/// Whether an approved promotion may deploy now (`$.window`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentWindow {
    pub open: bool,
    /// When to ask again (not open).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_until: Option<DateTime<Utc>>,
    /// Why, for people: inside/outside which windows, which freeze, whose break-glass.
    pub why: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub break_glass: Option<BreakGlass>,
}

/// A window or freeze overridden by distinct approvers, each with a reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakGlass {
    pub approvers: Vec<String>,
    /// `approver: reason`, one each.
    pub reasons: Vec<String>,
}

/// A decided approval, as the approval desk sends it to the waiting task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Approval {
    #[serde(default)]
    pub approvers: Vec<String>,
    #[serde(default)]
    pub votes: Vec<Vote>,
    /// The checks that had failed when it was approved.
    #[serde(default)]
    pub failed_checks: Vec<String>,
}

impl Approval {
    /// One line per decision of this gate: how it went, by whom, through which
    /// channel, when, and the decider's reason as `render` puts it
    /// ([`crate::text::md`] or [`crate::text::quoted`]).
    pub fn decisions(&self, render: fn(&str) -> String) -> Vec<String> {
        self.votes
            .iter()
            .map(|v| {
                format!(
                    "{} by {} ({}, {}){}",
                    if v.approve { "Approved" } else { "Rejected" },
                    v.approver,
                    v.via,
                    v.at.to_rfc3339(),
                    v.reason
                        .as_deref()
                        .map(|r| format!(": {}", render(r)))
                        .unwrap_or_default()
                )
            })
            .collect()
    }

    /// The "approved over failed checks" lines: which checks, who approved and why.
    /// The approvers' reasons are theirs: `render` puts them in the document's terms
    /// ([`crate::text::md`] or [`crate::text::quoted`]) so they cannot forge a line.
    pub fn overrides(&self, render: fn(&str) -> String) -> Vec<String> {
        if self.failed_checks.is_empty() {
            return Vec::new();
        }
        let mut lines = vec![format!(
            "Approved over failed checks: {}",
            self.failed_checks.join(", ")
        )];
        for v in self.votes.iter().filter(|v| v.approve) {
            if let Some(r) = &v.reason {
                lines.push(format!("  {} ({}): {}", v.approver, v.via, render(r)));
            }
        }
        lines
    }
}

/// What a deploy task's own function returns (Step Functions keeps it in the
/// history; the task's result is what its token is answered with).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Awaiting {
    /// The registration: the key the status event finds the token under.
    pub key: String,
    /// Status reads after missed events so far.
    pub reads: u32,
    /// Whether this call already answered the task (the resource had settled).
    pub answered: bool,
}

/// What Deploy Infrastructure resumes with when its stack is stable.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackDeployed {
    pub stack_name: String,
    /// The stack's final status: `CREATE_COMPLETE`, `UPDATE_COMPLETE`, ...
    pub stack_status: String,
    /// When it got there, per its status event (absent when a status read found it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub settled_at: Option<DateTime<Utc>>,
}

/// What Deploy Frontend resumes with when its job succeeded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FrontendDeployed {
    pub job_id: String,
    pub url: String,
    /// When the job ended, per its status event (absent when a job read found it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<DateTime<Utc>>,
}

/// One integration test case's result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub message: String,
    pub elapsed_ms: u64,
}

/// One suite's results (an HTTP suite's run, or a command suite's JUnit report).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteResult {
    pub suite: String,
    pub passed: usize,
    pub failed: usize,
    /// Its cases; in the state, only the first failed ones (`crate::results`).
    pub cases: Vec<CaseResult>,
    /// Cases not carried here: read the whole from `key`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub more: usize,
    /// Where the whole result is, when it was stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

impl SuiteResult {
    /// Suite `suite` with these `cases`, counted.
    pub fn of(suite: String, cases: Vec<CaseResult>) -> SuiteResult {
        let passed = cases.iter().filter(|c| c.passed).count();
        SuiteResult {
            suite,
            passed,
            failed: cases.len() - passed,
            cases,
            more: 0,
            key: None,
        }
    }

    /// A suite that could not run at all: one failed case saying why.
    pub fn broken(suite: &str, message: String) -> SuiteResult {
        SuiteResult {
            suite: suite.into(),
            passed: 0,
            failed: 1,
            cases: vec![CaseResult {
                name: "suite definition".into(),
                passed: false,
                message,
                elapsed_ms: 0,
            }],
            more: 0,
            key: None,
        }
    }
}

/// The integration tests' report (Test Results' result).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub report_uri: String,
    pub junit_uri: String,
}

/// One load budget's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub name: String,
    pub url: String,
    pub users: u32,
    pub requests: u32,
    pub errors: u32,
    pub error_rate: f64,
    pub p50_ms: u64,
    pub p95_ms: u64,
    pub p99_ms: u64,
    pub max_ms: u64,
    /// Every budget this endpoint broke, in words; empty when it passed.
    pub over: Vec<String>,
    pub passed: bool,
}

/// The load tests' results (Performance Tests' result).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadResults {
    /// `PASSED` or `SKIPPED` (no budgets declared).
    pub status: String,
    pub measurements: Vec<Measurement>,
    pub report_uri: Option<String>,
}

/// One phase of the run: seconds from the run's first phase, and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTime {
    pub phase: String,
    pub offset_seconds: f64,
    pub seconds: f64,
}

mod watch;
pub use watch::{Baking, Rollback};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_run_id_is_the_last_part_of_an_execution_arn() {
        assert_eq!(
            run_id("arn:aws:states:us-east-1:1:execution:staging:rc-1--ab"),
            "rc-1--ab"
        );
        assert_eq!(run_id("rc-1--ab"), "rc-1--ab");
    }

    #[test]
    fn the_summary_counts_each_action_and_the_replacements() {
        let change = |action: &str, replacement: &str| ResourceChange {
            action: action.into(),
            logical_id: "X".into(),
            resource_type: "AWS::S3::Bucket".into(),
            replacement: replacement.into(),
        };
        let s = ChangeSummary::of(&[
            change("Add", ""),
            change("Modify", "True"),
            change("Modify", "Conditional"),
            change("Remove", ""),
        ]);
        assert_eq!(
            (s.adds, s.modifies, s.removes, s.replacements),
            (1, 2, 1, 2)
        );
        assert!(!s.no_changes && s.available);
        assert!(ChangeSummary::of(&[]).no_changes);
    }
}

//! Generate Checklist: one document (Markdown + JSON) with every check's result and
//! the change preview, for the approver.

use crate::candidate::Candidate;
use crate::error::StepError;
use crate::ports::{Artifacts, ResourceChange};
use crate::step::Step;
use crate::steps::change_preview::Preview;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Run {
    pub candidate: Candidate,
    pub run_id: String,
    pub execution_id: String,
    pub artifacts_prefix: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preview: Option<Preview>,
    /// The build's log (CodeBuild's deep link; a file locally), when it passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

impl CheckResult {
    pub fn passed(&self) -> bool {
        self.status == "SUCCEEDED"
    }

    /// Where the check's log is: recorded when it passed, and inside the failed
    /// build (the error's cause) when it did not.
    pub fn log_link(&self) -> Option<String> {
        self.log.clone().or_else(|| {
            let cause: serde_json::Value = serde_json::from_str(self.cause.as_deref()?).ok()?;
            cause["Build"]["Logs"]["DeepLink"]
                .as_str()
                .map(str::to_string)
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub preflight: Run,
    pub checks: Vec<CheckResult>,
}

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

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub all_passed: bool,
    pub failed_checks: Vec<String>,
    pub changes: ChangeSummary,
    pub preview: Option<Preview>,
    pub markdown_uri: String,
    pub json_uri: String,
}

pub fn summarize(changes: &[ResourceChange]) -> ChangeSummary {
    ChangeSummary {
        adds: changes.iter().filter(|c| c.action == "Add").count(),
        modifies: changes.iter().filter(|c| c.action == "Modify").count(),
        removes: changes.iter().filter(|c| c.action == "Remove").count(),
        replacements: changes
            .iter()
            .filter(|c| c.replacement == "True" || c.replacement == "Conditional")
            .count(),
        no_changes: changes.is_empty(),
        available: true,
    }
}

async fn run(artifacts: &impl Artifacts, input: Input) -> Result<Output, StepError> {
    let failed_checks: Vec<String> = input
        .checks
        .iter()
        .filter(|c| !c.passed())
        .map(|c| c.name.clone())
        .collect();
    let preview = input.checks.iter().find_map(|c| c.preview.clone());
    let changes = match &preview {
        Some(p) => summarize(&p.changes),
        None => ChangeSummary::default(),
    };
    let markdown = render_markdown(&input, &changes, preview.as_ref());
    let doc = serde_json::json!({
        "candidate": input.preflight.candidate,
        "executionId": input.preflight.execution_id,
        "checks": input.checks,
        "changes": changes,
        "preview": preview,
    });
    let prefix = &input.preflight.artifacts_prefix;
    let markdown_uri = artifacts
        .put(
            &format!("{prefix}checklist.md"),
            "text/markdown; charset=utf-8",
            markdown.into_bytes(),
        )
        .await?;
    let json_bytes =
        serde_json::to_vec_pretty(&doc).map_err(|e| crate::error::invalid_input(e.to_string()))?;
    let json_uri = artifacts
        .put(
            &format!("{prefix}checklist.json"),
            "application/json",
            json_bytes,
        )
        .await?;
    Ok(Output {
        all_passed: failed_checks.is_empty(),
        failed_checks,
        changes,
        preview,
        markdown_uri,
        json_uri,
    })
}

/// The approver's checklist. Plain Markdown: it is read in email, in the review page
/// and in the artifacts bucket.
pub fn render_markdown(
    input: &Input,
    changes: &ChangeSummary,
    preview: Option<&Preview>,
) -> String {
    let c = &input.preflight.candidate;
    let mut md = String::new();
    let _ = writeln!(md, "# Deployment checklist: {} {}\n", c.repository, c.tag);
    let _ = writeln!(md, "- Commit: `{}`", c.sha);
    let _ = writeln!(md, "- Pushed by: {}", c.pushed_by);
    let _ = writeln!(md, "- Run: {}\n", input.preflight.run_id);
    let _ = writeln!(md, "## Checks\n\n| Check | Result | Log |\n|---|---|---|");
    for check in &input.checks {
        let mark = if check.passed() {
            "✅ passed"
        } else {
            "❌ failed"
        };
        let detail = match (&check.error, check.passed()) {
            (Some(e), false) => format!(" ({e})"),
            (None, false) => format!(" ({})", check.status),
            _ => String::new(),
        };
        let log = check.log_link().unwrap_or_else(|| "-".into());
        let _ = writeln!(md, "| {} | {mark}{detail} | {log} |", check.name);
    }
    let failed = input.checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        let _ = writeln!(
            md,
            "\n**{failed} check(s) failed.** Approving anyway requires a written reason."
        );
    }
    let _ = writeln!(md, "\n## Infrastructure changes\n");
    match preview {
        None => {
            let _ = writeln!(
                md,
                "No change preview is available (Package & Preview failed)."
            );
        }
        Some(_) if changes.no_changes => {
            let _ = writeln!(md, "No infrastructure changes.");
        }
        Some(p) => {
            let _ = writeln!(
                md,
                "{} to add, {} to modify, {} to remove, {} replacement(s).\n\n| Action | Resource | Type | Replacement |\n|---|---|---|---|",
                changes.adds, changes.modifies, changes.removes, changes.replacements
            );
            for ch in &p.changes {
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} |",
                    ch.action,
                    ch.logical_id,
                    ch.resource_type,
                    if ch.replacement.is_empty() {
                        "-"
                    } else {
                        &ch.replacement
                    }
                );
            }
        }
    }
    md
}

/// The `generate-checklist` function's name.
pub const NAME: &str = "generate-checklist";

/// Generate Checklist: the review document, as an artifact.
pub struct GenerateChecklist<A> {
    artifacts: A,
}

impl<A: Artifacts> GenerateChecklist<A> {
    pub fn new(artifacts: A) -> Self {
        GenerateChecklist { artifacts }
    }
}

impl<A: Artifacts> Step for GenerateChecklist<A> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        run(&self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ChangeSetStatus;
    use crate::testing::MemoryArtifacts;
    use crate::testing::{candidate, run_info};
    use serde_json::json;

    fn check(name: &str, status: &str) -> CheckResult {
        CheckResult {
            name: name.into(),
            status: status.into(),
            build: None,
            error: None,
            cause: None,
            preview: None,
            log: None,
        }
    }

    fn preview() -> Preview {
        Preview {
            change_set_id: "cs-1".into(),
            stack_name: "shop-staging".into(),
            status: ChangeSetStatus::Ready,
            changes: vec![
                ResourceChange {
                    action: "Add".into(),
                    logical_id: "Queue".into(),
                    resource_type: "AWS::SQS::Queue".into(),
                    replacement: String::new(),
                },
                ResourceChange {
                    action: "Modify".into(),
                    logical_id: "Api".into(),
                    resource_type: "AWS::Lambda::Function".into(),
                    replacement: "True".into(),
                },
            ],
            stack_version: "v1".into(),
            attempt: 1,
        }
    }

    #[test]
    fn the_checklist_links_each_checks_log_passed_or_failed() {
        let mut ok = check("Unit Tests", "SUCCEEDED");
        ok.log = Some("https://console.aws/codebuild/log/1".into());
        let mut bad = check("ESLint", "FAILED");
        bad.cause = Some(
            json!({"Build": {"Id": "b2", "BuildStatus": "FAILED", "Logs": {"DeepLink": "https://console.aws/codebuild/log/2"}}})
                .to_string(),
        );
        assert_eq!(
            bad.log_link().as_deref(),
            Some("https://console.aws/codebuild/log/2")
        );
        let input = Input {
            preflight: run_info(),
            checks: vec![ok, bad],
        };
        let md = render_markdown(&input, &ChangeSummary::default(), None);
        assert!(
            md.contains("| Unit Tests | ✅ passed | https://console.aws/codebuild/log/1 |"),
            "{md}"
        );
        assert!(
            md.contains("| ESLint | ❌ failed (FAILED) | https://console.aws/codebuild/log/2 |"),
            "{md}"
        );
    }

    #[tokio::test]
    async fn records_failed_checks_and_summarises_the_preview() {
        let arts = MemoryArtifacts::default();
        let mut pp = check("Package & Preview", "SUCCEEDED");
        pp.preview = Some(preview());
        let mut lint = check("ESLint", "FAILED");
        lint.error = Some("States.TaskFailed".into());
        let out = run(
            &arts,
            Input {
                preflight: run_info(),
                checks: vec![lint, check("Unit Tests", "SUCCEEDED"), pp],
            },
        )
        .await
        .unwrap();
        assert!(!out.all_passed);
        assert_eq!(out.failed_checks, vec!["ESLint"]);
        assert_eq!(
            (
                out.changes.adds,
                out.changes.modifies,
                out.changes.replacements
            ),
            (1, 1, 1)
        );
        let md = String::from_utf8(arts.get_sync("runs/run-1/checklist.md").unwrap()).unwrap();
        assert!(
            md.contains("| ESLint | ❌ failed (States.TaskFailed) |"),
            "{md}"
        );
        assert!(md.contains("requires a written reason"));
        assert!(md.contains("| Modify | Api | AWS::Lambda::Function | True |"));
        let doc: serde_json::Value =
            serde_json::from_slice(&arts.get_sync("runs/run-1/checklist.json").unwrap()).unwrap();
        assert_eq!(doc["candidate"]["tag"], json!(candidate().tag));
    }

    #[tokio::test]
    async fn a_missing_preview_is_said_plainly() {
        let arts = MemoryArtifacts::default();
        let out = run(
            &arts,
            Input {
                preflight: run_info(),
                checks: vec![check("Package & Preview", "FAILED")],
            },
        )
        .await
        .unwrap();
        assert!(out.preview.is_none());
        let md = String::from_utf8(arts.get_sync("runs/run-1/checklist.md").unwrap()).unwrap();
        assert!(md.contains("No change preview is available"));
    }
}

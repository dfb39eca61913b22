//! Generate Checklist (`generate-checklist`): one document (Markdown + JSON) with
//! every check's result, its log, and the change preview, for the approver. The run's
//! manifest is sealed ([`crate::manifest::seal`]) between the two: what Package &
//! Preview pinned plus the checklist's JSON (checks and change preview), and the
//! Markdown the approver reads opens with the manifest's digest.

use crate::error::StepError;
use crate::flow::{ChangeSummary, CheckResult, Checklist, Preview, Run, StagedRelease};
use crate::manifest;
use crate::ports::Artifacts;
use crate::results;
use crate::step::Step;
use crate::text;
use serde::Deserialize;
use std::fmt::Write as _;

/// The `generate-checklist` function's name.
pub const NAME: &str = "generate-checklist";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub preflight: Run,
    pub checks: Vec<CheckResult>,
    /// A production run's own change preview (staging's rides on its package check).
    #[serde(default)]
    pub preview: Option<Preview>,
    /// What a production run promotes: staging's run, evidence, decisions and soak.
    #[serde(default)]
    pub staged: Option<StagedRelease>,
}

/// Generate Checklist: the review document, as an artifact.
pub struct GenerateChecklist<A> {
    /// The checks role's id: with a build's id it names the build's scratch, where its
    /// log is.
    pub settings: crate::settings::Settings,
    pub artifacts: A,
}

mod logs;
pub use logs::{FailedLog, LOG_LINES};

impl<A: Artifacts> Step<Input, Checklist> for GenerateChecklist<A> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Checklist, StepError> {
        let artifacts = &self.artifacts;
        let failed_checks: Vec<String> = input
            .checks
            .iter()
            .filter(|c| !c.passed())
            .map(|c| c.name.clone())
            .collect();
        let preview = input
            .checks
            .iter()
            .find_map(|c| c.preview.clone())
            .or_else(|| input.preview.clone());
        // The whole list (the state carries only the first changes).
        let whole = match &preview {
            Some(p) => Some(Preview {
                changes: results::whole_changes(artifacts, p).await?,
                more: 0,
                ..p.clone()
            }),
            None => None,
        };
        let changes = match &whole {
            Some(p) => ChangeSummary::of(&p.changes),
            None => ChangeSummary::default(),
        };
        let doc = serde_json::json!({
            "candidate": input.preflight.candidate,
            "executionId": input.preflight.execution_id,
            "checks": input.checks,
            "changes": changes,
            "preview": preview,
            "staged": input.staged,
        });
        let prefix = &input.preflight.artifacts_prefix;
        let (markdown_key, json_key) = (
            format!("{prefix}checklist.md"),
            format!("{prefix}checklist.json"),
        );
        let json_uri = artifacts.put_json(&json_key, &doc).await?;
        let run = &input.preflight;
        // The whole list of changes, where the state carries only the first ones.
        let mut bound = vec![json_key.as_str()];
        if let Some(p) = preview.as_ref().filter(|p| p.more > 0) {
            bound.push(&p.changes_key);
        }
        let sealed =
            manifest::seal(artifacts, &run.run_id, &run.candidate.sha, prefix, &bound).await?;
        let logs = logs::failed(artifacts, &self.settings.checks_role_id, &input).await?;
        let mut markdown = render_markdown(&input, &changes, whole.as_ref(), &sealed.digest);
        logs::excerpts(&mut markdown, &logs);
        let markdown_uri = artifacts
            .put(
                &markdown_key,
                "text/markdown; charset=utf-8",
                markdown.into_bytes(),
            )
            .await?;
        Ok(Checklist {
            all_passed: failed_checks.is_empty(),
            failed_checks,
            changes,
            preview,
            markdown_uri,
            json_uri,
            manifest: Some(sealed),
        })
    }
}

/// The approver's checklist. Plain Markdown: it is read in email, in the review page
/// and in the artifacts bucket.
pub fn render_markdown(
    input: &Input,
    changes: &ChangeSummary,
    preview: Option<&Preview>,
    manifest_digest: &str,
) -> String {
    let c = &input.preflight.candidate;
    let mut md = String::new();
    let title = if c.rollback {
        "Rollback"
    } else if input.staged.is_some() {
        "Promotion"
    } else {
        "Deployment"
    };
    let _ = writeln!(md, "# {title} checklist: {} {}\n", c.repository, c.tag);
    let _ = writeln!(md, "- Commit: `{}`", c.sha);
    let _ = writeln!(md, "- Pushed by: {}", text::md(&c.pushed_by));
    let _ = writeln!(md, "- Run: {}", input.preflight.run_id);
    let _ = writeln!(
        md,
        "- Manifest (SHA-256 of every artifact that will deploy): `{manifest_digest}`\n"
    );
    if let Some(s) = &input.staged {
        promoted_section(&mut md, s);
    }
    let _ = writeln!(md, "## Checks\n\n| Check | Result | Log |\n|---|---|---|");
    for check in &input.checks {
        let mark = if check.passed() {
            "✅ passed"
        } else {
            "❌ failed"
        };
        let detail = match (check.error(), check.passed()) {
            (Some(e), false) => format!(" ({e})"),
            (None, false) => format!(" ({})", check.status),
            _ => String::new(),
        };
        let log = check.log_link().unwrap_or_else(|| "-".into());
        let _ = writeln!(md, "| {} | {mark}{detail} | {log} |", check.name);
    }
    failed_note(&mut md, &input.checks);
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

/// How many checks failed, and what approving over them takes.
fn failed_note(md: &mut String, checks: &[CheckResult]) {
    let failed = checks.iter().filter(|c| !c.passed()).count();
    if failed > 0 {
        let _ = writeln!(
            md,
            "\n**{failed} check(s) failed.** Approving anyway requires a written reason."
        );
    }
}

/// What a promotion deploys and why it may: staging's run, evidence and decisions.
fn promoted_section(md: &mut String, s: &StagedRelease) {
    if let Some(r) = &s.replaces {
        let _ = writeln!(md, "## What this rollback replaces\n");
        let tag = r.get("tag").and_then(|v| v.as_str()).unwrap_or("?");
        let commit = r.get("commit").and_then(|v| v.as_str()).unwrap_or("?");
        let _ = writeln!(
            md,
            "- Live now: {} at `{}`; after this run: the release below, as it went live before\n",
            text::md(tag),
            text::md(commit)
        );
    }
    let _ = writeln!(md, "## What staging proved\n");
    for line in crate::summary::staged_proof(s) {
        let _ = writeln!(md, "{line}");
    }
    let soak = if s.soaked { "done" } else { "not done" };
    let _ = writeln!(
        md,
        "- Soak: ready on staging since {}, {soak} at {}",
        s.first_ready_at, s.soak_until
    );
    for d in &s.decisions {
        let _ = writeln!(md, "- Staging decision: {}", text::md(d));
    }
    let _ = writeln!(md);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::ChangeSetStatus;
    use crate::testing::{candidate, check_result, run_info, MemoryArtifacts};
    use serde_json::json;

    async fn run(arts: &MemoryArtifacts, input: Input) -> Result<Checklist, StepError> {
        let step = GenerateChecklist {
            settings: crate::settings::Settings::default(),
            artifacts: arts.clone(),
        };
        step.run(input).await
    }

    /// A staging run's input: its checks, no preview of its own, nothing staged.
    fn staging(checks: Vec<CheckResult>) -> Input {
        Input {
            preview: None,
            staged: None,
            preflight: run_info(),
            checks,
        }
    }

    fn preview() -> Preview {
        Preview {
            change_set_id: "cs-1".into(),
            stack_name: "shop-staging".into(),
            status: ChangeSetStatus::Ready,
            changes: crate::testing::sample_changes("True"),
            stack_version: "v1".into(),
            attempt: 1,
            more: 0,
            changes_key: String::new(),
            changes_digest: String::new(),
        }
    }

    #[test]
    fn the_checklist_links_each_checks_log_passed_or_failed() {
        let mut ok = check_result("Unit Tests", "SUCCEEDED");
        ok.log = Some("https://console.aws/codebuild/log/1".into());
        let mut bad = check_result("ESLint", "FAILED");
        bad.caught = Some(crate::flow::Caught {
            error: "States.TaskFailed".into(),
            cause: Some(
                json!({"Build": {"Id": "b2", "BuildStatus": "FAILED", "Logs": {"DeepLink": "https://console.aws/codebuild/log/2"}}})
                    .to_string(),
            ),
        });
        assert_eq!(
            bad.log_link().as_deref(),
            Some("https://console.aws/codebuild/log/2")
        );
        let input = staging(vec![ok, bad]);
        let md = render_markdown(&input, &ChangeSummary::default(), None, "5e5e");
        assert!(
            md.contains("| Unit Tests | ✅ passed | https://console.aws/codebuild/log/1 |"),
            "{md}"
        );
        assert!(
            md.contains(
                "| ESLint | ❌ failed (States.TaskFailed) | https://console.aws/codebuild/log/2 |"
            ),
            "{md}"
        );
    }

    #[tokio::test]
    async fn records_failed_checks_and_summarises_the_preview() {
        let arts = MemoryArtifacts::default();
        let mut pp = check_result("Package & Preview", "SUCCEEDED");
        pp.preview = Some(preview());
        let mut lint = check_result("ESLint", "FAILED");
        // Caught without a cause: the checklist still says what failed.
        lint.caught = Some(crate::flow::Caught {
            error: "States.TaskFailed".into(),
            cause: None,
        });
        let out = run(
            &arts,
            staging(vec![lint, check_result("Unit Tests", "SUCCEEDED"), pp]),
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
        // The manifest binds the checks and the preview, and the checklist shows its digest.
        let sealed = out.manifest.expect("a sealed manifest");
        assert_eq!(sealed.key, "runs/run-1/manifest.json");
        let bytes = arts.get_sync(&sealed.key).unwrap();
        assert_eq!(sealed.digest, crate::manifest::sha256(&bytes));
        let m: crate::manifest::Manifest = serde_json::from_slice(&bytes).unwrap();
        let keys: Vec<&str> = m.artifacts.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys, ["runs/run-1/checklist.json"]);
        let json = arts.get_sync("runs/run-1/checklist.json").unwrap();
        assert_eq!(m.artifacts[0].sha256, crate::manifest::sha256(&json));
        assert!(md.contains(&format!("`{}`", sealed.digest)), "{md}");
    }

    #[tokio::test]
    async fn a_missing_preview_is_said_plainly() {
        let arts = MemoryArtifacts::default();
        let out = run(
            &arts,
            staging(vec![check_result("Package & Preview", "FAILED")]),
        )
        .await
        .unwrap();
        assert!(out.preview.is_none());
        let md = String::from_utf8(arts.get_sync("runs/run-1/checklist.md").unwrap()).unwrap();
        assert!(md.contains("No change preview is available"));
    }

    /// A failed check's build left its log in its scratch: the run keeps it and the
    /// checklist shows its end; a check whose build left none has no such section.
    #[tokio::test]
    async fn a_failed_checks_log_is_kept_and_its_end_shown() {
        let scratch = "scratch/local:AWSCodeBuild-1f2e/check.log";
        let log: String = (1..=50).map(|i| format!("eslint: problem {i}\n")).collect();
        let arts = MemoryArtifacts::holding(scratch, "text/plain", log + "<b>```</b> 3 errors\n");
        let mut eslint = check_result("ESLint", "FAILED");
        eslint.caught = Some(crate::flow::Caught {
            error: "States.TaskFailed".into(),
            cause: Some(
                json!({"Build": {"Id": "stagegate-checks:1f2e", "BuildStatus": "FAILED"}})
                    .to_string(),
            ),
        });
        let mut lost = check_result("TypeScript", "FAILED");
        lost.build = Some("stagegate-checks:9999".into());
        let input = staging(vec![eslint, lost, check_result("Unit Tests", "SUCCEEDED")]);
        run(&arts, input).await.unwrap();
        let kept = arts.get_sync("runs/run-1/logs/eslint.log").unwrap();
        assert!(String::from_utf8_lossy(&kept).starts_with("eslint: problem 1\n"));
        assert!(arts.get_sync("runs/run-1/logs/typescript.log").is_none());
        let md = String::from_utf8(arts.get_sync("runs/run-1/checklist.md").unwrap()).unwrap();
        let section = md
            .split("### ESLint: the end of its log")
            .nth(1)
            .expect(&md);
        assert!(
            section.starts_with("\n\n```text\neslint: problem 22\n"),
            "{section}"
        );
        assert!(
            section.contains("<b>\'\'\'</b> 3 errors\n```\n"),
            "{section}"
        );
        assert!(!md.contains("TypeScript: the end of its log"));
        let at = md.find("## Infrastructure changes").unwrap();
        assert!(
            md.find("### ESLint").unwrap() < at,
            "the excerpt follows the checks"
        );
    }
}

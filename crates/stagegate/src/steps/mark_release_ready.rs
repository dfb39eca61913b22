//! Mark Release Ready (`mark-release-ready`): release notes (the changes since the
//! previous candidate, the checks and any approval over them, the test and load
//! results, who approved, the run's timeline), the GitHub prerelease when a token is
//! configured, and the approval record beside the notes.

use crate::changelog::changes;
use crate::error::{invalid_input, StepError};
use crate::flow::{Approval, CheckResult, LoadResults, PhaseTime, Report, StagedRelease};
use crate::ports::{
    Artifacts, Candidate, Clock, Commit, Release, Releases, SourceHistory, Timelines,
};
use crate::step::Step;
use crate::text;
use crate::timeline::{gantt, phase_times, timeline_svg};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// The `mark-release-ready` function's name.
pub const NAME: &str = "mark-release-ready";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub candidate: Candidate,
    pub artifacts_prefix: String,
    pub frontend_url: Option<String>,
    /// The deployment approval, as Wait for Approval's task received it.
    pub approval: Option<Approval>,
    /// The stakeholders' sign-off (User Acceptance Testing), `null` when none was
    /// asked for.
    pub acceptance: Option<Approval>,
    /// The run (`$$.Execution.Id`), whose phases the Gantt chart shows.
    pub execution_id: Option<String>,
    /// The pre-deployment checks, as they ended.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// The integration tests' report.
    pub tests: Option<Report>,
    /// The load tests' results.
    pub performance: Option<LoadResults>,
    /// A production run (Mark Promoted): what it promotes. The release is then the
    /// production tag's, at the staged commit, marked latest.
    #[serde(default)]
    pub staged: Option<StagedRelease>,
    /// After a promotion's notice (Record Release Evidence): Notify's result, whose
    /// `evidence` the release then names.
    #[serde(default)]
    pub notification: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub previous_candidate: Option<String>,
    pub commits: usize,
    pub notes_uri: String,
    /// `None` when no GitHub token is configured (said in the notes, not hidden).
    pub release_url: Option<String>,
    /// The run's phases so far, for the success message's chart.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<PhaseTime>,
    /// The same as a picture (`timeline.svg` among the artifacts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeline_uri: Option<String>,
}

/// Mark Release Ready: the notes, the prerelease, the approval record.
pub struct MarkReleaseReady<G, A, T, C> {
    /// Where the source lives (GitHub on AWS): its history and its releases.
    pub repository: G,
    pub artifacts: A,
    /// The run's history (Step Functions): its phases, for the timeline.
    pub runs: T,
    pub clock: C,
}

impl<G, A, T, C> Step<Input, Output> for MarkReleaseReady<G, A, T, C>
where
    G: SourceHistory + Releases,
    A: Artifacts,
    T: Timelines,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        if let (Some(notification), Some(_)) = (&input.notification, &input.staged) {
            return self.record_evidence(&input, notification).await;
        }
        let c = &input.candidate;
        let previous = self.repository.previous_candidate(&c.tag).await?;
        let commits = self.repository.commits(previous.as_deref(), &c.sha).await?;
        let approval = input.approval.clone().unwrap_or_default();
        let mut notes = intro(&input, previous.as_deref(), &commits);
        notes.push_str(&checks_section(&input.checks, &approval));
        notes.push_str(&tests_section(
            input.tests.as_ref(),
            input.performance.as_ref(),
        ));
        self.approval_section(&mut notes, &input, &approval).await?;
        let (timeline, timeline_uri) = self.timeline_section(&mut notes, &input).await?;
        let release_url = match &input.staged {
            Some(staged) => {
                promoted_section(&mut notes, staged, &input.artifacts_prefix);
                self.repository
                    .publish_release(&release(c, &c.tag, &notes))
                    .await?
            }
            None => {
                let title = format!("{} (staging)", c.tag);
                self.repository
                    .publish_prerelease(&release(c, &title, &notes))
                    .await?
            }
        };
        if release_url.is_none() {
            let _ = writeln!(
                notes,
                "_No GitHub release was updated: no token is configured._"
            );
        }
        let notes_uri = self
            .artifacts
            .put(
                &format!("{}release-notes.md", input.artifacts_prefix),
                "text/markdown; charset=utf-8",
                notes.into_bytes(),
            )
            .await?;
        Ok(Output {
            previous_candidate: previous,
            commits: commits.len(),
            notes_uri,
            release_url,
            timeline,
            timeline_uri,
        })
    }
}

impl<G, A, T, C> MarkReleaseReady<G, A, T, C>
where
    G: SourceHistory + Releases,
    A: Artifacts,
    T: Timelines,
    C: Clock,
{
    /// Record Release Evidence: the production release's notes end with the run's
    /// signed evidence, once Notify has recorded it (the release's body is kept as
    /// `release.md`; the signed `release-notes.md` is not touched).
    async fn record_evidence(
        &self,
        input: &Input,
        notification: &serde_json::Value,
    ) -> Result<Output, StepError> {
        let evidence: crate::flow::ManifestRef = notification
            .get("evidence")
            .and_then(|e| serde_json::from_value(e.clone()).ok())
            .ok_or_else(|| {
                invalid_input("the run's evidence was not recorded: the release cannot name it")
            })?;
        let key = format!("{}release-notes.md", input.artifacts_prefix);
        let notes = self.artifacts.get(&key).await?.unwrap_or_default();
        let mut notes = String::from_utf8_lossy(&notes).into_owned();
        let run = input
            .artifacts_prefix
            .trim_start_matches("runs/")
            .trim_end_matches('/');
        let _ = writeln!(
            notes,
            "\n## Production evidence\n\n`{}` (sha256 `{}`), signed: `stagegate verify {run}`",
            evidence.key, evidence.digest
        );
        let c = &input.candidate;
        let release_url = self
            .repository
            .publish_release(&release(c, &c.tag, &notes))
            .await?;
        // Beside the notes, not over them: `release-notes.md` is bound by the evidence
        // this names, and stays as it was signed.
        let body = format!("{}release.md", input.artifacts_prefix);
        let notes_uri = self
            .artifacts
            .put(&body, "text/markdown; charset=utf-8", notes.into_bytes())
            .await?;
        Ok(Output {
            previous_candidate: None,
            commits: 0,
            notes_uri,
            release_url,
            timeline: Vec::new(),
            timeline_uri: None,
        })
    }

    /// Who decided, how, when and why, at both gates (the deployment approval and the
    /// user-acceptance sign-off); the same as `approval.json` beside the notes.
    async fn approval_section(
        &self,
        notes: &mut String,
        input: &Input,
        approval: &Approval,
    ) -> Result<(), StepError> {
        let acceptance = input.acceptance.as_ref();
        if approval.votes.is_empty() && acceptance.is_none_or(|a| a.votes.is_empty()) {
            return Ok(());
        }
        let gates = [
            ("Approval", Some(approval)),
            ("User acceptance", acceptance),
        ];
        for (title, gate) in gates {
            let Some(gate) = gate.filter(|g| !g.votes.is_empty()) else {
                continue;
            };
            let _ = writeln!(notes, "## {title}\n");
            for line in gate.decisions(text::md) {
                let _ = writeln!(notes, "- {line}");
            }
            notes.push('\n');
        }
        if input.checks.is_empty() {
            for line in approval.overrides(text::md) {
                let _ = writeln!(notes, "{}\n", line.trim());
            }
        }
        // Who decided, when, why and from where, at each gate, beside the notes.
        let record = serde_json::json!({"deployment": approval, "userAcceptance": acceptance});
        let key = format!("{}approval.json", input.artifacts_prefix);
        self.artifacts.put_json(&key, &record).await?;
        Ok(())
    }

    /// The run's phases so far: a Mermaid chart in the notes, a picture beside them.
    async fn timeline_section(
        &self,
        notes: &mut String,
        input: &Input,
    ) -> Result<(Vec<PhaseTime>, Option<String>), StepError> {
        let Some(id) = &input.execution_id else {
            return Ok((Vec::new(), None));
        };
        let (phases, now) = (self.runs.phases(id).await?, self.clock.now());
        let on = if input.staged.is_some() {
            "production"
        } else {
            "staging"
        };
        let title = format!("{} on {on}", input.candidate.tag);
        if let Some(chart) = gantt(&title, &phases, now) {
            let _ = writeln!(notes, "## Timeline\n\n{chart}");
        }
        let mut uri = None;
        if let Some(svg) = timeline_svg(&title, &phases, now) {
            let key = format!("{}timeline.svg", input.artifacts_prefix);
            let put = self
                .artifacts
                .put(&key, "image/svg+xml", svg.into_bytes())
                .await?;
            let _ = writeln!(notes, "As a picture: {put}\n");
            uri = Some(put);
        }
        Ok((phase_times(&phases, now), uri))
    }
}

/// The GitHub release of candidate `c`: its tag at its commit, titled `title`.
fn release<'a>(c: &'a Candidate, title: &'a str, notes: &'a str) -> Release<'a> {
    Release {
        tag: &c.tag,
        commit: &c.sha,
        title,
        notes,
    }
}

/// What a production release promotes: the staging run, its evidence, the bytes.
fn promoted_section(notes: &mut String, s: &StagedRelease, prefix: &str) {
    let _ = writeln!(notes, "## Promoted from staging\n");
    for line in crate::summary::staged_proof(s) {
        let _ = writeln!(notes, "{line}");
    }
    let _ = writeln!(
        notes,
        "- Ready on staging since {}; soak until {}",
        s.first_ready_at, s.soak_until
    );
    let _ = writeln!(
        notes,
        "- This run's signed evidence: `{prefix}evidence.json`, written when it ends (`stagegate verify`)\n"
    );
}

/// The notes' head: what, where, and the changes since the previous candidate.
fn intro(input: &Input, previous: Option<&str>, commits: &[Commit]) -> String {
    let c: &Candidate = &input.candidate;
    let mut notes = String::new();
    let _ = writeln!(notes, "# {} {}\n", c.repository, c.tag);
    let what = match input.staged {
        Some(_) => "In production: promoted from staging, deployed and smoke-tested.",
        None => "Ready for production: deployed to staging and tested.",
    };
    let _ = writeln!(notes, "{what}\n");
    if let Some(url) = &input.frontend_url {
        let _ = writeln!(notes, "Staging: {url}\n");
    }
    match previous {
        Some(p) => {
            let _ = writeln!(notes, "## Changes since {p}\n");
        }
        None => {
            let _ = writeln!(notes, "## Changes (first candidate)\n");
        }
    }
    if commits.is_empty() {
        let _ = writeln!(notes, "No new commits.\n");
    } else {
        // A release body has a size limit (GitHub's: 125,000 characters): the first
        // commits, and how to see the rest.
        let shown = &commits[..commits.len().min(MAX_COMMITS)];
        let _ = writeln!(notes, "{}", changes(shown));
        if commits.len() > shown.len() {
            let range = match previous {
                Some(p) => format!("{p}..{}", c.sha),
                None => c.sha.clone(),
            };
            let _ = writeln!(
                notes,
                "…and {} more commits: `git log {range}`\n",
                commits.len() - shown.len()
            );
        }
    }
    notes
}

/// Commits the notes list; the rest are counted.
pub const MAX_COMMITS: usize = 500;

/// The checks: all passed, or which failed (and the approvals over them).
fn checks_section(checks: &[CheckResult], approval: &Approval) -> String {
    if checks.is_empty() {
        return String::new();
    }
    let mut out = String::from("## Checks\n\n");
    let failed: Vec<&CheckResult> = checks.iter().filter(|c| !c.passed()).collect();
    if failed.is_empty() {
        let names: Vec<&str> = checks.iter().map(|c| c.name.as_str()).collect();
        let _ = writeln!(out, "All {} passed: {}.", checks.len(), names.join(", "));
    } else {
        for c in checks {
            let _ = writeln!(
                out,
                "- {} {}",
                c.name,
                if c.passed() {
                    "passed".to_string()
                } else {
                    format!("**{}**", c.status)
                }
            );
        }
        for line in approval.overrides(text::md) {
            let _ = writeln!(out, "\n{}", line.trim());
        }
    }
    out.push('\n');
    out
}

/// The integration and load results.
fn tests_section(tests: Option<&Report>, load: Option<&LoadResults>) -> String {
    if tests.is_none() && load.is_none() {
        return String::new();
    }
    let mut out = String::from("## Tests\n\n");
    if let Some(t) = tests {
        let _ = writeln!(
            out,
            "- Integration: {} of {} passed ([report]({}), [JUnit]({}))",
            t.passed, t.total, t.report_uri, t.junit_uri
        );
    }
    match load {
        Some(l) if l.measurements.is_empty() => {
            let _ = writeln!(
                out,
                "- Load: {} (no performance.json)",
                l.status.to_lowercase()
            );
        }
        Some(l) => {
            for m in &l.measurements {
                let _ = writeln!(
                    out,
                    "- Load, {}: {} requests by {} users, p50 {} ms, p95 {} ms, p99 {} ms, {} errors",
                    m.name, m.requests, m.users, m.p50_ms, m.p95_ms, m.p99_ms, m.errors
                );
            }
        }
        None => {}
    }
    out.push('\n');
    out
}

#[cfg(test)]
mod tests;

//! Mark Release Ready: release notes (commits since the previous candidate, grouped
//! by conventional-commit type; the checks and any override; the test and load
//! results; the approval; a Mermaid Gantt chart of the run's phases), the GitHub
//! prerelease when a token is configured, and the notes as an artifact.

use super::checklist::CheckResult;
use super::performance;
use super::suites::Report;
use crate::candidate::Candidate;
use crate::error::StepError;
use crate::ports::{Artifacts, Clock, Commit, Phase, Releases, SourceHistory, Timelines, Vote};
use crate::step::Step;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub candidate: Candidate,
    pub artifacts_prefix: String,
    #[serde(default)]
    pub frontend_url: Option<String>,
    /// The deployment approval, as Wait for Approval's task received it.
    #[serde(default)]
    pub approval: Option<Approval>,
    /// The run (`$$.Execution.Id`), whose phases the Gantt chart shows.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The pre-deployment checks, as they ended.
    #[serde(default)]
    pub checks: Vec<CheckResult>,
    /// The integration tests' report.
    #[serde(default)]
    pub tests: Option<Report>,
    /// The load tests' results.
    #[serde(default)]
    pub performance: Option<performance::Output>,
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

/// The "approved over failed checks" lines: which checks, who approved and why.
pub fn overrides(approval: &Approval) -> Vec<String> {
    if approval.failed_checks.is_empty() {
        return Vec::new();
    }
    let mut lines = vec![format!(
        "Approved over failed checks: {}",
        approval.failed_checks.join(", ")
    )];
    for v in approval.votes.iter().filter(|v| v.approve) {
        if let Some(r) = &v.reason {
            lines.push(format!("  {} ({}): {r}", v.approver, v.via));
        }
    }
    lines
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

/// One phase of the run: seconds from the run's first phase, and how long it took.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhaseTime {
    pub phase: String,
    pub offset_seconds: f64,
    pub seconds: f64,
}

/// The charted phases as offsets and durations in seconds.
pub fn phase_times(phases: &[Phase], now: DateTime<Utc>) -> Vec<PhaseTime> {
    let rows = charted(phases, now);
    let Some(start) = rows.iter().map(|r| r.1).min() else {
        return vec![];
    };
    rows.into_iter()
        .map(|(name, from, to)| PhaseTime {
            phase: name.to_string(),
            offset_seconds: (from - start).num_milliseconds() as f64 / 1000.0,
            seconds: (to - from).num_milliseconds() as f64 / 1000.0,
        })
        .collect()
}

/// A text Gantt chart of `times` (for plain-text messages): one row per phase, its
/// bar placed and sized on a 40-column scale of the whole run.
pub fn text_gantt(times: &[PhaseTime]) -> String {
    let total = times
        .iter()
        .map(|t| t.offset_seconds + t.seconds)
        .fold(0.0_f64, f64::max)
        .max(0.001);
    let col = |s: f64| ((s / total) * 40.0).round() as usize;
    let mut out = String::new();
    for t in times {
        let start = col(t.offset_seconds).min(39);
        let len = col(t.seconds).max(1).min(40 - start);
        let _ = writeln!(
            out,
            "  {:<24} {}{}{} {:.1} s",
            t.phase,
            " ".repeat(start),
            "█".repeat(len),
            " ".repeat(40 - start - len),
            t.seconds
        );
    }
    out
}

/// A commit subject read as a conventional commit (`type(scope)!: description`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conventional<'a> {
    pub kind: &'a str,
    pub scope: Option<&'a str>,
    pub breaking: bool,
    pub description: &'a str,
}

/// `subject` as a conventional commit, if it is one.
pub fn conventional(subject: &str) -> Option<Conventional<'_>> {
    let (head, description) = subject.split_once(": ")?;
    let (head, breaking) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => {
            let scope = rest.strip_suffix(')')?;
            if scope.is_empty() || scope.contains(['(', ')']) {
                return None;
            }
            (k, Some(scope))
        }
        None => (head, None),
    };
    let plain =
        !kind.is_empty() && kind.len() <= 12 && kind.chars().all(|c| c.is_ascii_lowercase());
    (plain && !description.trim().is_empty()).then_some(Conventional {
        kind,
        scope,
        breaking,
        description: description.trim(),
    })
}

/// The sections of the changes, in the order they are shown.
const SECTIONS: &[(&str, &[&str])] = &[
    ("Features", &["feat"]),
    ("Fixes", &["fix"]),
    ("Performance", &["perf"]),
    ("Reverts", &["revert"]),
    ("Documentation", &["docs"]),
    ("Refactoring", &["refactor"]),
    ("Tests", &["test", "tests"]),
    ("Build and CI", &["build", "ci"]),
    ("Chores", &["chore", "style"]),
];

/// The changes as Markdown: breaking changes first, then one section per
/// conventional-commit type, then everything else; without conventional commits, one
/// plain list.
pub fn changes(commits: &[Commit]) -> String {
    let line = |c: &Commit, scope: Option<&str>, text: &str| {
        let scope = scope.map(|s| format!("**{s}:** ")).unwrap_or_default();
        format!(
            "- {scope}{text} ({}, {})\n",
            &c.sha[..c.sha.len().min(7)],
            c.author
        )
    };
    let parsed: Vec<(&Commit, Option<Conventional>)> = commits
        .iter()
        .map(|c| (c, conventional(&c.subject)))
        .collect();
    if parsed.iter().all(|(_, p)| p.is_none()) {
        return commits.iter().map(|c| line(c, None, &c.subject)).collect();
    }
    let mut out = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            let _ = write!(out, "### {title}\n\n{}\n", lines.concat());
        }
    };
    section(
        "Breaking changes",
        parsed
            .iter()
            .filter_map(|(c, p)| {
                p.as_ref()
                    .filter(|p| p.breaking)
                    .map(|p| line(c, p.scope, p.description))
            })
            .collect(),
    );
    for (title, kinds) in SECTIONS {
        section(
            title,
            parsed
                .iter()
                .filter_map(|(c, p)| {
                    p.as_ref()
                        .filter(|p| !p.breaking && kinds.contains(&p.kind))
                        .map(|p| line(c, p.scope, p.description))
                })
                .collect(),
        );
    }
    let known = |k: &str| SECTIONS.iter().any(|(_, kinds)| kinds.contains(&k));
    section(
        "Other changes",
        parsed
            .iter()
            .filter(|(_, p)| p.as_ref().is_none_or(|p| !p.breaking && !known(p.kind)))
            .map(|(c, _)| line(c, None, &c.subject))
            .collect(),
    );
    out
}

/// A Mermaid Gantt chart of the run's phases ([`super::PHASES`], first entry of
/// each); a phase still running (this one) ends at `now`. `None` without phases.
pub fn gantt(title: &str, phases: &[Phase], now: DateTime<Utc>) -> Option<String> {
    let mut rows = Vec::new();
    for (name, from, to) in charted(phases, now) {
        let start = from.timestamp_millis();
        let end = to.timestamp_millis().max(start + 1);
        let running = phases.iter().any(|p| p.state == name && p.exited.is_none());
        let status = if running { "active" } else { "done" };
        rows.push(format!(
            "    {name} :{status}, p{}, {start}, {end}\n",
            rows.len()
        ));
    }
    if rows.is_empty() {
        return None;
    }
    Some(format!(
        "```mermaid\ngantt\n    title {title}\n    dateFormat x\n    axisFormat %H:%M:%S\n    section Run\n{}```\n",
        rows.concat()
    ))
}

/// The phases that [`gantt`] charts, with their end (`now` for one still running).
fn charted(
    phases: &[Phase],
    now: DateTime<Utc>,
) -> Vec<(&'static str, DateTime<Utc>, DateTime<Utc>)> {
    super::PHASES
        .iter()
        .filter_map(|name| {
            let p = phases.iter().find(|p| p.state == *name)?;
            Some((*name, p.entered, p.exited.unwrap_or(now).max(p.entered)))
        })
        .collect()
}

fn xml_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The same timeline as [`gantt`], drawn: an SVG picture for the run's artifacts
/// (e-mail and chat show pictures, not Mermaid). `None` without phases.
pub fn timeline_svg(title: &str, phases: &[Phase], now: DateTime<Utc>) -> Option<String> {
    let rows = charted(phases, now);
    let start = rows.iter().map(|r| r.1).min()?;
    let end = rows.iter().map(|r| r.2).max()?;
    let total = (end - start).num_milliseconds().max(1) as f64;
    let (label, width, row, top) = (190.0, 560.0, 22.0, 40.0);
    let height = top + row * rows.len() as f64 + 30.0;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" font-family=\"sans-serif\" font-size=\"12\">\n  <title>{}</title>\n  <text x=\"10\" y=\"22\" font-size=\"14\" font-weight=\"bold\">{}</text>\n",
        label + width + 90.0,
        xml_text(title),
        xml_text(title)
    );
    for (i, (name, from, to)) in rows.iter().enumerate() {
        let y = top + row * i as f64;
        let x = label + width * (*from - start).num_milliseconds() as f64 / total;
        let w = (width * (*to - *from).num_milliseconds() as f64 / total).max(2.0);
        let secs = (*to - *from).num_milliseconds() as f64 / 1000.0;
        let _ = writeln!(
            svg,
            "  <text x=\"10\" y=\"{:.1}\">{}</text>\n  <rect x=\"{x:.1}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"#3b82f6\"><title>{} {secs:.1} s</title></rect>\n  <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#555\">{secs:.1} s</text>",
            y + 15.0,
            xml_text(name),
            y + 4.0,
            row - 8.0,
            xml_text(name),
            x + w + 6.0,
            y + 15.0,
        );
    }
    let _ = writeln!(
        svg,
        "  <text x=\"10\" y=\"{:.1}\" fill=\"#555\">{} → {} (UTC), {:.1} s in all</text>\n</svg>",
        height - 10.0,
        start.format("%Y-%m-%d %H:%M:%S"),
        end.format("%H:%M:%S"),
        total / 1000.0
    );
    Some(svg)
}

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
        for line in overrides(approval) {
            let _ = writeln!(out, "\n{}", line.trim());
        }
    }
    out.push('\n');
    out
}

/// The integration and load results.
fn tests_section(tests: Option<&Report>, load: Option<&performance::Output>) -> String {
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

async fn run<H, R, A, T, C>(
    (history, releases, artifacts, timelines, clock): (&H, &R, &A, &T, &C),
    input: Input,
) -> Result<Output, StepError>
where
    H: SourceHistory,
    R: Releases,
    A: Artifacts,
    T: Timelines,
    C: Clock,
{
    let c = &input.candidate;
    let previous = history.previous_candidate(&c.tag).await?;
    let commits = history.commits(previous.as_deref(), &c.sha).await?;
    let approval = input.approval.clone().unwrap_or_default();
    let mut notes = String::new();
    let _ = writeln!(notes, "# {} {}\n", c.repository, c.tag);
    let _ = writeln!(
        notes,
        "Ready for production: deployed to staging and tested.\n"
    );
    if let Some(url) = &input.frontend_url {
        let _ = writeln!(notes, "Staging: {url}\n");
    }
    match &previous {
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
        let _ = writeln!(notes, "{}", changes(&commits));
    }
    notes.push_str(&checks_section(&input.checks, &approval));
    notes.push_str(&tests_section(
        input.tests.as_ref(),
        input.performance.as_ref(),
    ));
    if !approval.votes.is_empty() {
        let _ = writeln!(notes, "## Approval\n");
        for v in &approval.votes {
            let _ = writeln!(
                notes,
                "- {} by {} ({}, {}){}",
                if v.approve { "Approved" } else { "Rejected" },
                v.approver,
                v.via,
                v.at.to_rfc3339(),
                v.reason
                    .as_deref()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            );
        }
        if input.checks.is_empty() {
            for line in overrides(&approval) {
                let _ = writeln!(notes, "\n{}", line.trim());
            }
        }
        notes.push('\n');
        // Who decided, when, why and from where, beside the notes.
        let json = serde_json::to_vec_pretty(&approval)
            .map_err(|e| crate::error::invalid_input(e.to_string()))?;
        artifacts
            .put(
                &format!("{}approval.json", input.artifacts_prefix),
                "application/json",
                json,
            )
            .await?;
    }
    let (mut timeline, mut timeline_uri) = (Vec::new(), None);
    if let Some(id) = &input.execution_id {
        let phases = timelines.phases(id).await?;
        timeline = phase_times(&phases, clock.now());
        let title = format!("{} on staging", c.tag);
        if let Some(chart) = gantt(&title, &phases, clock.now()) {
            let _ = writeln!(notes, "## Timeline\n\n{chart}");
        }
        if let Some(svg) = timeline_svg(&title, &phases, clock.now()) {
            let uri = artifacts
                .put(
                    &format!("{}timeline.svg", input.artifacts_prefix),
                    "image/svg+xml",
                    svg.into_bytes(),
                )
                .await?;
            let _ = writeln!(notes, "As a picture: {uri}\n");
            timeline_uri = Some(uri);
        }
    }
    let release_url = releases
        .publish_prerelease(&c.tag, &format!("{} (staging)", c.tag), &notes)
        .await?;
    if release_url.is_none() {
        let _ = writeln!(
            notes,
            "_No GitHub release was updated: no token is configured._"
        );
    }
    let notes_uri = artifacts
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

/// The `mark-release-ready` function's name.
pub const NAME: &str = "mark-release-ready";

/// Mark Release Ready: release notes and the GitHub prerelease.
pub struct MarkReleaseReady<H, R, A, T, C> {
    history: H,
    releases: R,
    artifacts: A,
    timelines: T,
    clock: C,
}

impl<H: SourceHistory, R: Releases, A: Artifacts, T: Timelines, C: Clock>
    MarkReleaseReady<H, R, A, T, C>
{
    pub fn new(history: H, releases: R, artifacts: A, timelines: T, clock: C) -> Self {
        MarkReleaseReady {
            history,
            releases,
            artifacts,
            timelines,
            clock,
        }
    }
}

impl<H: SourceHistory, R: Releases, A: Artifacts, T: Timelines, C: Clock> Step
    for MarkReleaseReady<H, R, A, T, C>
{
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        let ports = (
            &self.history,
            &self.releases,
            &self.artifacts,
            &self.timelines,
            &self.clock,
        );
        run(ports, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Commit;
    use crate::testing::{
        candidate, now, FixedClock, MemoryArtifacts, MemoryHistory, MemoryReleases, MemoryTimelines,
    };
    use chrono::Duration;

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
            execution_id: None,
            checks: vec![],
            tests: None,
            performance: None,
        }
    }

    async fn notes(
        history: MemoryHistory,
        releases: &MemoryReleases,
        timeline: Vec<Phase>,
        input: Input,
    ) -> (Output, String) {
        let arts = MemoryArtifacts::default();
        let timelines = MemoryTimelines(timeline);
        let out = run(
            (&history, releases, &arts, &timelines, &FixedClock(now())),
            input,
        )
        .await
        .unwrap();
        let text = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
        (out, text)
    }

    #[tokio::test]
    async fn notes_list_commits_since_the_previous_candidate() {
        let history = MemoryHistory::new(Some("rc-1.3.0"), vec![commit('a', "Add login")]);
        let releases = MemoryReleases::with_token();
        let (out, notes) = notes(history, &releases, vec![], input()).await;
        assert_eq!(out.previous_candidate.as_deref(), Some("rc-1.3.0"));
        assert_eq!(out.commits, 1);
        assert!(out.release_url.is_some());
        assert!(
            notes.contains("## Changes since rc-1.3.0")
                && notes.contains("- Add login (aaaaaaa, ana)"),
            "{notes}"
        );
        assert_eq!(releases.published()[0].0, "rc-1.4.0");
    }

    #[test]
    fn conventional_commits_are_read_and_anything_else_is_not() {
        let c = conventional("feat(checkout)!: pay with a saved card").unwrap();
        assert_eq!(
            (c.kind, c.scope, c.breaking, c.description),
            ("feat", Some("checkout"), true, "pay with a saved card")
        );
        assert_eq!(conventional("fix: a typo").unwrap().scope, None);
        for not in [
            "Add login",
            "Fix: capital type",
            "feat(): empty scope",
            "feat:no space",
            "feat: ",
        ] {
            assert_eq!(conventional(not), None, "{not}");
        }
    }

    #[test]
    fn changes_are_grouped_by_type_with_breaking_ones_first() {
        let text = changes(&[
            commit('1', "fix(cart): rounding of totals"),
            commit('2', "feat(checkout)!: pay with a saved card"),
            commit('3', "feat: wish lists"),
            commit('4', "Merge branch 'main'"),
            commit('5', "chore: bump deps"),
            commit('6', "wip: half a thing"),
        ]);
        let order: Vec<&str> = text.lines().filter(|l| l.starts_with("### ")).collect();
        assert_eq!(
            order,
            [
                "### Breaking changes",
                "### Features",
                "### Fixes",
                "### Chores",
                "### Other changes"
            ]
        );
        assert!(
            text.contains("- **checkout:** pay with a saved card (2222222, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- **cart:** rounding of totals (1111111, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- Merge branch 'main' (4444444, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- wip: half a thing (6666666, ana)"),
            "{text}"
        );
        assert_eq!(
            text.matches("saved card").count(),
            1,
            "breaking changes are listed once"
        );
        // No conventional commits at all: one plain list, no headings.
        let plain = changes(&[commit('a', "Add login"), commit('b', "Fix the build")]);
        assert!(!plain.contains("###"), "{plain}");
    }

    #[test]
    fn the_gantt_chart_shows_each_phase_once_in_flow_order() {
        let at = |s: i64| now() + Duration::seconds(s);
        let phase = |state: &str, from: i64, to: Option<i64>| Phase {
            state: state.into(),
            entered: at(from),
            exited: to.map(at),
        };
        let chart = gantt(
            "rc-1.4.0 on staging",
            &[
                phase("Preflight", 0, Some(1)),
                phase("Already Running?", 1, Some(1)),
                phase("Pre-Deployment Checks", 1, Some(300)),
                phase("Wait for Approval", 300, Some(3900)),
                phase("Mark Release Ready", 4000, None),
            ],
            at(4002),
        )
        .unwrap();
        let ms = |s: i64| at(s).timestamp_millis();
        assert!(
            chart.starts_with(
                "```mermaid\ngantt\n    title rc-1.4.0 on staging\n    dateFormat x\n"
            ),
            "{chart}"
        );
        assert!(
            chart.contains(&format!("    Preflight :done, p0, {}, {}\n", ms(0), ms(1))),
            "{chart}"
        );
        assert!(
            chart.contains(&format!(
                "    Wait for Approval :done, p2, {}, {}\n",
                ms(300),
                ms(3900)
            )),
            "{chart}"
        );
        assert!(
            chart.contains(&format!(
                "    Mark Release Ready :active, p3, {}, {}\n",
                ms(4000),
                ms(4002)
            )),
            "{chart}"
        );
        assert!(!chart.contains("Already Running"), "only phases: {chart}");
        assert_eq!(gantt("t", &[], now()), None);
        let svg = timeline_svg(
            "rc-1.4.0 <on> staging",
            &[
                phase("Preflight", 0, Some(1)),
                phase("Wait for Approval", 300, Some(3900)),
            ],
            at(4002),
        )
        .unwrap();
        assert!(
            svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""),
            "{svg}"
        );
        assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
        assert_eq!(svg.matches("<rect ").count(), 2, "{svg}");
        assert!(
            svg.contains("rc-1.4.0 &lt;on&gt; staging"),
            "escaped: {svg}"
        );
        assert!(svg.contains(">Wait for Approval 3600.0 s</title>"), "{svg}");
        assert_eq!(timeline_svg("t", &[], now()), None);
        let times = phase_times(
            &[
                phase("Preflight", 0, Some(10)),
                phase("Wait for Approval", 10, Some(40)),
            ],
            at(50),
        );
        assert_eq!(
            times,
            [
                PhaseTime {
                    phase: "Preflight".into(),
                    offset_seconds: 0.0,
                    seconds: 10.0
                },
                PhaseTime {
                    phase: "Wait for Approval".into(),
                    offset_seconds: 10.0,
                    seconds: 30.0
                },
            ]
        );
        let text = text_gantt(&times);
        assert_eq!(
            text,
            format!(
                "  {:<24} {}{} 10.0 s\n  {:<24} {}{} 30.0 s\n",
                "Preflight",
                "█".repeat(10),
                " ".repeat(30),
                "Wait for Approval",
                " ".repeat(10),
                "█".repeat(30)
            )
        );
    }

    #[tokio::test]
    async fn notes_have_checks_overrides_tests_load_approval_and_the_timeline() {
        let mut i = input();
        i.execution_id = Some("arn:exec:1".into());
        i.checks = ["ESLint", "Unit Tests"]
            .iter()
            .map(|n| CheckResult {
                name: n.to_string(),
                status: if *n == "ESLint" {
                    "FAILED"
                } else {
                    "SUCCEEDED"
                }
                .into(),
                build: None,
                error: None,
                cause: None,
                preview: None,
                log: None,
            })
            .collect();
        i.approval = Some(Approval {
            approvers: vec!["bob".into()],
            votes: vec![Vote {
                approver: "bob".into(),
                via: "email link".into(),
                approve: true,
                reason: Some("lint only, fixed in rc-1.4.1".into()),
                at: now(),
                from: "203.0.113.9".into(),
            }],
            failed_checks: vec!["ESLint".into()],
        });
        i.tests = Some(Report {
            total: 10,
            passed: 10,
            failed: 0,
            report_uri: "s3://b/runs/r/test-report.json".into(),
            junit_uri: "s3://b/runs/r/junit.xml".into(),
        });
        i.performance = Some(performance::Output {
            status: "PASSED".into(),
            measurements: vec![performance::Measurement {
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
        });
        let timeline = vec![Phase {
            state: "Preflight".into(),
            entered: now(),
            exited: Some(now()),
        }];
        let (_, notes) = notes(
            MemoryHistory::new(None, vec![commit('a', "feat: login")]),
            &MemoryReleases::with_token(),
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

    #[tokio::test]
    async fn without_a_token_the_notes_say_so() {
        let mut i = input();
        i.frontend_url = None;
        let (out, notes) = notes(
            MemoryHistory::new(None, vec![]),
            &MemoryReleases::default(),
            vec![],
            i,
        )
        .await;
        assert!(out.release_url.is_none());
        assert!(notes.contains("first candidate") && notes.contains("no token is configured"));
    }
}

/// The release-candidate tag just before `tag` among `tags`, by version order (so
/// `rc-1.10.0` comes after `rc-1.9.0`). Tags without the prefix are not candidates.
pub fn previous_candidate<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    tag: &str,
    tag_prefix: &str,
) -> Option<String> {
    use crate::steps::preflight::compare_versions;
    let version = tag.strip_prefix(tag_prefix)?;
    tags.into_iter()
        .filter_map(|t| t.strip_prefix(tag_prefix).map(|v| (t, v)))
        .filter(|(_, v)| compare_versions(v, version).is_lt())
        .max_by(|a, b| compare_versions(a.1, b.1))
        .map(|(t, _)| t.to_string())
}

#[cfg(test)]
mod previous_tests {
    #[test]
    fn the_previous_candidate_is_by_version_not_by_text() {
        let tags = ["rc-1.9.0", "rc-1.10.0", "v2.0.0", "rc-1.11.0", "rc-1.2.0"];
        assert_eq!(
            super::previous_candidate(tags, "rc-1.11.0", "rc-").as_deref(),
            Some("rc-1.10.0")
        );
        assert_eq!(super::previous_candidate(tags, "rc-1.2.0", "rc-"), None);
        assert_eq!(super::previous_candidate(tags, "v3", "rc-"), None);
    }
}

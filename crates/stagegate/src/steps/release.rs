//! Mark Release Ready: release notes (commits since the previous candidate), the
//! GitHub prerelease when a token is configured, and the notes as an artifact.

use crate::candidate::Candidate;
use crate::error::StepError;
use crate::ports::{Artifacts, Releases, SourceHistory, Vote};
use crate::step::Step;
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub previous_candidate: Option<String>,
    pub commits: usize,
    pub notes_uri: String,
    /// `None` when no GitHub token is configured (said in the notes, not hidden).
    pub release_url: Option<String>,
}

async fn run(
    history: &impl SourceHistory,
    releases: &impl Releases,
    artifacts: &impl Artifacts,
    input: Input,
) -> Result<Output, StepError> {
    let c = &input.candidate;
    let previous = history.previous_candidate(&c.tag).await?;
    let commits = history.commits(previous.as_deref(), &c.sha).await?;
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
        let _ = writeln!(notes, "No new commits.");
    }
    let approval = input.approval.clone().unwrap_or_default();
    for commit in &commits {
        let _ = writeln!(
            notes,
            "- {} ({}, {})",
            commit.subject,
            &commit.sha[..commit.sha.len().min(7)],
            commit.author
        );
    }
    if !approval.votes.is_empty() {
        let _ = writeln!(notes, "\n## Approval\n");
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
        for line in overrides(&approval) {
            let _ = writeln!(notes, "\n{}", line.trim());
        }
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
    let release_url = releases
        .publish_prerelease(&c.tag, &format!("{} (staging)", c.tag), &notes)
        .await?;
    if release_url.is_none() {
        let _ = writeln!(
            notes,
            "\n_No GitHub release was updated: no token is configured._"
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
    })
}

/// The `mark-release-ready` function's name.
pub const NAME: &str = "mark-release-ready";

/// Mark Release Ready: release notes and the GitHub prerelease.
pub struct MarkReleaseReady<H, R, A> {
    history: H,
    releases: R,
    artifacts: A,
}

impl<H: SourceHistory, R: Releases, A: Artifacts> MarkReleaseReady<H, R, A> {
    pub fn new(history: H, releases: R, artifacts: A) -> Self {
        MarkReleaseReady {
            history,
            releases,
            artifacts,
        }
    }
}

impl<H: SourceHistory, R: Releases, A: Artifacts> Step for MarkReleaseReady<H, R, A> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        run(&self.history, &self.releases, &self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Commit;
    use crate::testing::candidate;
    use crate::testing::{MemoryArtifacts, MemoryHistory, MemoryReleases};

    #[tokio::test]
    async fn notes_list_commits_since_the_previous_candidate() {
        let history = MemoryHistory::new(
            Some("rc-1.3.0"),
            vec![Commit {
                sha: "a".repeat(40),
                subject: "Add login".into(),
                author: "ana".into(),
            }],
        );
        let releases = MemoryReleases::with_token();
        let arts = MemoryArtifacts::default();
        let out = run(
            &history,
            &releases,
            &arts,
            Input {
                candidate: candidate(),
                artifacts_prefix: "runs/r/".into(),
                frontend_url: Some("https://staging".into()),
                approval: None,
            },
        )
        .await
        .unwrap();
        assert_eq!(out.previous_candidate.as_deref(), Some("rc-1.3.0"));
        assert_eq!(out.commits, 1);
        assert!(out.release_url.is_some());
        let notes = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
        assert!(
            notes.contains("## Changes since rc-1.3.0")
                && notes.contains("- Add login (aaaaaaa, ana)"),
            "{notes}"
        );
        assert_eq!(releases.published()[0].0, "rc-1.4.0");
    }

    #[tokio::test]
    async fn without_a_token_the_notes_say_so() {
        let arts = MemoryArtifacts::default();
        let out = run(
            &MemoryHistory::new(None, vec![]),
            &MemoryReleases::default(),
            &arts,
            Input {
                candidate: candidate(),
                artifacts_prefix: "runs/r/".into(),
                frontend_url: None,
                approval: None,
            },
        )
        .await
        .unwrap();
        assert!(out.release_url.is_none());
        let notes = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
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

//! The app's repository, locally: `git` in the app directory (tags `rc-*`, the log
//! between them, who is pushing); releases are not published.

use stagegate::ports::{Commit, PortResult, Release, Releases, SourceHistory};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use tokio::process::Command;

/// The app's repository, locally: its history from `git` in the app directory; no
/// release is published (no GitHub token is used locally, and the notes say so).
#[derive(Clone, Debug)]
pub struct GitRepository {
    pub dir: PathBuf,
    pub tag_prefix: String,
}

async fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl GitRepository {
    /// HEAD of the app's repository, if it is in one.
    pub async fn head(&self) -> Option<String> {
        git(&self.dir, &["rev-parse", "HEAD"])
            .await
            .map(|s| s.trim().to_string())
    }
    /// Whether tracked files under the app's directory differ from `HEAD` (staged
    /// or not): the rehearsal runs the working tree, not the commit it names.
    pub async fn changed(&self) -> bool {
        let status = git(
            &self.dir,
            &["status", "--porcelain", "--untracked-files=no", "--", "."],
        );
        status.await.is_some_and(|s| !s.trim().is_empty())
    }

    pub async fn user(&self) -> Option<String> {
        git(&self.dir, &["config", "user.name"])
            .await
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }

    /// The git identity pushing locally, for the pusher rule: `user.email`, or the
    /// committer of `HEAD` where none is configured.
    pub async fn user_email(&self) -> Option<String> {
        for args in [
            &["config", "user.email"][..],
            &["log", "-1", "--format=%ce"],
        ] {
            let email = git(&self.dir, args).await.map(|s| s.trim().to_string());
            if let Some(email) = email.filter(|s| !s.is_empty()) {
                return Some(email);
            }
        }
        None
    }
}

impl SourceHistory for GitRepository {
    async fn previous_candidate(&self, tag: &str) -> PortResult<Option<String>> {
        let Some(list) = git(
            &self.dir,
            &["tag", "--list", &format!("{}*", self.tag_prefix)],
        )
        .await
        else {
            return Ok(None);
        };
        Ok(stagegate::candidate::previous_candidate(
            list.lines(),
            tag,
            &self.tag_prefix,
        ))
    }

    async fn commits(&self, from: Option<&str>, to: &str) -> PortResult<Vec<Commit>> {
        let range = match from {
            Some(f) => format!("{f}..{to}"),
            None => to.to_string(),
        };
        let Some(log) = git(
            &self.dir,
            &[
                "log",
                "--max-count=200",
                "--format=%H%x1f%s%x1f%an",
                &range,
                "--",
                ".",
            ],
        )
        .await
        else {
            return Ok(Vec::new());
        };
        Ok(log
            .lines()
            .filter_map(|l| {
                let mut p = l.split('\u{1f}');
                Some(Commit {
                    sha: p.next()?.into(),
                    subject: p.next()?.into(),
                    author: p.next()?.into(),
                })
            })
            .collect())
    }
}

/// No GitHub token is used locally: nothing is published, and the notes say so.
impl Releases for GitRepository {
    async fn publish_prerelease(&self, _: &Release<'_>) -> PortResult<Option<String>> {
        Ok(None)
    }
    async fn publish_release(&self, _: &Release<'_>) -> PortResult<Option<String>> {
        Ok(None)
    }
}

//! The run's files on the review page — the checklist (Markdown and JSON), the
//! manifest, each failed check's whole log — linked so they open where the page
//! runs: a presigned S3 URL valid for [`SHARED_FOR_SECONDS`] on AWS
//! ([`Artifacts::share`], made each time the page is shown), and otherwise served by
//! the page itself under the personal link (`/approvals/<link>/files/<name>`): only
//! these names, only while the link reviews, always as plain text.

use crate::flow::run_id;
use crate::manifest::log_key;
use crate::ports::{ApprovalRecord, Artifacts};

/// How long a presigned link on the page works.
pub const SHARED_FOR_SECONDS: u64 = 900;

/// Whether `name` is a file a link may fetch.
pub fn allowed(name: &str) -> bool {
    let log = name
        .strip_prefix("logs/")
        .and_then(|n| n.strip_suffix(".log"))
        .is_some_and(|slug| {
            !slug.is_empty()
                && slug.len() <= 64
                && slug
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        });
    log || matches!(name, "checklist.md" | "checklist.json" | "manifest.json")
}

/// The key of file `name` of `record`'s run.
pub fn key(record: &ApprovalRecord, name: &str) -> String {
    format!("runs/{}/{name}", run_id(&record.execution_id))
}

/// The files of `record`'s run worth opening, each with where it opens: a failed
/// check's log when the checklist shows its end (Generate Checklist kept it).
pub async fn listed<A: Artifacts>(
    artifacts: &A,
    record: &ApprovalRecord,
    link_id: &str,
    checklist: Option<&str>,
) -> Vec<(String, String)> {
    let mut names: Vec<(String, String)> = [
        ("Checklist (Markdown)", "checklist.md"),
        ("Checklist (JSON)", "checklist.json"),
        ("Manifest", "manifest.json"),
    ]
    .iter()
    .map(|(l, n)| (l.to_string(), n.to_string()))
    .collect();
    for check in &record.failed_checks {
        let heading = format!("### {}: the end of its log", crate::text::md(check));
        if checklist.is_some_and(|md| md.contains(&heading)) {
            names.push((format!("{check}: whole log"), log_key("", check)));
        }
    }
    let mut files = Vec::with_capacity(names.len());
    for (label, name) in names {
        let shared = artifacts
            .share(&key(record, &name), SHARED_FOR_SECONDS)
            .await;
        let href = match shared {
            Ok(Some(url)) => url,
            _ => format!("/approvals/{link_id}/files/{name}"),
        };
        files.push((label, href));
    }
    files
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_runs_own_files_by_name() {
        for ok in [
            "checklist.md",
            "checklist.json",
            "manifest.json",
            "logs/eslint.log",
            "logs/unit-tests.log",
        ] {
            assert!(allowed(ok), "{ok}");
        }
        for bad in [
            "../checklist.md",
            "logs/../../secrets.log",
            "logs/.log",
            "logs/ESLint.log",
            "history.json",
            "execution.json",
            "outbox/001-approvals.txt",
            "logs/a/b.log",
            "",
        ] {
            assert!(!allowed(bad), "{bad}");
        }
    }
}

//! What an approver needs to decide whether to open the review, in a few lines: who
//! asks for what, the commit, the checks, the infrastructure changes in numbers (with
//! replacements), and when the request expires as people read time. The approval
//! email opens with these lines; the review page shows the same expiry.

use crate::flow::{Checklist, StagedRelease};
use crate::records::Candidate;
use chrono::{DateTime, Utc};

pub use crate::wording::{asks, request_words, subject, when};

/// One line of the summary: a label and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub label: &'static str,
    pub value: String,
}

/// The summary of an approval of `c` (a deployment, a promotion or a rollback) whose
/// checklist is `cl`, asked at `now`, expiring at `expires`, needing `required`.
pub fn approval(
    c: &Candidate,
    cl: &Checklist,
    (expires, now): (DateTime<Utc>, DateTime<Utc>),
    required: u32,
) -> Vec<Line> {
    let checks = if cl.failed_checks.is_empty() {
        "all passed".to_string()
    } else {
        format!(
            "FAILED: {} (approving needs a written reason)",
            cl.failed_checks.join(", ")
        )
    };
    let ch = &cl.changes;
    let changes = if cl.preview.is_none() {
        "no preview available".to_string()
    } else if ch.no_changes {
        "none".to_string()
    } else {
        let replacements = match ch.replacements {
            0 => "no replacement".to_string(),
            1 => "1 replacement".to_string(),
            n => format!("{n} replacements"),
        };
        format!(
            "{} to add, {} to modify, {} to remove; {replacements}",
            ch.adds, ch.modifies, ch.removes
        )
    };
    let needed = match required {
        1 => "1 approval needed".to_string(),
        n => format!("{n} approvals needed"),
    };
    vec![
        Line {
            label: "Commit",
            value: c.sha.clone(),
        },
        Line {
            label: "Checks",
            value: checks,
        },
        Line {
            label: "Changes",
            value: changes,
        },
        Line {
            label: "Expires",
            value: format!("{} ({needed})", when(expires, now)),
        },
    ]
}

/// The lines as plain text, labels aligned.
pub fn text(lines: &[Line]) -> String {
    let width = lines.iter().map(|l| l.label.len()).max().unwrap_or(0) + 1;
    lines
        .iter()
        .map(|l| format!("{:width$} {}\n", format!("{}:", l.label), l.value))
        .collect()
}

/// What staging proved about a release being promoted, as Markdown list items: the
/// staging run, its signed evidence, the backend's objects (staging's, not a rebuild)
/// and the frontend's commit. The production checklist and the release notes both
/// list them, in these words.
pub fn staged_proof(s: &StagedRelease) -> [String; 4] {
    [
        format!("- Staging run: {} ({})", s.staging_run, s.staging_tag),
        format!(
            "- Staging evidence: `{}` (sha256 `{}`, signature verified)",
            s.evidence.key, s.evidence.digest
        ),
        format!(
            "- Backend: staging's objects, not a rebuild: manifest `{}` (sha256 `{}`)",
            s.manifest.key, s.manifest.digest
        ),
        format!(
            "- Frontend: built by Amplify from commit `{}` on the production branch (the same commit, not staging's bundle bytes)",
            s.commit
        ),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, TimeZone};

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 12, 6, 16, 35, 10)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn times_read_as_people_read_them() {
        let at = |s: i64| now() + Duration::seconds(s);
        assert_eq!(
            when(at(23 * 3600 + 12 * 60 + 40), now()),
            "in 23 h 12 min — Mon 7 Dec, 15:47 UTC"
        );
        assert_eq!(when(at(3600), now()), "in 1 h — Sun 6 Dec, 17:35 UTC");
        assert_eq!(when(at(86_400), now()), "in 24 h — Mon 7 Dec, 16:35 UTC");
        assert_eq!(
            when(at(36 * 3600 + 60), now()),
            "in 36 h 1 min — Tue 8 Dec, 04:36 UTC"
        );
        assert_eq!(
            when(at(59), now()),
            "within a minute — Sun 6 Dec, 16:36 UTC"
        );
        assert_eq!(when(at(-300), now()), "5 min ago — Sun 6 Dec, 16:30 UTC");
        assert_eq!(
            when(at(7 * 86_400 + 3 * 3600), now()),
            "in 7 d 3 h — Sun 13 Dec, 19:35 UTC"
        );
        assert_eq!(when(at(2 * 86_400), now()), "in 2 d — Tue 8 Dec, 16:35 UTC");
    }
}

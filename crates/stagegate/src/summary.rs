//! What an approver needs to decide whether to open the review, in a few lines: who
//! asks for what, the commit, the checks, the infrastructure changes in numbers (with
//! replacements), and when the request expires as people read time. The approval
//! email opens with these lines; the review page shows the same expiry.

use crate::flow::Checklist;
use crate::records::{ApprovalKind, Candidate};
use crate::text::one_line;
use chrono::{DateTime, Utc};

/// One line of the summary: a label and what it says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Line {
    pub label: &'static str,
    pub value: String,
}

/// When `at` is, as people read it from `now`: `in 23 h 12 min — Mon 7 Dec, 15:47 UTC`
/// (`5 min ago — …` once past; whole minutes, rounded down).
pub fn when(at: DateTime<Utc>, now: DateTime<Utc>) -> String {
    let date = at.format("%a %-d %b, %H:%M UTC");
    let seconds = (at - now).num_seconds();
    let minutes = seconds.unsigned_abs() / 60;
    // Hours up to two days (a 24-hour approval reads "in 24 h"), then days.
    let days = match minutes / (24 * 60) {
        0 | 1 => 0,
        d => d,
    };
    let hours = (minutes - days * 24 * 60) / 60;
    let span = match (days, hours, minutes % 60) {
        (0, 0, 0) => return format!("within a minute — {date}"),
        (0, 0, m) => format!("{m} min"),
        (0, h, 0) => format!("{h} h"),
        (0, h, m) => format!("{h} h {m} min"),
        (d, 0, _) => format!("{d} d"),
        (d, h, _) => format!("{d} d {h} h"),
    };
    if seconds >= 0 {
        format!("in {span} — {date}")
    } else {
        format!("{span} ago — {date}")
    }
}

/// The question an approval asks, as its email's subject and its Slack message's
/// header: `Approve rc-1.4.0 of acme/shop for staging?`.
pub fn subject(kind: ApprovalKind, rollback: bool, tag: &str, repository: &str) -> String {
    let what = format!("{tag} of {repository}");
    match (kind, rollback) {
        (ApprovalKind::Deployment, false) => format!("Approve {what} for staging?"),
        (ApprovalKind::Deployment, true) => format!("Roll staging back to {what}?"),
        (ApprovalKind::Production, false) => format!("Promote {what} to production?"),
        (ApprovalKind::Production, true) => format!("Roll production back to {what}?"),
        (ApprovalKind::Acceptance, _) => format!("Sign off {what} on staging?"),
    }
}

/// What a request asks of an approver, as the words after who pushed and around
/// `<tag> of <repository>`: the email, Slack and the review page say it alike.
pub fn request_words(kind: ApprovalKind, rollback: bool) -> (&'static str, &'static str) {
    const GONE_LIVE: &str =
        ", a release that went live there before (its objects as they went live, not a rebuild)";
    match (kind, rollback) {
        (ApprovalKind::Production, true) => ("wants to roll production back to", GONE_LIVE),
        (ApprovalKind::Production, false) => (
            "wants to promote",
            " to production (the objects staging proved, not a rebuild)",
        ),
        (_, true) => ("wants to roll staging back to", GONE_LIVE),
        (ApprovalKind::Acceptance, false) => (
            "pushed",
            ", now on staging and through its tests: sign it off or reject it",
        ),
        (ApprovalKind::Deployment, false) => ("wants to deploy", " to staging"),
    }
}

/// Who asks for what: `ana wants to deploy rc-1.4.0 of acme/shop to staging`.
pub fn asks(c: &Candidate, kind: ApprovalKind) -> String {
    let (wants, after) = request_words(kind, c.rollback);
    let who = one_line(&c.pushed_by);
    format!("{who} {wants} {} of {}{after}", c.tag, c.repository)
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

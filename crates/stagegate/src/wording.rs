//! How stagegate says what an approval asks, and when, in the words people read:
//! the question (`Approve rc-1.4.0 of acme/shop for staging?`), who asks for what,
//! and times relative to now. The email, the summary, Slack and the review page all
//! say it with these.

use crate::records::{ApprovalKind, Candidate};
use crate::text::one_line;
use chrono::{DateTime, Utc};

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

//! What stagegate shows in Slack, in Block Kit (Slack's "Block Kit" reference:
//! `header`, `section` with `fields`, `actions` with `button`s, `context`, `input`
//! with `plain_text_input`, `modal` views). Every text that comes from a tag, a
//! name or a reason is escaped for `mrkdwn` ([`super::escape`]) and cut to Slack's
//! limits (a header 150 characters, a field 2,000, a modal title 24).

use super::escape;
use crate::ports::{ApprovalRecord, ApprovalState, Approver};
use crate::wording;
use serde_json::{json, Value};

/// The modal's `callback_id`: a submission of any other view is not ours.
pub const CALLBACK_ID: &str = "stagegate-decision";
/// The buttons' `action_id`s.
pub const APPROVE: &str = "approve";
pub const REJECT: &str = "reject";
/// The reason's `block_id` and `action_id` in the modal.
pub const REASON: &str = "reason";

/// `text` cut to `max` characters (Slack refuses longer ones).
fn cut(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

fn plain(text: &str, max: usize) -> Value {
    json!({"type": "plain_text", "text": cut(text, max)})
}

fn mrkdwn(text: &str) -> Value {
    json!({"type": "mrkdwn", "text": cut(text, 3000)})
}

/// The direct message of `record` to approver `to`, as it should look at `now`: the
/// fallback text (notifications, screen readers) and the blocks.
pub fn message(
    record: &ApprovalRecord,
    to: &str,
    now: chrono::DateTime<chrono::Utc>,
) -> (String, Value) {
    let subject = wording::subject(
        record.kind,
        record.rollback,
        &record.tag,
        &record.repository,
    );
    let mut blocks = vec![json!({"type": "header", "text": plain(&subject, 150)})];
    let fields: Vec<Value> = record
        .summary
        .iter()
        .take(10)
        .map(|(label, value)| {
            let text = format!("*{}*\n{}", escape(label), escape(value));
            json!({"type": "mrkdwn", "text": cut(&text, 2000)})
        })
        .collect();
    if !fields.is_empty() {
        blocks.push(json!({"type": "section", "fields": fields}));
    }
    let status = status_line(record, now);
    let text = format!("{subject} {status}");
    blocks.push(json!({"type": "section", "text": mrkdwn(&status)}));
    if record.state == ApprovalState::Pending && now < record.expires_at {
        blocks.push(json!({
            "type": "actions",
            "block_id": "decide",
            "elements": [
                {"type": "button", "action_id": APPROVE, "style": "primary",
                 "text": plain(approve_word(record), 75), "value": record.id},
                {"type": "button", "action_id": REJECT, "style": "danger",
                 "text": plain("Reject…", 75), "value": record.id},
            ]
        }));
        blocks.push(json!({"type": "context", "elements": [mrkdwn(&format!(
            "You decide as *{}*, here or through your email link: one vote per person, whichever way. A button opens a form to confirm; nothing is decided before you submit it.",
            escape(to)
        ))]}));
    }
    (text, Value::Array(blocks))
}

fn approve_word(record: &ApprovalRecord) -> &'static str {
    match record.kind {
        crate::ports::ApprovalKind::Acceptance => "Sign off…",
        _ => "Approve…",
    }
}

/// Where the approval stands, in one line with its state in words.
fn status_line(record: &ApprovalRecord, now: chrono::DateTime<chrono::Utc>) -> String {
    let votes: Vec<String> = record
        .votes
        .iter()
        .map(|v| format!("{} ({})", escape(&v.approver), escape(&v.via)))
        .collect();
    match record.state {
        ApprovalState::Pending if now >= record.expires_at => format!(
            ":hourglass: *Expired* {}: nobody decided in time.",
            wording::when(record.expires_at, now)
        ),
        ApprovalState::Pending if votes.is_empty() => format!(
            ":hourglass_flowing_sand: *Waiting* for {}.",
            needed(record.required_approvals)
        ),
        ApprovalState::Pending => format!(
            ":hourglass_flowing_sand: *Waiting*: approved by {}; {} of {} approvals in.",
            votes.join(", "),
            record.votes.iter().filter(|v| v.approve).count(),
            record.required_approvals
        ),
        ApprovalState::Approved => format!(":white_check_mark: *Approved* by {}.", votes.join(", ")),
        ApprovalState::Rejected => {
            let reason = record
                .votes
                .iter()
                .find(|v| !v.approve)
                .and_then(|v| v.reason.as_deref())
                .map(|r| format!(": “{}”", escape(&cut(r, 500))))
                .unwrap_or_default();
            format!(":no_entry: *Rejected* by {}{reason}", votes.join(", "))
        }
        ApprovalState::Superseded => {
            ":fast_forward: *Superseded*: a newer candidate replaced this one; it has its own request.".into()
        }
    }
}

fn needed(required: u32) -> String {
    match required {
        1 => "1 approval".into(),
        n => format!("{n} approvals"),
    }
}

/// The modal a button opens for `approver`: what they are about to decide, and the
/// reason (required to reject, and to approve over failed checks).
pub fn decision_modal(record: &ApprovalRecord, approver: &Approver, approve: bool) -> Value {
    let reason_required = !approve || !record.failed_checks.is_empty();
    let (title, verb) = match (approve, record.kind) {
        (true, crate::ports::ApprovalKind::Acceptance) => ("Sign off", "signing off"),
        (true, _) => ("Approve", "approving"),
        (false, _) => ("Reject", "rejecting"),
    };
    let mut blocks = vec![json!({"type": "section", "text": mrkdwn(&format!(
        "You are {verb} *{}* of *{}* (commit `{}`) as *{}*.",
        escape(&record.tag),
        escape(&record.repository),
        escape(&record.sha.chars().take(12).collect::<String>()),
        escape(&approver.id)
    ))})];
    if approve && !record.failed_checks.is_empty() {
        blocks.push(json!({"type": "section", "text": mrkdwn(&format!(
            ":x: These checks *failed*: {}. Say why it is safe to go ahead anyway.",
            escape(&record.failed_checks.join(", "))
        ))}));
    }
    blocks.push(json!({
        "type": "input",
        "block_id": REASON,
        "optional": !reason_required,
        "label": plain("Reason", 2000),
        "hint": plain(if reason_required { "Required: it goes to everyone notified." } else { "Optional: it goes to everyone notified." }, 2000),
        "element": {"type": "plain_text_input", "action_id": REASON, "multiline": true,
                    "max_length": crate::links::MAX_REASON},
    }));
    json!({
        "type": "modal",
        "callback_id": CALLBACK_ID,
        "private_metadata": json!({"approval": record.id, "approve": approve}).to_string(),
        "title": plain(title, 24),
        "submit": plain(title, 24),
        "close": plain("Cancel", 24),
        "blocks": blocks,
    })
}

/// A modal that says why nothing can be decided (a refusal of the desk, or of the
/// endpoint: not an approver, another workspace).
pub fn refusal_modal(title: &str, detail: &str) -> Value {
    json!({
        "type": "modal",
        "title": plain("stagegate", 24),
        "close": plain("Close", 24),
        "blocks": [
            {"type": "section", "text": mrkdwn(&format!("*{}*", escape(title)))},
            {"type": "section", "text": mrkdwn(&escape(detail))},
        ],
    })
}

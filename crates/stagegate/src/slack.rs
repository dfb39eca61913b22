//! Approving from Slack, fail-closed (DESIGN §4 applies unchanged: Slack is one more
//! channel to the same approver, deciding through the same desk).
//!
//! - **Asking**: with Slack configured ([`crate::settings::Slack`]), each approver
//!   who has a Slack member id gets a direct message ([`blocks::message`]): the
//!   summary of the email ([`crate::summary`]) and Approve / Reject buttons. Who else
//!   sees the message decides nothing: a button only opens a modal for the person who
//!   pressed it.
//! - **Deciding**: the interactivity endpoint
//!   ([`crate::steps::slack_interactivity`]) accepts only requests signed with the
//!   app's signing secret ([`signature`]: `v0` HMAC-SHA256 over
//!   `v0:{timestamp}:{body}`, constant-time, within five minutes, each signature once),
//!   from the configured workspace, by a member id that is a configured approver's.
//!   A button press opens a modal (`views.open`) to confirm and give the reason; only
//!   the modal's submission decides, through [`crate::desk::Desk::decide_by_slack`]:
//!   one vote per person across email, CLI and Slack, the pusher rule, reasons.
//! - **Keeping messages true**: each message records what it shows
//!   ([`crate::records::ChatMessage::shows`]); [`sync`] updates those that show
//!   something else than the approval's state now (`chat.update`): right after a
//!   decision from Slack, when a button of a decided approval is pressed, and by the
//!   reconcile every five minutes (decided by email or CLI, expired, superseded).

pub mod blocks;
pub mod signature;

use crate::error::StepError;
use crate::ports::{ApprovalRecord, Approvals, Chat, Update};
use chrono::{DateTime, Utc};

/// What [`sync`] did to one record's messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Synced {
    /// Messages updated now.
    pub updated: u32,
    /// Messages whose update failed: tried again by the next reconcile when it may
    /// work then (Slack unreachable, rate limited), given up when Slack refused it
    /// (the message or the channel is gone: `message_not_found`, …).
    pub failed: u32,
}

/// Updates every chat message of `record` that does not show its state at `now`, then
/// records what each shows. `chat.update` is idempotent, so a lost race (someone
/// wrote the record meanwhile) only means the next sync looks again.
pub async fn sync<A: Approvals, C: Chat>(
    store: &A,
    chat: &C,
    record: &ApprovalRecord,
    now: DateTime<Utc>,
) -> Result<Synced, StepError> {
    let status = record.chat_status(now);
    let mut next = record.clone();
    let mut done = Synced::default();
    let mut gave_up = false;
    for message in next.chat.iter_mut().filter(|m| m.shows != status) {
        let (text, blocks) = blocks::message(record, &message.approver, now);
        match chat
            .update(&message.channel, &message.ts, &text, &blocks)
            .await
        {
            Ok(()) => {
                message.shows = status.clone();
                done.updated += 1;
            }
            Err(e) => {
                done.failed += 1;
                if !e.transient {
                    // Asking again would be refused again, every five minutes, forever.
                    message.shows = status.clone();
                    gave_up = true;
                }
            }
        }
    }
    if done.updated > 0 || gave_up {
        next.revision = record.revision + 1;
        if let Update::Conflict(_) = store.update(record, &next).await? {
            // Someone else wrote it: their write may have changed the state, so the
            // next sync compares again (and updates again if needed).
        }
    }
    Ok(done)
}

/// Escapes text for Slack's `mrkdwn`: `&`, `<` and `>` only (Slack's own rule), so
/// text from a tag, a commit message or a reason can neither mention `@channel` nor
/// make a link.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests;

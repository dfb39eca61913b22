//! An approval's chat messages, and what they should show.

use super::{ApprovalRecord, ApprovalState};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// One chat message of an approval: to whom, where it is (Slack's channel and `ts`),
/// and which state of the approval it shows ([`ApprovalRecord::chat_status`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatMessage {
    pub approver: String,
    pub channel: String,
    pub ts: String,
    pub shows: String,
}

impl ApprovalRecord {
    /// What the approval's chat messages should show at `now`: `pending`, or
    /// `pending-<n>` once `n` approvals of a quorum are in, `approved`, `rejected`,
    /// `superseded`, `expired`.
    pub fn chat_status(&self, now: DateTime<Utc>) -> String {
        match self.state {
            ApprovalState::Pending if now >= self.expires_at => "expired".into(),
            ApprovalState::Pending if self.votes.is_empty() => "pending".into(),
            ApprovalState::Pending => format!("pending-{}", self.votes.len()),
            ApprovalState::Approved => "approved".into(),
            ApprovalState::Rejected => "rejected".into(),
            ApprovalState::Superseded => "superseded".into(),
        }
    }

    /// Whether its chat messages may need an update: it has some, and it is still
    /// pending (it may expire) or one of them does not show its final state. The
    /// reconcile's work list ([`crate::ports::Approvals::chat_due`]).
    pub fn chat_due(&self) -> bool {
        !self.chat.is_empty()
            && (self.state == ApprovalState::Pending
                || self
                    .chat
                    .iter()
                    .any(|m| m.shows != self.chat_status(self.expires_at)))
    }
}

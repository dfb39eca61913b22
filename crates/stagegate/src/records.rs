//! What the ports store and return, as plain values: approval records and their
//! links and votes, change sets, stacks, frontend jobs, waiters, HTTP exchanges,
//! commits, a run's phases. No behaviour beyond reading them; nothing here imports
//! another module of the crate.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What starts a run. Produced by the tag-push webhook or written by hand for a
/// manual start (see the README's "Manual start").
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Trigger {
    pub repository: String,
    pub tag: String,
    pub sha: String,
    /// Who pushed, as shown (a login, a name).
    pub pushed_by: Option<String>,
    /// Who pushed, by an identity the source vouches for: what the rule that a
    /// pusher may not approve their own candidate compares. Always serialised
    /// (`null` when unknown), so the start rule's input transformer finds it.
    #[serde(default)]
    pub pusher: Option<Pusher>,
    /// A rollback on request (`stagegate rollback`): this release went live on the
    /// stage before and is deployed again, from its staged objects, through the
    /// stage's approval; nothing is rebuilt. Absent for a tag push.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rollback: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// Who pushed a candidate, by an identity its source vouches for (never a name
/// typed by whoever started the run).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum Pusher {
    /// A GitHub account (the webhook's `sender`): its numeric id, which survives
    /// renames, and its login, for people to read.
    #[serde(rename = "github")]
    GitHub { id: u64, login: String },
    /// An AWS principal (`stagegate start`): the caller's ARN, as STS returns it.
    #[serde(rename = "aws")]
    Aws { principal: String },
    /// A git identity (the local rehearsal): `user.email`.
    #[serde(rename = "email")]
    Email { email: String },
}

impl Pusher {
    /// What the identity is called, for a refusal that names what is missing.
    pub fn kind(&self) -> &'static str {
        match self {
            Pusher::GitHub { .. } => "GitHub id",
            Pusher::Aws { .. } => "AWS principal",
            Pusher::Email { .. } => "email",
        }
    }
}

/// A validated candidate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Candidate {
    pub repository: String,
    pub tag: String,
    /// The version in the tag: `1.4.0` for `rc-1.4.0`.
    pub version: String,
    pub sha: String,
    pub pushed_by: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pusher: Option<Pusher>,
    /// A rollback on request to this release, which went live on the stage before:
    /// its staged objects are verified and redeployed (the definitions route on
    /// `$.preflight.candidate.rollback` being present). The pusher is who asked.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rollback: bool,
}

/// Which audience a message is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Topic {
    /// Approvers: review links.
    Approvals,
    /// Everyone else: outcomes.
    Notifications,
}

/// A notification: subject, text, and attributes subscribers filter on.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub subject: String,
    /// For people (email).
    pub body: String,
    pub attributes: BTreeMap<String, String>,
    /// The same content for machines, when there is one: on SNS, queue, Lambda and
    /// HTTP(S) subscribers receive this JSON instead of the text (`MessageStructure:
    /// json`), email subscribers the text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub machine: Option<serde_json::Value>,
}

/// The state of an approval record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ApprovalState {
    Pending,
    Approved,
    Rejected,
    Superseded,
}

/// What is being approved.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalKind {
    /// Wait for Approval: deploy this candidate to staging?
    #[default]
    Deployment,
    /// User Acceptance Testing: does the deployed candidate do what stakeholders need?
    Acceptance,
    /// Wait for Production Approval: promote this staged release to production? The
    /// production approvers are a group of their own (quorum: the production
    /// functions' `STAGEGATE_REQUIRED_APPROVALS`, 2 by default).
    Production,
}

/// A person who may decide, as the operator configured them (`stagegate approvers`);
/// never a name typed into a form. Each channel that reaches them (today: an email
/// with a personal link) is bound to this `id`, so a decision made through it is
/// theirs; another channel (a chat message bound to the same person) adds a way to
/// reach the same id, not a new kind of person.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Approver {
    /// Stable and unique: 1-64 of `a-z 0-9 . _ -`. Votes and SNS filter policies use it.
    pub id: String,
    /// Where their personal approval emails go.
    pub email: String,
    /// Their GitHub login, for people to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    /// Their GitHub account's numeric id: what the pusher rule compares with a
    /// GitHub pusher (a login can be renamed; the id cannot).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github_id: Option<u64>,
    /// The AWS principals (caller ARNs) they decide through from the CLI, and push
    /// from with `stagegate start`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub principals: Vec<String>,
    /// What they decide: deployment approvals, user-acceptance sign-offs, or both.
    pub decides: Vec<ApprovalKind>,
    /// Their Slack member id (`U0123ABCD`): with Slack configured, each approval that
    /// asks them is also a direct message with Approve / Reject buttons, and a
    /// decision from that Slack account is theirs ([`crate::slack`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack: Option<String>,
}

/// One decision, under the identity that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Vote {
    /// A configured approver's id, or `aws:<caller ARN>` for an operator deciding
    /// from the CLI under their AWS identity.
    pub approver: String,
    /// How the decision arrived: `email link`, `cli`, `terminal`.
    pub via: String,
    pub approve: bool,
    pub reason: Option<String>,
    pub at: DateTime<Utc>,
    /// Where the decision came from (client IP address, "terminal", ...).
    pub from: String,
    /// A production approval that also overrides the deployment window or freeze
    /// (needs a reason; counts when two distinct approvers give it).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
}

/// Whether a recorded decision has reached the waiting task.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Delivery {
    /// Nothing decided yet.
    #[default]
    Undecided,
    /// Decided; the callback is being (or was about to be) sent since `since`, after
    /// `attempts` failed ones.
    Pending {
        since: DateTime<Utc>,
        #[serde(default)]
        attempts: u32,
    },
    /// The task received the decision.
    Delivered { at: DateTime<Utc> },
    /// Sending failed `attempts` times so far; retried on the next click and by the
    /// reconcile.
    Failed {
        at: DateTime<Utc>,
        attempts: u32,
        error: String,
    },
    /// The task was gone (timed out or stopped) when the decision was sent.
    Closed { at: DateTime<Utc>, why: String },
}

impl Delivery {
    /// The status name, as stored beside the record for conditions and indexes.
    pub fn status(&self) -> &'static str {
        match self {
            Delivery::Undecided => "UNDECIDED",
            Delivery::Pending { .. } => "PENDING",
            Delivery::Delivered { .. } => "DELIVERED",
            Delivery::Failed { .. } => "FAILED",
            Delivery::Closed { .. } => "CLOSED",
        }
    }

    /// Decided but not (yet) delivered.
    pub fn outstanding(&self) -> bool {
        matches!(self, Delivery::Pending { .. } | Delivery::Failed { .. })
    }
}

/// An approval request: one waiting task, the people asked, their votes. Stored by its
/// random `id`; the personal links point to it through [`Link`]s, which hold only the
/// hash of each link id. The task token and the form key never leave the server.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    pub id: String,
    /// Bumped by every write; a write succeeds only over the revision it read.
    #[serde(default)]
    pub revision: u64,
    #[serde(default)]
    pub kind: ApprovalKind,
    pub task_token: String,
    pub execution_id: String,
    pub repository: String,
    pub tag: String,
    pub sha: String,
    pub pushed_by: String,
    /// Who pushed, by a vouched-for identity (see [`Pusher`]); `None`: unknown, and
    /// then nobody can be shown not to be the pusher.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pusher: Option<Pusher>,
    pub checklist_uri: String,
    /// A rollback on request (`stagegate rollback`): the page and the CLI say so.
    #[serde(default, skip_serializing_if = "is_false")]
    pub rollback: bool,
    /// The SHA-256 of the run's manifest (every artifact the approval binds), as the
    /// approver is shown it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_digest: Option<String>,
    pub failed_checks: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
    pub state: ApprovalState,
    pub votes: Vec<Vote>,
    /// The people asked, as configured when the request was made.
    #[serde(default)]
    pub approvers: Vec<Approver>,
    /// Key of the review form's CSRF tokens (hex, 32 random bytes).
    #[serde(default)]
    pub form_key: String,
    #[serde(default)]
    pub delivery: Delivery,
    /// The request's summary (label, value): what its chat messages repeat.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub summary: Vec<(String, String)>,
    /// Its Slack messages and what each shows ([`crate::slack::sync`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub chat: Vec<ChatMessage>,
}

/// One personal link: the SHA-256 of its random id, the approval and the approver it
/// belongs to. The link id itself is only ever in that approver's email.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Link {
    pub id_hash: String,
    pub approval_id: String,
    pub approver_id: String,
    pub expires_at: DateTime<Utc>,
}

/// Result of a conditional update.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Update {
    /// Written: nobody changed the record since it was read.
    Done,
    /// Someone else changed it first; here it is as it is now.
    Conflict(Box<ApprovalRecord>),
}

/// Who holds a claim made for an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds it (it was free, or the caller already held it).
    Mine,
    /// Someone else does.
    HeldBy(String),
}

/// The newest release candidate of a repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Newest {
    pub tag: String,
    pub version: String,
    pub execution_id: String,
}

/// One resource change in a change set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceChange {
    /// `Add`, `Modify`, `Remove`, `Import`, `Dynamic`.
    pub action: String,
    pub logical_id: String,
    pub resource_type: String,
    /// `True`, `False`, `Conditional` (for modifications), else empty.
    pub replacement: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ChangeSetStatus {
    /// Still being computed.
    Pending,
    /// Ready to execute.
    Ready,
    /// Computed, and there is nothing to change.
    NoChanges,
    Failed,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSet {
    pub id: String,
    pub stack_name: String,
    pub status: ChangeSetStatus,
    pub status_reason: Option<String>,
    /// Whether it can be executed now (`ExecutionStatus: AVAILABLE`).
    pub executable: bool,
    pub changes: Vec<ResourceChange>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetRequest {
    pub stack_name: String,
    pub change_set_name: String,
    pub template_uri: String,
    pub parameters: BTreeMap<String, String>,
    /// CloudFormation's rollback triggers: the app's alarms (ARNs, at most five) that
    /// undo the stack update if one goes off during it or within `monitoring_minutes`
    /// after. Always sent, empty too: an omitted configuration would keep the last
    /// operation's.
    #[serde(default)]
    pub rollback_triggers: Vec<String>,
    #[serde(default)]
    pub monitoring_minutes: u64,
}

/// CloudFormation takes at most this many rollback triggers.
pub const MAX_ROLLBACK_TRIGGERS: usize = 5;

/// Where a stack is.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StackInfo {
    /// `UPDATE_COMPLETE`, `UPDATE_IN_PROGRESS`, `UPDATE_ROLLBACK_COMPLETE`, ...
    pub status: String,
    pub status_reason: Option<String>,
    /// Changes when the stack changes: a stack id plus last update time on AWS.
    pub version: String,
    pub outputs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Pending,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Job {
    pub id: String,
    pub status: JobStatus,
    pub reason: Option<String>,
}

/// A CloudWatch alarm's state, as CloudWatch names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Ok,
    Alarm,
    InsufficientData,
}

/// One of the app's alarms, as the bake reads it and a failed bake names it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Alarm {
    pub name: String,
    pub arn: String,
    pub state: AlarmState,
    /// What it watches, as people read it: `AWS/Lambda Errors (FunctionName=api)
    /// Sum over 60 s > 5`, or the rule of a composite alarm.
    pub watches: String,
    /// The threshold, for a metric alarm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// The value that breached it (the latest datapoint CloudWatch's state reason
    /// data gives), when it says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
    /// CloudWatch's reason for the state.
    pub reason: String,
    /// A composite alarm (its rule names other alarms).
    #[serde(default)]
    pub composite: bool,
}

impl Alarm {
    /// The alarm as a failed bake names it: name, what it watches (metric and
    /// threshold), the value that breached it and CloudWatch's reason.
    pub fn describe(&self) -> String {
        let mut s = format!("{} ({})", self.name, self.watches);
        if let Some(v) = self.value {
            s.push_str(&format!(", value {v}"));
        }
        if !self.reason.is_empty() {
            s.push_str(&format!(": {}", self.reason));
        }
        s
    }
}

/// A task waiting for a resource to settle (a stack, an Amplify job): the token to
/// answer, whose it is, and how often the reconcile has read the status since.
/// Stored under one key per resource (`wait#stack#<name>`,
/// `wait#amplify#<app>#<branch>`), so the resource's status event finds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Waiter {
    pub token: String,
    pub execution_id: String,
    /// What is awaited under the key: the stack name, or the Amplify job id.
    pub subject: String,
    /// Status reads by the reconcile so far (bounded by `STAGEGATE_MAX_POLLS`).
    pub reads: u32,
    pub expires_at: DateTime<Utc>,
}

/// An HTTP exchange for integration and performance tests.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Time to the full response, in milliseconds.
    pub elapsed_ms: u64,
}

/// A commit, for release notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub sha: String,
    pub subject: String,
    pub author: String,
}

/// One entry into a state of a run, and when it ended (`None` while it runs).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Phase {
    pub state: String,
    pub entered: DateTime<Utc>,
    pub exited: Option<DateTime<Utc>>,
}

/// A state entered or exited, as a run's history records it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StateEvent<'a> {
    Entered(&'a str, DateTime<Utc>),
    Exited(&'a str, DateTime<Utc>),
}

impl Phase {
    /// The phases of a history, in order: each entry into a state, closed by the next
    /// exit of that state (the latest entry still open, for states entered again).
    pub fn from_history<'a>(events: impl IntoIterator<Item = StateEvent<'a>>) -> Vec<Phase> {
        let mut out: Vec<Phase> = Vec::new();
        for event in events {
            match event {
                StateEvent::Entered(state, at) => out.push(Phase {
                    state: state.to_string(),
                    entered: at,
                    exited: None,
                }),
                StateEvent::Exited(state, at) => {
                    if let Some(p) = out
                        .iter_mut()
                        .rev()
                        .find(|p| p.state == state && p.exited.is_none())
                    {
                        p.exited = Some(at);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod phase_tests {
    use super::*;

    #[test]
    fn a_history_pairs_each_exit_with_the_latest_open_entry_of_its_state() {
        let at = |s: i64| DateTime::from_timestamp(s, 0).unwrap_or_default();
        let phases = Phase::from_history([
            StateEvent::Entered("Await Stack Event", at(0)),
            StateEvent::Entered("Other", at(1)),
            StateEvent::Exited("Await Stack Event", at(2)),
            StateEvent::Entered("Await Stack Event", at(3)),
            StateEvent::Exited("Await Stack Event", at(4)),
            StateEvent::Exited("Never entered", at(5)),
        ]);
        let got: Vec<(&str, i64, Option<i64>)> = phases
            .iter()
            .map(|p| {
                (
                    p.state.as_str(),
                    p.entered.timestamp(),
                    p.exited.map(|x| x.timestamp()),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("Await Stack Event", 0, Some(2)),
                ("Other", 1, None),
                ("Await Stack Event", 3, Some(4)),
            ]
        );
    }
}

/// An object as the artifacts store holds it now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Stored {
    pub body: Vec<u8>,
    /// The store's version id of these bytes; `None` where it keeps no versions.
    pub version: Option<String>,
}

/// A signature over a message, naming the key and algorithm that made it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signature {
    /// The key: a KMS key ARN, or `local:<sha256 of the public key, 16 hex>`.
    pub key_id: String,
    /// `ECDSA_SHA_256` (KMS's name; P-256 both on AWS and locally).
    pub algorithm: String,
    /// The signature, base64 (DER-encoded ECDSA).
    pub value: String,
}

mod chat;
pub use chat::ChatMessage;

//! Ports: what the steps need from the outside world, in domain terms. Each has an
//! AWS adapter (`crates/aws-*`), a local adapter (`stagegate-local`, the rehearsal)
//! and an in-memory double for tests (`stagegate::testing`, behind the `testing`
//! feature). Methods return `Send` futures so steps can run on any Tokio runtime,
//! including inside the embedded engine.

use crate::error::PortError;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::future::Future;

pub type PortResult<T> = Result<T, PortError>;

/// Where run artifacts go (checklist, preview, outputs, reports, notes): one prefix
/// per execution.
pub trait Artifacts: Send + Sync {
    /// Stores `body` under `key` and returns a link people can open.
    fn put(
        &self,
        key: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> impl Future<Output = PortResult<String>> + Send;
    fn get(&self, key: &str) -> impl Future<Output = PortResult<Option<Vec<u8>>>> + Send;
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

pub trait Notifier: Send + Sync {
    /// Publishes and returns the message id.
    fn publish(
        &self,
        topic: Topic,
        message: &Message,
    ) -> impl Future<Output = PortResult<String>> + Send;
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
    /// Their GitHub login, for the rule that a pusher may not approve their own tag.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub github: Option<String>,
    /// What they decide: deployment approvals, user-acceptance sign-offs, or both.
    pub decides: Vec<ApprovalKind>,
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
    pub checklist_uri: String,
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

pub trait Approvals: Send + Sync {
    /// Stores a new record and its links; fails if the record exists.
    fn create(
        &self,
        record: &ApprovalRecord,
        links: &[Link],
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn get(&self, id: &str) -> impl Future<Output = PortResult<Option<ApprovalRecord>>> + Send;
    /// The link whose id hashes to `id_hash`.
    fn link(&self, id_hash: &str) -> impl Future<Output = PortResult<Option<Link>>> + Send;
    /// Replaces the record only if its stored revision is still `expected.revision`
    /// (an atomic compare-and-set), so of two concurrent writes exactly one lands.
    /// `new.revision` must be `expected.revision + 1`.
    fn update(
        &self,
        expected: &ApprovalRecord,
        new: &ApprovalRecord,
    ) -> impl Future<Output = PortResult<Update>> + Send;
    /// Pending records of a repository (for superseding, and the CLI).
    fn pending(
        &self,
        repository: &str,
    ) -> impl Future<Output = PortResult<Vec<ApprovalRecord>>> + Send;
    /// Decided records whose decision has not reached the task yet (for the
    /// reconcile), at most `limit`.
    fn undelivered(
        &self,
        limit: usize,
    ) -> impl Future<Output = PortResult<Vec<ApprovalRecord>>> + Send;
}

/// The configured approvers.
pub trait Approvers: Send + Sync {
    /// Everyone who decides approvals of `kind`.
    fn deciding(
        &self,
        kind: ApprovalKind,
    ) -> impl Future<Output = PortResult<Vec<Approver>>> + Send;
}

/// Who holds a claim made for an owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Claim {
    /// The caller holds it (it was free, or the caller already held it).
    Mine,
    /// Someone else does.
    HeldBy(String),
}

/// Once-only claims (a DynamoDB conditional put on AWS): the webhook claims each
/// delivery, Preflight each candidate's run, Notify each execution's outcome, so none
/// of them happens twice.
pub trait Claims: Send + Sync {
    /// `true` when this call made the claim, `false` when it already existed.
    fn claim(
        &self,
        key: &str,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
    fn release(&self, key: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// Claims `key` for `owner`, atomically: [`Claim::Mine`] when it was free or is
    /// already `owner`'s (a retried call), else who holds it.
    fn claim_for(
        &self,
        key: &str,
        owner: &str,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Claim>> + Send;
    /// Moves `key` from `from` to `to` only if `from` still holds it.
    fn take_over(
        &self,
        key: &str,
        from: &str,
        to: &str,
        expires_at: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

/// The newest release candidate of a repository.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Newest {
    pub tag: String,
    pub version: String,
    pub execution_id: String,
}

/// The newest candidate of each repository, so an older run still in its checks
/// learns that it was superseded before it asks anyone to approve it.
pub trait Candidates: Send + Sync {
    /// The newest candidate recorded for `repository`, and the record's revision.
    fn newest(
        &self,
        repository: &str,
    ) -> impl Future<Output = PortResult<Option<(Newest, u64)>>> + Send;
    /// Records `newest` if the record is still at `revision` (`None`: no record yet);
    /// `false` when someone else wrote it meanwhile.
    fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

/// Answers for a waiting task token (`SendTaskSuccess` / `SendTaskFailure`).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The task is gone: timed out, answered, or its execution stopped.
    #[error("the task is no longer waiting: {0}")]
    TaskClosed(String),
    #[error(transparent)]
    Port(#[from] PortError),
}

pub trait TaskCallbacks: Send + Sync {
    fn succeed(
        &self,
        token: &str,
        output: &Value,
    ) -> impl Future<Output = Result<(), CallbackError>> + Send;
    fn fail(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> impl Future<Output = Result<(), CallbackError>> + Send;
}

/// The staging state machine's executions.
pub trait Executions: Send + Sync {
    /// Whether execution `id` (its ARN) is still running; `false` for an unknown one.
    fn is_running(&self, id: &str) -> impl Future<Output = PortResult<bool>> + Send;
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

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeSetRequest {
    pub stack_name: String,
    pub change_set_name: String,
    pub template_uri: String,
    pub parameters: BTreeMap<String, String>,
}

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

pub trait Stacks: Send + Sync {
    fn create_change_set(
        &self,
        request: &ChangeSetRequest,
    ) -> impl Future<Output = PortResult<String>> + Send;
    fn describe_change_set(&self, id: &str) -> impl Future<Output = PortResult<ChangeSet>> + Send;
    fn execute_change_set(&self, id: &str) -> impl Future<Output = PortResult<()>> + Send;
    /// `None` when the stack does not exist yet.
    fn stack(&self, name: &str) -> impl Future<Output = PortResult<Option<StackInfo>>> + Send;
    /// The first failure reason in the stack's recent events, if any.
    fn failure_reason(&self, name: &str)
        -> impl Future<Output = PortResult<Option<String>>> + Send;
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

/// Frontend hosting (AWS Amplify on AWS, a local static server in the rehearsal).
pub trait Hosting: Send + Sync {
    /// Sets these variables on the branch, keeping every other existing variable.
    fn merge_environment(
        &self,
        vars: &BTreeMap<String, String>,
    ) -> impl Future<Output = PortResult<()>> + Send;
    fn start_job(&self, commit: &str) -> impl Future<Output = PortResult<String>> + Send;
    fn job(&self, id: &str) -> impl Future<Output = PortResult<Job>> + Send;
    fn url(&self) -> impl Future<Output = PortResult<String>> + Send;
    /// The app and branch jobs run on, as Amplify's "Deployment Status Change" events
    /// name them (`appId`, `branchName`).
    fn app_branch(&self) -> (String, String);
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

/// Waiting tasks, by resource (the approvals table on AWS).
pub trait Waits: Send + Sync {
    fn waiter(&self, key: &str) -> impl Future<Output = PortResult<Option<Waiter>>> + Send;
    /// Stores `waiter` under `key`, atomically, unless a waiter of another execution
    /// that has not expired at `now` is there: then nothing is written and that
    /// waiter is returned.
    fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> impl Future<Output = PortResult<Option<Waiter>>> + Send;
    /// Deletes the waiter under `key` if it still holds `token`.
    fn done(&self, key: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send;
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

pub trait Http: Send + Sync {
    fn send(&self, request: &HttpRequest) -> impl Future<Output = PortResult<HttpResponse>> + Send;
}

/// A commit, for release notes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Commit {
    pub sha: String,
    pub subject: String,
    pub author: String,
}

pub trait SourceHistory: Send + Sync {
    /// The release-candidate tag before `tag` (by version order), if any.
    fn previous_candidate(
        &self,
        tag: &str,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;
    /// Commits reachable from `to` and not from `from` (all of them when `from` is None).
    fn commits(
        &self,
        from: Option<&str>,
        to: &str,
    ) -> impl Future<Output = PortResult<Vec<Commit>>> + Send;
}

pub trait Releases: Send + Sync {
    /// Creates or updates the GitHub (pre)release for `tag`; returns its URL, or
    /// `None` when no token is configured.
    fn publish_prerelease(
        &self,
        tag: &str,
        title: &str,
        notes: &str,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;
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

/// What a run did and when, from its history (Step Functions' `GetExecutionHistory`
/// on AWS, the engine's own locally): every state entered, in order.
pub trait Timelines: Send + Sync {
    fn phases(&self, execution_id: &str) -> impl Future<Output = PortResult<Vec<Phase>>> + Send;
}

/// The current time: the system clock on AWS, the engine's (possibly virtual) clock
/// in the rehearsal and the path tests.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A port behind a pointer is the port: a step may own its adapter (`CfnStacks`), share
/// it (`Arc<LocalStacks>`, as the rehearsal does across steps) or borrow it (`&MemoryStacks`,
/// as unit tests do, to look at it afterwards). One forwarding impl per port.
mod shared {
    use super::*;
    use std::ops::Deref;

    impl<P> Artifacts for P
    where
        P: Deref + Send + Sync,
        P::Target: Artifacts,
    {
        fn put(
            &self,
            key: &str,
            content_type: &str,
            body: Vec<u8>,
        ) -> impl Future<Output = PortResult<String>> + Send {
            (**self).put(key, content_type, body)
        }
        fn get(&self, key: &str) -> impl Future<Output = PortResult<Option<Vec<u8>>>> + Send {
            (**self).get(key)
        }
    }

    impl<P> Notifier for P
    where
        P: Deref + Send + Sync,
        P::Target: Notifier,
    {
        fn publish(
            &self,
            topic: Topic,
            message: &Message,
        ) -> impl Future<Output = PortResult<String>> + Send {
            (**self).publish(topic, message)
        }
    }

    impl<P> Approvals for P
    where
        P: Deref + Send + Sync,
        P::Target: Approvals,
    {
        fn create(
            &self,
            record: &ApprovalRecord,
            links: &[Link],
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).create(record, links)
        }
        fn get(&self, id: &str) -> impl Future<Output = PortResult<Option<ApprovalRecord>>> + Send {
            (**self).get(id)
        }
        fn link(&self, id_hash: &str) -> impl Future<Output = PortResult<Option<Link>>> + Send {
            (**self).link(id_hash)
        }
        fn update(
            &self,
            expected: &ApprovalRecord,
            new: &ApprovalRecord,
        ) -> impl Future<Output = PortResult<Update>> + Send {
            (**self).update(expected, new)
        }
        fn pending(
            &self,
            repository: &str,
        ) -> impl Future<Output = PortResult<Vec<ApprovalRecord>>> + Send {
            (**self).pending(repository)
        }
        fn undelivered(
            &self,
            limit: usize,
        ) -> impl Future<Output = PortResult<Vec<ApprovalRecord>>> + Send {
            (**self).undelivered(limit)
        }
    }

    impl<P> Approvers for P
    where
        P: Deref + Send + Sync,
        P::Target: Approvers,
    {
        fn deciding(
            &self,
            kind: ApprovalKind,
        ) -> impl Future<Output = PortResult<Vec<Approver>>> + Send {
            (**self).deciding(kind)
        }
    }

    impl<P> Claims for P
    where
        P: Deref + Send + Sync,
        P::Target: Claims,
    {
        fn claim(
            &self,
            key: &str,
            expires_at: DateTime<Utc>,
        ) -> impl Future<Output = PortResult<bool>> + Send {
            (**self).claim(key, expires_at)
        }
        fn release(&self, key: &str) -> impl Future<Output = PortResult<()>> + Send {
            (**self).release(key)
        }
        fn claim_for(
            &self,
            key: &str,
            owner: &str,
            expires_at: DateTime<Utc>,
        ) -> impl Future<Output = PortResult<Claim>> + Send {
            (**self).claim_for(key, owner, expires_at)
        }
        fn take_over(
            &self,
            key: &str,
            from: &str,
            to: &str,
            expires_at: DateTime<Utc>,
        ) -> impl Future<Output = PortResult<bool>> + Send {
            (**self).take_over(key, from, to, expires_at)
        }
    }

    impl<P> TaskCallbacks for P
    where
        P: Deref + Send + Sync,
        P::Target: TaskCallbacks,
    {
        fn succeed(
            &self,
            token: &str,
            output: &Value,
        ) -> impl Future<Output = Result<(), CallbackError>> + Send {
            (**self).succeed(token, output)
        }
        fn fail(
            &self,
            token: &str,
            error: &str,
            cause: &str,
        ) -> impl Future<Output = Result<(), CallbackError>> + Send {
            (**self).fail(token, error, cause)
        }
    }

    impl<P> Executions for P
    where
        P: Deref + Send + Sync,
        P::Target: Executions,
    {
        fn is_running(&self, id: &str) -> impl Future<Output = PortResult<bool>> + Send {
            (**self).is_running(id)
        }
    }

    impl<P> Candidates for P
    where
        P: Deref + Send + Sync,
        P::Target: Candidates,
    {
        fn newest(
            &self,
            repository: &str,
        ) -> impl Future<Output = PortResult<Option<(Newest, u64)>>> + Send {
            (**self).newest(repository)
        }
        fn set_newest(
            &self,
            repository: &str,
            newest: &Newest,
            revision: Option<u64>,
        ) -> impl Future<Output = PortResult<bool>> + Send {
            (**self).set_newest(repository, newest, revision)
        }
    }

    impl<P> Stacks for P
    where
        P: Deref + Send + Sync,
        P::Target: Stacks,
    {
        fn create_change_set(
            &self,
            request: &ChangeSetRequest,
        ) -> impl Future<Output = PortResult<String>> + Send {
            (**self).create_change_set(request)
        }
        fn describe_change_set(
            &self,
            id: &str,
        ) -> impl Future<Output = PortResult<ChangeSet>> + Send {
            (**self).describe_change_set(id)
        }
        fn execute_change_set(&self, id: &str) -> impl Future<Output = PortResult<()>> + Send {
            (**self).execute_change_set(id)
        }
        fn stack(&self, name: &str) -> impl Future<Output = PortResult<Option<StackInfo>>> + Send {
            (**self).stack(name)
        }
        fn failure_reason(
            &self,
            name: &str,
        ) -> impl Future<Output = PortResult<Option<String>>> + Send {
            (**self).failure_reason(name)
        }
    }

    impl<P> Hosting for P
    where
        P: Deref + Send + Sync,
        P::Target: Hosting,
    {
        fn merge_environment(
            &self,
            vars: &BTreeMap<String, String>,
        ) -> impl Future<Output = PortResult<()>> + Send {
            (**self).merge_environment(vars)
        }
        fn start_job(&self, commit: &str) -> impl Future<Output = PortResult<String>> + Send {
            (**self).start_job(commit)
        }
        fn job(&self, id: &str) -> impl Future<Output = PortResult<Job>> + Send {
            (**self).job(id)
        }
        fn url(&self) -> impl Future<Output = PortResult<String>> + Send {
            (**self).url()
        }
        fn app_branch(&self) -> (String, String) {
            (**self).app_branch()
        }
    }

    impl<P> Timelines for P
    where
        P: Deref + Send + Sync,
        P::Target: Timelines,
    {
        fn phases(
            &self,
            execution_id: &str,
        ) -> impl Future<Output = PortResult<Vec<Phase>>> + Send {
            (**self).phases(execution_id)
        }
    }

    impl<P> Waits for P
    where
        P: Deref + Send + Sync,
        P::Target: Waits,
    {
        fn waiter(&self, key: &str) -> impl Future<Output = PortResult<Option<Waiter>>> + Send {
            (**self).waiter(key)
        }
        fn wait(
            &self,
            key: &str,
            waiter: &Waiter,
            now: DateTime<Utc>,
        ) -> impl Future<Output = PortResult<Option<Waiter>>> + Send {
            (**self).wait(key, waiter, now)
        }
        fn done(&self, key: &str, token: &str) -> impl Future<Output = PortResult<()>> + Send {
            (**self).done(key, token)
        }
    }

    impl<P> Http for P
    where
        P: Deref + Send + Sync,
        P::Target: Http,
    {
        fn send(
            &self,
            request: &HttpRequest,
        ) -> impl Future<Output = PortResult<HttpResponse>> + Send {
            (**self).send(request)
        }
    }

    impl<P> SourceHistory for P
    where
        P: Deref + Send + Sync,
        P::Target: SourceHistory,
    {
        fn previous_candidate(
            &self,
            tag: &str,
        ) -> impl Future<Output = PortResult<Option<String>>> + Send {
            (**self).previous_candidate(tag)
        }
        fn commits(
            &self,
            from: Option<&str>,
            to: &str,
        ) -> impl Future<Output = PortResult<Vec<Commit>>> + Send {
            (**self).commits(from, to)
        }
    }

    impl<P> Releases for P
    where
        P: Deref + Send + Sync,
        P::Target: Releases,
    {
        fn publish_prerelease(
            &self,
            tag: &str,
            title: &str,
            notes: &str,
        ) -> impl Future<Output = PortResult<Option<String>>> + Send {
            (**self).publish_prerelease(tag, title, notes)
        }
    }

    impl<P> Clock for P
    where
        P: Deref + Send + Sync,
        P::Target: Clock,
    {
        fn now(&self) -> DateTime<Utc> {
            (**self).now()
        }
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

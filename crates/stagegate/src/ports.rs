//! Ports: what the steps need from the outside world, as small traits named for the
//! need. Each has an AWS adapter (`crates/aws-*`), a local adapter (`stagegate-local`,
//! the rehearsal) and an in-memory one for tests (`stagegate::testing`, behind the
//! `testing` feature). Adapters are cheap `Clone` handles (an SDK client, an `Arc`
//! inside), so a step owns its copy and a test keeps another to look at afterwards.
//! Methods return `Send` futures so steps can run on any Tokio runtime, including
//! inside the embedded engine. The values they exchange are in [`crate::records`].

use crate::error::{invalid_input, PortError, StepError};
pub use crate::records::*;
use chrono::{DateTime, Utc};
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
    /// The object's current bytes with the store's version of them (S3's version id;
    /// `None` where the store keeps no versions), or `None` if there is no object.
    fn read(&self, key: &str) -> impl Future<Output = PortResult<Option<Stored>>> + Send;
    /// A URL that opens `key` for anyone holding it, for `seconds` (a presigned S3
    /// URL); `None` where the store has none (the review page then serves the file
    /// itself, under the personal link).
    fn share(
        &self,
        _key: &str,
        _seconds: u64,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send {
        std::future::ready(Ok(None))
    }
    /// Stores `value` as indented JSON under `key` (a file people open: the checklist,
    /// the test report, the approval record…) and returns its link.
    fn put_json(
        &self,
        key: &str,
        value: &impl serde::Serialize,
    ) -> impl Future<Output = Result<String, StepError>> + Send {
        let body = serde_json::to_vec_pretty(value).map_err(|e| invalid_input(e.to_string()));
        async move { Ok(self.put(key, "application/json", body?).await?) }
    }
}

/// Signs and verifies the run's evidence: a KMS asymmetric key on AWS, a key file in
/// the rehearsal's `.stagegate/`.
pub trait Signer: Send + Sync {
    /// Signs `message` (at most 4,096 bytes: KMS's limit for a raw message).
    fn sign(&self, message: &[u8]) -> impl Future<Output = PortResult<Signature>> + Send;
    /// Whether `signature` is this key's signature of `message`.
    fn verify(
        &self,
        message: &[u8],
        signature: &Signature,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

pub trait Notifier: Send + Sync {
    /// Publishes and returns the message id.
    fn publish(
        &self,
        topic: Topic,
        message: &Message,
    ) -> impl Future<Output = PortResult<String>> + Send;
}

/// Where stagegate's own metrics go, one CloudWatch Embedded Metric Format line each
/// ([`crate::metrics`]): standard output in a Lambda (CloudWatch Logs extracts them,
/// no API call), kept in memory locally. Emitting never fails a step.
pub trait Metrics: Send + Sync {
    fn emit(&self, line: String);
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
    /// Records whose chat messages may need an update ([`ApprovalRecord::chat_due`]),
    /// at most `limit` (for the reconcile).
    fn chat_due(
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
    /// Claims `hold.key` for `hold.owner`, atomically: [`Claim::Mine`] when it was
    /// free or is already the owner's (a retried call), else who holds it.
    fn claim_for(&self, hold: &Hold<'_>) -> impl Future<Output = PortResult<Claim>> + Send;
    /// Moves `hold.key` to `hold.owner` only if `from` still holds it.
    fn take_over(
        &self,
        hold: &Hold<'_>,
        from: &str,
    ) -> impl Future<Output = PortResult<bool>> + Send;
}

/// A claim as [`Claims::claim_for`] and [`Claims::take_over`] write it: named fields,
/// so a key and its owner (both strings) cannot trade places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hold<'a> {
    pub key: &'a str,
    /// Who holds it: a run's execution ARN.
    pub owner: &'a str,
    pub expires_at: DateTime<Utc>,
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

/// The app's alarms: CloudWatch on AWS, an evaluator of the local backend's probes
/// in the rehearsal. The bake watches them; they are the change set's rollback
/// triggers too.
pub trait Alarms: Send + Sync {
    /// Every alarm (metric or composite) whose name starts with `prefix`, by name.
    fn alarms(&self, prefix: &str) -> impl Future<Output = PortResult<Vec<Alarm>>> + Send;
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

pub trait Http: Send + Sync {
    fn send(&self, request: &HttpRequest) -> impl Future<Output = PortResult<HttpResponse>> + Send;
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
    /// Creates or updates the GitHub prerelease of candidate `release.tag` (pushed by
    /// the team, so it exists); its URL, or `None` when no token is configured.
    fn publish_prerelease(
        &self,
        release: &Release<'_>,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;

    /// Creates or updates the release of production tag `release.tag` at
    /// `release.commit` (GitHub creates the tag there if it does not exist), not a
    /// prerelease, marked latest; its URL, or `None` when no token is configured.
    fn publish_release(
        &self,
        release: &Release<'_>,
    ) -> impl Future<Output = PortResult<Option<String>>> + Send;
}

/// A GitHub release as stagegate writes it: named fields, so four strings cannot
/// trade places.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Release<'a> {
    pub tag: &'a str,
    pub commit: &'a str,
    pub title: &'a str,
    /// The release notes (Markdown).
    pub notes: &'a str,
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

/// Where approvers are also asked in chat: the Slack Web API (`chat.postMessage`,
/// `chat.update`, `views.open`) with the bot token, and the signing secret its
/// interactivity requests are verified with, both from Secrets Manager on AWS. The
/// steps hold it as an `Option`: `None` (Slack not configured) posts nothing and
/// verifies nothing, and every interactivity request is refused.
pub trait Chat: Send + Sync {
    /// Posts `blocks` (with `text` for notifications and screen readers) to `channel`
    /// (a member id: a direct message); where it landed.
    fn post(
        &self,
        channel: &str,
        text: &str,
        blocks: &Value,
    ) -> impl Future<Output = PortResult<Posted>> + Send;
    /// Replaces the message at `channel`/`ts`.
    fn update(
        &self,
        channel: &str,
        ts: &str,
        text: &str,
        blocks: &Value,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// Opens `view` (a modal) for the interaction whose `trigger_id` it is.
    fn open_view(
        &self,
        trigger_id: &str,
        view: &Value,
    ) -> impl Future<Output = PortResult<()>> + Send;
    /// The signing secret interactivity requests are signed with.
    fn signing_secret(&self) -> impl Future<Output = PortResult<String>> + Send;
}

/// Where a chat message landed: Slack's channel id (`D…` for a direct message) and
/// its timestamp, which together name it for `chat.update`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Posted {
    pub channel: String,
    pub ts: String,
}

/// The webhook's shared secret (Secrets Manager on AWS).
pub trait Secrets: Send + Sync {
    fn webhook_secret(&self) -> impl Future<Output = PortResult<String>> + Send;
}

/// Where a "release candidate tagged" event goes (an EventBridge bus on AWS).
pub trait Events: Send + Sync {
    fn candidate_tagged(&self, trigger: &Trigger) -> impl Future<Output = PortResult<()>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryArtifacts;

    #[tokio::test]
    async fn put_json_stores_indented_json_and_refuses_what_json_cannot_say() {
        let store = MemoryArtifacts::default();
        let uri = store
            .put_json("runs/r/a.json", &serde_json::json!({"a": [1]}))
            .await;
        assert_eq!(uri.unwrap(), "mem://artifacts/runs/r/a.json");
        let stored = store.read("runs/r/a.json").await.unwrap().unwrap().body;
        assert_eq!(
            String::from_utf8(stored).unwrap(),
            "{\n  \"a\": [\n    1\n  ]\n}"
        );
        // A map keyed by pairs has no JSON form: named, and nothing written.
        let pairs = BTreeMap::from([((1, 2), 3)]);
        let e = store.put_json("runs/r/b.json", &pairs).await.unwrap_err();
        assert_eq!(e.name, crate::error::names::INVALID_INPUT);
        assert_eq!(store.keys(), ["runs/r/a.json"]);
    }
}

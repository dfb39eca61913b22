//! Fault injection over the ports: [`Faulty`] wraps any adapter and makes the AWS
//! call behind each method fail as a [`Faults`] plan says — throttled or a server
//! error for the first few calls (what the SDK's retries and then the state
//! machine's `DependencyFailed` retrier absorb), or access denied on every call (a
//! refusal, `DependencyRefused`, which ends the run). The plan also counts every call
//! made, so a drill knows which calls a route makes. Calls are named by the AWS API
//! the AWS adapter uses for the method (`s3:PutObject`, `dynamodb:PutItem (claim)`).

use super::doubles::{lock, Shared};
use crate::error::PortError;
use crate::ports::*;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::BTreeMap;

/// How an armed call fails.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// `ThrottlingException` for the first `times` calls, then the call passes.
    Throttled { times: u32 },
    /// `InternalError` (an HTTP 500) for the first `times` calls, then it passes.
    ServerError { times: u32 },
    /// `AccessDenied` on every call: a refusal no retry cures.
    AccessDenied,
}

impl Fault {
    /// Whether a retry may outlast it.
    pub fn is_transient(self) -> bool {
        !matches!(self, Fault::AccessDenied)
    }
    /// `Throttled ×1`, `ServerError ×2`, `AccessDenied`.
    pub fn label(self) -> String {
        match self {
            Fault::Throttled { times } => format!("throttled ×{times}"),
            Fault::ServerError { times } => format!("500 ×{times}"),
            Fault::AccessDenied => "access denied".into(),
        }
    }
}

#[derive(Default)]
struct Plan {
    armed: BTreeMap<String, (Fault, u32)>,
    calls: BTreeMap<&'static str, u32>,
}

/// Which calls fail and how, shared by every [`Faulty`] of a world; and how many
/// times each call was made. Empty, it only counts.
#[derive(Clone, Default)]
pub struct Faults(Shared<Plan>);

impl Faults {
    /// Makes `call` fail as `fault` says from now on.
    pub fn arm(&self, call: &str, fault: Fault) {
        lock(&self.0).armed.insert(call.into(), (fault, 0));
    }
    /// How many times `call` was made, failed ones included.
    pub fn calls(&self, call: &str) -> u32 {
        lock(&self.0).calls.get(call).copied().unwrap_or(0)
    }
    /// How many times an armed `call` failed.
    pub fn fired(&self, call: &str) -> u32 {
        lock(&self.0).armed.get(call).map_or(0, |(_, n)| *n)
    }
    /// Every call made so far, with its count, by name.
    pub fn made(&self) -> BTreeMap<&'static str, u32> {
        lock(&self.0).calls.clone()
    }

    /// Counts `call`, and fails it if the plan says so.
    fn check(&self, call: &'static str) -> PortResult<()> {
        let mut plan = lock(&self.0);
        *plan.calls.entry(call).or_default() += 1;
        let Some((fault, fired)) = plan.armed.get_mut(call) else {
            return Ok(());
        };
        let error = match *fault {
            Fault::Throttled { times } if *fired < times => PortError::new(
                call,
                "ThrottlingException: Rate exceeded (throttled: still throttled after the SDK's retries; an injected fault)",
            ),
            Fault::ServerError { times } if *fired < times => PortError::new(
                call,
                "InternalError: We encountered an internal error. Please try again. (an injected fault)",
            ),
            Fault::AccessDenied => PortError::refused(
                call,
                format!("AccessDenied: the role is not authorized to perform {call} (an injected fault)"),
            ),
            _ => return Ok(()),
        };
        *fired += 1;
        Err(error)
    }
}

/// `inner` with every AWS call passed through a [`Faults`] plan first.
#[derive(Clone)]
pub struct Faulty<T> {
    pub inner: T,
    pub faults: Faults,
}

impl<T> Faulty<T> {
    pub fn new(inner: T, faults: Faults) -> Self {
        Faulty { inner, faults }
    }
}

impl<T: Artifacts> Artifacts for Faulty<T> {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> PortResult<String> {
        self.faults.check("s3:PutObject")?;
        self.inner.put(key, content_type, body).await
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.faults.check("s3:GetObject")?;
        self.inner.get(key).await
    }
    async fn read(&self, key: &str) -> PortResult<Option<Stored>> {
        self.faults.check("s3:GetObject")?;
        self.inner.read(key).await
    }
    async fn share(&self, key: &str, seconds: u64) -> PortResult<Option<String>> {
        self.inner.share(key, seconds).await
    }
}

impl<T: Alarms> Alarms for Faulty<T> {
    async fn alarms(&self, prefix: &str) -> PortResult<Vec<Alarm>> {
        self.faults.check("cloudwatch:DescribeAlarms")?;
        self.inner.alarms(prefix).await
    }
}

impl<T: Notifier> Notifier for Faulty<T> {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        self.faults.check("sns:Publish")?;
        self.inner.publish(topic, message).await
    }
}

impl<T: Stacks> Stacks for Faulty<T> {
    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<String> {
        self.faults.check("cloudformation:CreateChangeSet")?;
        self.inner.create_change_set(request).await
    }
    async fn describe_change_set(&self, id: &str) -> PortResult<ChangeSet> {
        self.faults.check("cloudformation:DescribeChangeSet")?;
        self.inner.describe_change_set(id).await
    }
    async fn execute_change_set(&self, id: &str) -> PortResult<()> {
        self.faults.check("cloudformation:ExecuteChangeSet")?;
        self.inner.execute_change_set(id).await
    }
    async fn stack(&self, name: &str) -> PortResult<Option<StackInfo>> {
        self.faults.check("cloudformation:DescribeStacks")?;
        self.inner.stack(name).await
    }
    async fn failure_reason(&self, name: &str) -> PortResult<Option<String>> {
        self.faults.check("cloudformation:DescribeStackEvents")?;
        self.inner.failure_reason(name).await
    }
}

impl<T: Hosting> Hosting for Faulty<T> {
    async fn merge_environment(&self, vars: &BTreeMap<String, String>) -> PortResult<()> {
        self.faults.check("amplify:UpdateBranch")?;
        self.inner.merge_environment(vars).await
    }
    async fn start_job(&self, commit: &str) -> PortResult<String> {
        self.faults.check("amplify:StartJob")?;
        self.inner.start_job(commit).await
    }
    async fn job(&self, id: &str) -> PortResult<Job> {
        self.faults.check("amplify:GetJob")?;
        self.inner.job(id).await
    }
    async fn url(&self) -> PortResult<String> {
        self.faults.check("amplify:GetBranch")?;
        self.inner.url().await
    }
    fn app_branch(&self) -> (String, String) {
        self.inner.app_branch()
    }
}

impl<T: Approvals> Approvals for Faulty<T> {
    async fn create(&self, record: &ApprovalRecord, links: &[Link]) -> PortResult<()> {
        self.faults
            .check("dynamodb:TransactWriteItems (approval)")?;
        self.inner.create(record, links).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<ApprovalRecord>> {
        self.faults.check("dynamodb:GetItem (approval)")?;
        self.inner.get(id).await
    }
    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        self.faults.check("dynamodb:GetItem (link)")?;
        self.inner.link(id_hash).await
    }
    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        self.faults.check("dynamodb:PutItem (approval)")?;
        self.inner.update(expected, new).await
    }
    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        self.faults.check("dynamodb:Query (pending approvals)")?;
        self.inner.pending(repository).await
    }
    async fn undelivered(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        self.faults
            .check("dynamodb:Query (undelivered decisions)")?;
        self.inner.undelivered(limit).await
    }
    async fn chat_due(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        self.faults.check("dynamodb:Query (chat messages due)")?;
        self.inner.chat_due(limit).await
    }
}

impl<T: Approvers> Approvers for Faulty<T> {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        self.faults.check("dynamodb:GetItem (approvers)")?;
        self.inner.deciding(kind).await
    }
}

impl<T: Claims> Claims for Faulty<T> {
    async fn claim(&self, key: &str, expires_at: DateTime<Utc>) -> PortResult<bool> {
        self.faults.check("dynamodb:PutItem (claim)")?;
        self.inner.claim(key, expires_at).await
    }
    async fn release(&self, key: &str) -> PortResult<()> {
        self.faults.check("dynamodb:DeleteItem (claim)")?;
        self.inner.release(key).await
    }
    async fn claim_for(&self, hold: &Hold<'_>) -> PortResult<Claim> {
        self.faults.check("dynamodb:PutItem (run claim)")?;
        self.inner.claim_for(hold).await
    }
    async fn take_over(&self, hold: &Hold<'_>, from: &str) -> PortResult<bool> {
        self.faults.check("dynamodb:UpdateItem (run claim)")?;
        self.inner.take_over(hold, from).await
    }
}

impl<T: Candidates> Candidates for Faulty<T> {
    async fn newest(&self, repository: &str) -> PortResult<Option<(Newest, u64)>> {
        self.faults.check("dynamodb:GetItem (newest candidate)")?;
        self.inner.newest(repository).await
    }
    async fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> PortResult<bool> {
        self.faults.check("dynamodb:PutItem (newest candidate)")?;
        self.inner.set_newest(repository, newest, revision).await
    }
}

impl<T: Waits> Waits for Faulty<T> {
    async fn waiter(&self, key: &str) -> PortResult<Option<Waiter>> {
        self.faults.check("dynamodb:GetItem (waiter)")?;
        self.inner.waiter(key).await
    }
    async fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> PortResult<Option<Waiter>> {
        self.faults.check("dynamodb:PutItem (waiter)")?;
        self.inner.wait(key, waiter, now).await
    }
    async fn done(&self, key: &str, token: &str) -> PortResult<()> {
        self.faults.check("dynamodb:DeleteItem (waiter)")?;
        self.inner.done(key, token).await
    }
}

impl<T: TaskCallbacks> TaskCallbacks for Faulty<T> {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.faults.check("states:SendTaskSuccess")?;
        self.inner.succeed(token, output).await
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.faults.check("states:SendTaskFailure")?;
        self.inner.fail(token, error, cause).await
    }
}

impl<T: Executions> Executions for Faulty<T> {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        self.faults.check("states:DescribeExecution")?;
        self.inner.is_running(id).await
    }
}

impl<T: Timelines> Timelines for Faulty<T> {
    async fn phases(&self, execution_id: &str) -> PortResult<Vec<Phase>> {
        self.faults.check("states:GetExecutionHistory")?;
        self.inner.phases(execution_id).await
    }
}

/// Time is not a call: it never fails.
impl<T: Clock> Clock for Faulty<T> {
    fn now(&self) -> DateTime<Utc> {
        self.inner.now()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryNotifier;

    fn message() -> Message {
        Message {
            subject: "s".into(),
            body: "b".into(),
            attributes: BTreeMap::new(),
            machine: None,
        }
    }

    #[tokio::test]
    async fn a_transient_fault_fails_the_first_calls_then_passes_and_counts_them() {
        let faults = Faults::default();
        let sns = Faulty::new(MemoryNotifier::default(), faults.clone());
        faults.arm("sns:Publish", Fault::ServerError { times: 2 });
        for _ in 0..2 {
            let e = sns
                .publish(Topic::Notifications, &message())
                .await
                .unwrap_err();
            assert!(e.transient && e.message.starts_with("InternalError"), "{e}");
            assert_eq!(e.operation, "sns:Publish");
        }
        assert!(sns.publish(Topic::Notifications, &message()).await.is_ok());
        assert_eq!(
            (faults.calls("sns:Publish"), faults.fired("sns:Publish")),
            (3, 2)
        );
        assert_eq!(sns.inner.messages().len(), 1);
    }

    #[tokio::test]
    async fn access_denied_fails_every_call_as_a_refusal() {
        let faults = Faults::default();
        let sns = Faulty::new(MemoryNotifier::default(), faults.clone());
        faults.arm("sns:Publish", Fault::AccessDenied);
        for _ in 0..3 {
            let e = sns
                .publish(Topic::Notifications, &message())
                .await
                .unwrap_err();
            assert!(!e.transient && e.message.contains("sns:Publish"), "{e}");
        }
        assert!(sns.inner.messages().is_empty());
        assert_eq!(faults.made().get("sns:Publish"), Some(&3));
    }
}

//! Event-driven waits: a deploy task waits on its task token until the resource's own
//! status event (CloudFormation "Stack Status Change", Amplify "Deployment Status
//! Change") arrives through EventBridge, instead of polling.
//!
//! - The task registers its token under the resource ([`stack_key`], [`amplify_key`])
//!   before (stack) or right after (Amplify job) starting the work; a job that
//!   finished before its token was registered is caught by the one status read that
//!   follows the registration.
//! - `resume-wait` (the rules' target, [`crate::steps::resume_wait`]) reads the waiter
//!   on a terminal status and answers its token: `SendTaskSuccess` with the result,
//!   or `SendTaskFailure` with `StackDeployFailed` / `AmplifyJobFailed` and the reason.
//!   A duplicated event answers an answered token, which Step Functions refuses: the
//!   task resumes once.
//! - A missed event (EventBridge delivers AWS service events on a best-effort basis):
//!   the task's `TimeoutSeconds` passes, the state machine catches `States.Timeout`
//!   into an `Await … Event` task whose function registers the new token and reads
//!   the status once, answering at once if the resource has settled. Reads are
//!   counted on the waiter and bounded by `STAGEGATE_MAX_POLLS` (`WaitExhausted`).

use crate::error::{invalid_input, names, StepError};
use crate::flow::{Awaiting, FrontendDeployed, StackDeployed};
use crate::ports::{
    CallbackError, Clock, Executions, Hosting, Job, JobStatus, Stacks, TaskCallbacks, Waiter, Waits,
};
use crate::status_events::{stack_state, StackState};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
/// Where the task waiting on stack `name` is registered.
pub fn stack_key(name: &str) -> String {
    format!("wait#stack#{name}")
}

/// Where the task waiting on a job of `app`'s `branch` is registered (one at a time:
/// Amplify runs a branch's jobs one after another).
pub fn amplify_key(app: &str, branch: &str) -> String {
    format!("wait#amplify#{app}#{branch}")
}

/// What a waiting task is to be told.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// `SendTaskSuccess` with this output.
    Resume(Value),
    /// `SendTaskFailure` with this error name and cause.
    Fail(&'static str, String),
    /// Not settled: keep waiting.
    Wait,
}

/// What stack `name` reaching `status` means for its deploy task. A failure carries
/// the first failure reason from the stack's events (else `hint`, the event's own).
pub async fn stack_verdict(
    stacks: &impl Stacks,
    name: &str,
    status: &str,
    hint: Option<String>,
    at: Option<DateTime<Utc>>,
) -> Result<Verdict, StepError> {
    Ok(match stack_state(status) {
        StackState::InProgress => Verdict::Wait,
        StackState::Complete => Verdict::Resume(to_value(&StackDeployed {
            stack_name: name.into(),
            stack_status: status.into(),
            settled_at: at,
        })?),
        StackState::Failed => {
            let reason = stacks
                .failure_reason(name)
                .await?
                .or(hint)
                .unwrap_or_else(|| "no reason recorded".into());
            Verdict::Fail(
                names::STACK_DEPLOY_FAILED,
                format!("stack {name} ended {status}: {reason}"),
            )
        }
        StackState::Unexpected => Verdict::Fail(
            names::STACK_DEPLOY_FAILED,
            format!("stack {name} is in an unexpected state {status}"),
        ),
    })
}

/// What `job` (ended at `at`, if known) means for its frontend task.
pub async fn job_verdict(
    hosting: &impl Hosting,
    job: Job,
    at: Option<DateTime<Utc>>,
) -> Result<Verdict, StepError> {
    Ok(match job.status {
        JobStatus::Pending | JobStatus::Running => Verdict::Wait,
        JobStatus::Succeeded => Verdict::Resume(to_value(&FrontendDeployed {
            url: hosting.url().await?,
            job_id: job.id,
            ended_at: at,
        })?),
        JobStatus::Failed | JobStatus::Cancelled => Verdict::Fail(
            names::AMPLIFY_JOB_FAILED,
            format!(
                "frontend job {} ended {:?}: {}",
                job.id,
                job.status,
                job.reason.unwrap_or_else(|| "no reason given".into())
            ),
        ),
    })
}

fn to_value(v: &impl Serialize) -> Result<Value, StepError> {
    serde_json::to_value(v).map_err(|e| invalid_input(e.to_string()))
}

/// How long a registration lives if nobody answers it: longer than any wait.
pub const WAITER_LIFETIME_HOURS: i64 = 48;

/// The task a deploy wait answers: its token (`$$.Task.Token`) and its run
/// (`$$.Execution.Id`), as the definition passes them to every waiting step.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub token: String,
    pub execution_id: String,
}

/// A waiting step's ports: the waiters (the table's `wait#` items), the runs (Step
/// Functions: answers tokens, and tells a live waiter from one that a stopped run
/// left behind), the clock.
#[derive(Clone)]
pub struct Waiting<W, R, C> {
    pub waits: W,
    pub runs: R,
    pub clock: C,
}

impl<W: Waits, R: Executions + TaskCallbacks, C: Clock> Waiting<W, R, C> {
    /// Registers `task` as the one waiting on `key` for `subject`. `reconcile`: a
    /// status read after a missed event, counted on the waiter. A waiter of another
    /// run that is still running fails with `error`; one of a run that has ended
    /// (stopped while it waited) is replaced.
    pub async fn register(
        &self,
        key: &str,
        task: &Task,
        subject: &str,
        reconcile: bool,
        error: &'static str,
    ) -> Result<Waiter, StepError> {
        let now = self.clock.now();
        let reads = match self.waits.waiter(key).await? {
            Some(w) if reconcile && w.execution_id == task.execution_id => w.reads + 1,
            _ => u32::from(reconcile),
        };
        let mine = Waiter {
            token: task.token.clone(),
            execution_id: task.execution_id.clone(),
            subject: subject.into(),
            reads,
            expires_at: now + Duration::hours(WAITER_LIFETIME_HOURS),
        };
        let Some(other) = self.waits.wait(key, &mine, now).await? else {
            return Ok(mine);
        };
        if !self.runs.is_running(&other.execution_id).await? {
            // Left behind by a run that was stopped while it waited: only that token
            // is removed, so a live run that registered meanwhile keeps its own.
            self.waits.done(key, &other.token).await?;
            if self.waits.wait(key, &mine, now).await?.is_none() {
                return Ok(mine);
            }
        }
        Err(StepError::new(
            error,
            format!(
                "another run ({}) is already waiting on {key}; deploy one candidate at a time",
                other.execution_id
            ),
        ))
    }

    /// Tells `waiter` the `verdict` (see [`deliver`]).
    pub async fn deliver(
        &self,
        key: &str,
        waiter: &Waiter,
        verdict: Verdict,
    ) -> Result<bool, StepError> {
        deliver(&self.waits, &self.runs, key, waiter, verdict).await
    }

    /// The frontend's wait: registers `token` for `job` (or, after a missed event,
    /// for the job of this run already registered), reads the job once and answers at
    /// once if it has settled (it may have finished before the registration). Reads
    /// after missed events are bounded by `max_polls`.
    pub async fn frontend_job(
        &self,
        hosting: &impl Hosting,
        max_polls: u32,
        task: &Task,
        job: Option<String>,
    ) -> Result<Awaiting, StepError> {
        let (app, branch) = hosting.app_branch();
        let key = amplify_key(&app, &branch);
        let reconcile = job.is_none();
        let job = match job {
            Some(job) => job,
            None => self
                .waits
                .waiter(&key)
                .await?
                .filter(|w| w.execution_id == task.execution_id)
                .map(|w| w.subject)
                .ok_or_else(|| {
                    StepError::new(
                        names::AMPLIFY_JOB_FAILED,
                        format!("no frontend job of this run is registered under {key}"),
                    )
                })?,
        };
        let waiter = self
            .register(&key, task, &job, reconcile, names::AMPLIFY_JOB_FAILED)
            .await?;
        let status = hosting.job(&job).await?;
        let verdict = bounded(
            max_polls,
            waiter.reads,
            job_verdict(hosting, status, None).await?,
            &format!("frontend job {job}"),
        );
        let answered = self.deliver(&key, &waiter, verdict).await?;
        Ok(Awaiting {
            key,
            reads: waiter.reads,
            answered,
        })
    }
}
/// Tells `waiter` the `verdict` (nothing for [`Verdict::Wait`]) and, once the token
/// is answered or gone, removes the registration. `true` when the task was answered
/// by this call.
pub async fn deliver(
    waits: &impl Waits,
    callbacks: &impl TaskCallbacks,
    key: &str,
    waiter: &Waiter,
    verdict: Verdict,
) -> Result<bool, StepError> {
    let sent = match verdict {
        Verdict::Wait => return Ok(false),
        Verdict::Resume(output) => callbacks.succeed(&waiter.token, &output).await,
        Verdict::Fail(error, cause) => callbacks.fail(&waiter.token, error, &cause).await,
    };
    let answered = match sent {
        Ok(()) => true,
        // Answered already (a duplicated event, or the task's own status read), or
        // timed out: its reconcile has a new token and reads the status itself.
        Err(CallbackError::TaskClosed(_)) => false,
        Err(CallbackError::Port(e)) => return Err(e.into()),
    };
    waits.done(key, &waiter.token).await?;
    Ok(answered)
}

/// A reconcile read: the waiter has read `reads` times; past the bound the task fails
/// with `WaitExhausted`, else `verdict` stands.
pub fn bounded(max_polls: u32, reads: u32, verdict: Verdict, what: &str) -> Verdict {
    match verdict {
        Verdict::Wait if reads >= max_polls => Verdict::Fail(
            names::WAIT_EXHAUSTED,
            format!("{what} had not settled after {reads} status reads without an event"),
        ),
        v => v,
    }
}

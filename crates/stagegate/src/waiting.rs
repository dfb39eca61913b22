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
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Value};

/// The function status events go to (the name in refusals of a malformed event).
const RESUME_WAIT: &str = "resume-wait";

/// CloudFormation's stack status events on EventBridge.
pub const STACK_STATUS_CHANGE: &str = "CloudFormation Stack Status Change";
/// Amplify's job status events on EventBridge.
pub const AMPLIFY_STATUS_CHANGE: &str = "Amplify Deployment Status Change";

/// Where the task waiting on stack `name` is registered.
pub fn stack_key(name: &str) -> String {
    format!("wait#stack#{name}")
}

/// Where the task waiting on a job of `app`'s `branch` is registered (one at a time:
/// Amplify runs a branch's jobs one after another).
pub fn amplify_key(app: &str, branch: &str) -> String {
    format!("wait#amplify#{app}#{branch}")
}

/// The event CloudFormation sends when stack `stack_id` (an ARN, or a bare name
/// locally) reaches `status`.
pub fn stack_status_event(stack_id: &str, status: &str, reason: Option<&str>) -> Value {
    json!({
        "version": "0", "detail-type": STACK_STATUS_CHANGE, "source": "aws.cloudformation",
        "resources": [stack_id],
        "detail": {
            "stack-id": stack_id,
            "status-details": {"status": status, "status-reason": reason.unwrap_or_default()},
        },
    })
}

/// The event Amplify sends when job `job` of `app`'s `branch` changes status
/// (`STARTED`, `SUCCEED`, `FAILED`).
pub fn amplify_status_event(app: &str, branch: &str, job: &str, status: &str) -> Value {
    json!({
        "version": "0", "detail-type": AMPLIFY_STATUS_CHANGE, "source": "aws.amplify",
        "resources": [format!("arn:aws:amplify:::apps/{app}/branches/{branch}/jobs/{job}")],
        "detail": {"appId": app, "branchName": branch, "jobId": job, "jobStatus": status},
    })
}

/// `event` with its `time`: when the status changed, as every EventBridge event
/// carries it (the local stack and hosting stamp theirs; the doubles leave it out).
pub fn stamped(mut event: Value, time: DateTime<Utc>) -> Value {
    event["time"] = Value::String(time.to_rfc3339_opts(SecondsFormat::Millis, true));
    event
}

/// A resource status event, as `resume-wait` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusEvent {
    Stack {
        name: String,
        status: String,
        reason: Option<String>,
    },
    Amplify {
        app: String,
        branch: String,
        job: String,
        status: String,
    },
}

/// Reads a status event; anything else is `InvalidInput` naming what is missing.
pub fn parse_status_event(event: &Value) -> Result<StatusEvent, StepError> {
    let text = |v: Option<&Value>, what: &str| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid_input(format!("{RESUME_WAIT}: the event has no {what}")))
    };
    let detail = event.get("detail");
    match event.get("detail-type").and_then(Value::as_str) {
        Some(STACK_STATUS_CHANGE) => {
            let id = text(detail.and_then(|d| d.get("stack-id")), "detail.stack-id")?;
            let details = detail.and_then(|d| d.get("status-details"));
            Ok(StatusEvent::Stack {
                name: stack_name(&id).to_string(),
                status: text(
                    details.and_then(|d| d.get("status")),
                    "status-details.status",
                )?,
                reason: details
                    .and_then(|d| d.get("status-reason"))
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            })
        }
        Some(AMPLIFY_STATUS_CHANGE) => Ok(StatusEvent::Amplify {
            app: text(detail.and_then(|d| d.get("appId")), "detail.appId")?,
            branch: text(
                detail.and_then(|d| d.get("branchName")),
                "detail.branchName",
            )?,
            job: text(detail.and_then(|d| d.get("jobId")), "detail.jobId")?,
            status: text(detail.and_then(|d| d.get("jobStatus")), "detail.jobStatus")?,
        }),
        other => Err(invalid_input(format!(
            "{}: not a stack or Amplify status event (detail-type {other:?})",
            RESUME_WAIT
        ))),
    }
}

/// When the event says its status changed (`time`), if it says so.
pub fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    let t = event.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stack name in a stack id (`arn:…:stack/<name>/<uuid>`), or the id itself.
fn stack_name(id: &str) -> &str {
    id.split_once(":stack/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(id)
}

/// Where a stack status leaves its deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackState {
    Complete,
    InProgress,
    /// Rolled back or failed: the deployment did not happen.
    Failed,
    /// Not a status a deployment ends or passes through (e.g. `DELETE_COMPLETE`).
    Unexpected,
}

pub fn stack_state(status: &str) -> StackState {
    if status.ends_with("_IN_PROGRESS") {
        StackState::InProgress
    } else if status.contains("ROLLBACK") || status.ends_with("_FAILED") {
        StackState::Failed
    } else if matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    ) {
        StackState::Complete
    } else {
        StackState::Unexpected
    }
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

/// A waiting step's ports, borrowed from the step: the waiters (in the table), the
/// runs (Step Functions: to tell a live waiter from one that a stopped run left
/// behind, and to answer tokens), the clock.
pub struct Waiting<'a, W, R, C> {
    pub waits: &'a W,
    pub runs: &'a R,
    pub clock: &'a C,
}

impl<W: Waits, R: Executions + TaskCallbacks, C: Clock> Waiting<'_, W, R, C> {
    /// Registers `token` of `execution_id` as the task waiting on `key` for
    /// `subject`. `reconcile`: a status read after a missed event, counted on the
    /// waiter. A waiter of another run that is still running fails with `error`; one
    /// of a run that has ended (stopped while it waited) is replaced.
    pub async fn register(
        &self,
        key: &str,
        (token, execution_id, subject): (&str, &str, &str),
        reconcile: bool,
        error: &'static str,
    ) -> Result<Waiter, StepError> {
        let now = self.clock.now();
        let reads = match self.waits.waiter(key).await? {
            Some(w) if reconcile && w.execution_id == execution_id => w.reads + 1,
            _ => u32::from(reconcile),
        };
        let mine = Waiter {
            token: token.into(),
            execution_id: execution_id.into(),
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
        deliver(self.waits, self.runs, key, waiter, verdict).await
    }

    /// The frontend's wait: registers `token` for `job` (or, after a missed event,
    /// for the job of this run already registered), reads the job once and answers at
    /// once if it has settled (it may have finished before the registration). Reads
    /// after missed events are bounded by `max_polls`.
    pub async fn frontend_job(
        &self,
        hosting: &impl Hosting,
        max_polls: u32,
        (token, execution_id): (&str, &str),
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
                .filter(|w| w.execution_id == execution_id)
                .map(|w| w.subject)
                .ok_or_else(|| {
                    StepError::new(
                        names::AMPLIFY_JOB_FAILED,
                        format!("no frontend job of this run is registered under {key}"),
                    )
                })?,
        };
        let waiter = self
            .register(
                &key,
                (token, execution_id, &job),
                reconcile,
                names::AMPLIFY_JOB_FAILED,
            )
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

#[cfg(test)]
mod tests {
    use super::*;

    const STACK_ARN: &str =
        "arn:aws:cloudformation:eu-west-1:123456789012:stack/shop-staging/6a1b2c3d-aaaa-bbbb";

    /// CloudFormation's documented event, as EventBridge delivers it.
    fn documented_stack_event(status: &str) -> Value {
        json!({
            "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
            "detail-type": "CloudFormation Stack Status Change", "source": "aws.cloudformation",
            "account": "123456789012", "time": "2026-12-03T10:00:00Z", "region": "eu-west-1",
            "resources": [STACK_ARN],
            "detail": {
                "stack-id": STACK_ARN,
                "status-details": {"status": status, "status-reason": ""},
                "client-request-token": "Console-CreateChangeSet-1"
            }
        })
    }

    #[test]
    fn status_events_are_read_as_aws_documents_them() {
        assert_eq!(
            parse_status_event(&documented_stack_event("UPDATE_COMPLETE")).unwrap(),
            StatusEvent::Stack {
                name: "shop-staging".into(),
                status: "UPDATE_COMPLETE".into(),
                reason: None
            }
        );
        let amplify = json!({
            "version": "0", "detail-type": "Amplify Deployment Status Change",
            "source": "aws.amplify", "account": "123456789012", "region": "eu-west-1",
            "resources": ["arn:aws:amplify:eu-west-1:123456789012:apps/d1example/branches/staging/jobs/0000000042"],
            "detail": {"appId": "d1example", "branchName": "staging", "jobId": "0000000042", "jobStatus": "SUCCEED"}
        });
        assert_eq!(
            parse_status_event(&amplify).unwrap(),
            StatusEvent::Amplify {
                app: "d1example".into(),
                branch: "staging".into(),
                job: "0000000042".into(),
                status: "SUCCEED".into()
            }
        );
        // Our builders make the same shapes.
        assert_eq!(
            parse_status_event(&stack_status_event(STACK_ARN, "UPDATE_COMPLETE", None)).unwrap(),
            parse_status_event(&documented_stack_event("UPDATE_COMPLETE")).unwrap()
        );
        assert_eq!(
            parse_status_event(&amplify_status_event(
                "d1example",
                "staging",
                "0000000042",
                "SUCCEED"
            ))
            .unwrap(),
            parse_status_event(&amplify).unwrap()
        );
    }
    #[test]
    fn anything_else_is_refused_by_name() {
        for bad in [
            json!(null),
            json!({"detail-type": "Object Created"}),
            json!({"detail-type": STACK_STATUS_CHANGE, "detail": {}}),
            json!({"detail-type": AMPLIFY_STATUS_CHANGE, "detail": {"appId": "d1", "branchName": "b", "jobId": "1"}}),
        ] {
            let e = parse_status_event(&bad).unwrap_err();
            assert_eq!(e.name, "InvalidInput", "{bad}");
            assert!(e.message.starts_with("resume-wait:"), "{}", e.message);
        }
    }
    #[test]
    fn stack_statuses_are_classified() {
        use StackState::*;
        for (status, want) in [
            ("CREATE_COMPLETE", Complete),
            ("UPDATE_COMPLETE", Complete),
            ("UPDATE_IN_PROGRESS", InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", InProgress),
            ("UPDATE_ROLLBACK_IN_PROGRESS", InProgress),
            ("UPDATE_ROLLBACK_COMPLETE", Failed),
            ("ROLLBACK_COMPLETE", Failed),
            ("UPDATE_FAILED", Failed),
            ("DELETE_COMPLETE", Unexpected),
        ] {
            assert_eq!(stack_state(status), want, "{status}");
        }
    }
}

//! Resume Wait (`resume-wait`): the target of the stack and Amplify status rules.
//! Finds the task waiting on the event's resource and answers it (see
//! [`crate::waiting`]).

use crate::error::StepError;
use crate::ports::{Clock, Hosting, Job, JobStatus, Stacks, TaskCallbacks, Waits};
use crate::status_events::{event_time, parse_status_event, StatusEvent};
use crate::step::Step;
use crate::waiting::{amplify_key, deliver, job_verdict, stack_key, stack_verdict, Verdict};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The `resume-wait` function's name.
pub const NAME: &str = "resume-wait";

/// Resume Wait: the target of the stack and Amplify status rules. Finds the task
/// waiting on the event's resource and answers it; an event of a resource nobody
/// waits on, or of a status that is not terminal, changes nothing.
pub struct ResumeWait<T, R, S, H, C> {
    /// The waiters (the table's `wait#` items).
    pub store: T,
    /// Step Functions: answers the waiting task's token.
    pub runs: R,
    pub stacks: S,
    pub hosting: H,
    pub clock: C,
}

/// What `resume-wait` did with an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Resumed {
    /// The registration the event's resource maps to.
    pub key: String,
    /// `answered`, `not terminal`, `nobody waiting`, `another job`, `expired`,
    /// `already answered`.
    pub outcome: String,
}

impl<T: Waits, R: TaskCallbacks, S: Stacks, H: Hosting, C: Clock> Step<Value, Resumed>
    for ResumeWait<T, R, S, H, C>
{
    const NAME: &'static str = NAME;

    async fn run(&self, event: Value) -> Result<Resumed, StepError> {
        let at = event_time(&event);
        let event = parse_status_event(&event)?;
        let (key, subject, verdict) = match event {
            StatusEvent::Stack {
                name,
                status,
                reason,
            } => {
                let verdict = stack_verdict(&self.stacks, &name, &status, reason, at).await?;
                (stack_key(&name), name, verdict)
            }
            StatusEvent::Amplify {
                app,
                branch,
                job,
                status,
            } => {
                let status = match status.as_str() {
                    "SUCCEED" => JobStatus::Succeeded,
                    "FAILED" => JobStatus::Failed,
                    "CANCELLED" => JobStatus::Cancelled,
                    _ => JobStatus::Running,
                };
                let reason = if !matches!(status, JobStatus::Failed | JobStatus::Cancelled) {
                    None
                } else {
                    // The event says that it failed; the job says why.
                    let read = self.hosting.job(&job).await.ok();
                    Some(read.and_then(|j| j.reason).unwrap_or_else(|| {
                        "Amplify reported the job as failed; its build log says why".into()
                    }))
                };
                let verdict = job_verdict(
                    &self.hosting,
                    Job {
                        id: job.clone(),
                        status,
                        reason,
                    },
                    at,
                )
                .await?;
                (amplify_key(&app, &branch), job, verdict)
            }
        };
        let outcome = |o: &str| Resumed {
            key: key.clone(),
            outcome: o.into(),
        };
        if verdict == Verdict::Wait {
            return Ok(outcome("not terminal"));
        }
        let Some(waiter) = self.store.waiter(&key).await? else {
            return Ok(outcome("nobody waiting"));
        };
        if waiter.subject != subject {
            // An earlier job of the branch, finishing late: not what the task awaits.
            return Ok(outcome("another job"));
        }
        if waiter.expires_at <= self.clock.now() {
            self.store.done(&key, &waiter.token).await?;
            return Ok(outcome("expired"));
        }
        let answered = deliver(&self.store, &self.runs, &key, &waiter, verdict).await?;
        Ok(outcome(if answered {
            "answered"
        } else {
            "already answered"
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Waiter;
    use crate::status_events::{amplify_status_event, stack_status_event, stamped};
    use crate::testing::*;
    use chrono::Duration;
    use serde_json::json;

    #[derive(Default)]
    struct Fixture {
        waits: MemoryTable,
        callbacks: MemoryRuns,
        stacks: MemoryStacks,
        hosting: MemoryHosting,
    }

    impl Fixture {
        fn new() -> Fixture {
            Fixture::default()
        }
        fn step(
            &self,
        ) -> ResumeWait<MemoryTable, MemoryRuns, MemoryStacks, MemoryHosting, FixedClock> {
            ResumeWait {
                store: self.waits.clone(),
                runs: self.callbacks.clone(),
                stacks: self.stacks.clone(),
                hosting: self.hosting.clone(),
                clock: FixedClock(now()),
            }
        }
        /// The one task failure sent: named `error`, its cause containing `part`.
        fn assert_failed(&self, error: &str, part: &str) {
            let failures = self.callbacks.failures();
            assert_eq!(failures.len(), 1, "{failures:?}");
            assert_eq!(failures[0].1, error);
            assert!(failures[0].2.contains(part), "{}", failures[0].2);
        }

        /// The step's answer to `event`.
        async fn send(&self, event: Value) -> Resumed {
            self.step().run(event).await.unwrap()
        }

        async fn waiting(&self, key: &str, subject: &str) {
            let w = Waiter {
                token: "t1".into(),
                execution_id: "arn:exec:1".into(),
                subject: subject.into(),
                reads: 0,
                expires_at: now() + Duration::hours(1),
            };
            assert_eq!(self.waits.wait(key, &w, now()).await.unwrap(), None);
        }
    }

    #[tokio::test]
    async fn a_stack_event_answers_the_waiting_task_once() {
        let f = Fixture::new();
        f.waiting("wait#stack#shop-staging", "shop-staging").await;
        let event = documented_stack_event("UPDATE_COMPLETE");
        let first = f.send(event.clone()).await;
        assert_eq!(first.outcome, "answered");
        assert_eq!(
            f.callbacks.successes(),
            vec![(
                "t1".to_string(),
                json!({"stackName": "shop-staging", "stackStatus": "UPDATE_COMPLETE", "settledAt": "2026-12-03T10:00:00Z"})
            )]
        );
        assert!(f.waits.waiters().is_empty());
        // EventBridge delivers at least once: the same event again changes nothing.
        let again = f.send(event).await;
        assert_eq!(again.outcome, "nobody waiting");
        assert_eq!(f.callbacks.successes().len(), 1);
    }

    #[tokio::test]
    async fn the_events_time_is_when_the_stack_settled() {
        let f = Fixture::new();
        f.waiting("wait#stack#shop-staging", "shop-staging").await;
        let event = documented_stack_event("UPDATE_COMPLETE");
        assert_eq!(event["time"], "2026-12-03T10:00:00Z");
        f.send(event).await;
        assert_eq!(
            f.callbacks.successes()[0].1["settledAt"],
            "2026-12-03T10:00:00Z"
        );
        let at = now();
        let e = stamped(stack_status_event(STACK_ARN, "UPDATE_COMPLETE", None), at);
        assert_eq!(event_time(&e), Some(at));
    }

    #[tokio::test]
    async fn a_duplicate_racing_the_first_finds_the_token_answered() {
        let f = Fixture::new();
        f.waiting("wait#stack#shop-staging", "shop-staging").await;
        f.callbacks.close("t1");
        let r = f.send(documented_stack_event("UPDATE_COMPLETE")).await;
        assert_eq!(r.outcome, "already answered");
        assert!(f.callbacks.successes().is_empty());
        assert!(
            f.waits.waiters().is_empty(),
            "a closed token's registration goes"
        );
    }

    #[tokio::test]
    async fn a_rolled_back_stack_fails_the_task_with_the_reason() {
        let f = Fixture::new();
        f.waiting("wait#stack#shop-staging", "shop-staging").await;
        f.stacks
            .set_failure_reason("Api (AWS::Lambda::Function): Role not found");
        f.send(documented_stack_event("UPDATE_ROLLBACK_COMPLETE"))
            .await;
        f.assert_failed("StackDeployFailed", "Role not found");
    }

    #[tokio::test]
    async fn statuses_on_the_way_and_stacks_nobody_waits_on_change_nothing() {
        let f = Fixture::new();
        f.waiting("wait#stack#shop-staging", "shop-staging").await;
        let r = f
            .send(documented_stack_event(
                "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            ))
            .await;
        assert_eq!(r.outcome, "not terminal");
        let other = stack_status_event(
            "arn:aws:cloudformation:eu-west-1:1:stack/other/1",
            "UPDATE_COMPLETE",
            None,
        );
        assert_eq!(f.send(other).await.outcome, "nobody waiting");
        assert!(f.callbacks.successes().is_empty());
        assert_eq!(f.waits.waiters().len(), 1, "the waiter still waits");
    }

    #[tokio::test]
    async fn an_amplify_event_answers_with_the_url_and_ignores_other_jobs() {
        let f = Fixture::new();
        let key = amplify_key(AMPLIFY_APP, AMPLIFY_BRANCH);
        f.waiting(&key, "7").await;
        let late = amplify_status_event(AMPLIFY_APP, AMPLIFY_BRANCH, "6", "SUCCEED");
        assert_eq!(f.send(late).await.outcome, "another job");
        let started = amplify_status_event(AMPLIFY_APP, AMPLIFY_BRANCH, "7", "STARTED");
        assert_eq!(f.send(started).await.outcome, "not terminal");
        let done = amplify_status_event(AMPLIFY_APP, AMPLIFY_BRANCH, "7", "SUCCEED");
        assert_eq!(f.send(done).await.outcome, "answered");
        assert_eq!(
            f.callbacks.successes(),
            vec![(
                "t1".to_string(),
                json!({"jobId": "7", "url": "https://staging.example.test"})
            )]
        );
    }

    #[tokio::test]
    async fn a_failed_amplify_job_fails_the_task() {
        let f = Fixture::new();
        let key = amplify_key(AMPLIFY_APP, AMPLIFY_BRANCH);
        f.waiting(&key, "7").await;
        let failed = amplify_status_event(AMPLIFY_APP, AMPLIFY_BRANCH, "7", "FAILED");
        f.send(failed).await;
        f.assert_failed("AmplifyJobFailed", "frontend job 7");
    }

    #[tokio::test]
    async fn an_expired_registration_is_not_answered() {
        let f = Fixture::new();
        let stale = Waiter {
            token: "t0".into(),
            execution_id: "arn:exec:0".into(),
            subject: "shop-staging".into(),
            reads: 0,
            expires_at: now() - Duration::minutes(1),
        };
        f.waits
            .wait("wait#stack#shop-staging", &stale, now() - Duration::days(3))
            .await
            .unwrap();
        let r = f.send(documented_stack_event("UPDATE_COMPLETE")).await;
        assert_eq!(r.outcome, "expired");
        assert!(f.callbacks.successes().is_empty());
        assert!(f.waits.waiters().is_empty());
    }
}

//! Await Frontend Event (`await-frontend`), after a missed Amplify event: registers
//! the task's new token for the run's job, reads the job once and answers at once if
//! it has ended. Reads are bounded by `STAGEGATE_MAX_POLLS` (`WaitExhausted`).

use crate::error::StepError;
use crate::flow::Awaiting;
use crate::ports::{Clock, Executions, Hosting, TaskCallbacks, Waits};
use crate::settings::Settings;
use crate::step::Step;
use crate::waiting::{Task, Waiting};
use serde::Deserialize;

/// The `await-frontend` function's name.
pub const NAME: &str = "await-frontend";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    #[serde(flatten)]
    pub task: Task,
}

/// Await Frontend Event: one job read after a missed event.
pub struct AwaitFrontend<H, T, R, C> {
    pub settings: Settings,
    pub hosting: H,
    pub waiting: Waiting<T, R, C>,
}

impl<H, T, R, C> Step<Input, Awaiting> for AwaitFrontend<H, T, R, C>
where
    H: Hosting,
    T: Waits,
    R: Executions + TaskCallbacks,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Awaiting, StepError> {
        self.waiting
            .frontend_job(&self.hosting, self.settings.max_polls, &input.task, None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{JobStatus, Waiter};
    use crate::testing::*;
    use crate::waiting::amplify_key;
    use serde_json::json;

    fn step() -> AwaitFrontend<MemoryHosting, MemoryTable, MemoryRuns, FixedClock> {
        AwaitFrontend {
            settings: Settings {
                max_polls: 2,
                ..Settings::default()
            },
            hosting: MemoryHosting::default(),
            waiting: memory_waiting(&MemoryTable::default(), &running(&["arn:exec:1"])),
        }
    }

    /// What Deploy Frontend leaves: a job started, its task registered on it.
    async fn started(step: &AwaitFrontend<MemoryHosting, MemoryTable, MemoryRuns, FixedClock>) {
        let job = step.hosting.start_job("abc").await.unwrap();
        let waiter = Waiter {
            token: "t1".into(),
            execution_id: "arn:exec:1".into(),
            subject: job,
            reads: 0,
            expires_at: now() + chrono::Duration::hours(48),
        };
        let key = amplify_key(AMPLIFY_APP, AMPLIFY_BRANCH);
        step.waiting.waits.wait(&key, &waiter, now()).await.unwrap();
    }

    fn input(token: &str) -> Input {
        Input {
            task: task(token, "arn:exec:1"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_missed_event_a_finished_job_is_answered_with_the_url() {
        let step = step();
        step.hosting.events.miss();
        started(&step).await;
        tokio::time::sleep(STATUS_EVERY * 3).await;
        let a = step.run(input("t2")).await.unwrap();
        assert!(a.answered);
        assert_eq!(
            step.waiting.runs.successes(),
            vec![(
                "t2".to_string(),
                json!({"jobId": "1", "url": "https://staging.example.test"})
            )]
        );
        assert!(
            step.waiting.waits.waiters().is_empty(),
            "the registration is gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_job_is_amplify_job_failed_with_its_reason() {
        let step = step();
        step.hosting.set_job_statuses(&[JobStatus::Failed]);
        step.hosting.events.miss();
        started(&step).await;
        tokio::time::sleep(STATUS_EVERY * 2).await;
        step.run(input("t2")).await.unwrap();
        let failures = step.waiting.runs.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert_eq!(failures[0].1, "AmplifyJobFailed");
        assert!(
            failures[0].2.contains("missing script: build"),
            "{}",
            failures[0].2
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_job_still_running_is_read_at_most_max_polls_times() {
        let step = step();
        step.hosting.set_job_statuses(&[JobStatus::Running]);
        started(&step).await;
        let first = step.run(input("t2")).await.unwrap();
        assert_eq!((first.reads, first.answered), (1, false));
        let second = step.run(input("t3")).await.unwrap();
        assert_eq!((second.reads, second.answered), (2, true));
        let failures = step.waiting.runs.failures();
        assert_eq!(failures[0].0, "t3");
        assert_eq!(failures[0].1, "WaitExhausted");
    }

    #[tokio::test(start_paused = true)]
    async fn awaiting_without_a_job_of_this_run_fails_by_name() {
        let e = step().run(input("t1")).await.unwrap_err();
        assert_eq!(e.name, "AmplifyJobFailed");
    }
}

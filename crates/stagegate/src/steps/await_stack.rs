//! Await Stack Event (`await-stack`), after a missed stack event: registers the
//! task's new token, reads the stack's status once and answers at once if it has
//! settled; else the next status event (or the next timeout) does. Reads are bounded
//! by `STAGEGATE_MAX_POLLS` (`WaitExhausted`).

use crate::error::{names, StepError};
use crate::flow::Awaiting;
use crate::ports::{Clock, Executions, Stacks, TaskCallbacks, Waits};
use crate::settings::Settings;
use crate::step::Step;
use crate::waiting::{bounded, stack_key, stack_verdict, Task, Verdict, Waiting};
use serde::Deserialize;

/// The `await-stack` function's name.
pub const NAME: &str = "await-stack";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    #[serde(flatten)]
    pub task: Task,
    pub stack_name: String,
}

/// Await Stack Event: one status read after a missed event.
pub struct AwaitStack<S, T, R, C> {
    pub settings: Settings,
    pub stacks: S,
    pub waiting: Waiting<T, R, C>,
}

impl<S, T, R, C> Step<Input, Awaiting> for AwaitStack<S, T, R, C>
where
    S: Stacks,
    T: Waits,
    R: Executions + TaskCallbacks,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Awaiting, StepError> {
        let name = &input.stack_name;
        let key = stack_key(name);
        let waiter = self
            .waiting
            .register(&key, &input.task, name, true, names::STACK_DEPLOY_FAILED)
            .await?;
        let verdict = match self.stacks.stack(name).await? {
            None => Verdict::Fail(
                names::STACK_DEPLOY_FAILED,
                format!("stack {name} does not exist"),
            ),
            Some(info) => {
                let v = stack_verdict(&self.stacks, name, &info.status, info.status_reason, None)
                    .await?;
                let what = format!("stack {name} ({})", info.status);
                bounded(self.settings.max_polls, waiter.reads, v, &what)
            }
        };
        let answered = self.waiting.deliver(&key, &waiter, verdict).await?;
        Ok(Awaiting {
            key,
            reads: waiter.reads,
            answered,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Waiter;
    use crate::testing::*;
    use serde_json::json;

    fn step(
        stacks: &MemoryStacks,
        table: &MemoryTable,
        runs: &MemoryRuns,
        max_polls: u32,
    ) -> AwaitStack<MemoryStacks, MemoryTable, MemoryRuns, FixedClock> {
        AwaitStack {
            settings: Settings {
                max_polls,
                ..Settings::default()
            },
            stacks: stacks.clone(),
            waiting: memory_waiting(table, runs),
        }
    }

    /// A stack in `status` and run `arn:exec:1` running.
    fn world(status: &str) -> (MemoryStacks, MemoryTable, MemoryRuns) {
        let stacks = MemoryStacks::default();
        stacks.set_status(status);
        (stacks, MemoryTable::default(), running(&["arn:exec:1"]))
    }

    fn input(token: &str) -> Input {
        Input {
            task: task(token, "arn:exec:1"),
            stack_name: "shop-staging".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconcile_read_answers_a_stable_stack_at_once() {
        let (stacks, table, runs) = world("UPDATE_COMPLETE");
        let a = step(&stacks, &table, &runs, 5)
            .run(input("t2"))
            .await
            .unwrap();
        assert_eq!((a.reads, a.answered), (1, true));
        assert_eq!(
            runs.successes(),
            vec![(
                "t2".to_string(),
                json!({"stackName": "shop-staging", "stackStatus": "UPDATE_COMPLETE"})
            )]
        );
        assert!(table.waiters().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_fails_with_the_reason_from_the_stack_events() {
        let (stacks, table, runs) = world("UPDATE_ROLLBACK_COMPLETE");
        stacks.set_failure_reason(
            "Api (AWS::Lambda::Function): Resource handler returned message: \"Role not found\"",
        );
        step(&stacks, &table, &runs, 5)
            .run(input("t2"))
            .await
            .unwrap();
        let f = runs.failures();
        assert_eq!(f[0].1, "StackDeployFailed");
        assert!(
            f[0].2.contains("UPDATE_ROLLBACK_COMPLETE") && f[0].2.contains("Role not found"),
            "{}",
            f[0].2
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_in_progress_keeps_waiting_until_the_reads_run_out() {
        let (stacks, table, runs) = world("UPDATE_IN_PROGRESS");
        // Deploy Infrastructure registered the first token and the event was missed.
        let first = Waiter {
            token: "t1".into(),
            execution_id: "arn:exec:1".into(),
            subject: "shop-staging".into(),
            reads: 0,
            expires_at: now() + chrono::Duration::hours(48),
        };
        table
            .wait("wait#stack#shop-staging", &first, now())
            .await
            .unwrap();
        let step = step(&stacks, &table, &runs, 2);
        let first = step.run(input("t2")).await.unwrap();
        assert_eq!((first.reads, first.answered), (1, false));
        assert_eq!(table.waiters()["wait#stack#shop-staging"].token, "t2");
        let second = step.run(input("t3")).await.unwrap();
        assert_eq!((second.reads, second.answered), (2, true));
        let f = runs.failures();
        assert_eq!((f[0].0.as_str(), f[0].1.as_str()), ("t3", "WaitExhausted"));
        assert!(f[0].2.contains("UPDATE_IN_PROGRESS"), "{}", f[0].2);
    }
}

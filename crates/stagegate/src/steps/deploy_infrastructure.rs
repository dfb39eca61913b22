//! Deploy Infrastructure (`deploy-infrastructure`): registers the task's token under
//! the stack, then executes the approved change set. The stack's own status event
//! resumes the task (see [`crate::waiting`]); a missed one is read by `await-stack`.

use crate::error::{names, StepError};
use crate::flow::Awaiting;
use crate::ports::{Clock, Executions, Stacks, TaskCallbacks, Waits};
use crate::step::Step;
use crate::waiting::{stack_key, Task, Waiting};
use serde::Deserialize;

/// The `deploy-infrastructure` function's name.
pub const NAME: &str = "deploy-infrastructure";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The task token (`$$.Task.Token`) the stack's status event answers.
    #[serde(flatten)]
    pub task: Task,
    pub change_set_id: String,
    pub stack_name: String,
}

/// Deploy Infrastructure: executes the approved change set once its task waits on
/// the stack.
pub struct DeployInfrastructure<S, T, R, C> {
    pub stacks: S,
    pub waiting: Waiting<T, R, C>,
}

impl<S, T, R, C> Step<Input, Awaiting> for DeployInfrastructure<S, T, R, C>
where
    S: Stacks,
    T: Waits,
    R: Executions + TaskCallbacks,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Awaiting, StepError> {
        let key = stack_key(&input.stack_name);
        // Registered first: the stack's first event cannot come before its waiter.
        let waiter = self
            .waiting
            .register(
                &key,
                &input.task,
                &input.stack_name,
                false,
                names::STACK_DEPLOY_FAILED,
            )
            .await?;
        if let Err(e) = self.stacks.execute_change_set(&input.change_set_id).await {
            self.waiting.waits.done(&key, &waiter.token).await?;
            return Err(e.refused_as(names::STACK_DEPLOY_FAILED));
        }
        Ok(Awaiting {
            key,
            reads: 0,
            answered: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::Waiter;
    use crate::testing::*;
    use serde_json::json;

    /// The step over these doubles, at the fixed time.
    fn step(
        stacks: &MemoryStacks,
        table: &MemoryTable,
        runs: &MemoryRuns,
    ) -> DeployInfrastructure<MemoryStacks, MemoryTable, MemoryRuns, FixedClock> {
        DeployInfrastructure {
            stacks: stacks.clone(),
            waiting: memory_waiting(table, runs),
        }
    }

    /// Every run the tests use is running unless a test says otherwise.
    fn running() -> MemoryRuns {
        crate::testing::running(&["arn:exec:0", "arn:exec:1", "arn:exec:2", "arn:exec:4"])
    }

    fn input(token: &str, execution: &str) -> Input {
        Input {
            task: task(token, execution),
            change_set_id: "arn:cs/stagegate-rc".into(),
            stack_name: "shop-staging".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_is_registered_under_the_stack_before_the_change_set_runs() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        let a = step(&stacks, &table, &runs)
            .run(input("t1", "arn:exec:1"))
            .await
            .unwrap();
        assert_eq!(a.key, "wait#stack#shop-staging");
        assert!(stacks.executed());
        let w = &table.waiters()[&a.key];
        assert_eq!(
            (w.token.as_str(), w.execution_id.as_str()),
            ("t1", "arn:exec:1")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_set_that_cannot_run_fails_and_leaves_no_registration() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        stacks.fail_execute("ChangeSet is in EXECUTE_FAILED state");
        let e = step(&stacks, &table, &runs)
            .run(input("t1", "arn:exec:1"))
            .await
            .unwrap_err();
        assert_eq!(e.name, "StackDeployFailed");
        assert!(table.waiters().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn another_run_waiting_on_the_stack_is_not_overwritten() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        let step = step(&stacks, &table, &runs);
        step.run(input("t1", "arn:exec:1")).await.unwrap();
        stacks.fail_execute("must not be reached");
        let e = step.run(input("t2", "arn:exec:2")).await.unwrap_err();
        assert_eq!(e.name, "StackDeployFailed");
        assert!(e.message.contains("arn:exec:1"), "{}", e.message);
        assert_eq!(table.waiters()["wait#stack#shop-staging"].token, "t1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_left_by_a_stopped_run_is_replaced_and_a_live_one_is_not() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        let step = step(&stacks, &table, &runs);
        step.run(input("t1", "arn:exec:1")).await.unwrap();
        // The first run is stopped while it waits: its waiter stays behind.
        runs.set_running("arn:exec:1", false);
        step.run(input("t2", "arn:exec:2")).await.unwrap();
        assert_eq!(table.waiters()["wait#stack#shop-staging"].token, "t2");
        // The second is alive: a third run is refused.
        let e = step.run(input("t4", "arn:exec:4")).await.unwrap_err();
        assert!(e.message.contains("arn:exec:2"), "{}", e.message);
        assert_eq!(table.waiters()["wait#stack#shop-staging"].token, "t2");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_registration_of_another_run_is_replaced() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        let stale = Waiter {
            token: "old".into(),
            execution_id: "arn:exec:0".into(),
            subject: "shop-staging".into(),
            reads: 7,
            expires_at: now() - chrono::Duration::minutes(1),
        };
        let long_ago = now() - chrono::Duration::days(3);
        table
            .wait("wait#stack#shop-staging", &stale, long_ago)
            .await
            .unwrap();
        step(&stacks, &table, &runs)
            .run(input("t1", "arn:exec:1"))
            .await
            .unwrap();
        let w = &table.waiters()["wait#stack#shop-staging"];
        assert_eq!((w.token.as_str(), w.reads), ("t1", 0));
    }

    #[tokio::test(start_paused = true)]
    async fn the_stack_walks_through_its_statuses_announcing_each() {
        let (stacks, table, runs) = (MemoryStacks::default(), MemoryTable::default(), running());
        let mut events = stacks.events.subscribe();
        step(&stacks, &table, &runs)
            .run(input("t1", "arn:exec:1"))
            .await
            .unwrap();
        tokio::time::sleep(STATUS_EVERY * 3).await;
        let mut seen = vec![];
        while let Ok(e) = events.try_recv() {
            seen.push(e["detail"]["status-details"]["status"].clone());
        }
        assert_eq!(
            seen,
            vec![json!("UPDATE_IN_PROGRESS"), json!("UPDATE_COMPLETE")]
        );
    }
}

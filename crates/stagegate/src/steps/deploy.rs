//! Deploy Infrastructure: execute the approved change set and wait for the stack's
//! status event (see [`super::waits`]), reading the status after a missed one; then
//! capture the stack's outputs as an artifact.

use super::waits::{bounded, deliver, stack_key, stack_verdict, Awaiting, Verdict, Waiting};
use crate::error::{names, StepError};
use crate::ports::{Artifacts, Clock, Executions, Stacks, TaskCallbacks, Waits};
use crate::settings::Settings;
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteInput {
    /// The task token (`$$.Task.Token`) the stack's status event answers.
    pub token: String,
    pub execution_id: String,
    pub change_set_id: String,
    pub stack_name: String,
}

/// The `deploy-infrastructure` function's name.
pub const DEPLOY_INFRASTRUCTURE: &str = "deploy-infrastructure";

/// Deploy Infrastructure: registers the task's token under the stack, then executes
/// the approved change set. The stack's status event resumes the task.
pub struct DeployInfrastructure<S, W, E, C> {
    stacks: S,
    waiting: Waiting<W, E, C>,
}

impl<S: Stacks, W: Waits, E: Executions, C: Clock> DeployInfrastructure<S, W, E, C> {
    pub fn new(stacks: S, waiting: Waiting<W, E, C>) -> Self {
        DeployInfrastructure { stacks, waiting }
    }
}

impl<S: Stacks, W: Waits, E: Executions, C: Clock> Step for DeployInfrastructure<S, W, E, C> {
    const NAME: &'static str = DEPLOY_INFRASTRUCTURE;
    type Input = ExecuteInput;
    type Output = Awaiting;

    async fn run(&self, input: ExecuteInput) -> Result<Awaiting, StepError> {
        let key = stack_key(&input.stack_name);
        // Registered first: the stack's first event cannot come before its waiter.
        let waiter = self
            .waiting
            .register(
                &key,
                (&input.token, &input.execution_id, &input.stack_name),
                false,
                names::STACK_DEPLOY_FAILED,
            )
            .await?;
        if let Err(e) = self.stacks.execute_change_set(&input.change_set_id).await {
            self.waiting.waits.done(&key, &waiter.token).await?;
            return Err(StepError::new(names::STACK_DEPLOY_FAILED, e.to_string()));
        }
        Ok(Awaiting {
            key,
            reads: 0,
            answered: false,
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitInput {
    pub token: String,
    pub execution_id: String,
    pub stack_name: String,
}

/// The `await-stack` function's name.
pub const AWAIT_STACK: &str = "await-stack";

/// Await Stack Event (after a missed one): registers the task's new token, reads the
/// stack's status once and answers at once if it has settled; else the next status
/// event (or the next timeout) does. Bounded by `STAGEGATE_MAX_POLLS` reads.
pub struct AwaitStack<S, T, W, E, C> {
    settings: Settings,
    stacks: S,
    callbacks: T,
    waiting: Waiting<W, E, C>,
}

impl<S: Stacks, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> AwaitStack<S, T, W, E, C> {
    pub fn new(settings: Settings, stacks: S, callbacks: T, waiting: Waiting<W, E, C>) -> Self {
        AwaitStack {
            settings,
            stacks,
            callbacks,
            waiting,
        }
    }
}

impl<S: Stacks, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> Step
    for AwaitStack<S, T, W, E, C>
{
    const NAME: &'static str = AWAIT_STACK;
    type Input = AwaitInput;
    type Output = Awaiting;

    async fn run(&self, input: AwaitInput) -> Result<Awaiting, StepError> {
        let name = &input.stack_name;
        let key = stack_key(name);
        let waiter = self
            .waiting
            .register(
                &key,
                (&input.token, &input.execution_id, name),
                true,
                names::STACK_DEPLOY_FAILED,
            )
            .await?;
        let verdict = match self.stacks.stack(name).await? {
            None => Verdict::Fail(
                names::STACK_DEPLOY_FAILED,
                format!("stack {name} does not exist"),
            ),
            Some(info) => {
                let v = stack_verdict(&self.stacks, name, &info.status, info.status_reason, None)
                    .await?;
                bounded(
                    &self.settings,
                    waiter.reads,
                    v,
                    &format!("stack {name} ({})", info.status),
                )
            }
        };
        let answered =
            deliver(&self.waiting.waits, &self.callbacks, &key, &waiter, verdict).await?;
        Ok(Awaiting {
            key,
            reads: waiter.reads,
            answered,
        })
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputsInput {
    pub stack_name: String,
    pub artifacts_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    pub values: BTreeMap<String, String>,
    pub uri: String,
}

async fn capture_outputs(
    stacks: &impl Stacks,
    artifacts: &impl Artifacts,
    input: OutputsInput,
) -> Result<Outputs, StepError> {
    let Some(info) = stacks.stack(&input.stack_name).await? else {
        return Err(StepError::new(
            names::STACK_DEPLOY_FAILED,
            format!("stack {} does not exist", input.stack_name),
        ));
    };
    let body = serde_json::to_vec_pretty(&info.outputs)
        .map_err(|e| crate::error::invalid_input(e.to_string()))?;
    let uri = artifacts
        .put(
            &format!("{}stack-outputs.json", input.artifacts_prefix),
            "application/json",
            body,
        )
        .await?;
    Ok(Outputs {
        values: info.outputs,
        uri,
    })
}

/// The `capture-outputs` function's name.
pub const CAPTURE_OUTPUTS: &str = "capture-outputs";

/// Capture Stack Outputs: the stack outputs, recorded as an artifact.
pub struct CaptureOutputs<S, A> {
    stacks: S,
    artifacts: A,
}

impl<S: Stacks, A: Artifacts> CaptureOutputs<S, A> {
    pub fn new(stacks: S, artifacts: A) -> Self {
        CaptureOutputs { stacks, artifacts }
    }
}

impl<S: Stacks, A: Artifacts> Step for CaptureOutputs<S, A> {
    const NAME: &'static str = CAPTURE_OUTPUTS;
    type Input = OutputsInput;
    type Output = Outputs;

    async fn run(&self, input: OutputsInput) -> Result<Outputs, StepError> {
        capture_outputs(&self.stacks, &self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryWaits;
    use crate::ports::Waiter;
    use crate::testing::{
        now, FixedClock, MemoryArtifacts, MemoryCallbacks, MemoryExecutions, MemoryStacks,
        STATUS_EVERY,
    };

    /// Registration ports over `waits` and `runs`, at the fixed time.
    fn waiting<'a>(
        waits: &'a MemoryWaits,
        runs: &'a MemoryExecutions,
    ) -> Waiting<&'a MemoryWaits, &'a MemoryExecutions, FixedClock> {
        Waiting {
            waits,
            runs,
            clock: FixedClock(now()),
        }
    }

    /// Every run the tests use is running unless a test says otherwise.
    fn running() -> MemoryExecutions {
        let runs = MemoryExecutions::default();
        for id in ["arn:exec:0", "arn:exec:1", "arn:exec:2", "arn:exec:4"] {
            runs.set_running(id, true);
        }
        runs
    }
    use serde_json::json;

    fn execute_input(token: &str, execution: &str) -> ExecuteInput {
        ExecuteInput {
            token: token.into(),
            execution_id: execution.into(),
            change_set_id: "arn:cs/stagegate-rc".into(),
            stack_name: "shop-staging".into(),
        }
    }

    fn await_input(token: &str) -> AwaitInput {
        AwaitInput {
            token: token.into(),
            execution_id: "arn:exec:1".into(),
            stack_name: "shop-staging".into(),
        }
    }

    fn await_step<'a>(
        stacks: &'a MemoryStacks,
        waits: &'a MemoryWaits,
        callbacks: &'a MemoryCallbacks,
        runs: &'a MemoryExecutions,
        max_polls: u32,
    ) -> AwaitStack<
        &'a MemoryStacks,
        &'a MemoryCallbacks,
        &'a MemoryWaits,
        &'a MemoryExecutions,
        FixedClock,
    > {
        let settings = Settings {
            max_polls,
            ..Settings::default()
        };
        AwaitStack::new(settings, stacks, callbacks, waiting(waits, runs))
    }

    #[tokio::test(start_paused = true)]
    async fn the_token_is_registered_under_the_stack_before_the_change_set_runs() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        let step = DeployInfrastructure::new(&stacks, waiting(&waits, &runs));
        let a = step.run(execute_input("t1", "arn:exec:1")).await.unwrap();
        assert_eq!(a.key, "wait#stack#shop-staging");
        assert!(stacks.executed());
        let w = &waits.all()[&a.key];
        assert_eq!(
            (w.token.as_str(), w.execution_id.as_str()),
            ("t1", "arn:exec:1")
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_change_set_that_cannot_run_fails_and_leaves_no_registration() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        stacks.fail_execute("ChangeSet is in EXECUTE_FAILED state");
        let step = DeployInfrastructure::new(&stacks, waiting(&waits, &runs));
        let e = step
            .run(execute_input("t1", "arn:exec:1"))
            .await
            .unwrap_err();
        assert_eq!(e.name, "StackDeployFailed");
        assert!(waits.all().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn another_run_waiting_on_the_stack_is_not_overwritten() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        let step = DeployInfrastructure::new(&stacks, waiting(&waits, &runs));
        step.run(execute_input("t1", "arn:exec:1")).await.unwrap();
        stacks.fail_execute("must not be reached");
        let e = step
            .run(execute_input("t2", "arn:exec:2"))
            .await
            .unwrap_err();
        assert_eq!(e.name, "StackDeployFailed");
        assert!(e.message.contains("arn:exec:1"), "{}", e.message);
        assert_eq!(waits.all()["wait#stack#shop-staging"].token, "t1");
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_left_by_a_stopped_run_is_replaced_and_a_live_one_is_not() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        let step = DeployInfrastructure::new(&stacks, waiting(&waits, &runs));
        step.run(execute_input("t1", "arn:exec:1")).await.unwrap();
        // The first run is stopped while it waits: its waiter stays behind.
        runs.set_running("arn:exec:1", false);
        step.run(execute_input("t2", "arn:exec:2")).await.unwrap();
        assert_eq!(waits.all()["wait#stack#shop-staging"].token, "t2");
        // The second is alive: a third run is refused.
        let e = step
            .run(execute_input("t4", "arn:exec:4"))
            .await
            .unwrap_err();
        assert!(e.message.contains("arn:exec:2"), "{}", e.message);
        assert_eq!(waits.all()["wait#stack#shop-staging"].token, "t2");
    }

    #[tokio::test(start_paused = true)]
    async fn an_expired_registration_of_another_run_is_replaced() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        let stale = Waiter {
            token: "old".into(),
            execution_id: "arn:exec:0".into(),
            subject: "shop-staging".into(),
            reads: 7,
            expires_at: now() - chrono::Duration::minutes(1),
        };
        waits
            .wait(
                "wait#stack#shop-staging",
                &stale,
                now() - chrono::Duration::days(3),
            )
            .await
            .unwrap();
        let step = DeployInfrastructure::new(&stacks, waiting(&waits, &runs));
        step.run(execute_input("t1", "arn:exec:1")).await.unwrap();
        let w = &waits.all()["wait#stack#shop-staging"];
        assert_eq!((w.token.as_str(), w.reads), ("t1", 0));
    }

    #[tokio::test(start_paused = true)]
    async fn a_reconcile_read_answers_a_stable_stack_at_once() {
        let (stacks, waits, callbacks, runs) = (
            MemoryStacks::default(),
            MemoryWaits::default(),
            MemoryCallbacks::default(),
            running(),
        );
        stacks.set_status("UPDATE_COMPLETE");
        let a = await_step(&stacks, &waits, &callbacks, &runs, 5)
            .run(await_input("t2"))
            .await
            .unwrap();
        assert_eq!((a.reads, a.answered), (1, true));
        assert_eq!(
            callbacks.successes(),
            vec![(
                "t2".to_string(),
                json!({"stackName": "shop-staging", "stackStatus": "UPDATE_COMPLETE"})
            )]
        );
        assert!(waits.all().is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn a_rollback_fails_with_the_reason_from_the_stack_events() {
        let (stacks, waits, callbacks, runs) = (
            MemoryStacks::default(),
            MemoryWaits::default(),
            MemoryCallbacks::default(),
            running(),
        );
        stacks.set_status("UPDATE_ROLLBACK_COMPLETE");
        stacks.set_failure_reason(
            "Api (AWS::Lambda::Function): Resource handler returned message: \"Role not found\"",
        );
        await_step(&stacks, &waits, &callbacks, &runs, 5)
            .run(await_input("t2"))
            .await
            .unwrap();
        let f = callbacks.failures();
        assert_eq!(f[0].1, "StackDeployFailed");
        assert!(
            f[0].2.contains("UPDATE_ROLLBACK_COMPLETE") && f[0].2.contains("Role not found"),
            "{}",
            f[0].2
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_stack_in_progress_keeps_waiting_until_the_reads_run_out() {
        let (stacks, waits, callbacks, runs) = (
            MemoryStacks::default(),
            MemoryWaits::default(),
            MemoryCallbacks::default(),
            running(),
        );
        DeployInfrastructure::new(&stacks, waiting(&waits, &runs))
            .run(execute_input("t1", "arn:exec:1"))
            .await
            .unwrap();
        stacks.set_status("UPDATE_IN_PROGRESS");
        let step = await_step(&stacks, &waits, &callbacks, &runs, 2);
        let first = step.run(await_input("t2")).await.unwrap();
        assert_eq!((first.reads, first.answered), (1, false));
        assert_eq!(waits.all()["wait#stack#shop-staging"].token, "t2");
        let second = step.run(await_input("t3")).await.unwrap();
        assert_eq!((second.reads, second.answered), (2, true));
        let f = callbacks.failures();
        assert_eq!((f[0].0.as_str(), f[0].1.as_str()), ("t3", "WaitExhausted"));
        assert!(f[0].2.contains("UPDATE_IN_PROGRESS"), "{}", f[0].2);
    }

    #[tokio::test(start_paused = true)]
    async fn the_stack_walks_through_its_statuses_announcing_each() {
        let (stacks, waits, runs) = (MemoryStacks::default(), MemoryWaits::default(), running());
        let mut events = stacks.subscribe();
        DeployInfrastructure::new(&stacks, waiting(&waits, &runs))
            .run(execute_input("t1", "arn:exec:1"))
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

    #[tokio::test]
    async fn outputs_are_captured_as_an_artifact() {
        let stacks = MemoryStacks::default();
        stacks.set_outputs(&[("ApiUrl", "https://api.example.test")]);
        let arts = MemoryArtifacts::default();
        let out = capture_outputs(
            &stacks,
            &arts,
            OutputsInput {
                stack_name: "shop-staging".into(),
                artifacts_prefix: "runs/r/".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out.values["ApiUrl"], "https://api.example.test");
        assert!(arts.get_sync("runs/r/stack-outputs.json").is_some());
    }
}

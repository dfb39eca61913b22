//! Deploy Frontend: map stack outputs to environment variables, merge them into the
//! hosting branch, start a job and wait for its status event (see [`super::waits`]),
//! reading the job after a missed one; the task resumes with the site's URL.

use super::waits::{amplify_key, bounded, deliver, job_verdict, Awaiting, Waiting};
use crate::error::{invalid_input, names, StepError};
use crate::ports::{Clock, Executions, Hosting, TaskCallbacks, Waits};
use crate::settings::Settings;
use crate::step::Step;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    /// The task token (`$$.Task.Token`) the job's status event answers.
    pub token: String,
    pub execution_id: String,
    pub outputs: BTreeMap<String, String>,
    pub sha: String,
}

/// The ports a frontend wait uses.
pub struct Ports<H, T, W, E, C> {
    pub hosting: H,
    pub callbacks: T,
    pub waiting: Waiting<W, E, C>,
}

impl<H: Hosting, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> Ports<H, T, W, E, C> {
    /// Registers `token` for job `job`, reads the job once and answers at once if it
    /// has settled (it may have finished before the registration).
    async fn register_and_read(
        &self,
        settings: &Settings,
        (token, execution_id): (&str, &str),
        job: Option<String>,
    ) -> Result<Awaiting, StepError> {
        let (app, branch) = self.hosting.app_branch();
        let key = amplify_key(&app, &branch);
        let reconcile = job.is_none();
        let job = match job {
            Some(job) => job,
            None => self
                .waiting
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
            .waiting
            .register(
                &key,
                (token, execution_id, &job),
                reconcile,
                names::AMPLIFY_JOB_FAILED,
            )
            .await?;
        let status = self.hosting.job(&job).await?;
        let verdict = bounded(
            settings,
            waiter.reads,
            job_verdict(&self.hosting, status, None).await?,
            &format!("frontend job {job}"),
        );
        let answered =
            deliver(&self.waiting.waits, &self.callbacks, &key, &waiter, verdict).await?;
        Ok(Awaiting {
            key,
            reads: waiter.reads,
            answered,
        })
    }
}

/// The `deploy-frontend` function's name.
pub const DEPLOY_FRONTEND: &str = "deploy-frontend";

/// Deploy Frontend: maps outputs to the hosting environment, starts a job and
/// registers the task's token for the job's status event.
pub struct DeployFrontend<H, T, W, E, C> {
    settings: Settings,
    ports: Ports<H, T, W, E, C>,
}

impl<H: Hosting, T: TaskCallbacks, W: Waits, E: Executions, C: Clock>
    DeployFrontend<H, T, W, E, C>
{
    pub fn new(settings: Settings, ports: Ports<H, T, W, E, C>) -> Self {
        DeployFrontend { settings, ports }
    }
}

impl<H: Hosting, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> Step
    for DeployFrontend<H, T, W, E, C>
{
    const NAME: &'static str = DEPLOY_FRONTEND;
    type Input = StartInput;
    type Output = Awaiting;

    async fn run(&self, input: StartInput) -> Result<Awaiting, StepError> {
        let mut vars = BTreeMap::new();
        for (output, env) in &self.settings.frontend_env {
            let value = input.outputs.get(output).ok_or_else(|| {
                invalid_input(format!("the frontend needs stack output '{output}' (for {env}), which the stack does not export"))
            })?;
            vars.insert(env.clone(), value.clone());
        }
        let hosting = &self.ports.hosting;
        hosting
            .merge_environment(&vars)
            .await
            .map_err(|e| StepError::new(names::AMPLIFY_JOB_FAILED, e.to_string()))?;
        let job = hosting
            .start_job(&input.sha)
            .await
            .map_err(|e| StepError::new(names::AMPLIFY_JOB_FAILED, e.to_string()))?;
        self.ports
            .register_and_read(
                &self.settings,
                (&input.token, &input.execution_id),
                Some(job),
            )
            .await
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AwaitInput {
    pub token: String,
    pub execution_id: String,
}

/// The `await-frontend` function's name.
pub const AWAIT_FRONTEND: &str = "await-frontend";

/// Await Frontend Event (after a missed one): registers the task's new token for the
/// run's job, reads the job once and answers at once if it has settled. Bounded by
/// `STAGEGATE_MAX_POLLS` reads.
pub struct AwaitFrontend<H, T, W, E, C> {
    settings: Settings,
    ports: Ports<H, T, W, E, C>,
}

impl<H: Hosting, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> AwaitFrontend<H, T, W, E, C> {
    pub fn new(settings: Settings, ports: Ports<H, T, W, E, C>) -> Self {
        AwaitFrontend { settings, ports }
    }
}

impl<H: Hosting, T: TaskCallbacks, W: Waits, E: Executions, C: Clock> Step
    for AwaitFrontend<H, T, W, E, C>
{
    const NAME: &'static str = AWAIT_FRONTEND;
    type Input = AwaitInput;
    type Output = Awaiting;

    async fn run(&self, input: AwaitInput) -> Result<Awaiting, StepError> {
        self.ports
            .register_and_read(&self.settings, (&input.token, &input.execution_id), None)
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryWaits;
    use crate::ports::JobStatus;
    use crate::testing::{
        now, FixedClock, MemoryCallbacks, MemoryExecutions, MemoryHosting, STATUS_EVERY,
    };
    use serde_json::json;

    fn settings() -> Settings {
        Settings {
            frontend_env: BTreeMap::from([("ApiUrl".into(), "VITE_API_URL".into())]),
            max_polls: 2,
            ..Settings::default()
        }
    }

    type World = Ports<MemoryHosting, MemoryCallbacks, MemoryWaits, MemoryExecutions, FixedClock>;

    fn world() -> World {
        let runs = MemoryExecutions::default();
        runs.set_running("arn:exec:1", true);
        Ports {
            hosting: MemoryHosting::default(),
            callbacks: MemoryCallbacks::default(),
            waiting: Waiting {
                waits: MemoryWaits::default(),
                runs,
                clock: FixedClock(now()),
            },
        }
    }

    fn start_input(token: &str) -> StartInput {
        StartInput {
            token: token.into(),
            execution_id: "arn:exec:1".into(),
            outputs: BTreeMap::from([("ApiUrl".into(), "https://api".into())]),
            sha: "abc".into(),
        }
    }

    fn await_input(token: &str) -> AwaitInput {
        AwaitInput {
            token: token.into(),
            execution_id: "arn:exec:1".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn maps_outputs_keeps_existing_variables_and_registers_the_job() {
        let step = DeployFrontend::new(settings(), world());
        step.ports.hosting.set_env("EXISTING", "kept");
        let a = step.run(start_input("t1")).await.unwrap();
        assert_eq!(
            (a.key.as_str(), a.answered),
            ("wait#amplify#d1example#staging", false)
        );
        let env = step.ports.hosting.env();
        assert_eq!(env["VITE_API_URL"], "https://api");
        assert_eq!(env["EXISTING"], "kept");
        let w = &step.ports.waiting.waits.all()[&a.key];
        assert_eq!(
            (w.token.as_str(), w.subject.as_str(), w.reads),
            ("t1", "1", 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_output_is_named() {
        let step = DeployFrontend::new(settings(), world());
        let e = step
            .run(StartInput {
                outputs: BTreeMap::new(),
                ..start_input("t1")
            })
            .await
            .unwrap_err();
        assert!(e.message.contains("'ApiUrl'"), "{}", e.message);
        assert!(step.ports.hosting.jobs().is_empty(), "no job was started");
    }

    #[tokio::test(start_paused = true)]
    async fn after_a_missed_event_a_finished_job_is_answered_with_the_url() {
        let step = DeployFrontend::new(settings(), world());
        step.ports.hosting.miss_events();
        step.run(start_input("t1")).await.unwrap();
        tokio::time::sleep(STATUS_EVERY * 3).await;
        let again = AwaitFrontend::new(settings(), step.ports);
        let a = again.run(await_input("t2")).await.unwrap();
        assert!(a.answered);
        assert_eq!(
            again.ports.callbacks.successes(),
            vec![(
                "t2".to_string(),
                json!({"jobId": "1", "url": "https://staging.example.test"})
            )]
        );
        assert!(
            again.ports.waiting.waits.all().is_empty(),
            "the registration is gone"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_failed_job_is_amplify_job_failed_with_its_reason() {
        let step = DeployFrontend::new(settings(), world());
        step.ports.hosting.set_job_statuses(&[JobStatus::Failed]);
        step.ports.hosting.miss_events();
        step.run(start_input("t1")).await.unwrap();
        tokio::time::sleep(STATUS_EVERY * 2).await;
        let again = AwaitFrontend::new(settings(), step.ports);
        again.run(await_input("t2")).await.unwrap();
        let failures = again.ports.callbacks.failures();
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
        let step = DeployFrontend::new(settings(), world());
        step.ports.hosting.set_job_statuses(&[JobStatus::Running]);
        step.run(start_input("t1")).await.unwrap();
        let again = AwaitFrontend::new(settings(), step.ports);
        let first = again.run(await_input("t2")).await.unwrap();
        assert_eq!((first.reads, first.answered), (1, false));
        let second = again.run(await_input("t3")).await.unwrap();
        assert_eq!((second.reads, second.answered), (2, true));
        let failures = again.ports.callbacks.failures();
        assert_eq!(failures[0].0, "t3");
        assert_eq!(failures[0].1, "WaitExhausted");
    }

    #[tokio::test(start_paused = true)]
    async fn awaiting_without_a_job_of_this_run_fails_by_name() {
        let step = AwaitFrontend::new(settings(), world());
        let e = step.run(await_input("t1")).await.unwrap_err();
        assert_eq!(e.name, "AmplifyJobFailed");
    }
}

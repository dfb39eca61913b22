//! Deploy Frontend (`deploy-frontend`): maps the stack outputs to environment
//! variables, merges them into the hosting branch, starts a job and registers the
//! task's token for the job's status event (see [`crate::waiting`]); the task
//! resumes with the site's URL.

use crate::error::{invalid_input, names, StepError};
use crate::flow::Awaiting;
use crate::ports::{Clock, Executions, Hosting, TaskCallbacks, Waits};
use crate::settings::Settings;
use crate::step::Step;
use crate::waiting::{Task, Waiting};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `deploy-frontend` function's name.
pub const NAME: &str = "deploy-frontend";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The task the job's status event answers.
    #[serde(flatten)]
    pub task: Task,
    pub outputs: BTreeMap<String, String>,
    pub sha: String,
}

/// Deploy Frontend: the environment, a job, and the task registered to wait on it.
pub struct DeployFrontend<H, T, R, C> {
    pub settings: Settings,
    pub hosting: H,
    pub waiting: Waiting<T, R, C>,
}

impl<H, T, R, C> Step<Input, Awaiting> for DeployFrontend<H, T, R, C>
where
    H: Hosting,
    T: Waits,
    R: Executions + TaskCallbacks,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Awaiting, StepError> {
        let mut vars = BTreeMap::new();
        for (output, env) in &self.settings.frontend_env {
            let value = input.outputs.get(output).ok_or_else(|| {
                invalid_input(format!("the frontend needs stack output '{output}' (for {env}), which the stack does not export"))
            })?;
            vars.insert(env.clone(), value.clone());
        }
        let failed = |e: crate::error::PortError| e.refused_as(names::AMPLIFY_JOB_FAILED);
        self.hosting
            .merge_environment(&vars)
            .await
            .map_err(failed)?;
        let job = self.hosting.start_job(&input.sha).await.map_err(failed)?;
        self.waiting
            .frontend_job(
                &self.hosting,
                self.settings.max_polls,
                &input.task,
                Some(job),
            )
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    fn step() -> DeployFrontend<MemoryHosting, MemoryTable, MemoryRuns, FixedClock> {
        DeployFrontend {
            settings: Settings {
                frontend_env: BTreeMap::from([("ApiUrl".into(), "VITE_API_URL".into())]),
                ..Settings::default()
            },
            hosting: MemoryHosting::default(),
            waiting: memory_waiting(&MemoryTable::default(), &running(&["arn:exec:1"])),
        }
    }

    fn input(token: &str) -> Input {
        Input {
            task: task(token, "arn:exec:1"),
            outputs: BTreeMap::from([("ApiUrl".into(), "https://api".into())]),
            sha: "abc".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn maps_outputs_keeps_existing_variables_and_registers_the_job() {
        let step = step();
        step.hosting.set_env("EXISTING", "kept");
        let a = step.run(input("t1")).await.unwrap();
        assert_eq!(
            (a.key.as_str(), a.answered),
            ("wait#amplify#d1example#staging", false)
        );
        let env = step.hosting.env();
        assert_eq!(env["VITE_API_URL"], "https://api");
        assert_eq!(env["EXISTING"], "kept");
        let w = &step.waiting.waits.waiters()[&a.key];
        assert_eq!(
            (w.token.as_str(), w.subject.as_str(), w.reads),
            ("t1", "1", 0)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_missing_output_is_named() {
        let step = step();
        let e = step
            .run(Input {
                outputs: BTreeMap::new(),
                ..input("t1")
            })
            .await
            .unwrap_err();
        assert!(e.message.contains("'ApiUrl'"), "{}", e.message);
        assert!(step.hosting.jobs().is_empty(), "no job was started");
    }
}

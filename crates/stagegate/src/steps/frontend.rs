//! Deploy Frontend: map stack outputs to environment variables, merge them into the
//! hosting branch, start a job, poll it (bounded), capture the URL.

use crate::error::{invalid_input, names, StepError};
use crate::ports::{Hosting, JobStatus};
use crate::settings::Settings;
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StartInput {
    pub outputs: BTreeMap<String, String>,
    pub sha: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub job_id: String,
    /// `RUNNING` while waiting, `SUCCEEDED` when deployed.
    pub status: String,
    pub variables: Vec<String>,
    #[serde(default)]
    pub url: Option<String>,
    pub attempt: u32,
}

async fn start(
    settings: &Settings,
    hosting: &impl Hosting,
    input: StartInput,
) -> Result<Progress, StepError> {
    let mut vars = BTreeMap::new();
    for (output, env) in &settings.frontend_env {
        let value = input.outputs.get(output).ok_or_else(|| {
            invalid_input(format!("the frontend needs stack output '{output}' (for {env}), which the stack does not export"))
        })?;
        vars.insert(env.clone(), value.clone());
    }
    hosting
        .merge_environment(&vars)
        .await
        .map_err(|e| StepError::new(names::AMPLIFY_JOB_FAILED, e.to_string()))?;
    let job_id = hosting
        .start_job(&input.sha)
        .await
        .map_err(|e| StepError::new(names::AMPLIFY_JOB_FAILED, e.to_string()))?;
    Ok(Progress {
        job_id,
        status: "RUNNING".into(),
        variables: vars.into_keys().collect(),
        url: None,
        attempt: 0,
    })
}

async fn status(
    settings: &Settings,
    hosting: &impl Hosting,
    progress: Progress,
) -> Result<Progress, StepError> {
    let attempt = progress.attempt + 1;
    let job = hosting.job(&progress.job_id).await?;
    match job.status {
        JobStatus::Succeeded => {
            let url = hosting.url().await?;
            Ok(Progress {
                status: "SUCCEEDED".into(),
                url: Some(url),
                attempt,
                ..progress
            })
        }
        JobStatus::Failed | JobStatus::Cancelled => Err(StepError::new(
            names::AMPLIFY_JOB_FAILED,
            format!(
                "frontend job {} ended {:?}: {}",
                job.id,
                job.status,
                job.reason.unwrap_or_else(|| "no reason given".into())
            ),
        )),
        JobStatus::Pending | JobStatus::Running if attempt >= settings.max_polls => {
            Err(StepError::new(
                names::WAIT_EXHAUSTED,
                format!(
                    "frontend job {} was still running after {attempt} polls",
                    job.id
                ),
            ))
        }
        JobStatus::Pending | JobStatus::Running => Ok(Progress {
            status: "RUNNING".into(),
            attempt,
            ..progress
        }),
    }
}

/// The `deploy-frontend` function's name.
pub const DEPLOY_FRONTEND: &str = "deploy-frontend";

/// Deploy Frontend: maps outputs to the hosting environment and starts a job.
pub struct DeployFrontend<H> {
    settings: Settings,
    hosting: H,
}

impl<H: Hosting> DeployFrontend<H> {
    pub fn new(settings: Settings, hosting: H) -> Self {
        DeployFrontend { settings, hosting }
    }
}

impl<H: Hosting> Step for DeployFrontend<H> {
    const NAME: &'static str = DEPLOY_FRONTEND;
    type Input = StartInput;
    type Output = Progress;

    async fn run(&self, input: StartInput) -> Result<Progress, StepError> {
        start(&self.settings, &self.hosting, input).await
    }
}

/// The `frontend-status` function's name.
pub const FRONTEND_STATUS: &str = "frontend-status";

/// Deploy Frontend: one poll of the hosting job, then the URL.
pub struct FrontendStatus<H> {
    settings: Settings,
    hosting: H,
}

impl<H: Hosting> FrontendStatus<H> {
    pub fn new(settings: Settings, hosting: H) -> Self {
        FrontendStatus { settings, hosting }
    }
}

impl<H: Hosting> Step for FrontendStatus<H> {
    const NAME: &'static str = FRONTEND_STATUS;
    type Input = Progress;
    type Output = Progress;

    async fn run(&self, input: Progress) -> Result<Progress, StepError> {
        status(&self.settings, &self.hosting, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryHosting;

    fn settings() -> Settings {
        Settings {
            frontend_env: BTreeMap::from([("ApiUrl".into(), "VITE_API_URL".into())]),
            ..Settings::default()
        }
    }

    #[tokio::test]
    async fn maps_outputs_to_variables_and_keeps_existing_ones() {
        let hosting = MemoryHosting::default();
        hosting.set_env("EXISTING", "kept");
        let p = start(
            &settings(),
            &hosting,
            StartInput {
                outputs: BTreeMap::from([("ApiUrl".into(), "https://api".into())]),
                sha: "abc".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(p.variables, vec!["VITE_API_URL"]);
        let env = hosting.env();
        assert_eq!(env["VITE_API_URL"], "https://api");
        assert_eq!(env["EXISTING"], "kept");
    }

    #[tokio::test]
    async fn a_missing_output_is_named() {
        let e = start(
            &settings(),
            &MemoryHosting::default(),
            StartInput {
                outputs: BTreeMap::new(),
                sha: "abc".into(),
            },
        )
        .await
        .unwrap_err();
        assert!(e.message.contains("'ApiUrl'"), "{}", e.message);
    }

    #[tokio::test]
    async fn polls_to_success_and_captures_the_url() {
        let hosting = MemoryHosting::default();
        hosting.set_job_statuses(&[JobStatus::Running, JobStatus::Succeeded]);
        let s = settings();
        let p = start(
            &s,
            &hosting,
            StartInput {
                outputs: BTreeMap::from([("ApiUrl".into(), "x".into())]),
                sha: "abc".into(),
            },
        )
        .await
        .unwrap();
        let p = status(&s, &hosting, p).await.unwrap();
        assert_eq!(p.status, "RUNNING");
        let p = status(&s, &hosting, p).await.unwrap();
        assert_eq!(
            (p.status.as_str(), p.url.as_deref()),
            ("SUCCEEDED", Some("https://staging.example.test"))
        );
    }

    #[tokio::test]
    async fn a_failed_job_is_amplify_job_failed() {
        let hosting = MemoryHosting::default();
        hosting.set_job_statuses(&[JobStatus::Failed]);
        let s = settings();
        let p = Progress {
            job_id: "1".into(),
            status: "RUNNING".into(),
            variables: vec![],
            url: None,
            attempt: 0,
        };
        assert_eq!(
            status(&s, &hosting, p).await.unwrap_err().name,
            "AmplifyJobFailed"
        );
    }
}

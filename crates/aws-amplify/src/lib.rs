//! [`Hosting`] on AWS Amplify: one app, one branch (the staging branch).
//!
//! `UpdateBranch` replaces the branch's whole environment-variable map, so the merge
//! reads the current map first and writes it back with the new values on top:
//! variables set by hand in the console survive a deployment.

use aws_common::port_error;
use aws_sdk_amplify::types::{JobStatus as AmplifyStatus, JobType};
use aws_sdk_amplify::Client;
use stagegate::error::PortError;
use stagegate::ports::{Hosting, Job, JobStatus, PortResult};
use std::collections::{BTreeMap, HashMap};

#[derive(Clone, Debug)]
pub struct AmplifyHosting {
    client: Client,
    app_id: String,
    branch: String,
}

impl AmplifyHosting {
    pub fn from_config(
        config: &aws_types::SdkConfig,
        app_id: impl Into<String>,
        branch: impl Into<String>,
    ) -> Self {
        Self::new(Client::new(config), app_id, branch)
    }

    pub fn new(client: Client, app_id: impl Into<String>, branch: impl Into<String>) -> Self {
        AmplifyHosting {
            client,
            app_id: app_id.into(),
            branch: branch.into(),
        }
    }

    async fn branch(&self) -> PortResult<aws_sdk_amplify::types::Branch> {
        let out = self
            .client
            .get_branch()
            .app_id(&self.app_id)
            .branch_name(&self.branch)
            .send()
            .await
            .map_err(|e| port_error(self.what("read branch"), &e))?;
        out.branch()
            .cloned()
            .ok_or_else(|| PortError::new(self.what("read branch"), "Amplify returned no branch"))
    }

    fn what(&self, op: &str) -> String {
        format!("{op} {} of Amplify app {}", self.branch, self.app_id)
    }
}

/// The staging frontend's app and branch, from the deployment.
impl From<&aws_common::Context> for AmplifyHosting {
    fn from(ctx: &aws_common::Context) -> Self {
        let d = &ctx.deployment;
        Self::from_config(&ctx.aws, &d.amplify_app_id, &d.amplify_branch)
    }
}

fn status(s: &AmplifyStatus) -> JobStatus {
    match s {
        AmplifyStatus::Succeed => JobStatus::Succeeded,
        AmplifyStatus::Failed => JobStatus::Failed,
        AmplifyStatus::Cancelled | AmplifyStatus::Cancelling => JobStatus::Cancelled,
        AmplifyStatus::Running => JobStatus::Running,
        // CREATED, PENDING, PROVISIONING, and anything newer: not running yet.
        _ => JobStatus::Pending,
    }
}

impl Hosting for AmplifyHosting {
    async fn merge_environment(&self, vars: &BTreeMap<String, String>) -> PortResult<()> {
        let mut env: HashMap<String, String> = self.branch().await?.environment_variables().clone();
        env.extend(vars.iter().map(|(k, v)| (k.clone(), v.clone())));
        self.client
            .update_branch()
            .app_id(&self.app_id)
            .branch_name(&self.branch)
            .set_environment_variables(Some(env))
            .send()
            .await
            .map_err(|e| port_error(self.what("update environment of branch"), &e))?;
        Ok(())
    }

    async fn start_job(&self, commit: &str) -> PortResult<String> {
        let out = self
            .client
            .start_job()
            .app_id(&self.app_id)
            .branch_name(&self.branch)
            .job_type(JobType::Release)
            .commit_id(commit)
            .send()
            .await
            .map_err(|e| port_error(self.what("start a job on branch"), &e))?;
        out.job_summary()
            .map(|s| s.job_id().to_string())
            .ok_or_else(|| PortError::new(self.what("start a job on branch"), "no job id returned"))
    }

    async fn job(&self, id: &str) -> PortResult<Job> {
        let out = self
            .client
            .get_job()
            .app_id(&self.app_id)
            .branch_name(&self.branch)
            .job_id(id)
            .send()
            .await
            .map_err(|e| port_error(self.what(&format!("read job {id} on branch")), &e))?;
        let job = out
            .job()
            .ok_or_else(|| PortError::new(self.what("read job"), "Amplify returned no job"))?;
        let summary = job
            .summary()
            .ok_or_else(|| PortError::new(self.what("read job"), "the job has no summary"))?;
        let status = status(summary.status());
        let reason = match status {
            JobStatus::Failed | JobStatus::Cancelled => {
                let failed: Vec<String> = job
                    .steps()
                    .iter()
                    .filter(|s| {
                        matches!(s.status(), AmplifyStatus::Failed | AmplifyStatus::Cancelled)
                    })
                    .map(|s| {
                        let mut line = format!("step {} {}", s.step_name(), s.status().as_str());
                        if let Some(r) = s.status_reason() {
                            line.push_str(&format!(": {r}"));
                        }
                        // Log URLs are presigned (a secret in a link): point to the
                        // console instead of copying them into notifications.
                        if s.log_url().is_some() {
                            line.push_str(" (log in the Amplify console)");
                        }
                        line
                    })
                    .collect();
                Some(if failed.is_empty() {
                    format!("job {id} {}", summary.status().as_str())
                } else {
                    failed.join("; ")
                })
            }
            _ => None,
        };
        Ok(Job {
            id: summary.job_id().to_string(),
            status,
            reason,
        })
    }

    async fn url(&self) -> PortResult<String> {
        let branch = self.branch().await?;
        let app = self
            .client
            .get_app()
            .app_id(&self.app_id)
            .send()
            .await
            .map_err(|e| port_error(format!("read Amplify app {}", self.app_id), &e))?;
        let domain = app
            .app()
            .map(|a| a.default_domain().to_string())
            .filter(|d| !d.is_empty())
            .ok_or_else(|| {
                PortError::new(
                    format!("read Amplify app {}", self.app_id),
                    "the app has no default domain",
                )
            })?;
        Ok(format!("https://{}.{domain}", branch.display_name()))
    }

    fn app_branch(&self) -> (String, String) {
        (self.app_id.clone(), self.branch.clone())
    }
}

#[cfg(test)]
mod tests;

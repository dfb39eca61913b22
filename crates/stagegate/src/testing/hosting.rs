//! [`MemoryHosting`]: an Amplify stand-in for unit and path tests, with its job
//! status events as EventBridge would deliver them.

use super::doubles::lock;
use super::events::StatusEvents;
use crate::error::PortError;
use crate::ports::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// An Amplify stand-in (a cheap handle: clones share the branch and its jobs).
#[derive(Clone)]
pub struct MemoryHosting {
    env: Arc<Mutex<BTreeMap<String, String>>>,
    state: Arc<Mutex<HostingState>>,
    /// Its jobs' status events.
    pub events: StatusEvents,
}

struct HostingState {
    /// What each job passes through once started, one status every
    /// [`super::STATUS_EVERY`].
    timeline: Vec<JobStatus>,
    /// The jobs started (their commits) and where each is now.
    jobs: Vec<(String, JobStatus)>,
    /// The branch it deploys (`staging`; `production` for a production site).
    branch: String,
}

impl Default for MemoryHosting {
    fn default() -> Self {
        MemoryHosting {
            env: Arc::default(),
            state: Arc::new(Mutex::new(HostingState {
                timeline: vec![JobStatus::Running, JobStatus::Succeeded],
                jobs: Vec::new(),
                branch: AMPLIFY_BRANCH.into(),
            })),
            events: StatusEvents::default(),
        }
    }
}

/// The Amplify app and branch of the double.
pub const AMPLIFY_APP: &str = "d1example";
pub const AMPLIFY_BRANCH: &str = "staging";

impl MemoryHosting {
    /// A site of its own on `branch` (`https://<branch>.example.test`): production's.
    pub fn on_branch(branch: &str) -> Self {
        let hosting = MemoryHosting::default();
        lock(&hosting.state).branch = branch.to_string();
        hosting
    }

    pub fn set_env(&self, k: &str, v: &str) {
        lock(&self.env).insert(k.into(), v.into());
    }
    pub fn env(&self) -> BTreeMap<String, String> {
        lock(&self.env).clone()
    }
    /// Statuses a job walks through once started, one every [`super::STATUS_EVERY`], each
    /// announced by a "Deployment Status Change" event.
    pub fn set_job_statuses(&self, s: &[JobStatus]) {
        lock(&self.state).timeline = s.to_vec();
    }
    /// The commit of each job started.
    pub fn jobs(&self) -> Vec<String> {
        lock(&self.state).jobs.iter().map(|j| j.0.clone()).collect()
    }
}

const JOB_FAILURE: &str = "build step failed: npm ERR! missing script: build";

impl Hosting for MemoryHosting {
    async fn merge_environment(&self, vars: &BTreeMap<String, String>) -> PortResult<()> {
        lock(&self.env).extend(vars.clone());
        Ok(())
    }
    async fn start_job(&self, commit: &str) -> PortResult<String> {
        let mut s = lock(&self.state);
        s.jobs.push((commit.to_string(), JobStatus::Pending));
        let (index, timeline) = (s.jobs.len() - 1, s.timeline.clone());
        let id = s.jobs.len().to_string();
        let (state, job) = (self.state.clone(), id.clone());
        self.events.walk(timeline, move |status: JobStatus| {
            let mut s = lock(&state);
            s.jobs[index].1 = status.clone();
            let name = match status {
                JobStatus::Succeeded => "SUCCEED",
                JobStatus::Failed | JobStatus::Cancelled => "FAILED",
                JobStatus::Pending | JobStatus::Running => "STARTED",
            };
            crate::status_events::amplify_status_event(AMPLIFY_APP, &s.branch, &job, name)
        });
        Ok(id)
    }
    async fn job(&self, id: &str) -> PortResult<Job> {
        let s = lock(&self.state);
        let status = id
            .parse::<usize>()
            .ok()
            .and_then(|n| s.jobs.get(n.wrapping_sub(1)))
            .map(|j| j.1.clone())
            .ok_or_else(|| PortError::new("job", format!("no job {id}")))?;
        let reason = matches!(status, JobStatus::Failed).then(|| JOB_FAILURE.to_string());
        Ok(Job {
            id: id.to_string(),
            status,
            reason,
        })
    }
    async fn url(&self) -> PortResult<String> {
        Ok(format!("https://{}.example.test", lock(&self.state).branch))
    }
    fn app_branch(&self) -> (String, String) {
        (AMPLIFY_APP.into(), lock(&self.state).branch.clone())
    }
}

//! In-memory doubles for the ports, for unit and path tests: each records what it was
//! asked to do and can be told how to answer. (The approval store the rehearsal
//! really uses, [`crate::memory::MemoryApprovals`], is not a double and lives apart.)

use crate::error::PortError;
use crate::ports::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::broadcast;

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct MemoryArtifacts {
    items: Mutex<BTreeMap<String, (String, Vec<u8>)>>,
    broken: Mutex<Vec<String>>,
}

impl MemoryArtifacts {
    pub fn get_sync(&self, key: &str) -> Option<Vec<u8>> {
        lock(&self.items).get(key).map(|(_, b)| b.clone())
    }
    pub fn keys(&self) -> Vec<String> {
        lock(&self.items).keys().cloned().collect()
    }
    /// Every read and write of a key containing `part` fails (the bucket refuses).
    pub fn break_keys_containing(&self, part: &str) {
        lock(&self.broken).push(part.to_string());
    }
    fn check(&self, key: &str) -> PortResult<()> {
        match lock(&self.broken).iter().find(|p| key.contains(p.as_str())) {
            Some(_) => Err(PortError::new(
                format!("artifact {key}"),
                "AccessDenied: the store refuses this key (a test fault)",
            )),
            None => Ok(()),
        }
    }
}

impl Artifacts for MemoryArtifacts {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> PortResult<String> {
        self.check(key)?;
        lock(&self.items).insert(key.to_string(), (content_type.to_string(), body));
        Ok(format!("mem://artifacts/{key}"))
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.check(key)?;
        Ok(self.get_sync(key))
    }
}

#[derive(Default)]
pub struct MemoryNotifier {
    sent: Mutex<Vec<(Topic, Message)>>,
    outage: Mutex<u32>,
}

impl MemoryNotifier {
    pub fn messages(&self) -> Vec<(Topic, Message)> {
        lock(&self.sent).clone()
    }
    /// The next `n` publishes fail (an SNS outage).
    pub fn fail_next(&self, n: u32) {
        *lock(&self.outage) = n;
    }
}

impl Notifier for MemoryNotifier {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        {
            let mut outage = lock(&self.outage);
            if *outage > 0 {
                *outage -= 1;
                return Err(PortError::new("publish", "InternalError: a test outage"));
            }
        }
        let mut sent = lock(&self.sent);
        sent.push((topic, message.clone()));
        Ok(format!("msg-{}", sent.len()))
    }
}

#[derive(Default)]
pub struct MemoryCallbacks {
    successes: Mutex<Vec<(String, Value)>>,
    failures: Mutex<Vec<(String, String, String)>>,
    closed: Mutex<BTreeSet<String>>,
}

impl MemoryCallbacks {
    pub fn successes(&self) -> Vec<(String, Value)> {
        lock(&self.successes).clone()
    }
    pub fn failures(&self) -> Vec<(String, String, String)> {
        lock(&self.failures).clone()
    }
    /// Makes the token's task gone (timed out), as AWS would.
    pub fn close(&self, token: &str) {
        lock(&self.closed).insert(token.to_string());
    }
    fn take(&self, token: &str) -> Result<(), CallbackError> {
        if !lock(&self.closed).insert(token.to_string()) {
            return Err(CallbackError::TaskClosed(token.to_string()));
        }
        Ok(())
    }
}

impl TaskCallbacks for MemoryCallbacks {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.take(token)?;
        lock(&self.successes).push((token.to_string(), output.clone()));
        Ok(())
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.take(token)?;
        lock(&self.failures).push((token.to_string(), error.to_string(), cause.to_string()));
        Ok(())
    }
}

#[derive(Default)]
pub struct MemoryExecutions {
    running: Mutex<BTreeSet<String>>,
}

impl MemoryExecutions {
    pub fn set_running(&self, id: &str, running: bool) {
        let mut all = lock(&self.running);
        if running {
            all.insert(id.to_string());
        } else {
            all.remove(id);
        }
    }
}

impl Executions for MemoryExecutions {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        Ok(lock(&self.running).contains(id))
    }
}

/// A CloudFormation stand-in. Before a change set runs, the stack sits at
/// `UPDATE_COMPLETE`; after, it walks through the configured statuses.
pub struct MemoryStacks {
    state: Arc<Mutex<StacksState>>,
    events: broadcast::Sender<Value>,
}

struct StacksState {
    pending_polls: u32,
    create_failure: Option<String>,
    execute_failure: Option<String>,
    change_set_failure: Option<String>,
    no_changes: bool,
    unexecutable: Option<String>,
    version: u32,
    executed: bool,
    /// Where the stack is now.
    status: String,
    /// What it passes through once executed, one status every [`STATUS_EVERY`].
    after_execute: Vec<String>,
    /// Status events are lost (EventBridge delivers them on a best-effort basis).
    miss_events: bool,
    every: std::time::Duration,
    failure_reason: Option<String>,
    outputs: BTreeMap<String, String>,
    requests: Vec<ChangeSetRequest>,
    changes: Vec<ResourceChange>,
}

/// How long a stack or an Amplify job of the doubles takes per status (virtual time in
/// the path tests).
pub const STATUS_EVERY: std::time::Duration = std::time::Duration::from_secs(20);

impl Default for MemoryStacks {
    fn default() -> Self {
        MemoryStacks {
            state: Arc::new(Mutex::new(StacksState {
                pending_polls: 0,
                create_failure: None,
                execute_failure: None,
                change_set_failure: None,
                no_changes: false,
                unexecutable: None,
                version: 1,
                executed: false,
                status: "UPDATE_COMPLETE".into(),
                after_execute: vec!["UPDATE_IN_PROGRESS".into(), "UPDATE_COMPLETE".into()],
                miss_events: false,
                every: STATUS_EVERY,
                failure_reason: None,
                outputs: BTreeMap::from([(
                    "ApiUrl".to_string(),
                    "https://api.example.test".to_string(),
                )]),
                requests: Vec::new(),
                changes: vec![
                    ResourceChange {
                        action: "Add".into(),
                        logical_id: "Queue".into(),
                        resource_type: "AWS::SQS::Queue".into(),
                        replacement: String::new(),
                    },
                    ResourceChange {
                        action: "Modify".into(),
                        logical_id: "Api".into(),
                        resource_type: "AWS::Lambda::Function".into(),
                        replacement: "False".into(),
                    },
                ],
            })),
            events: broadcast::channel(64).0,
        }
    }
}

impl MemoryStacks {
    pub fn set_pending_polls(&self, n: u32) {
        lock(&self.state).pending_polls = n;
    }
    pub fn fail_change_set(&self, reason: &str) {
        lock(&self.state).change_set_failure = Some(reason.into());
    }
    /// `CreateChangeSet` itself fails (e.g. the template cannot be read).
    pub fn fail_create(&self, reason: &str) {
        lock(&self.state).create_failure = Some(reason.into());
    }
    /// `ExecuteChangeSet` fails.
    pub fn fail_execute(&self, reason: &str) {
        lock(&self.state).execute_failure = Some(reason.into());
    }
    pub fn set_no_changes(&self) {
        lock(&self.state).no_changes = true;
    }
    pub fn make_unexecutable(&self, reason: &str) {
        lock(&self.state).unexecutable = Some(reason.into());
    }
    /// Someone else updated the stack.
    pub fn bump_version(&self) {
        lock(&self.state).version += 1;
    }
    /// The stack is in `status` now.
    pub fn set_status(&self, status: &str) {
        lock(&self.state).status = status.into();
    }
    /// Statuses the stack walks through once the change set is executed, one every
    /// [`STATUS_EVERY`], each announced by a "Stack Status Change" event.
    pub fn after_execute(&self, statuses: &[&str]) {
        lock(&self.state).after_execute = statuses.iter().map(|x| x.to_string()).collect();
    }
    /// The stack changes, but its status events never arrive.
    pub fn miss_events(&self) {
        lock(&self.state).miss_events = true;
    }
    /// Each status after execution takes `every` instead of [`STATUS_EVERY`].
    pub fn set_status_every(&self, every: std::time::Duration) {
        lock(&self.state).every = every;
    }
    /// The stack's status events, as EventBridge would deliver them to a rule.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
    }
    pub fn set_failure_reason(&self, r: &str) {
        lock(&self.state).failure_reason = Some(r.into());
    }
    pub fn set_outputs(&self, outputs: &[(&str, &str)]) {
        lock(&self.state).outputs = outputs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    }
    pub fn last_request(&self) -> Option<ChangeSetRequest> {
        lock(&self.state).requests.last().cloned()
    }
    pub fn executed(&self) -> bool {
        lock(&self.state).executed
    }
}

impl Stacks for MemoryStacks {
    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<String> {
        let mut s = lock(&self.state);
        if let Some(f) = &s.create_failure {
            return Err(PortError::new("create change set", f.clone()));
        }
        s.requests.push(request.clone());
        Ok(format!("arn:cs/{}", request.change_set_name))
    }
    async fn describe_change_set(&self, id: &str) -> PortResult<ChangeSet> {
        let mut s = lock(&self.state);
        let stack_name = s
            .requests
            .last()
            .map(|r| r.stack_name.clone())
            .unwrap_or_default();
        let (status, reason) = if let Some(f) = &s.change_set_failure {
            (ChangeSetStatus::Failed, Some(f.clone()))
        } else if s.pending_polls > 0 {
            s.pending_polls -= 1;
            (ChangeSetStatus::Pending, None)
        } else if s.no_changes {
            (
                ChangeSetStatus::NoChanges,
                Some("The submitted information didn't contain changes.".into()),
            )
        } else if let Some(u) = &s.unexecutable {
            (ChangeSetStatus::Failed, Some(u.clone()))
        } else {
            (ChangeSetStatus::Ready, None)
        };
        let executable = status == ChangeSetStatus::Ready;
        let changes = if status == ChangeSetStatus::Ready {
            s.changes.clone()
        } else {
            vec![]
        };
        Ok(ChangeSet {
            id: id.to_string(),
            stack_name,
            status,
            status_reason: reason,
            executable,
            changes,
        })
    }
    async fn execute_change_set(&self, _id: &str) -> PortResult<()> {
        let mut s = lock(&self.state);
        if let Some(f) = &s.execute_failure {
            return Err(PortError::new("execute change set", f.clone()));
        }
        s.executed = true;
        let name = s
            .requests
            .last()
            .map(|r| r.stack_name.clone())
            .unwrap_or_else(|| "shop-staging".into());
        let stack_id =
            format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/0f1e2d3c");
        let (statuses, every) = (s.after_execute.clone(), s.every);
        let (state, events) = (self.state.clone(), self.events.clone());
        tokio::spawn(async move {
            for status in statuses {
                tokio::time::sleep(every).await;
                let event = {
                    let mut s = lock(&state);
                    s.status = status.clone();
                    let reason = s.failure_reason.clone();
                    (!s.miss_events).then(|| {
                        crate::steps::waits::stack_status_event(
                            &stack_id,
                            &status,
                            reason.as_deref(),
                        )
                    })
                };
                if let Some(e) = event {
                    let _ = events.send(e);
                }
            }
        });
        Ok(())
    }
    async fn stack(&self, _name: &str) -> PortResult<Option<StackInfo>> {
        let s = lock(&self.state);
        Ok(Some(StackInfo {
            status: s.status.clone(),
            status_reason: None,
            version: format!("v{}", s.version),
            outputs: s.outputs.clone(),
        }))
    }
    async fn failure_reason(&self, _name: &str) -> PortResult<Option<String>> {
        Ok(lock(&self.state).failure_reason.clone())
    }
}

pub struct MemoryHosting {
    env: Mutex<BTreeMap<String, String>>,
    state: Arc<Mutex<HostingState>>,
    events: broadcast::Sender<Value>,
}

struct HostingState {
    /// What each job passes through once started, one status every [`STATUS_EVERY`].
    timeline: Vec<JobStatus>,
    /// The jobs started (their commits) and where each is now.
    jobs: Vec<(String, JobStatus)>,
    miss_events: bool,
}

impl Default for MemoryHosting {
    fn default() -> Self {
        MemoryHosting {
            env: Mutex::default(),
            state: Arc::new(Mutex::new(HostingState {
                timeline: vec![JobStatus::Running, JobStatus::Succeeded],
                jobs: Vec::new(),
                miss_events: false,
            })),
            events: broadcast::channel(64).0,
        }
    }
}

/// The Amplify app and branch of the double.
pub const AMPLIFY_APP: &str = "d1example";
pub const AMPLIFY_BRANCH: &str = "staging";

impl MemoryHosting {
    pub fn set_env(&self, k: &str, v: &str) {
        lock(&self.env).insert(k.into(), v.into());
    }
    pub fn env(&self) -> BTreeMap<String, String> {
        lock(&self.env).clone()
    }
    /// Statuses a job walks through once started, one every [`STATUS_EVERY`], each
    /// announced by a "Deployment Status Change" event.
    pub fn set_job_statuses(&self, s: &[JobStatus]) {
        lock(&self.state).timeline = s.to_vec();
    }
    /// Jobs change, but their status events never arrive.
    pub fn miss_events(&self) {
        lock(&self.state).miss_events = true;
    }
    /// The jobs' status events, as EventBridge would deliver them to a rule.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.events.subscribe()
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
        let (state, events, job) = (self.state.clone(), self.events.clone(), id.clone());
        tokio::spawn(async move {
            for status in timeline {
                tokio::time::sleep(STATUS_EVERY).await;
                let event = {
                    let mut s = lock(&state);
                    s.jobs[index].1 = status.clone();
                    let name = match status {
                        JobStatus::Succeeded => "SUCCEED",
                        JobStatus::Failed | JobStatus::Cancelled => "FAILED",
                        JobStatus::Pending | JobStatus::Running => "STARTED",
                    };
                    (!s.miss_events).then(|| {
                        crate::steps::waits::amplify_status_event(
                            AMPLIFY_APP,
                            AMPLIFY_BRANCH,
                            &job,
                            name,
                        )
                    })
                };
                if let Some(e) = event {
                    let _ = events.send(e);
                }
            }
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
        Ok("https://staging.example.test".into())
    }
    fn app_branch(&self) -> (String, String) {
        (AMPLIFY_APP.into(), AMPLIFY_BRANCH.into())
    }
}

#[derive(Default)]
pub struct MemoryHttp {
    routes: Mutex<BTreeMap<String, (u16, String, u64)>>,
    sent: Mutex<Vec<HttpRequest>>,
}

impl MemoryHttp {
    pub fn route(&self, url: &str, status: u16, body: &str) {
        self.route_timed(url, status, body, 5);
    }
    pub fn route_timed(&self, url: &str, status: u16, body: &str, ms: u64) {
        lock(&self.routes).insert(url.into(), (status, body.into(), ms));
    }
    /// Every request sent, in order.
    pub fn requests(&self) -> Vec<HttpRequest> {
        lock(&self.sent).clone()
    }
}

impl Http for MemoryHttp {
    async fn send(&self, request: &HttpRequest) -> PortResult<HttpResponse> {
        lock(&self.sent).push(request.clone());
        match lock(&self.routes).get(&request.url) {
            Some((status, body, ms)) => Ok(HttpResponse {
                status: *status,
                headers: vec![("content-type".into(), "text/plain".into())],
                body: body.clone(),
                elapsed_ms: *ms,
            }),
            None => Err(PortError::new(
                format!("{} {}", request.method, request.url),
                "connection refused",
            )),
        }
    }
}

pub struct MemoryHistory {
    previous: Option<String>,
    commits: Vec<Commit>,
}

impl MemoryHistory {
    pub fn new(previous: Option<&str>, commits: Vec<Commit>) -> Self {
        MemoryHistory {
            previous: previous.map(str::to_string),
            commits,
        }
    }
}

impl SourceHistory for MemoryHistory {
    async fn previous_candidate(&self, _tag: &str) -> PortResult<Option<String>> {
        Ok(self.previous.clone())
    }
    async fn commits(&self, _from: Option<&str>, _to: &str) -> PortResult<Vec<Commit>> {
        Ok(self.commits.clone())
    }
}

#[derive(Default)]
pub struct MemoryReleases {
    token: bool,
    published: Mutex<Vec<(String, String)>>,
    failure: Mutex<Option<String>>,
}

impl MemoryReleases {
    pub fn with_token() -> Self {
        MemoryReleases {
            token: true,
            ..Default::default()
        }
    }
    pub fn published(&self) -> Vec<(String, String)> {
        lock(&self.published).clone()
    }
    /// Publishing fails (GitHub answers an error).
    pub fn fail(&self, reason: &str) {
        *lock(&self.failure) = Some(reason.into());
    }
}

impl Releases for MemoryReleases {
    async fn publish_prerelease(
        &self,
        tag: &str,
        _title: &str,
        notes: &str,
    ) -> PortResult<Option<String>> {
        if let Some(f) = lock(&self.failure).clone() {
            return Err(PortError::new("publish the prerelease", f));
        }
        if !self.token {
            return Ok(None);
        }
        lock(&self.published).push((tag.to_string(), notes.to_string()));
        Ok(Some(format!(
            "https://github.com/acme/shop/releases/tag/{tag}"
        )))
    }
}

/// A clock that stays where it is set.
#[derive(Clone, Copy, Debug)]
pub struct FixedClock(pub chrono::DateTime<chrono::Utc>);

impl Clock for FixedClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.0
    }
}

/// Task callbacks that fail with a port error (an outage of the Step Functions API)
/// for the next `n` calls, then pass through to `inner`.
pub struct Flaky<C> {
    pub inner: C,
    outage: Mutex<u32>,
    calls: Mutex<u32>,
}

impl<C> Flaky<C> {
    pub fn new(inner: C) -> Self {
        Flaky {
            inner,
            outage: Mutex::new(0),
            calls: Mutex::new(0),
        }
    }
    /// The next `n` calls fail.
    pub fn fail_next(&self, n: u32) {
        *lock(&self.outage) = n;
    }
    /// Calls made so far, failed ones included.
    pub fn calls(&self) -> u32 {
        *lock(&self.calls)
    }
    fn down(&self) -> Result<(), CallbackError> {
        *lock(&self.calls) += 1;
        let mut outage = lock(&self.outage);
        if *outage > 0 {
            *outage -= 1;
            return Err(CallbackError::Port(PortError::new(
                "send task result",
                "ServiceUnavailable: the service is unavailable (a test outage)",
            )));
        }
        Ok(())
    }
}

impl<C: TaskCallbacks> TaskCallbacks for Flaky<C> {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.down()?;
        self.inner.succeed(token, output).await
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.down()?;
        self.inner.fail(token, error, cause).await
    }
}

/// A run's phases, as given.
#[derive(Default)]
pub struct MemoryTimelines(pub Vec<Phase>);

impl Timelines for MemoryTimelines {
    async fn phases(&self, _execution_id: &str) -> PortResult<Vec<Phase>> {
        Ok(self.0.clone())
    }
}

//! In-memory doubles for the ports, for unit and path tests: each records what it was
//! asked to do and can be told how to answer. Each is a cheap handle (clones share
//! what it recorded): a step owns one clone, the test keeps another to look at.

use crate::error::PortError;
use crate::ports::*;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

/// State shared by the clones of a double.
pub(crate) type Shared<T> = Arc<Mutex<T>>;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Clone, Default)]
pub struct MemoryArtifacts {
    items: Shared<BTreeMap<String, (String, Vec<u8>)>>,
    /// Each key's version: how many times it was written (a versioned bucket).
    versions: Shared<BTreeMap<String, u64>>,
    broken: Shared<Vec<String>>,
}

impl MemoryArtifacts {
    /// A store already holding `body` under `key`.
    pub fn holding(key: &str, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        let store = Self::default();
        store.put_sync(key, content_type, body);
        store
    }

    /// Writes `body` under `key` as any writer with access would: a new version.
    pub fn put_sync(&self, key: &str, content_type: &str, body: impl Into<Vec<u8>>) {
        lock(&self.items).insert(key.into(), (content_type.into(), body.into()));
        *lock(&self.versions).entry(key.into()).or_default() += 1;
    }

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
            Some(_) => Err(PortError::refused(
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
        self.put_sync(key, content_type, body);
        Ok(format!("mem://artifacts/{key}"))
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        self.check(key)?;
        Ok(self.get_sync(key))
    }
    async fn read(&self, key: &str) -> PortResult<Option<Stored>> {
        self.check(key)?;
        let version = lock(&self.versions).get(key).map(|v| format!("v{v}"));
        Ok(self.get_sync(key).map(|body| Stored { body, version }))
    }
}

/// A signer for tests: the "signature" is SHA-256 over a secret and the message, so
/// only this double (or a clone) makes ones that verify.
#[derive(Clone)]
pub struct MemorySigner {
    secret: String,
}

impl Default for MemorySigner {
    fn default() -> Self {
        MemorySigner {
            secret: "memory-signer".into(),
        }
    }
}

impl MemorySigner {
    /// Another key: its signatures do not verify with this one's.
    pub fn other() -> Self {
        MemorySigner {
            secret: "another-key".into(),
        }
    }
    fn mac(&self, message: &[u8]) -> String {
        use sha2::Digest as _;
        let mut h = sha2::Sha256::new();
        h.update(self.secret.as_bytes());
        h.update(message);
        hex::encode(h.finalize())
    }
}

impl Signer for MemorySigner {
    async fn sign(&self, message: &[u8]) -> PortResult<Signature> {
        Ok(Signature {
            key_id: format!("memory:{}", self.secret),
            algorithm: "TEST_SHA_256".into(),
            value: self.mac(message),
        })
    }
    async fn verify(&self, message: &[u8], signature: &Signature) -> PortResult<bool> {
        Ok(signature.value == self.mac(message))
    }
}

#[derive(Clone, Default)]
pub struct MemoryNotifier {
    sent: Shared<Vec<(Topic, Message)>>,
    outage: Shared<u32>,
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

/// Alarms as a test sets them: each starts OK; [`MemoryAlarms::trip`] puts one in
/// ALARM with a breaching value, as CloudWatch would say it.
#[derive(Clone, Default)]
pub struct MemoryAlarms(Shared<Vec<Alarm>>);

impl MemoryAlarms {
    /// Alarms `names`, all OK, each a metric alarm over a threshold of 5.
    pub fn with(names: &[&str]) -> MemoryAlarms {
        let alarms = MemoryAlarms::default();
        alarms.define(names);
        alarms
    }
    /// Adds alarms `names`, OK, each a metric alarm over a threshold of 5.
    pub fn define(&self, names: &[&str]) {
        let alarms = names
            .iter()
            .map(|n| Alarm {
                name: n.to_string(),
                arn: format!("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{n}"),
                state: AlarmState::Ok,
                watches: "AWS/Lambda Errors (FunctionName=api) Sum over 60 s > 5".into(),
                threshold: Some(5.0),
                value: None,
                reason: "Threshold Crossed: no datapoint was greater than the threshold (5.0)."
                    .into(),
                composite: false,
            })
            .collect::<Vec<_>>();
        lock(&self.0).extend(alarms);
    }
    /// Sets `alarm`, replacing the one of its name (what an evaluator does).
    pub fn put(&self, alarm: Alarm) {
        let mut alarms = lock(&self.0);
        alarms.retain(|a| a.name != alarm.name);
        alarms.push(alarm);
    }
    /// Puts every alarm back to OK (what CloudWatch does once the metric recovers).
    pub fn clear(&self) {
        for a in lock(&self.0).iter_mut() {
            a.state = AlarmState::Ok;
            a.value = None;
        }
    }
    /// Puts alarm `name` in ALARM with `value` breaching its threshold.
    pub fn trip(&self, name: &str, value: f64) {
        for a in lock(&self.0).iter_mut().filter(|a| a.name == name) {
            a.state = AlarmState::Alarm;
            a.value = Some(value);
            a.reason = format!(
                "Threshold Crossed: 1 datapoint [{value}] was greater than the threshold (5.0)."
            );
        }
    }
}

impl Alarms for MemoryAlarms {
    async fn alarms(&self, prefix: &str) -> PortResult<Vec<Alarm>> {
        let mut found: Vec<Alarm> = lock(&self.0)
            .iter()
            .filter(|a| a.name.starts_with(prefix))
            .cloned()
            .collect();
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}

/// Metrics kept as the EMF lines a Lambda would write.
#[derive(Clone, Default)]
pub struct MemoryMetrics(Shared<Vec<String>>);

impl MemoryMetrics {
    pub fn lines(&self) -> Vec<String> {
        lock(&self.0).clone()
    }
    /// The lines of metric `name`, parsed.
    pub fn of(&self, name: &str) -> Vec<Value> {
        self.lines()
            .iter()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|v| v.get(name).is_some())
            .collect()
    }
}

impl Metrics for MemoryMetrics {
    fn emit(&self, line: String) {
        lock(&self.0).push(line);
    }
}

/// Step Functions' runs: which executions are running, and the answers sent to task
/// tokens (a token answers once; a closed one is refused, as AWS refuses it).
#[derive(Clone, Default)]
pub struct MemoryRuns {
    running: Shared<BTreeSet<String>>,
    successes: Shared<Vec<(String, Value)>>,
    failures: Shared<Vec<(String, String, String)>>,
    closed: Shared<BTreeSet<String>>,
}

impl MemoryRuns {
    pub fn set_running(&self, id: &str, running: bool) {
        let mut all = lock(&self.running);
        if running {
            all.insert(id.to_string());
        } else {
            all.remove(id);
        }
    }
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

impl TaskCallbacks for MemoryRuns {
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

impl Executions for MemoryRuns {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        Ok(lock(&self.running).contains(id))
    }
}

#[derive(Clone, Default)]
pub struct MemoryHttp {
    routes: Shared<BTreeMap<String, (u16, String, u64)>>,
    sent: Shared<Vec<HttpRequest>>,
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

/// A source repository and its releases (GitHub's stand-in): a fixed history, and
/// the prereleases published (none without a token).
#[derive(Clone, Default)]
pub struct MemoryRepository {
    previous: Option<String>,
    commits: Shared<Vec<Commit>>,
    token: bool,
    published: Shared<Vec<(String, String)>>,
    failure: Shared<Option<String>>,
}

impl MemoryRepository {
    /// A repository whose previous candidate is `previous`, with `commits` since.
    pub fn new(previous: Option<&str>, commits: Vec<Commit>) -> Self {
        MemoryRepository {
            previous: previous.map(str::to_string),
            commits: Arc::new(Mutex::new(commits)),
            ..Default::default()
        }
    }
    /// Records `record` as published under `tag` (or fails as set, or publishes
    /// nothing without a token), as GitHub would answer.
    fn publish(&self, what: &str, tag: &str, record: String) -> PortResult<Option<String>> {
        if let Some(f) = lock(&self.failure).clone() {
            return Err(PortError::refused(what, f));
        }
        if !self.token {
            return Ok(None);
        }
        lock(&self.published).push((tag.to_string(), record));
        Ok(Some(format!(
            "https://github.com/acme/shop/releases/tag/{tag}"
        )))
    }
    /// The history since the previous candidate is now `commits`.
    pub fn set_commits(&self, commits: Vec<Commit>) {
        *lock(&self.commits) = commits;
    }
    /// The same, with a token: prereleases are published.
    pub fn with_token(mut self) -> Self {
        self.token = true;
        self
    }
    pub fn published(&self) -> Vec<(String, String)> {
        lock(&self.published).clone()
    }
    /// Publishing fails (GitHub answers an error).
    pub fn fail(&self, reason: &str) {
        *lock(&self.failure) = Some(reason.into());
    }
}

impl SourceHistory for MemoryRepository {
    async fn previous_candidate(&self, _tag: &str) -> PortResult<Option<String>> {
        Ok(self.previous.clone())
    }
    async fn commits(&self, _from: Option<&str>, _to: &str) -> PortResult<Vec<Commit>> {
        Ok(lock(&self.commits).clone())
    }
}

impl Releases for MemoryRepository {
    async fn publish_prerelease(&self, r: &Release<'_>) -> PortResult<Option<String>> {
        self.publish("publish the prerelease", r.tag, r.notes.to_string())
    }
    async fn publish_release(&self, r: &Release<'_>) -> PortResult<Option<String>> {
        let record = format!("latest release at {}: {}\n{}", r.commit, r.title, r.notes);
        self.publish("publish the release", r.tag, record)
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
#[derive(Clone)]
pub struct Flaky<C> {
    pub inner: C,
    outage: Shared<u32>,
    calls: Shared<u32>,
}

impl<C> Flaky<C> {
    pub fn new(inner: C) -> Self {
        Flaky {
            inner,
            outage: Shared::default(),
            calls: Shared::default(),
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

impl<C: Executions> Executions for Flaky<C> {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        self.inner.is_running(id).await
    }
}

/// A run's phases, as given.
#[derive(Clone, Default)]
pub struct MemoryTimelines(pub Arc<Vec<Phase>>);

impl MemoryTimelines {
    pub fn new(phases: Vec<Phase>) -> Self {
        MemoryTimelines(Arc::new(phases))
    }
}

impl Timelines for MemoryTimelines {
    async fn phases(&self, _execution_id: &str) -> PortResult<Vec<Phase>> {
        Ok(self.0.as_ref().clone())
    }
}

/// Approvals that yield to the scheduler before every call, so two deciders under
/// `tokio::join!` truly interleave: both read the record before either writes, and
/// the compare-and-set conflict path runs. Counts the conflicts updates met.
#[derive(Clone)]
pub struct Interleaving<A> {
    pub inner: A,
    conflicts: Shared<u32>,
}

impl<A> Interleaving<A> {
    pub fn new(inner: A) -> Self {
        Interleaving {
            inner,
            conflicts: Shared::default(),
        }
    }
    /// Updates refused because another write landed first.
    pub fn conflicts(&self) -> u32 {
        *lock(&self.conflicts)
    }
}

impl<A: Approvals> Approvals for Interleaving<A> {
    async fn create(&self, record: &ApprovalRecord, links: &[Link]) -> PortResult<()> {
        tokio::task::yield_now().await;
        self.inner.create(record, links).await
    }
    async fn get(&self, id: &str) -> PortResult<Option<ApprovalRecord>> {
        tokio::task::yield_now().await;
        let record = self.inner.get(id).await;
        tokio::task::yield_now().await;
        record
    }
    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        tokio::task::yield_now().await;
        self.inner.link(id_hash).await
    }
    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        tokio::task::yield_now().await;
        let update = self.inner.update(expected, new).await?;
        if matches!(update, Update::Conflict(_)) {
            *lock(&self.conflicts) += 1;
        }
        Ok(update)
    }
    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        tokio::task::yield_now().await;
        self.inner.pending(repository).await
    }
    async fn undelivered(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        tokio::task::yield_now().await;
        self.inner.undelivered(limit).await
    }
    async fn chat_due(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        tokio::task::yield_now().await;
        self.inner.chat_due(limit).await
    }
}

impl<A: Approvers> Approvers for Interleaving<A> {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        tokio::task::yield_now().await;
        self.inner.deciding(kind).await
    }
}

//! Local adapters: what each port means on a laptop, honestly.
//!
//! | Port | Local meaning |
//! |---|---|
//! | Artifacts | files under `.stagegate/` (`runs/<run>/...`) |
//! | Notifier | one file per message in the run's `outbox/` (subject, attributes, body), echoed to the terminal |
//! | Builds (CodeBuild) | the check's command, `sh -c` in the app directory, log in `logs/` |
//! | Stacks (CloudFormation) | the preview diffs the packaged template's resources against the last rehearsed template, with Replacement `True`/`False`/`Conditional` from the resource types' create-only properties (CloudFormation's registry schemas, `data/`); "executing" starts the app's declared backend command and waits for its health path; outputs are the ones the app declares |
//! | Hosting (Amplify) | the frontend directory copied to the run's `site/` with `env.json`, served on 127.0.0.1 |
//! | Http | a plain HTTP/1.1 client for 127.0.0.1 (no TLS) |
//! | SourceHistory | `git` in the app directory (tags `rc-*`, log between them) |
//! | Releases | none: no GitHub token is used locally, and the notes say so |
//!
//! Nothing here reports a success it did not observe: a backend that does not answer
//! its health path is a rolled-back stack, with its own output as the reason.

use crate::app::App;
use crate::http::{self, Handler, Request, Response};
use crate::procs;
use asl_engine::{BuildRequest, BuildResult, BuildRunner};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use stagegate::ports::*;
use stagegate::steps::waits::{amplify_status_event, stack_status_event, stamped};
use stagegate::PortError;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::process::{Child, Command};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stages `--fail` can break, and how.
pub const FAULTS: &[(&str, &str)] = &[
    ("eslint", "the ESLint check's command fails"),
    ("typescript", "the TypeScript check's command fails"),
    ("unit-tests", "the unit tests' command fails"),
    ("security-scan", "the security scan's command fails"),
    ("package", "Package & Preview's build fails (no change preview)"),
    ("validate-infrastructure", "another deployment changes the stack after the preview, just before Validate Infrastructure"),
    ("deploy-infrastructure", "the candidate adds a resource and its backend does not start: the stack rolls back"),
    ("deploy-frontend", "the frontend job fails"),
    ("integration-tests", "the backend runs with STAGEGATE_FAULT=integration-tests (the example app breaks its AI endpoint)"),
    ("performance-tests", "the local site answers slowly, over the performance budget"),
];

/// The stages made to fail in this rehearsal.
#[derive(Clone, Debug, Default)]
pub struct Faults(BTreeSet<String>);

impl Faults {
    pub fn parse(stages: &[String]) -> Result<Faults, String> {
        let mut set = BTreeSet::new();
        for s in stages {
            if !FAULTS.iter().any(|f| f.0 == s) {
                return Err(format!(
                    "unknown stage '{s}' for --fail; choose one of: {}",
                    FAULTS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ));
            }
            set.insert(s.clone());
        }
        Ok(Faults(set))
    }
    pub fn has(&self, stage: &str) -> bool {
        self.0.contains(stage)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every stage made to fail, in name order.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// Refuses keys that could escape the artifacts root.
fn safe_join(root: &Path, key: &str) -> Result<PathBuf, PortError> {
    let rel = Path::new(key);
    if key.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(PortError::new(
            "artifacts",
            format!("'{key}' is not a relative artifact key"),
        ));
    }
    Ok(root.join(rel))
}

/// Artifacts as files under a root directory.
pub struct DirArtifacts {
    pub root: PathBuf,
}

impl Artifacts for DirArtifacts {
    async fn put(&self, key: &str, _content_type: &str, body: Vec<u8>) -> PortResult<String> {
        let path = safe_join(&self.root, key)?;
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                PortError::new(format!("create {}", parent.display()), e.to_string())
            })?;
        }
        tokio::fs::write(&path, body)
            .await
            .map_err(|e| PortError::new(format!("write {}", path.display()), e.to_string()))?;
        Ok(path.display().to_string())
    }
    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        let path = safe_join(&self.root, key)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(PortError::new(
                format!("read {}", path.display()),
                e.to_string(),
            )),
        }
    }
}

/// What the outbox tells the rehearsal as messages go out.
pub type OutboxListener = Arc<dyn Fn(Topic, &Message, &Path) + Send + Sync>;

/// Notifications as files, one per message, and a listener (the terminal).
pub struct Outbox {
    dir: PathBuf,
    count: AtomicU32,
    listener: OutboxListener,
}

impl Outbox {
    pub fn new(dir: PathBuf, listener: OutboxListener) -> Self {
        Outbox {
            dir,
            count: AtomicU32::new(0),
            listener,
        }
    }
}

impl Notifier for Outbox {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let topic_name = match topic {
            Topic::Approvals => "approvals",
            Topic::Notifications => "notifications",
        };
        let path = self.dir.join(format!("{n:03}-{topic_name}.txt"));
        let mut text = format!(
            "Topic: {topic_name}\nSubject: {}\nAttributes:\n",
            message.subject
        );
        for (k, v) in &message.attributes {
            text.push_str(&format!("  {k}: {v}\n"));
        }
        text.push('\n');
        text.push_str(&message.body);
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| PortError::new("outbox", e.to_string()))?;
        tokio::fs::write(&path, text)
            .await
            .map_err(|e| PortError::new(format!("write {}", path.display()), e.to_string()))?;
        (self.listener)(topic, message, &path);
        Ok(format!("outbox/{n:03}"))
    }
}

/// CodeBuild, locally: each check's command as a process in the app directory.
#[derive(Clone)]
pub struct ProcessBuilds {
    pub app_dir: PathBuf,
    pub artifacts_root: PathBuf,
    pub logs_dir: PathBuf,
    pub faults: Faults,
}

impl BuildRunner for ProcessBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, String>> {
        let me = self.clone();
        async move {
            let env: HashMap<String, String> = request.environment.iter().cloned().collect();
            let check = env
                .get("STAGEGATE_CHECK")
                .cloned()
                .unwrap_or_else(|| "build".into());
            let command = env
                .get("STAGEGATE_COMMAND")
                .cloned()
                .ok_or("the build has no STAGEGATE_COMMAND")?;
            let command = if me.faults.has(&check) {
                format!("echo 'rehearsal: --fail {check} made this check fail' >&2; exit 1")
            } else {
                command
            };
            let prefix = env
                .get("STAGEGATE_ARTIFACTS_PREFIX")
                .cloned()
                .unwrap_or_default();
            let artifacts_dir = safe_join(&me.artifacts_root, prefix.trim_end_matches('/'))
                .map_err(|e| e.to_string())?;
            tokio::fs::create_dir_all(&me.logs_dir)
                .await
                .map_err(|e| e.to_string())?;
            // A command suite (as the checks project's buildspec does on AWS): the
            // stack outputs as STAGEGATE_OUTPUT_<Name>, a path for its JUnit report.
            let suite = env.get("STAGEGATE_SUITE").cloned();
            let mut extra: Vec<(String, String)> = Vec::new();
            let junit = suite
                .as_ref()
                .map(|name| me.logs_dir.join(format!("{name}.junit.xml")));
            if let Some(path) = &junit {
                extra.push(("STAGEGATE_JUNIT".into(), path.display().to_string()));
                let outputs: BTreeMap<String, String> = env
                    .get("STAGEGATE_OUTPUTS")
                    .and_then(|o| serde_json::from_str(o).ok())
                    .unwrap_or_default();
                for (k, v) in outputs {
                    extra.push((format!("STAGEGATE_OUTPUT_{k}"), v));
                }
            }
            let log_name = match &suite {
                Some(name) => format!("suite-{name}"),
                None => check.clone(),
            };
            let log_path = me.logs_dir.join(format!("{log_name}.log"));
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(&command)
                .current_dir(&me.app_dir)
                .envs(&env)
                .envs(extra)
                .env("STAGEGATE_ARTIFACTS_DIR", &artifacts_dir)
                .stdin(Stdio::null())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let (status, output) = match procs::spawn(&mut cmd) {
                Err(e) => ("FAULT", format!("cannot run sh: {e}\n")),
                Ok((child, group)) => {
                    // The group (the command and all it started) ends with this
                    // scope: when the build ends, times out, or the run is cut short.
                    let _group = group;
                    match tokio::time::timeout(Duration::from_secs(900), child.wait_with_output())
                        .await
                    {
                        Err(_) => (
                            "TIMED_OUT",
                            format!("{command}\n(timed out after 15 minutes)\n"),
                        ),
                        Ok(Err(e)) => ("FAULT", format!("cannot run sh: {e}\n")),
                        Ok(Ok(out)) => (
                            if out.status.success() {
                                "SUCCEEDED"
                            } else {
                                "FAILED"
                            },
                            format!(
                                "$ {command}\n{}{}\nexit: {}\n",
                                String::from_utf8_lossy(&out.stdout),
                                String::from_utf8_lossy(&out.stderr),
                                out.status
                            ),
                        ),
                    }
                }
            };
            tokio::fs::write(&log_path, output)
                .await
                .map_err(|e| e.to_string())?;
            // The report joins the run's artifacts, after a failed command too.
            if let (Some(name), Some(path)) = (&suite, &junit) {
                if let Ok(report) = tokio::fs::read(path).await {
                    let dir = artifacts_dir.join("suites");
                    tokio::fs::create_dir_all(&dir)
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::fs::write(dir.join(format!("{name}.junit.xml")), report)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            Ok(BuildResult {
                status: status.into(),
                details: json!({"Logs": {"DeepLink": log_path.display().to_string()}}),
            })
        }
        .boxed()
    }
}

/// The local "stack": the app's backend as a process, versioned by its template.
pub struct LocalStacks {
    app: App,
    artifacts_root: PathBuf,
    state_dir: PathBuf,
    faults: Faults,
    state: Mutex<StackState>,
    backend: tokio::sync::Mutex<Option<(Child, procs::Group)>>,
    /// "Stack Status Change" events, for the local status rule.
    events: tokio::sync::broadcast::Sender<Value>,
}

/// A created change set: the template's resources, the changes, times described.
#[derive(Clone)]
struct LocalChangeSet {
    resources: BTreeMap<String, Value>,
    changes: Vec<ResourceChange>,
    describes: u32,
}

#[derive(Default)]
struct StackState {
    /// Resources of the deployed template (logical id → definition), if any.
    deployed: Option<BTreeMap<String, Value>>,
    status: String,
    reason: Option<String>,
    outputs: BTreeMap<String, String>,
    change_sets: HashMap<String, LocalChangeSet>,
    next_id: u32,
    /// Deployments by someone else since this rehearsal opened the stack.
    foreign_deployments: u32,
}

fn resources_of(template: &str) -> Result<BTreeMap<String, Value>, String> {
    let doc: serde_yaml::Value = serde_yaml::from_str(template)
        .map_err(|e| format!("the template is not valid YAML: {e}"))?;
    let json =
        serde_json::to_value(&doc).map_err(|e| format!("the template cannot be read: {e}"))?;
    let resources = json
        .get("Resources")
        .and_then(Value::as_object)
        .ok_or("the template has no Resources section")?;
    Ok(resources
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect())
}

fn version_of(resources: &Option<BTreeMap<String, Value>>) -> String {
    match resources {
        None => String::new(),
        Some(r) => hex::encode(&Sha256::digest(serde_json::to_vec(r).unwrap_or_default())[..8]),
    }
}

fn diff(
    old: Option<&BTreeMap<String, Value>>,
    new: &BTreeMap<String, Value>,
) -> Vec<ResourceChange> {
    let empty = BTreeMap::new();
    let old = old.unwrap_or(&empty);
    let ty = |v: &Value| {
        v.get("Type")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    };
    let mut out = Vec::new();
    for (id, def) in new {
        match old.get(id) {
            None => out.push(ResourceChange {
                action: "Add".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: String::new(),
            }),
            Some(prev) if prev != def => out.push(ResourceChange {
                action: "Modify".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: replacement(prev, def).into(),
            }),
            Some(_) => {}
        }
    }
    for (id, def) in old {
        if !new.contains_key(id) {
            out.push(ResourceChange {
                action: "Remove".into(),
                logical_id: id.clone(),
                resource_type: ty(def),
                replacement: String::new(),
            });
        }
    }
    out
}

/// The properties whose change replaces a resource, by type: CloudFormation's
/// registry schemas as cfn-lint ships them (`data/create-only-properties.json`, made by
/// `data/generate.py`), and SAM's own types mapped by hand.
#[derive(serde::Deserialize)]
struct CreateOnly {
    #[serde(rename = "createOnly", default)]
    create_only: Vec<String>,
    #[serde(default)]
    conditional: Vec<String>,
}

fn create_only_properties() -> &'static HashMap<String, CreateOnly> {
    static TABLE: std::sync::OnceLock<HashMap<String, CreateOnly>> = std::sync::OnceLock::new();
    TABLE.get_or_init(|| {
        #[derive(serde::Deserialize)]
        struct File {
            types: HashMap<String, CreateOnly>,
        }
        serde_json::from_str::<File>(include_str!("../data/create-only-properties.json"))
            .map(|f| f.types)
            // The file is generated and checked by a test; an unreadable one would
            // only make every replacement "Conditional", never a wrong "False".
            .unwrap_or_default()
    })
}

/// Whether CloudFormation replaces a resource whose definition goes from `old` to
/// `new`, as a change set says it: `True` when a create-only property changes (or the
/// type), `Conditional` when a conditionally create-only one does or the type has no
/// schema, `False` otherwise.
pub fn replacement(old: &Value, new: &Value) -> &'static str {
    let ty = |v: &Value| v.get("Type").and_then(Value::as_str).map(str::to_string);
    if ty(old) != ty(new) {
        return "True";
    }
    let props = |v: &Value| {
        v.get("Properties")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (a, b) = (props(old), props(new));
    let changed: BTreeSet<&String> = a
        .keys()
        .chain(b.keys())
        .filter(|k| a.get(*k) != b.get(*k))
        .collect();
    if changed.is_empty() {
        // Only attributes outside Properties (Metadata, DependsOn, ...) changed.
        return "False";
    }
    let Some(rules) = ty(new).and_then(|t| create_only_properties().get(&t)) else {
        return "Conditional";
    };
    if changed.iter().any(|p| rules.create_only.contains(p)) {
        "True"
    } else if changed.iter().any(|p| rules.conditional.contains(p)) {
        "Conditional"
    } else {
        "False"
    }
}

impl LocalStacks {
    /// Opens the local stack. If an earlier rehearsal deployed it, its backend is
    /// started again, as the staging stack would still be running on AWS.
    pub async fn open(
        app: App,
        artifacts_root: PathBuf,
        state_dir: PathBuf,
        faults: Faults,
    ) -> Result<LocalStacks, String> {
        let deployed = match std::fs::read_to_string(state_dir.join("template.json")) {
            Ok(t) => Some(serde_json::from_str(&t).map_err(|e| {
                format!("{}: {e} (delete it to start afresh)", state_dir.display())
            })?),
            Err(_) => None,
        };
        let stacks = LocalStacks {
            app,
            artifacts_root,
            state_dir,
            faults,
            state: Mutex::new(StackState {
                deployed,
                ..Default::default()
            }),
            backend: tokio::sync::Mutex::new(None),
            events: tokio::sync::broadcast::channel(16).0,
        };
        if lock(&stacks.state).deployed.is_some() {
            // A resumed backend that fails to start shows as a rolled-back stack.
            stacks.start_backend("UPDATE_COMPLETE", false).await;
        }
        Ok(stacks)
    }

    async fn start_backend(&self, complete: &str, break_it: bool) {
        let mut guard = self.backend.lock().await;
        if let Some((mut old, group)) = guard.take() {
            group.end(&mut old, Duration::from_secs(2)).await;
        }
        let port = match std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) {
            Ok(a) => a.port(),
            Err(e) => return self.set_failed(format!("no free port for the backend: {e}")),
        };
        let command = if break_it {
            "echo 'rehearsal: --fail deploy-infrastructure: the backend refuses to start (missing DATABASE_URL)' >&2; exit 1".to_string()
        } else {
            self.app.config.backend.command.clone()
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&self.app.dir)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !self.faults.is_empty() {
            // Every stage made to fail, for apps that break themselves on purpose
            // (the example's backend breaks its AI endpoint for integration-tests).
            cmd.env(
                "STAGEGATE_FAULT",
                self.faults.stages().collect::<Vec<_>>().join(","),
            );
        }
        let (mut child, group) = match procs::spawn(&mut cmd) {
            Ok(c) => c,
            Err(e) => return self.set_failed(format!("cannot start the backend ({command}): {e}")),
        };
        let health = format!(
            "http://127.0.0.1:{port}{}",
            self.app.config.backend.health_path
        );
        for _ in 0..100 {
            if let Ok(Some(status)) = child.try_wait() {
                let mut err = String::new();
                if let Some(mut e) = child.stderr.take() {
                    use tokio::io::AsyncReadExt;
                    let _ = e.read_to_string(&mut err).await;
                }
                let tail: String = err
                    .lines()
                    .rev()
                    .take(5)
                    .collect::<Vec<_>>()
                    .into_iter()
                    .rev()
                    .collect::<Vec<_>>()
                    .join(" | ");
                return self.set_failed(format!("the backend exited ({status}): {tail}"));
            }
            if let Ok(r) = http::request("GET", &health, &[], None).await {
                if (200..300).contains(&r.status) {
                    let outputs = self
                        .app
                        .config
                        .backend
                        .outputs
                        .iter()
                        .map(|(k, v)| (k.clone(), v.replace("${port}", &port.to_string())))
                        .collect();
                    let mut s = lock(&self.state);
                    s.status = complete.into();
                    s.reason = None;
                    s.outputs = outputs;
                    *guard = Some((child, group));
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        group.end(&mut child, Duration::from_secs(1)).await;
        self.set_failed(format!(
            "the backend did not answer {health} within 10 seconds"
        ));
    }

    fn set_failed(&self, reason: String) {
        let mut s = lock(&self.state);
        s.status = if s.deployed.is_some() {
            "UPDATE_ROLLBACK_COMPLETE"
        } else {
            "ROLLBACK_COMPLETE"
        }
        .into();
        s.reason = Some(reason);
        s.outputs.clear();
    }

    /// Someone else deploys to the staging stack (what `--fail validate-infrastructure`
    /// makes happen just before Validate Infrastructure): its version changes.
    pub fn simulate_other_deployment(&self) {
        let mut s = lock(&self.state);
        s.foreign_deployments += 1;
        if s.status.is_empty() {
            s.status = "UPDATE_COMPLETE".into();
        }
    }

    /// The stack's status events, as CloudFormation sends them to EventBridge.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    fn announce(&self, status: &str, reason: Option<&str>) {
        let id = format!(
            "arn:aws:cloudformation:local:000000000000:stack/{}/rehearsal",
            self.app.config.stack_name
        );
        // Nobody listening is a missed event; the task's status read covers it.
        let event = stack_status_event(&id, status, reason);
        let _ = self.events.send(stamped(event, chrono::Utc::now()));
    }

    /// Stops the backend and everything it started (end of the rehearsal).
    pub async fn stop(&self) {
        if let Some((mut child, group)) = self.backend.lock().await.take() {
            group.end(&mut child, Duration::from_secs(2)).await;
        }
    }
}

impl Stacks for LocalStacks {
    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<String> {
        let path = safe_join(&self.artifacts_root, &request.template_uri)?;
        let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
            PortError::new(
                "create change set",
                format!("cannot read the packaged template {}: {e}", path.display()),
            )
        })?;
        let mut resources =
            resources_of(&text).map_err(|e| PortError::new("create change set", e))?;
        if self.faults.has("deploy-infrastructure") {
            // The candidate's template gains a resource, so there is a deployment to
            // fail even when the rest is unchanged since the last rehearsal.
            resources.insert(
                "RehearsalFault".into(),
                json!({"Type": "Custom::RehearsalFault", "Properties": {"Reason": "rehearse --fail deploy-infrastructure"}}),
            );
        }
        let mut s = lock(&self.state);
        let changes = diff(s.deployed.as_ref(), &resources);
        s.next_id += 1;
        let id = format!("local:changeSet/{}/{}", request.change_set_name, s.next_id);
        s.change_sets.insert(
            id.clone(),
            LocalChangeSet {
                resources,
                changes,
                describes: 0,
            },
        );
        Ok(id)
    }

    async fn describe_change_set(&self, id: &str) -> PortResult<ChangeSet> {
        let mut s = lock(&self.state);
        let Some(cs) = s.change_sets.get_mut(id) else {
            return Err(PortError::new(
                "describe change set",
                format!("no change set {id}"),
            ));
        };
        cs.describes += 1;
        let changes = cs.changes.clone();
        let (status, executable, reason) = if changes.is_empty() {
            (
                ChangeSetStatus::NoChanges,
                false,
                Some("The submitted information didn't contain changes.".to_string()),
            )
        } else {
            (ChangeSetStatus::Ready, true, None)
        };
        Ok(ChangeSet {
            id: id.into(),
            stack_name: self.app.config.stack_name.clone(),
            status,
            status_reason: reason,
            executable,
            changes,
        })
    }

    async fn execute_change_set(&self, id: &str) -> PortResult<()> {
        let (resources, first) = {
            let mut s = lock(&self.state);
            let Some(LocalChangeSet { resources, .. }) = s.change_sets.get(id).cloned() else {
                return Err(PortError::new(
                    "execute change set",
                    format!("no change set {id}"),
                ));
            };
            let first = s.deployed.is_none();
            s.status = if first {
                "CREATE_IN_PROGRESS"
            } else {
                "UPDATE_IN_PROGRESS"
            }
            .into();
            (resources, first)
        };
        self.announce(
            if first {
                "CREATE_IN_PROGRESS"
            } else {
                "UPDATE_IN_PROGRESS"
            },
            None,
        );
        let complete = if first {
            "CREATE_COMPLETE"
        } else {
            "UPDATE_COMPLETE"
        };
        self.start_backend(complete, self.faults.has("deploy-infrastructure"))
            .await;
        let mut s = lock(&self.state);
        if s.status == complete {
            s.deployed = Some(resources.clone());
            std::fs::create_dir_all(&self.state_dir)
                .map_err(|e| PortError::new("save stack", e.to_string()))?;
            let text = serde_json::to_string_pretty(&resources)
                .map_err(|e| PortError::new("save stack", e.to_string()))?;
            std::fs::write(self.state_dir.join("template.json"), text)
                .map_err(|e| PortError::new("save stack", e.to_string()))?;
        }
        let (status, reason) = (s.status.clone(), s.reason.clone());
        drop(s);
        self.announce(&status, reason.as_deref());
        Ok(())
    }

    async fn stack(&self, _name: &str) -> PortResult<Option<StackInfo>> {
        let s = lock(&self.state);
        if s.deployed.is_none() && s.status.is_empty() {
            return Ok(None);
        }
        let mut version = version_of(&s.deployed);
        if s.foreign_deployments > 0 {
            version.push_str(&format!("+other-{}", s.foreign_deployments));
        }
        Ok(Some(StackInfo {
            status: s.status.clone(),
            status_reason: s.reason.clone(),
            version,
            outputs: s.outputs.clone(),
        }))
    }

    async fn failure_reason(&self, _name: &str) -> PortResult<Option<String>> {
        Ok(lock(&self.state).reason.clone())
    }
}

/// Amplify, locally: the frontend copied into the run's `site/` with `env.json`,
/// served on 127.0.0.1.
pub struct LocalHosting {
    source: PathBuf,
    site: PathBuf,
    faults: Faults,
    env: Mutex<BTreeMap<String, String>>,
    jobs: Arc<Mutex<Vec<Job>>>,
    server: tokio::sync::Mutex<Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>>,
    /// "Deployment Status Change" events, for the local status rule.
    events: tokio::sync::broadcast::Sender<Value>,
}

/// The local hosting's app and branch, as its status events name them.
pub const LOCAL_APP: &str = "rehearsal";
pub const LOCAL_BRANCH: &str = "staging";

impl LocalHosting {
    pub fn new(source: PathBuf, site: PathBuf, faults: Faults) -> Self {
        LocalHosting {
            source,
            site,
            faults,
            env: Mutex::new(BTreeMap::new()),
            jobs: Arc::default(),
            server: tokio::sync::Mutex::new(None),
            events: tokio::sync::broadcast::channel(16).0,
        }
    }

    /// The jobs' status events, as Amplify sends them to EventBridge.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Value> {
        self.events.subscribe()
    }

    pub async fn stop(&self) {
        if let Some((_, task)) = self.server.lock().await.take() {
            task.abort();
        }
    }

    fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            let target = to.join(entry.file_name());
            if entry.file_type()?.is_dir() {
                Self::copy_dir(&entry.path(), &target)?;
            } else {
                std::fs::copy(entry.path(), target)?;
            }
        }
        Ok(())
    }

    async fn ensure_server(&self) -> Result<std::net::SocketAddr, PortError> {
        let mut guard = self.server.lock().await;
        if let Some((addr, _)) = guard.as_ref() {
            return Ok(*addr);
        }
        let root = self.site.clone();
        let slow = self.faults.has("performance-tests");
        let handler: Handler = Arc::new(move |req: Request| {
            let root = root.clone();
            Box::pin(async move {
                if slow {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                }
                serve_file(&root, &req).await
            })
        });
        let (addr, task) = http::serve(0, handler)
            .await
            .map_err(|e| PortError::new("start the local site", e.to_string()))?;
        *guard = Some((addr, task));
        Ok(addr)
    }
}

async fn serve_file(root: &Path, req: &Request) -> Response {
    if req.method != "GET" && req.method != "HEAD" {
        return Response::text(405, "method not allowed");
    }
    let rel = if req.path == "/" {
        "index.html"
    } else {
        req.path.trim_start_matches('/')
    };
    let Ok(file) = safe_join(root, rel) else {
        return Response::text(404, "not found");
    };
    match tokio::fs::read(&file).await {
        Ok(body) => {
            let ct = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("json") => "application/json",
                Some("css") => "text/css",
                _ => "application/octet-stream",
            };
            Response::new(200, ct, body)
        }
        Err(_) => Response::text(404, "not found"),
    }
}

impl Hosting for LocalHosting {
    async fn merge_environment(&self, vars: &BTreeMap<String, String>) -> PortResult<()> {
        lock(&self.env).extend(vars.clone());
        Ok(())
    }

    async fn start_job(&self, commit: &str) -> PortResult<String> {
        let id = (lock(&self.jobs).len() + 1).to_string();
        let (end, reason) = if self.faults.has("deploy-frontend") {
            (
                JobStatus::Failed,
                Some(
                    "rehearsal --fail deploy-frontend: the build step exited with status 1".into(),
                ),
            )
        } else {
            let _ = std::fs::remove_dir_all(&self.site);
            Self::copy_dir(&self.source, &self.site)
                .map_err(|e| PortError::new("copy the frontend", e.to_string()))?;
            let mut env: serde_json::Map<String, Value> = lock(&self.env)
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            env.insert("COMMIT".into(), Value::String(commit.into()));
            std::fs::write(
                self.site.join("env.json"),
                serde_json::to_vec_pretty(&env).unwrap_or_default(),
            )
            .map_err(|e| PortError::new("write env.json", e.to_string()))?;
            self.ensure_server().await?;
            (JobStatus::Succeeded, None)
        };
        lock(&self.jobs).push(Job {
            id: id.clone(),
            status: JobStatus::Running,
            reason: None,
        });
        // The job ends just after StartJob returns, as Amplify's do (minutes later),
        // and announces it: the task waiting on it is resumed by the event.
        let (jobs, events, job) = (self.jobs.clone(), self.events.clone(), id.clone());
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let status = if end == JobStatus::Succeeded {
                "SUCCEED"
            } else {
                "FAILED"
            };
            if let Some(j) = lock(&jobs).iter_mut().find(|j| j.id == job) {
                j.status = end;
                j.reason = reason;
            }
            let event = amplify_status_event(LOCAL_APP, LOCAL_BRANCH, &job, status);
            let _ = events.send(stamped(event, chrono::Utc::now()));
        });
        Ok(id)
    }

    async fn job(&self, id: &str) -> PortResult<Job> {
        lock(&self.jobs)
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or_else(|| PortError::new("job", format!("no job {id}")))
    }

    async fn url(&self) -> PortResult<String> {
        let addr = self.ensure_server().await?;
        Ok(format!("http://{addr}"))
    }
    fn app_branch(&self) -> (String, String) {
        (LOCAL_APP.into(), LOCAL_BRANCH.into())
    }
}

/// HTTP for the suites: the local client.
pub struct LocalHttp;

impl Http for LocalHttp {
    async fn send(&self, request: &HttpRequest) -> PortResult<HttpResponse> {
        let r = http::request(
            &request.method,
            &request.url,
            &request.headers,
            request.body.as_deref(),
        )
        .await
        .map_err(|e| PortError::new("http", e))?;
        Ok(HttpResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
            elapsed_ms: r.elapsed_ms,
        })
    }
}

/// Release history from `git` in the app directory.
#[derive(Clone)]
pub struct GitHistory {
    pub dir: PathBuf,
    pub tag_prefix: String,
}

async fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .await
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

impl GitHistory {
    /// HEAD of the app's repository, if it is in one.
    pub async fn head(&self) -> Option<String> {
        git(&self.dir, &["rev-parse", "HEAD"])
            .await
            .map(|s| s.trim().to_string())
    }
    pub async fn user(&self) -> Option<String> {
        git(&self.dir, &["config", "user.name"])
            .await
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
    }
}

impl SourceHistory for GitHistory {
    async fn previous_candidate(&self, tag: &str) -> PortResult<Option<String>> {
        let Some(list) = git(
            &self.dir,
            &["tag", "--list", &format!("{}*", self.tag_prefix)],
        )
        .await
        else {
            return Ok(None);
        };
        Ok(stagegate::steps::release::previous_candidate(
            list.lines(),
            tag,
            &self.tag_prefix,
        ))
    }

    async fn commits(&self, from: Option<&str>, to: &str) -> PortResult<Vec<Commit>> {
        let range = match from {
            Some(f) => format!("{f}..{to}"),
            None => to.to_string(),
        };
        let Some(log) = git(
            &self.dir,
            &[
                "log",
                "--max-count=200",
                "--format=%H%x1f%s%x1f%an",
                &range,
                "--",
                ".",
            ],
        )
        .await
        else {
            return Ok(Vec::new());
        };
        Ok(log
            .lines()
            .filter_map(|l| {
                let mut p = l.split('\u{1f}');
                Some(Commit {
                    sha: p.next()?.into(),
                    subject: p.next()?.into(),
                    author: p.next()?.into(),
                })
            })
            .collect())
    }
}

/// No GitHub token is used locally: nothing is published, and the notes say so.
pub struct NoReleases;

impl Releases for NoReleases {
    async fn publish_prerelease(
        &self,
        _tag: &str,
        _title: &str,
        _notes: &str,
    ) -> PortResult<Option<String>> {
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_keys_cannot_escape_the_root() {
        let root = Path::new("/tmp/x");
        assert!(safe_join(root, "runs/a/b.md").is_ok());
        for bad in ["../etc/passwd", "/etc/passwd", "runs/../../x", ""] {
            assert!(safe_join(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn template_diff_reports_adds_modifies_and_removes() {
        let old = resources_of(
            "Resources:\n  A: {Type: T1, Properties: {x: 1}}\n  B: {Type: T2}\n  C: {Type: T3}\n",
        )
        .unwrap();
        let new = resources_of("Resources:\n  A: {Type: T1, Properties: {x: 2}}\n  B: {Type: T9}\n  D: !Ref Something\n").unwrap_or_else(|e| panic!("{e}"));
        let d = diff(Some(&old), &new);
        let summary: Vec<(String, String, String)> = d
            .iter()
            .map(|c| {
                (
                    c.action.clone(),
                    c.logical_id.clone(),
                    c.replacement.clone(),
                )
            })
            .collect();
        assert!(summary.contains(&("Modify".into(), "A".into(), "Conditional".into())));
        assert!(summary.contains(&("Modify".into(), "B".into(), "True".into())));
        assert!(summary.contains(&("Add".into(), "D".into(), String::new())));
        assert!(summary.contains(&("Remove".into(), "C".into(), String::new())));
        assert!(diff(Some(&new), &new).is_empty());
    }

    /// Replacement as CloudFormation reports it, from the registry's create-only
    /// properties.
    #[test]
    fn replacement_follows_the_create_only_properties_of_the_type() {
        let r = |old: Value, new: Value| replacement(&old, &new);
        let lambda = |props: Value| json!({"Type": "AWS::Lambda::Function", "Properties": props});
        assert_eq!(
            r(
                lambda(json!({"FunctionName": "a", "MemorySize": 128})),
                lambda(json!({"FunctionName": "b", "MemorySize": 128}))
            ),
            "True"
        );
        assert_eq!(
            r(
                lambda(json!({"MemorySize": 128})),
                lambda(json!({"MemorySize": 256}))
            ),
            "False"
        );
        let table = |props: Value| json!({"Type": "AWS::DynamoDB::Table", "Properties": props});
        assert_eq!(
            r(
                table(json!({"KeySchema": [{"AttributeName": "id"}]})),
                table(json!({"KeySchema": [{"AttributeName": "pk"}]}))
            ),
            "Conditional"
        );
        assert_eq!(
            r(
                table(json!({"TableName": "a"})),
                table(json!({"TableName": "b"}))
            ),
            "True"
        );
        let queue = |props: Value| json!({"Type": "AWS::SQS::Queue", "Properties": props});
        assert_eq!(
            r(
                queue(json!({"FifoQueue": false})),
                queue(json!({"FifoQueue": true}))
            ),
            "True"
        );
        assert_eq!(
            r(
                queue(json!({"VisibilityTimeout": 30})),
                queue(json!({"VisibilityTimeout": 60}))
            ),
            "False"
        );
        let sam = |props: Value| json!({"Type": "AWS::Serverless::Function", "Properties": props});
        assert_eq!(
            r(sam(json!({"CodeUri": "a/"})), sam(json!({"CodeUri": "b/"}))),
            "False"
        );
        assert_eq!(
            r(
                sam(json!({"FunctionName": "a"})),
                sam(json!({"FunctionName": "b"}))
            ),
            "True"
        );
        // A type without a schema: CloudFormation would know, we cannot: Conditional.
        let custom = |props: Value| json!({"Type": "Custom::Thing", "Properties": props});
        assert_eq!(
            r(custom(json!({"A": 1})), custom(json!({"A": 2}))),
            "Conditional"
        );
        // Only metadata changed: nothing is replaced.
        assert_eq!(
            r(
                json!({"Type": "AWS::SQS::Queue", "Metadata": {"a": 1}}),
                json!({"Type": "AWS::SQS::Queue", "Metadata": {"a": 2}})
            ),
            "False"
        );
    }

    #[test]
    fn the_create_only_table_covers_the_registry() {
        let t = create_only_properties();
        assert!(t.len() > 1000, "{} types", t.len());
        assert!(t["AWS::Lambda::Function"]
            .create_only
            .contains(&"FunctionName".to_string()));
    }

    #[test]
    fn unknown_fault_stages_list_the_valid_ones() {
        let e = Faults::parse(&["deploy-frontnd".into()]).unwrap_err();
        assert!(e.contains("deploy-frontend") && e.contains("unknown stage 'deploy-frontnd'"));
        assert!(Faults::parse(&["deploy-frontend".into()])
            .unwrap()
            .has("deploy-frontend"));
    }

    #[test]
    fn sam_templates_with_intrinsic_tags_parse() {
        let r = resources_of("Resources:\n  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n      Role: !GetAtt Role.Arn\n      Env: !Sub '${AWS::Region}'\n").unwrap();
        assert_eq!(r["Fn"]["Type"], "AWS::Serverless::Function");
    }
}

//! CloudFormation, locally: a "stack" whose change preview diffs the packaged
//! template against the last rehearsed one ([`super::changes`]), and whose deployment
//! starts the app's backend ([`super::backend`]). A backend that does not start is a
//! rolled-back stack, with its own output as the reason. The deployed template is kept
//! under `.stagegate/stacks/`, so the next rehearsal in the directory sees it.

use super::backend::Backend;
use super::changes::{diff, resources_of, version_of, Resources};
use super::{lock, safe_join, Faults};
use crate::app::App;
use serde_json::{json, Value};
use stagegate::ports::{
    ChangeSet, ChangeSetRequest, ChangeSetStatus, PortResult, ResourceChange, StackInfo, Stacks,
};
use stagegate::status_events::{stack_status_event, stamped};
use stagegate::PortError;
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;

/// The local "stack": the app's backend as a process, versioned by its template. A
/// cheap handle: clones are the same stack.
#[derive(Clone)]
pub struct LocalStacks(Arc<Inner>);

struct Inner {
    app: App,
    artifacts_root: PathBuf,
    state_dir: PathBuf,
    faults: Faults,
    state: Mutex<StackState>,
    backend: Backend,
    /// "Stack Status Change" events, for the local status rule.
    events: broadcast::Sender<Value>,
}

/// A created change set: the template's resources and the changes.
#[derive(Clone)]
struct LocalChangeSet {
    resources: Resources,
    changes: Vec<ResourceChange>,
}

#[derive(Default)]
struct StackState {
    /// Resources of the deployed template, if any.
    deployed: Option<Resources>,
    status: String,
    reason: Option<String>,
    outputs: BTreeMap<String, String>,
    change_sets: HashMap<String, LocalChangeSet>,
    next_id: u32,
    /// Deployments by someone else since this rehearsal opened the stack.
    foreign_deployments: u32,
    /// `--fail bake`: the candidate carrying the bake fault is deployed, and its
    /// backend is yet to stop (on the bake's first read of the alarms).
    bake_fault_armed: bool,
    /// How many times a deploy started the backend in this process: the alarm's
    /// evaluator starts a fresh window for each ([`LocalStacks::deployments`]).
    deployments: u64,
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
        let resumed = deployed.is_some();
        let stacks = LocalStacks(Arc::new(Inner {
            app,
            artifacts_root,
            state_dir,
            faults,
            state: Mutex::new(StackState {
                deployed,
                ..Default::default()
            }),
            backend: Backend::default(),
            events: broadcast::channel(16).0,
        }));
        if resumed {
            stacks.start_backend("UPDATE_COMPLETE", false).await;
            let mut s = lock(&stacks.0.state);
            if s.status != "UPDATE_COMPLETE" {
                // Its backend does not start again (the app's command or health path
                // changed, or its code broke): there is no stack to skip a deploy to,
                // so the candidate deploys it afresh and a failure names the reason.
                // (Before, a candidate without changes skipped the deploy and failed
                // later, at Deploy Frontend, for want of outputs.)
                s.deployed = None;
                s.status.clear();
            }
        }
        Ok(stacks)
    }

    /// If the stack an earlier rehearsal deployed could not be started again (it is
    /// then deployed afresh): that, and why, as the rehearsal says it.
    pub fn not_resumed(&self) -> Option<String> {
        let s = lock(&self.0.state);
        let why = s.reason.as_ref().filter(|_| s.deployed.is_none())?;
        Some(format!(
            "stack {}, as an earlier rehearsal deployed it, does not start again ({why}): this run deploys it afresh",
            self.0.app.config.stack_name
        ))
    }

    /// Starts the backend; the stack is `complete` if it comes up, rolled back if not.
    async fn start_backend(&self, complete: &str, break_it: bool) {
        let me = &self.0;
        let started = me.backend.start(&me.app, &me.faults, break_it).await;
        let mut s = lock(&me.state);
        match started {
            Ok(outputs) => {
                s.status = complete.into();
                s.reason = None;
                s.outputs = outputs;
                s.deployments += 1;
            }
            Err(reason) => {
                s.status = if s.deployed.is_some() {
                    "UPDATE_ROLLBACK_COMPLETE"
                } else {
                    "ROLLBACK_COMPLETE"
                }
                .into();
                s.reason = Some(reason);
                s.outputs.clear();
            }
        }
    }

    /// Someone else deploys to the staging stack (what `--fail validate-infrastructure`
    /// makes happen while the candidate waits for approval): its version changes.
    pub fn simulate_other_deployment(&self) {
        let mut s = lock(&self.0.state);
        s.foreign_deployments += 1;
        if s.status.is_empty() {
            s.status = "UPDATE_COMPLETE".into();
        }
    }

    /// The stack's status events, as CloudFormation sends them to EventBridge.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.0.events.subscribe()
    }

    fn announce(&self, status: &str, reason: Option<&str>) {
        let id = format!(
            "arn:aws:cloudformation:local:000000000000:stack/{}/rehearsal",
            self.0.app.config.stack_name
        );
        // Nobody listening is a missed event; the task's status read covers it.
        let event = stack_status_event(&id, status, reason);
        let _ = self.0.events.send(stamped(event, chrono::Utc::now()));
    }

    /// Keeps the deployed template for the next rehearsal in this directory.
    fn save(&self, resources: &Resources) -> PortResult<()> {
        let dir = &self.0.state_dir;
        let failed = |e: String| PortError::new("save stack", e);
        std::fs::create_dir_all(dir).map_err(|e| failed(e.to_string()))?;
        let text = serde_json::to_string_pretty(resources).map_err(|e| failed(e.to_string()))?;
        std::fs::write(dir.join("template.json"), text).map_err(|e| failed(e.to_string()))
    }

    /// Stops the backend and everything it started (end of the rehearsal; and
    /// `--fail bake`: the candidate's backend dies while it bakes).
    pub async fn stop(&self) {
        self.0.backend.stop().await;
    }

    /// Whether the candidate carrying `--fail bake`'s fault was deployed since the
    /// last call: true once.
    pub fn take_bake_fault(&self) -> bool {
        std::mem::take(&mut lock(&self.0.state).bake_fault_armed)
    }

    /// How many deploys started the backend since this process began: a change means
    /// a new release to watch, however briefly its health URL was up.
    pub fn deployments(&self) -> u64 {
        lock(&self.0.state).deployments
    }

    /// The running backend's health URL (`None` while none runs).
    pub fn health_url(&self) -> Option<String> {
        self.0.backend.health()
    }
}

impl Stacks for LocalStacks {
    async fn create_change_set(&self, request: &ChangeSetRequest) -> PortResult<String> {
        let path = safe_join(&self.0.artifacts_root, &request.template_uri)?;
        let text = tokio::fs::read_to_string(&path).await.map_err(|e| {
            PortError::new(
                "create change set",
                format!("cannot read the packaged template {}: {e}", path.display()),
            )
        })?;
        let mut resources =
            resources_of(&text).map_err(|e| PortError::new("create change set", e))?;
        if self.0.faults.has("deploy-infrastructure") {
            // The candidate's template gains a resource, so there is a deployment to
            // fail even when the rest is unchanged since the last rehearsal.
            resources.insert(
                "RehearsalFault".into(),
                json!({"Type": "Custom::RehearsalFault", "Properties": {"Reason": "rehearse --fail deploy-infrastructure"}}),
            );
        }
        // `--fail bake`: the candidate's template gains a resource too (its backend
        // then dies while it bakes), so the rollback's change set, of the previous
        // release's template, has a change to make. The resource names the run's
        // template, so each run's candidate is a change even where an earlier one's
        // fault stayed deployed (its rollback failed): the fault is armed by a deploy.
        if self.0.faults.has("bake") && !request.change_set_name.ends_with("-rollback") {
            resources.insert(
                "RehearsalBakeFault".into(),
                json!({"Type": "Custom::RehearsalFault", "Properties": {
                    "Reason": "rehearse --fail bake",
                    "Candidate": request.template_uri,
                }}),
            );
        }
        let mut s = lock(&self.0.state);
        let changes = diff(s.deployed.as_ref(), &resources);
        s.next_id += 1;
        let id = format!("local:changeSet/{}/{}", request.change_set_name, s.next_id);
        let cs = LocalChangeSet { resources, changes };
        s.change_sets.insert(id.clone(), cs);
        Ok(id)
    }

    async fn describe_change_set(&self, id: &str) -> PortResult<ChangeSet> {
        let s = lock(&self.0.state);
        let Some(cs) = s.change_sets.get(id) else {
            let why = format!("no change set {id}");
            return Err(PortError::new("describe change set", why));
        };
        let changes = cs.changes.clone();
        let (status, executable, reason) = if changes.is_empty() {
            let why = "The submitted information didn't contain changes.".to_string();
            (ChangeSetStatus::NoChanges, false, Some(why))
        } else {
            (ChangeSetStatus::Ready, true, None)
        };
        Ok(ChangeSet {
            id: id.into(),
            stack_name: self.0.app.config.stack_name.clone(),
            status,
            status_reason: reason,
            executable,
            changes,
        })
    }

    async fn execute_change_set(&self, id: &str) -> PortResult<()> {
        let (resources, first) = {
            let s = lock(&self.0.state);
            let Some(LocalChangeSet { resources, .. }) = s.change_sets.get(id).cloned() else {
                let why = format!("no change set {id}");
                return Err(PortError::new("execute change set", why));
            };
            let first = s.deployed.is_none();
            (resources, first)
        };
        let (progress, complete) = if first {
            ("CREATE_IN_PROGRESS", "CREATE_COMPLETE")
        } else {
            ("UPDATE_IN_PROGRESS", "UPDATE_COMPLETE")
        };
        lock(&self.0.state).status = progress.into();
        self.announce(progress, None);
        let break_it = self.0.faults.has("deploy-infrastructure");
        self.start_backend(complete, break_it).await;
        let (status, reason) = {
            let mut s = lock(&self.0.state);
            if s.status == complete {
                s.bake_fault_armed = resources.contains_key("RehearsalBakeFault");
                s.deployed = Some(resources.clone());
            }
            (s.status.clone(), s.reason.clone())
        };
        if status == complete {
            self.save(&resources)?;
        }
        self.announce(&status, reason.as_deref());
        Ok(())
    }

    async fn stack(&self, _name: &str) -> PortResult<Option<StackInfo>> {
        let s = lock(&self.0.state);
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
        Ok(lock(&self.0.state).reason.clone())
    }
}

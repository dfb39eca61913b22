//! [`MemoryStacks`]: a CloudFormation stand-in for unit and path tests, with its
//! status events as EventBridge would deliver them.

use super::doubles::lock;
use super::events::StatusEvents;
use crate::error::PortError;
use crate::ports::*;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A CloudFormation stand-in (a cheap handle: clones share the stack). Before a change set runs, the stack sits at
/// `UPDATE_COMPLETE`; after, it walks through the configured statuses.
#[derive(Clone)]
pub struct MemoryStacks {
    state: Arc<Mutex<StacksState>>,
    /// Its status events, once a change set runs.
    pub events: StatusEvents,
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
    /// What it passes through once executed, one status every [`super::STATUS_EVERY`].
    after_execute: Vec<String>,
    failure_reason: Option<String>,
    outputs: BTreeMap<String, String>,
    requests: Vec<ChangeSetRequest>,
    changes: Vec<ResourceChange>,
}

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
                failure_reason: None,
                outputs: BTreeMap::from([(
                    "ApiUrl".to_string(),
                    "https://api.example.test".to_string(),
                )]),
                requests: Vec::new(),
                changes: super::sample_changes("False"),
            })),
            events: StatusEvents::default(),
        }
    }
}

impl MemoryStacks {
    /// Creates the change set a run of `app-staging` makes (`stagegate-r`, from
    /// `runs/r/packaged.yaml`); its id.
    pub async fn run_change_set(&self) -> String {
        let request = ChangeSetRequest {
            stack_name: "app-staging".into(),
            change_set_name: "stagegate-r".into(),
            template_uri: "runs/r/packaged.yaml".into(),
            ..Default::default()
        };
        self.create_change_set(&request)
            .await
            .unwrap_or_else(|e| panic!("the double refused a change set: {e}"))
    }

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
    /// The changes every change set of this stack previews.
    pub fn set_changes(&self, changes: Vec<ResourceChange>) {
        lock(&self.state).changes = changes;
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
    /// [`super::STATUS_EVERY`], each announced by a "Stack Status Change" event.
    pub fn after_execute(&self, statuses: &[&str]) {
        lock(&self.state).after_execute = statuses.iter().map(|x| x.to_string()).collect();
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
            return Err(PortError::refused("create change set", f.clone()));
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
            return Err(PortError::refused("execute change set", f.clone()));
        }
        s.executed = true;
        let name = s
            .requests
            .last()
            .map(|r| r.stack_name.clone())
            .unwrap_or_else(|| "shop-staging".into());
        let stack_id =
            format!("arn:aws:cloudformation:us-east-1:123456789012:stack/{name}/0f1e2d3c");
        let statuses = s.after_execute.clone();
        let state = self.state.clone();
        self.events.walk(statuses, move |status: String| {
            let mut s = lock(&state);
            s.status = status.clone();
            let reason = s.failure_reason.clone();
            crate::status_events::stack_status_event(&stack_id, &status, reason.as_deref())
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

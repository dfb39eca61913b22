//! The staging flow in the embedded engine: the real `statemachine/staging.asl.json`,
//! every function dispatched to the same step code the Lambda binaries run, and the
//! engine itself standing in for Step Functions' task-token and execution APIs.

pub mod adapters;
pub mod app;
pub mod http;
pub mod rehearsal;

use asl_engine::{
    BuildRequest, BuildResult, BuildRunner, Engine, EngineError, ExecutionStatus, LambdaError,
    Registry,
};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use stagegate::functions::{self, World, FUNCTIONS};
use stagegate::ports::{CallbackError, Executions, PortResult, RunningExecution, TaskCallbacks};
use stagegate::PortError;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, OnceLock};

/// The staging definition, exactly as deployed to AWS.
pub const STAGING_DEFINITION: &str = include_str!("../../../statemachine/staging.asl.json");

/// The state machine's name in the engine (and in ARNs).
pub const STATE_MACHINE: &str = "staging";

/// The CodeBuild project name the definition runs checks in.
pub const CHECKS_PROJECT: &str = "stagegate-checks";

/// `DefinitionSubstitutions` for the local engine: each function's ARN (the engine
/// dispatches by the name at its end) and the checks project.
pub fn substitutions() -> BTreeMap<String, String> {
    let mut subs: BTreeMap<String, String> = FUNCTIONS
        .iter()
        .filter_map(|(name, _)| {
            functions::substitution_key(name).map(|k| {
                (
                    k,
                    format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
                )
            })
        })
        .collect();
    subs.insert("ChecksProjectName".into(), CHECKS_PROJECT.into());
    subs
}

/// The engine, known once it exists (the registry is built before it).
#[derive(Clone, Default)]
pub struct EngineLink {
    inner: Arc<OnceLock<(Engine, String)>>,
}

impl EngineLink {
    pub fn set(&self, engine: Engine, state_machine_arn: String) {
        // A second call would be a wiring bug; the first engine stays.
        let _ = self.inner.set((engine, state_machine_arn));
    }

    fn get(&self) -> Result<&(Engine, String), PortError> {
        self.inner
            .get()
            .ok_or_else(|| PortError::new("engine", "the engine is not connected yet"))
    }

    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        match self.inner.get() {
            Some((e, _)) => e.clock().now(),
            None => chrono::Utc::now(),
        }
    }
}

fn callback_error(e: EngineError) -> CallbackError {
    match e {
        EngineError::TaskTimedOut(m) | EngineError::InvalidToken(m) => CallbackError::TaskClosed(m),
        other => CallbackError::Port(PortError::new("send task result", other.to_string())),
    }
}

impl TaskCallbacks for EngineLink {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        let (engine, _) = self.get()?;
        engine
            .send_task_success(token, &output.to_string())
            .map_err(callback_error)
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        let (engine, _) = self.get()?;
        engine
            .send_task_failure(token, error, cause)
            .map_err(callback_error)
    }
}

impl Executions for EngineLink {
    async fn running(&self) -> PortResult<Vec<RunningExecution>> {
        let (engine, arn) = self.get()?;
        Ok(engine
            .list_executions(arn, Some(ExecutionStatus::Running))
            .into_iter()
            .map(|d| RunningExecution {
                id: d.execution_arn,
                input: d.input,
            })
            .collect())
    }
}

/// Registers every function of the flow, each calling [`functions::invoke`] on `world`.
/// A step's error becomes the Lambda error type the state machine catches.
pub fn registry<W: World + 'static>(world: Arc<W>, builds: impl BuildRunner) -> Registry {
    let mut reg = Registry::new().build_runner(builds);
    for (name, _) in FUNCTIONS {
        let w = world.clone();
        reg = reg.lambda(name, move |event: Value| {
            let w = w.clone();
            async move {
                functions::invoke(w.as_ref(), name, event)
                    .await
                    .map_err(|e| LambdaError::new(e.name, e.message))
            }
        });
    }
    reg
}

/// A build runner that answers from a script: check name (`STAGEGATE_CHECK`) →
/// build status. Unscripted checks succeed. For path tests; the rehearsal runs
/// real processes.
#[derive(Clone, Default)]
pub struct ScriptedBuilds {
    statuses: Arc<Mutex<HashMap<String, String>>>,
    seen: Arc<Mutex<Vec<BuildRequest>>>,
}

impl ScriptedBuilds {
    pub fn fail(&self, check: &str) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(check.into(), "FAILED".into());
    }
    pub fn requests(&self) -> Vec<BuildRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl BuildRunner for ScriptedBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, String>> {
        let check = request
            .environment
            .iter()
            .find(|(k, _)| k == "STAGEGATE_CHECK")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let status = self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&check)
            .cloned()
            .unwrap_or_else(|| "SUCCEEDED".into());
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(BuildResult {
                status,
                details: json!({"Logs": {"DeepLink": format!("local://builds/{check}")}}),
            })
        }
        .boxed()
    }
}

//! The staging flow in the embedded engine: the real `statemachine/staging.asl.json`,
//! every function registered as the same step value a Lambda binary serves, and the
//! engine itself standing in for Step Functions' task-token and execution APIs.
//!
//! One composition root, [`staging_registry`], builds the flow's sixteen steps from
//! the adapters it is given and registers each under its name. The rehearsal gives it
//! the local adapters, the path tests in-memory doubles; both get the same steps.

pub mod adapters;
pub mod app;
pub mod http;
pub mod procs;
pub mod rehearsal;

use asl_engine::{
    BuildRunner, Control, Engine, EngineError, EventType, ExecutionStatus, LambdaError, Registry,
};
use serde_json::{json, Value};
use stagegate::memory::{
    MemoryApprovals, MemoryCandidates, MemoryClaims, MemoryWaits, StaticApprovers,
};
use stagegate::ports::{
    Artifacts, CallbackError, Clock, Executions, Hosting, Http, Notifier, Phase, PortResult,
    Releases, SourceHistory, Stacks, StateEvent, TaskCallbacks, Timelines,
};
use stagegate::step::{invoke, substitution_key};
use stagegate::steps::{
    approval, change_preview, checklist, deploy, frontend, notify, performance, preflight, release,
    suites, validate, waits, FUNCTIONS,
};
use stagegate::{PortError, Settings, Step};
use std::collections::BTreeMap;
use std::sync::Arc;

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
        .map(|name| {
            (
                substitution_key(name),
                format!("arn:aws:lambda:us-east-1:123456789012:function:{name}"),
            )
        })
        .collect();
    subs.insert("ChecksProjectName".into(), CHECKS_PROJECT.into());
    subs
}

/// Step Functions' task-token, execution and time APIs, answered by the embedded
/// engine: what preflight, the approval request and the approval page use locally.
/// It exists before the engine does ([`Control`]), so steps hold it from the start.
#[derive(Clone)]
pub struct LocalStepFunctions {
    control: Control,
}

impl LocalStepFunctions {
    /// The engine control `control`.
    pub fn new(control: Control) -> Self {
        LocalStepFunctions { control }
    }

    pub fn control(&self) -> &Control {
        &self.control
    }
}

fn callback_error(e: EngineError) -> CallbackError {
    match e {
        EngineError::TaskTimedOut(m) | EngineError::InvalidToken(m) => CallbackError::TaskClosed(m),
        other => CallbackError::Port(PortError::new("send task result", other.to_string())),
    }
}

impl TaskCallbacks for LocalStepFunctions {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.control
            .send_task_success(token, &output.to_string())
            .map_err(callback_error)
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.control
            .send_task_failure(token, error, cause)
            .map_err(callback_error)
    }
}

impl Executions for LocalStepFunctions {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        Ok(self
            .control
            .describe_execution(id)
            .is_ok_and(|d| d.status == ExecutionStatus::Running))
    }
}

impl Timelines for LocalStepFunctions {
    async fn phases(&self, execution_id: &str) -> PortResult<Vec<Phase>> {
        let history = self
            .control
            .get_execution_history(execution_id)
            .map_err(|e| PortError::new("read the run's history", e.to_string()))?;
        Ok(Phase::from_history(history.iter().filter_map(
            |ev| match &ev.details {
                asl_engine::Details::StateEntered { name, .. } => {
                    Some(StateEvent::Entered(name, ev.timestamp))
                }
                asl_engine::Details::StateExited { name, .. } => {
                    Some(StateEvent::Exited(name, ev.timestamp))
                }
                _ => None,
            },
        )))
    }
}

impl Clock for LocalStepFunctions {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.control.clock().now()
    }
}

/// Registers `step` under its name; its error becomes the Lambda error type the state
/// machine catches, exactly as `stagegate_lambda::serve` reports it on AWS.
pub fn register<S: Step + 'static>(registry: Registry, step: S) -> Registry {
    let step = Arc::new(step);
    registry.lambda(S::NAME, move |event: Value| {
        let step = step.clone();
        async move {
            invoke(step.as_ref(), event)
                .await
                .map_err(|e| LambdaError::new(e.name, e.message))
        }
    })
}

/// A step with something done first, under the step's own name: how the rehearsal
/// makes the world change at a given moment (`--fail validate-infrastructure`: another
/// deployment lands just before Validate Infrastructure).
pub struct Before<S, F> {
    pub step: S,
    pub before: F,
}

impl<S: Step, F: Fn() + Send + Sync> Step for Before<S, F> {
    const NAME: &'static str = S::NAME;
    type Input = S::Input;
    type Output = S::Output;

    async fn run(&self, input: S::Input) -> Result<S::Output, stagegate::StepError> {
        (self.before)();
        self.step.run(input).await
    }
}

/// What a local run keeps in memory, in one process: the approvals and their links,
/// the configured approvers, the once-only claims (runs, notifications), the newest
/// candidate of each repository, the tasks waiting on a stack or a frontend job.
#[derive(Clone, Default)]
pub struct LocalStores {
    pub approvals: Arc<MemoryApprovals>,
    pub approvers: Arc<StaticApprovers>,
    pub claims: Arc<MemoryClaims>,
    pub candidates: Arc<MemoryCandidates>,
    pub waits: Arc<MemoryWaits>,
}

/// The adapters a local world plugs into the flow, each shared by the steps that
/// use it. Task tokens, executions and time come from the engine
/// ([`LocalStepFunctions`]); approvals, approvers and claims from [`LocalStores`].
pub struct Adapters<Ar, N, S, H, Ht, Hi, R> {
    pub artifacts: Arc<Ar>,
    pub notifier: Arc<N>,
    pub stacks: Arc<S>,
    pub hosting: Arc<H>,
    pub http: Arc<Ht>,
    pub history: Arc<Hi>,
    pub releases: Arc<R>,
}

/// The staging flow's registry: its sixteen steps built from `adapters`, each
/// registered under its name, the target of the stack and frontend status rules
/// (`resume-wait`, see [`status_event_rule`]), the reconcile of undelivered decisions
/// (which a schedule invokes, see [`schedule`]), and `builds` for the CodeBuild checks.
pub fn staging_registry<Ar, N, S, H, Ht, Hi, R>(
    settings: &Settings,
    engine: &LocalStepFunctions,
    stores: &LocalStores,
    a: &Adapters<Ar, N, S, H, Ht, Hi, R>,
    builds: impl BuildRunner,
) -> Registry
where
    Ar: Artifacts + 'static,
    N: Notifier + 'static,
    S: Stacks + 'static,
    H: Hosting + 'static,
    Ht: Http + 'static,
    Hi: SourceHistory + 'static,
    R: Releases + 'static,
{
    let s = || settings.clone();
    let mut r = Registry::new().build_runner(builds);
    let approvals = &stores.approvals;
    r = register(
        r,
        preflight::Preflight::new(
            s(),
            preflight::Runs {
                executions: engine.clone(),
                callbacks: engine.clone(),
            },
            approvals.clone(),
            stores.claims.clone(),
            stores.candidates.clone(),
            engine.clone(),
        ),
    );
    r = register(
        r,
        change_preview::CreateChangeSet::new(s(), a.stacks.clone()),
    );
    r = register(
        r,
        change_preview::DescribeChangeSet::new(s(), a.stacks.clone()),
    );
    r = register(r, checklist::GenerateChecklist::new(a.artifacts.clone()));
    r = register(
        r,
        approval::RequestApproval::new(
            s(),
            approvals.clone(),
            stores.approvers.clone(),
            a.notifier.clone(),
            stores.candidates.clone(),
            engine.clone(),
        ),
    );
    r = register(r, validate::ValidateInfrastructure::new(a.stacks.clone()));
    let waits = &stores.waits;
    let waiting = || waits::Waiting {
        waits: waits.clone(),
        runs: engine.clone(),
        clock: engine.clone(),
    };
    r = register(
        r,
        deploy::DeployInfrastructure::new(a.stacks.clone(), waiting()),
    );
    r = register(
        r,
        deploy::AwaitStack::new(s(), a.stacks.clone(), engine.clone(), waiting()),
    );
    r = register(
        r,
        deploy::CaptureOutputs::new(a.stacks.clone(), a.artifacts.clone()),
    );
    let frontend = || frontend::Ports {
        hosting: a.hosting.clone(),
        callbacks: engine.clone(),
        waiting: waiting(),
    };
    r = register(r, frontend::DeployFrontend::new(s(), frontend()));
    r = register(r, frontend::AwaitFrontend::new(s(), frontend()));
    r = register(
        r,
        waits::ResumeWait::new(
            waits.clone(),
            engine.clone(),
            a.stacks.clone(),
            a.hosting.clone(),
            engine.clone(),
        ),
    );
    r = register(
        r,
        suites::RunTestSuite::new(a.http.clone(), a.artifacts.clone()),
    );
    r = register(r, suites::ReadSuiteReport::new(a.artifacts.clone()));
    r = register(r, suites::TestReport::new(a.artifacts.clone()));
    r = register(
        r,
        performance::PerformanceTests::new(a.http.clone(), a.artifacts.clone()),
    );
    r = register(
        r,
        release::MarkReleaseReady::new(
            a.history.clone(),
            a.releases.clone(),
            a.artifacts.clone(),
            engine.clone(),
            engine.clone(),
        ),
    );
    r = register(
        r,
        notify::Notify::new(
            s(),
            a.notifier.clone(),
            stores.claims.clone(),
            engine.clone(),
        ),
    );
    register(
        r,
        approval::ReconcileApprovals::new(
            settings,
            approvals.clone(),
            engine.clone(),
            engine.clone(),
        ),
    )
}

/// The template's "execution ended abnormally" rule, locally: every execution of
/// `engine` that ends `FAILED`, `TIMED_OUT` or `ABORTED` is sent to the `notify`
/// function as the "Step Functions Execution Status Change" event EventBridge would
/// deliver. Runs until the returned task is aborted.
pub fn execution_status_rule(
    engine: &Engine,
    registry: Arc<Registry>,
) -> tokio::task::JoinHandle<()> {
    let mut events = engine.subscribe();
    let engine = engine.clone();
    tokio::spawn(async move {
        loop {
            let (arn, event) = match events.recv().await {
                Ok(e) => e,
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
            };
            let status = match event.event_type {
                EventType::ExecutionFailed => "FAILED",
                EventType::ExecutionTimedOut => "TIMED_OUT",
                EventType::ExecutionAborted => "ABORTED",
                _ => continue,
            };
            let Ok(d) = engine.describe_execution(&arn) else {
                continue;
            };
            let detail = json!({
                "executionArn": d.execution_arn, "stateMachineArn": d.state_machine_arn,
                "name": d.name, "status": status, "input": d.input.to_string(),
                "error": d.error, "cause": d.cause,
            });
            let event = json!({
                "version": "0", "detail-type": "Step Functions Execution Status Change",
                "source": "aws.states", "resources": [&*arn], "detail": detail,
            });
            // EventBridge retries a failed target; one attempt is enough locally, and a
            // failure is in the run's outbox (or its absence) for everyone to see.
            let _ = registry.invoke(notify::NAME, event).await;
        }
    })
}

/// The template's stack and frontend status rules, locally: every event on `events`
/// (the local stack's and hosting's "Stack Status Change" and "Deployment Status
/// Change" events) is delivered to `resume-wait`, as EventBridge would. Runs until
/// the returned task is aborted or every sender is gone.
pub fn status_event_rule(
    events: Vec<tokio::sync::broadcast::Receiver<Value>>,
    registry: Arc<Registry>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let forwards = events.into_iter().map(|mut rx| {
            let registry = registry.clone();
            async move {
                loop {
                    match rx.recv().await {
                        Ok(event) => {
                            // A failed delivery is what a missed event is: the task's
                            // timeout and its status read take over, as on AWS.
                            let _ = registry.invoke(waits::RESUME_WAIT, event).await;
                        }
                        Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                        Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    }
                }
            }
        });
        futures::future::join_all(forwards).await;
    })
}

/// An EventBridge schedule, locally: invokes function `name` of `registry` every
/// `every`, until the returned task is aborted.
pub fn schedule(
    registry: Arc<Registry>,
    name: &'static str,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _ = registry.invoke(name, json!({"source": "aws.events"})).await;
        }
    })
}

//! The engine's public API, shaped like the Step Functions API: create a state
//! machine, start/describe/stop/list executions, read their history, and answer task
//! tokens. Executions run as tokio tasks on the caller's runtime.

use crate::clock::Clock;
use crate::definition::{LoadError, Problem, StateMachine};
use crate::error::StateError;
use crate::history::HistoryEvent;
use crate::interp;
use crate::task::TaskExecutor;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use rand::rngs::StdRng;
use rand::{RngCore, SeedableRng};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::sync::{broadcast, oneshot, watch, Notify};

/// Step Functions' payload quota (256 KiB), applied to inputs, outputs and results.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

/// Errors of the API calls themselves, named like the Step Functions API's.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("InvalidDefinition: {0}")]
    InvalidDefinition(LoadError),
    #[error("StateMachineAlreadyExists: a different state machine named '{0}' exists")]
    StateMachineAlreadyExists(String),
    #[error("StateMachineDoesNotExist: {0}")]
    StateMachineDoesNotExist(String),
    #[error("ExecutionDoesNotExist: {0}")]
    ExecutionDoesNotExist(String),
    #[error("ExecutionAlreadyExists: {0}")]
    ExecutionAlreadyExists(String),
    #[error("InvalidName: {0}")]
    InvalidName(String),
    #[error("InvalidExecutionInput: {0}")]
    InvalidExecutionInput(String),
    #[error("InvalidToken: {0}")]
    InvalidToken(String),
    #[error("TaskTimedOut: {0}")]
    TaskTimedOut(String),
    #[error("InvalidOutput: {0}")]
    InvalidOutput(String),
    #[error("NoRuntime: executions run on a Tokio runtime; call this from inside one")]
    NoRuntime,
}

impl EngineError {
    /// The API error name (`TaskTimedOut`, `InvalidToken`, ...).
    pub fn name(&self) -> &'static str {
        match self {
            EngineError::InvalidDefinition(_) => "InvalidDefinition",
            EngineError::StateMachineAlreadyExists(_) => "StateMachineAlreadyExists",
            EngineError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            EngineError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            EngineError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            EngineError::InvalidName(_) => "InvalidName",
            EngineError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            EngineError::InvalidToken(_) => "InvalidToken",
            EngineError::TaskTimedOut(_) => "TaskTimedOut",
            EngineError::InvalidOutput(_) => "InvalidOutput",
            EngineError::NoRuntime => "NoRuntime",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    /// Whether the execution is still running.
    pub fn is_running(self) -> bool {
        self == ExecutionStatus::Running
    }
}

impl fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        })
    }
}

/// What `DescribeExecution` returns.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    #[serde(serialize_with = "ser_time")]
    pub start_date: DateTime<Utc>,
    #[serde(
        serialize_with = "ser_opt_time",
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_date: Option<DateTime<Utc>>,
    pub input: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

fn ser_time<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&crate::clock::format_timestamp(*t))
}

fn ser_opt_time<S: serde::Serializer>(t: &Option<DateTime<Utc>>, s: S) -> Result<S::Ok, S::Error> {
    match t {
        Some(t) => ser_time(t, s),
        None => s.serialize_none(),
    }
}

/// Where an engine lives, for the ARNs it makes.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    pub region: String,
    pub account: String,
    pub role_arn: String,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "us-east-1".into(),
            account: "123456789012".into(),
            role_arn: "arn:aws:iam::123456789012:role/stagegate-local".into(),
        }
    }
}

pub(crate) struct Machine {
    pub arn: String,
    pub name: String,
    pub definition: Arc<StateMachine>,
    source: Option<String>,
}

pub(crate) type TokenOutcome = Result<Value, StateError>;

enum TokenSlot {
    Open {
        sender: Option<oneshot::Sender<TokenOutcome>>,
        heartbeat: Arc<Notify>,
    },
    Closed,
}

pub(crate) struct ExecutionRecord {
    /// Shared with every event sent to subscribers (one allocation per execution).
    pub arn: Arc<str>,
    pub name: String,
    pub machine: Arc<Machine>,
    pub input: Value,
    pub start: DateTime<Utc>,
    /// Events are shared with subscribers, not copied for them.
    pub history: Mutex<Vec<Arc<HistoryEvent>>>,
    pub status: watch::Sender<ExecutionStatus>,
    pub result: Mutex<Option<Finished>>,
    pub stop: watch::Sender<Option<(String, String)>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Finished {
    pub stop: DateTime<Utc>,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// Executions by ARN, plus their start order for `ListExecutions`.
#[derive(Default)]
struct Executions {
    by_arn: HashMap<String, Arc<ExecutionRecord>>,
    order: Vec<String>,
}

pub(crate) struct Inner {
    pub clock: Clock,
    pub config: EngineConfig,
    machines: Mutex<HashMap<String, Arc<Machine>>>,
    executions: Mutex<Executions>,
    tokens: Mutex<HashMap<String, TokenSlot>>,
    pub events: broadcast::Sender<(Arc<str>, Arc<HistoryEvent>)>,
    pub rng: Mutex<StdRng>,
}

/// Locks a mutex; a poisoned lock (a panic while held) still yields its data, since
/// every critical section here leaves the data consistent.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// What task handlers may reach while the engine runs them: the clock, task tokens
/// (`SendTask*`), and the executions (`Describe`/`List`/`GetExecutionHistory`/`Stop`).
///
/// It exists before the [`Engine`] it belongs to, so handlers that answer tokens or
/// list executions (stagegate's approval page, its preflight) are built with it and
/// registered in the engine's executor without any late binding:
///
/// ```
/// use asl_engine::{Clock, Control, Engine, EngineConfig, Registry};
/// let control = Control::new(Clock::system(), EngineConfig::default(), None);
/// let answers = control.clone(); // e.g. held by a handler that sends task results
/// let engine = Engine::with_control(control, std::sync::Arc::new(Registry::new()));
/// assert!(engine.list_executions("arn:none", None).is_empty());
/// # drop(answers);
/// ```
///
/// Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Control {
    inner: Arc<Inner>,
}

/// An embedded Step Functions engine: a [`Control`] plus the executor that runs its
/// Task states. It dereferences to its `Control`, so every `Control` call is also an
/// engine call. Cheap to clone; clones share state.
#[derive(Clone)]
pub struct Engine {
    control: Control,
    executor: Arc<dyn TaskExecutor>,
}

impl std::ops::Deref for Engine {
    type Target = Control;
    fn deref(&self) -> &Control {
        &self.control
    }
}

impl Engine {
    pub fn new(executor: impl TaskExecutor) -> Self {
        Self::with_options(
            Arc::new(executor),
            Clock::system(),
            EngineConfig::default(),
            None,
        )
    }

    /// Full control: a shared executor, a clock (e.g. [`Clock::fixed`]), ARN config,
    /// and a seed for retry jitter (for reproducible runs).
    pub fn with_options(
        executor: Arc<dyn TaskExecutor>,
        clock: Clock,
        config: EngineConfig,
        seed: Option<u64>,
    ) -> Self {
        Self::with_control(Control::new(clock, config, seed), executor)
    }

    /// The engine of `control`, running Task states with `executor`.
    pub fn with_control(control: Control, executor: Arc<dyn TaskExecutor>) -> Self {
        Engine { control, executor }
    }

    /// The engine's control (what its task handlers may hold).
    pub fn control(&self) -> &Control {
        &self.control
    }
    /// `CreateStateMachine` from definition text with `${Name}` substitutions. Every
    /// Task resource is checked against the executor, so an integration nobody can
    /// run is a load error, not a surprise mid-execution.
    pub fn create_state_machine(
        &self,
        name: &str,
        definition: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<String, EngineError> {
        let sm = StateMachine::from_template(definition, substitutions)
            .map_err(EngineError::InvalidDefinition)?;
        self.register(name, sm, Some(definition.to_string()))
    }

    /// Registers an already-loaded definition.
    pub fn register_state_machine(
        &self,
        name: &str,
        definition: StateMachine,
    ) -> Result<String, EngineError> {
        self.register(name, definition, None)
    }

    fn register(
        &self,
        name: &str,
        sm: StateMachine,
        source: Option<String>,
    ) -> Result<String, EngineError> {
        check_name(name)?;
        let problems: Vec<Problem> = sm
            .task_resources()
            .iter()
            .filter_map(|r| {
                self.executor.check(r).err().map(|message| Problem {
                    location: format!("Resource {r}"),
                    message,
                })
            })
            .collect();
        if !problems.is_empty() {
            return Err(EngineError::InvalidDefinition(LoadError { problems }));
        }
        let arn = self.state_machine_arn(name);
        let mut machines = lock(&self.inner.machines);
        if let Some(existing) = machines.get(&arn) {
            if existing.source.is_none() || existing.source != source {
                return Err(EngineError::StateMachineAlreadyExists(name.to_string()));
            }
            return Ok(arn);
        }
        machines.insert(
            arn.clone(),
            Arc::new(Machine {
                arn: arn.clone(),
                name: name.to_string(),
                definition: Arc::new(sm),
                source,
            }),
        );
        Ok(arn)
    }

    /// `StartExecution`. As on AWS (Standard workflows), starting again with the
    /// same name and input while that execution runs returns the same ARN; a
    /// different input, or a finished execution of that name, is
    /// `ExecutionAlreadyExists`. Must be called inside a Tokio runtime.
    pub fn start_execution(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<String, EngineError> {
        let handle = tokio::runtime::Handle::try_current().map_err(|_| EngineError::NoRuntime)?;
        let machine = lock(&self.inner.machines)
            .get(state_machine_arn)
            .cloned()
            .ok_or_else(|| EngineError::StateMachineDoesNotExist(state_machine_arn.to_string()))?;
        let name = match name {
            Some(n) => {
                check_name(n)?;
                n.to_string()
            }
            None => uuid::Uuid::new_v4().to_string(),
        };
        let size = serde_json::to_vec(&input).map(|v| v.len()).unwrap_or(0);
        if size > MAX_PAYLOAD_BYTES {
            return Err(EngineError::InvalidExecutionInput(format!(
                "the input is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}"
            )));
        }
        let arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{name}",
            self.inner.config.region, self.inner.config.account, machine.name
        );
        let record = {
            let mut execs = lock(&self.inner.executions);
            if let Some(existing) = execs.by_arn.get(&arn) {
                let running = *existing.status.borrow() == ExecutionStatus::Running;
                if running && existing.input == input {
                    return Ok(arn);
                }
                return Err(EngineError::ExecutionAlreadyExists(format!(
                    "an execution named '{name}' {} (names are unique per state machine)",
                    if running {
                        "is running with a different input"
                    } else {
                        "has already run"
                    }
                )));
            }
            let record = Arc::new(ExecutionRecord {
                arn: arn.as_str().into(),
                name,
                machine,
                input,
                start: self.inner.clock.now(),
                history: Mutex::new(Vec::new()),
                status: watch::channel(ExecutionStatus::Running).0,
                result: Mutex::new(None),
                stop: watch::channel(None).0,
            });
            execs.by_arn.insert(arn.clone(), record.clone());
            execs.order.push(arn.clone());
            record
        };
        handle.spawn(interp::run_execution(
            self.control.inner.clone(),
            self.executor.clone(),
            record,
        ));
        Ok(arn)
    }

    /// Starts an execution and waits for it to finish.
    pub async fn run(
        &self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<ExecutionDescription, EngineError> {
        let arn = self.start_execution(state_machine_arn, name, input)?;
        self.wait_for_execution(&arn).await
    }
}

impl Control {
    /// A new engine's shared state: its clock, its ARN config, and a seed for retry
    /// jitter (for reproducible runs).
    pub fn new(clock: Clock, config: EngineConfig, seed: Option<u64>) -> Self {
        let (events, _) = broadcast::channel(4096);
        Control {
            inner: Arc::new(Inner {
                clock,
                config,
                machines: Mutex::new(HashMap::new()),
                executions: Mutex::new(Executions::default()),
                tokens: Mutex::new(HashMap::new()),
                events,
                rng: Mutex::new(match seed {
                    Some(s) => StdRng::seed_from_u64(s),
                    None => StdRng::from_entropy(),
                }),
            }),
        }
    }

    /// An engine on the system clock, with the default ARNs: for runs people watch.
    pub fn system() -> Self {
        Control::new(Clock::system(), EngineConfig::default(), None)
    }

    /// An engine on tokio's clock from a fixed instant, with a fixed seed: under a
    /// paused runtime every wait is instant and every run the same (tests).
    pub fn deterministic() -> Self {
        Control::new(Clock::fixed(), EngineConfig::default(), Some(3))
    }

    /// The ARN a state machine named `name` has (or will have) in this engine.
    pub fn state_machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.inner.config.region, self.inner.config.account
        )
    }

    pub fn clock(&self) -> &Clock {
        &self.inner.clock
    }

    /// Every history event of every execution, as it happens: `(execution ARN, event)`.
    pub fn subscribe(&self) -> broadcast::Receiver<(Arc<str>, Arc<HistoryEvent>)> {
        self.inner.events.subscribe()
    }

    fn record(&self, arn: &str) -> Result<Arc<ExecutionRecord>, EngineError> {
        lock(&self.inner.executions)
            .by_arn
            .get(arn)
            .cloned()
            .ok_or_else(|| EngineError::ExecutionDoesNotExist(arn.to_string()))
    }

    /// `DescribeExecution`.
    pub fn describe_execution(&self, arn: &str) -> Result<ExecutionDescription, EngineError> {
        let r = self.record(arn)?;
        Ok(describe(&r))
    }

    /// `GetExecutionHistory` (all events, oldest first).
    pub fn get_execution_history(&self, arn: &str) -> Result<Vec<HistoryEvent>, EngineError> {
        Ok(lock(&self.record(arn)?.history)
            .iter()
            .map(|e| HistoryEvent::clone(e))
            .collect())
    }

    /// `ListExecutions`, newest first, optionally filtered by status.
    pub fn list_executions(
        &self,
        state_machine_arn: &str,
        status: Option<ExecutionStatus>,
    ) -> Vec<ExecutionDescription> {
        let execs = lock(&self.inner.executions);
        execs
            .order
            .iter()
            .rev()
            .filter_map(|arn| execs.by_arn.get(arn))
            .filter(|e| e.machine.arn == state_machine_arn)
            .map(|e| describe(e))
            .filter(|d| status.is_none_or(|s| d.status == s))
            .collect()
    }

    /// Waits until the execution has finished and describes it.
    pub async fn wait_for_execution(&self, arn: &str) -> Result<ExecutionDescription, EngineError> {
        let r = self.record(arn)?;
        let mut rx = r.status.subscribe();
        // The sender lives in the record we hold, so the channel cannot close here.
        let _ = rx.wait_for(|s| *s != ExecutionStatus::Running).await;
        Ok(describe(&r))
    }

    /// `StopExecution`: the execution ends `ABORTED` with this error and cause.
    /// Stopping a finished execution changes nothing.
    pub fn stop_execution(
        &self,
        arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<(), EngineError> {
        let r = self.record(arn)?;
        if *r.status.borrow() == ExecutionStatus::Running {
            r.stop.send_replace(Some((
                error.unwrap_or_default().to_string(),
                cause.unwrap_or_default().to_string(),
            )));
        }
        Ok(())
    }

    /// `SendTaskSuccess`. `output` is JSON text, as in the API.
    pub fn send_task_success(&self, token: &str, output: &str) -> Result<(), EngineError> {
        let value: Value = serde_json::from_str(output).map_err(|e| {
            EngineError::InvalidOutput(format!("the output is not valid JSON: {e}"))
        })?;
        if output.len() > MAX_PAYLOAD_BYTES {
            return Err(EngineError::InvalidOutput(format!(
                "the output is larger than {MAX_PAYLOAD_BYTES} bytes"
            )));
        }
        self.close_token(token, Ok(value))
    }

    /// `SendTaskFailure`.
    pub fn send_task_failure(
        &self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), EngineError> {
        if error.chars().count() > 256 {
            return Err(EngineError::InvalidOutput(
                "'error' is longer than 256 characters".into(),
            ));
        }
        if cause.chars().count() > 32_768 {
            return Err(EngineError::InvalidOutput(
                "'cause' is longer than 32768 characters".into(),
            ));
        }
        self.close_token(token, Err(StateError::new(error, cause)))
    }

    /// `SendTaskHeartbeat`: restarts the task's `HeartbeatSeconds` timer.
    pub fn send_task_heartbeat(&self, token: &str) -> Result<(), EngineError> {
        check_token_shape(token)?;
        match lock(&self.inner.tokens).get(token) {
            None => Err(EngineError::InvalidToken("Invalid token".into())),
            Some(TokenSlot::Closed) => Err(task_closed()),
            Some(TokenSlot::Open { heartbeat, .. }) => {
                heartbeat.notify_one();
                Ok(())
            }
        }
    }

    fn close_token(&self, token: &str, outcome: TokenOutcome) -> Result<(), EngineError> {
        check_token_shape(token)?;
        let mut tokens = lock(&self.inner.tokens);
        let slot = tokens
            .get_mut(token)
            .ok_or_else(|| EngineError::InvalidToken("Invalid token".into()))?;
        let TokenSlot::Open { sender, .. } = slot else {
            return Err(task_closed());
        };
        let sender = sender.take();
        *slot = TokenSlot::Closed;
        match sender.map(|s| s.send(outcome)) {
            Some(Ok(())) => Ok(()),
            _ => Err(task_closed()),
        }
    }
}

fn task_closed() -> EngineError {
    EngineError::TaskTimedOut("Task Timed Out: 'Provided task does not exist anymore'".into())
}

fn check_token_shape(token: &str) -> Result<(), EngineError> {
    if token.is_empty() || token.len() > 2048 {
        return Err(EngineError::InvalidToken(
            "a task token is 1 to 2048 characters".into(),
        ));
    }
    Ok(())
}

/// Names of state machines and executions: 1-80 characters, none of the characters
/// Step Functions forbids (whitespace, brackets, wildcards, `"#%\^|~`$&,;:/`, controls).
pub fn check_name(name: &str) -> Result<(), EngineError> {
    let n = name.chars().count();
    if n == 0 || n > 80 {
        return Err(EngineError::InvalidName(format!(
            "'{name}' must be 1 to 80 characters"
        )));
    }
    if let Some(c) = name
        .chars()
        .find(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(*c))
    {
        return Err(EngineError::InvalidName(format!(
            "'{name}' contains the character {c:?}, which names cannot contain"
        )));
    }
    Ok(())
}

fn describe(r: &ExecutionRecord) -> ExecutionDescription {
    let status = *r.status.borrow();
    let finished = lock(&r.result).clone();
    ExecutionDescription {
        execution_arn: r.arn.to_string(),
        state_machine_arn: r.machine.arn.clone(),
        name: r.name.clone(),
        status,
        start_date: r.start,
        stop_date: finished.as_ref().map(|f| f.stop),
        input: r.input.clone(),
        output: finished.as_ref().and_then(|f| f.output.clone()),
        error: finished.as_ref().and_then(|f| f.error.clone()),
        cause: finished.as_ref().and_then(|f| f.cause.clone()),
    }
}

/// An open task token, closed again when the waiting task ends for any reason.
pub(crate) struct TokenLease {
    inner: Arc<Inner>,
    pub token: String,
    pub receiver: oneshot::Receiver<TokenOutcome>,
    pub heartbeat: Arc<Notify>,
}

impl Inner {
    pub(crate) fn open_token(self: &Arc<Self>) -> TokenLease {
        let mut bytes = [0u8; 48];
        lock(&self.rng).fill_bytes(&mut bytes);
        let token = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
        let (tx, rx) = oneshot::channel();
        let heartbeat = Arc::new(Notify::new());
        lock(&self.tokens).insert(
            token.clone(),
            TokenSlot::Open {
                sender: Some(tx),
                heartbeat: heartbeat.clone(),
            },
        );
        TokenLease {
            inner: self.clone(),
            token,
            receiver: rx,
            heartbeat,
        }
    }
}

impl Drop for TokenLease {
    fn drop(&mut self) {
        if let Some(slot) = lock(&self.inner.tokens).get_mut(&self.token) {
            *slot = TokenSlot::Closed;
        }
    }
}

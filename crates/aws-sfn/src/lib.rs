//! AWS Step Functions: [`TaskCallbacks`] (the approval decision), [`Executions`]
//! (preflight's duplicate and supersede checks), and what `stagegate start` /
//! `stagegate status` need ([`Runs`]).
//!
//! A task that is gone (`TaskTimedOut`, `TaskDoesNotExist`, `InvalidToken`) is
//! [`CallbackError::TaskClosed`], so a late click gets a clear page, not an AWS error.

use aws_common::port_error;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use aws_sdk_sfn::Client;
use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use stagegate::error::PortError;
use stagegate::ports::{
    CallbackError, Executions, PortResult, StateEvent, TaskCallbacks, Timelines,
};

/// Step Functions limits: `error` 256 characters, `cause` 32,768.
const MAX_ERROR: usize = 256;
const MAX_CAUSE: usize = 32_768;

#[derive(Clone, Debug)]
pub struct StepFunctions {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctions {
    pub fn from_config(
        config: &aws_types::SdkConfig,
        state_machine_arn: impl Into<String>,
    ) -> Self {
        Self::new(Client::new(config), state_machine_arn)
    }

    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctions {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    pub fn state_machine_arn(&self) -> &str {
        &self.state_machine_arn
    }
}

/// The staging state machine, from the deployment. Task tokens and execution ARNs
/// carry their own state machine; this one is where runs start.
impl From<&aws_common::Context> for StepFunctions {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.state_machine_arn)
    }
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        s.chars().take(max).collect()
    }
}

fn callback_error<E>(op: &str, e: aws_sdk_sfn::error::SdkError<E>) -> CallbackError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match aws_common::code(&e) {
        Some(code @ ("TaskTimedOut" | "TaskDoesNotExist" | "InvalidToken")) => {
            CallbackError::TaskClosed(code.to_string())
        }
        _ => CallbackError::Port(port_error(op, &e)),
    }
}

impl TaskCallbacks for StepFunctions {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output.to_string())
            .send()
            .await
            .map_err(|e| callback_error("send task success", e))?;
        Ok(())
    }

    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(cut(error, MAX_ERROR))
            .cause(cut(cause, MAX_CAUSE))
            .send()
            .await
            .map_err(|e| callback_error("send task failure", e))?;
        Ok(())
    }
}

impl Executions for StepFunctions {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        match self
            .client
            .describe_execution()
            .execution_arn(id)
            .send()
            .await
        {
            Ok(d) => Ok(*d.status() == ExecutionStatus::Running),
            // An execution that does not exist (any more) is not running.
            Err(e) if aws_common::code(&e) == Some("ExecutionDoesNotExist") => Ok(false),
            Err(e) => Err(port_error(format!("describe execution {id}"), &e)),
        }
    }
}

/// What `stagegate start` did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Started {
    pub execution_arn: String,
    /// `false` when an execution with this name already existed (same run).
    pub new: bool,
}

/// An execution as `stagegate status` shows it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionView {
    pub arn: String,
    pub status: String,
    /// The execution input (the trigger).
    pub input: Value,
    pub started: DateTime<Utc>,
    pub stopped: Option<DateTime<Utc>>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub phases: Vec<Phase>,
}

/// One entry into a state, with how long it took (None while it runs).
pub use stagegate::ports::Phase;

fn time(t: &aws_smithy_types::DateTime) -> DateTime<Utc> {
    DateTime::from_timestamp(t.secs(), t.subsec_nanos()).unwrap_or_default()
}

/// The state machine of an execution ARN (`…:execution:<machine>:<name>`), if it is
/// one.
pub fn state_machine_of(execution_arn: &str) -> Option<String> {
    let (head, rest) = execution_arn.split_once(":execution:")?;
    let (machine, _) = rest.split_once(':')?;
    head.starts_with("arn:")
        .then(|| format!("{head}:stateMachine:{machine}"))
}

/// The execution ARN a name gets under a state machine ARN.
pub fn execution_arn(state_machine_arn: &str, name: &str) -> String {
    format!(
        "{}:{name}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// The life of each state, in the order states were entered.
pub fn phases(events: &[aws_sdk_sfn::types::HistoryEvent]) -> Vec<Phase> {
    Phase::from_history(events.iter().filter_map(|ev| {
        let at = time(ev.timestamp());
        match ev.r#type() {
            t if is_entered(t) => ev
                .state_entered_event_details()
                .map(|d| StateEvent::Entered(d.name(), at)),
            t if is_exited(t) => ev
                .state_exited_event_details()
                .map(|d| StateEvent::Exited(d.name(), at)),
            _ => None,
        }
    }))
}

fn is_entered(t: &HistoryEventType) -> bool {
    t.as_str().ends_with("StateEntered")
}

fn is_exited(t: &HistoryEventType) -> bool {
    t.as_str().ends_with("StateExited")
}

impl StepFunctions {
    /// Every event of execution `arn`'s history, without its data.
    async fn history(&self, arn: &str) -> PortResult<Vec<aws_sdk_sfn::types::HistoryEvent>> {
        self.client
            .get_execution_history()
            .execution_arn(arn)
            .include_execution_data(false)
            .max_results(1000)
            .into_paginator()
            .items()
            .send()
            .collect::<Result<Vec<_>, _>>()
            .await
            .map_err(|e| port_error(format!("read the history of {arn}"), &e))
    }
}

impl Timelines for StepFunctions {
    async fn phases(&self, execution_id: &str) -> PortResult<Vec<Phase>> {
        Ok(phases(&self.history(execution_id).await?))
    }
}

/// Starting and inspecting runs, for the CLI.
pub trait Runs {
    fn start(
        &self,
        name: &str,
        input: &Value,
    ) -> impl std::future::Future<Output = PortResult<Started>> + Send;
    fn view(
        &self,
        arn: &str,
    ) -> impl std::future::Future<Output = PortResult<ExecutionView>> + Send;
    /// The ARNs of the state machine's `max` most recent executions, newest first.
    fn recent(&self, max: i32)
        -> impl std::future::Future<Output = PortResult<Vec<String>>> + Send;
}

impl Runs for StepFunctions {
    async fn start(&self, name: &str, input: &Value) -> PortResult<Started> {
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input.to_string())
            .send()
            .await
        {
            // Same name and input while it runs: Step Functions answers with the
            // same execution (StartExecution is idempotent for Standard workflows).
            Ok(out) => Ok(Started {
                execution_arn: out.execution_arn().to_string(),
                new: true,
            }),
            Err(e) if aws_common::code(&e) == Some("ExecutionAlreadyExists") => Ok(Started {
                execution_arn: execution_arn(&self.state_machine_arn, name),
                new: false,
            }),
            Err(e) => Err(port_error(format!("start execution {name}"), &e)),
        }
    }

    async fn view(&self, arn: &str) -> PortResult<ExecutionView> {
        let d = self
            .client
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .map_err(|e| port_error(format!("describe execution {arn}"), &e))?;
        let events = self.history(arn).await?;
        let input = d
            .input()
            .map(serde_json::from_str)
            .transpose()
            .map_err(|e| PortError::new(format!("read input of {arn}"), e.to_string()))?
            .unwrap_or(Value::Null);
        Ok(ExecutionView {
            arn: arn.to_string(),
            status: d.status().as_str().to_string(),
            input,
            started: time(d.start_date()),
            stopped: d.stop_date().map(time),
            error: d.error().map(str::to_string),
            cause: d.cause().map(str::to_string),
            phases: phases(&events),
        })
    }

    async fn recent(&self, max: i32) -> PortResult<Vec<String>> {
        let listed = self
            .client
            .list_executions()
            .state_machine_arn(&self.state_machine_arn)
            .max_results(max.clamp(1, 1000))
            .send()
            .await
            .map_err(|e| {
                port_error(format!("list executions of {}", self.state_machine_arn), &e)
            })?;
        let mut runs: Vec<_> = listed.executions().iter().collect();
        // Newest first, whatever order the service lists them in.
        runs.sort_by_key(|e| std::cmp::Reverse(time(e.start_date())));
        Ok(runs.iter().map(|e| e.execution_arn().to_string()).collect())
    }
}

#[cfg(test)]
mod tests;

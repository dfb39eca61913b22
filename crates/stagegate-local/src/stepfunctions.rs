//! Step Functions' task-token, execution, history and time APIs, answered by the
//! embedded engine: what preflight, the approval desk, the waits and the release
//! notes use locally. It exists before the engine does (the engine's control), so
//! steps hold it from the start.

use asl_engine::Control;
use serde_json::Value;
use stagegate::ports::{
    CallbackError, Clock, Executions, Phase, PortResult, StateEvent, TaskCallbacks, Timelines,
};
use stagegate::PortError;

/// The engine, as the Step Functions ports see it. A cheap handle.
#[derive(Clone)]
pub struct LocalStepFunctions {
    control: Control,
}

impl LocalStepFunctions {
    pub fn new(control: Control) -> Self {
        LocalStepFunctions { control }
    }

    pub fn control(&self) -> &Control {
        &self.control
    }
}

/// A token the engine no longer waits on (timed out, answered, stopped: the API's
/// `TaskTimedOut`/`InvalidToken`) is a closed task, as on AWS; any other error is
/// the port's.
fn callback_error(api_name: &str, message: String) -> CallbackError {
    match api_name {
        "TaskTimedOut" | "InvalidToken" => CallbackError::TaskClosed(message),
        _ => CallbackError::Port(PortError::new("send task result", message)),
    }
}

impl TaskCallbacks for LocalStepFunctions {
    async fn succeed(&self, token: &str, output: &Value) -> Result<(), CallbackError> {
        self.control
            .send_task_success(token, &output.to_string())
            .map_err(|e| callback_error(e.name(), e.to_string()))
    }
    async fn fail(&self, token: &str, error: &str, cause: &str) -> Result<(), CallbackError> {
        self.control
            .send_task_failure(token, error, cause)
            .map_err(|e| callback_error(e.name(), e.to_string()))
    }
}

impl Executions for LocalStepFunctions {
    async fn is_running(&self, id: &str) -> PortResult<bool> {
        Ok(self
            .control
            .describe_execution(id)
            .is_ok_and(|d| d.status.is_running()))
    }
}

impl Timelines for LocalStepFunctions {
    async fn phases(&self, execution_id: &str) -> PortResult<Vec<Phase>> {
        let history = self
            .control
            .get_execution_history(execution_id)
            .map_err(|e| PortError::new("read the run's history", e.to_string()))?;
        Ok(Phase::from_history(history.iter().filter_map(|ev| {
            let state = ev.state_name()?;
            if ev.state_input().is_some() {
                Some(StateEvent::Entered(state, ev.timestamp))
            } else {
                Some(StateEvent::Exited(state, ev.timestamp))
            }
        })))
    }
}

impl Clock for LocalStepFunctions {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.control.clock().now()
    }
}

//! The staging flow's steps: one module per Lambda, pure logic over ports. Each step
//! takes typed input and returns typed output or a [`StepError`] whose name the state
//! machine routes on. Nothing here knows about Lambda, Step Functions or AWS SDKs.

pub mod approval;
pub mod approval_page;
pub mod change_preview;
pub mod checklist;
pub mod deploy;
pub mod frontend;
pub mod notify;
pub mod performance;
pub mod preflight;
pub mod release;
pub mod suites;
pub mod validate;

use crate::error::{invalid_input, StepError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// Reads a step's input, naming the field that is wrong.
pub fn parse<T: DeserializeOwned>(step: &str, input: Value) -> Result<T, StepError> {
    serde_json::from_value(input).map_err(|e| {
        invalid_input(format!(
            "{step}: the input does not match what the step needs: {e}"
        ))
    })
}

/// Serialises a step's output (our own types: cannot fail in practice, but a
/// failure would still be an error, never a panic).
pub fn render<T: Serialize>(output: &T) -> Result<Value, StepError> {
    serde_json::to_value(output)
        .map_err(|e| invalid_input(format!("cannot serialise the output: {e}")))
}

/// The run id (the execution's name) from its id (ARN) or a bare name.
pub fn run_id(execution_id: &str) -> &str {
    execution_id.rsplit(':').next().unwrap_or(execution_id)
}

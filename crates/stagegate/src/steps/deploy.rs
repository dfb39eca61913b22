//! Deploy Infrastructure: execute the approved change set, poll the stack until it is
//! stable (one poll per call, inside the state machine's bounded Wait loop), then
//! capture the stack's outputs as an artifact.

use crate::error::{names, StepError};
use crate::ports::{Artifacts, Stacks};
use crate::settings::Settings;
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Progress {
    pub stack_name: String,
    /// `IN_PROGRESS` while waiting, `COMPLETE` when stable.
    pub status: String,
    pub stack_status: String,
    pub attempt: u32,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecuteInput {
    pub change_set_id: String,
    pub stack_name: String,
}

async fn execute(stacks: &impl Stacks, input: ExecuteInput) -> Result<Progress, StepError> {
    stacks
        .execute_change_set(&input.change_set_id)
        .await
        .map_err(|e| StepError::new(names::STACK_DEPLOY_FAILED, e.to_string()))?;
    Ok(Progress {
        stack_name: input.stack_name,
        status: "IN_PROGRESS".into(),
        stack_status: "EXECUTE_STARTED".into(),
        attempt: 0,
    })
}

/// One poll. `ROLLBACK`/`FAILED` states fail with the reason from the stack events.
async fn status(
    settings: &Settings,
    stacks: &impl Stacks,
    progress: Progress,
) -> Result<Progress, StepError> {
    let attempt = progress.attempt + 1;
    let Some(info) = stacks.stack(&progress.stack_name).await? else {
        return Err(StepError::new(
            names::STACK_DEPLOY_FAILED,
            format!("stack {} does not exist", progress.stack_name),
        ));
    };
    let s = info.status.as_str();
    let failed = s.contains("ROLLBACK") || s.ends_with("_FAILED");
    if failed && !s.ends_with("_IN_PROGRESS") {
        let reason = stacks
            .failure_reason(&progress.stack_name)
            .await?
            .or(info.status_reason)
            .unwrap_or_else(|| "no reason recorded".into());
        return Err(StepError::new(
            names::STACK_DEPLOY_FAILED,
            format!("stack {} ended {s}: {reason}", progress.stack_name),
        ));
    }
    if s.ends_with("_IN_PROGRESS") {
        if attempt >= settings.max_polls {
            return Err(StepError::new(
                names::WAIT_EXHAUSTED,
                format!(
                    "stack {} was still {s} after {attempt} polls",
                    progress.stack_name
                ),
            ));
        }
        return Ok(Progress {
            status: "IN_PROGRESS".into(),
            stack_status: s.into(),
            attempt,
            ..progress
        });
    }
    if s.ends_with("_COMPLETE") {
        return Ok(Progress {
            status: "COMPLETE".into(),
            stack_status: s.into(),
            attempt,
            ..progress
        });
    }
    Err(StepError::new(
        names::STACK_DEPLOY_FAILED,
        format!(
            "stack {} is in an unexpected state {s}",
            progress.stack_name
        ),
    ))
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OutputsInput {
    pub stack_name: String,
    pub artifacts_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    pub values: BTreeMap<String, String>,
    pub uri: String,
}

async fn capture_outputs(
    stacks: &impl Stacks,
    artifacts: &impl Artifacts,
    input: OutputsInput,
) -> Result<Outputs, StepError> {
    let Some(info) = stacks.stack(&input.stack_name).await? else {
        return Err(StepError::new(
            names::STACK_DEPLOY_FAILED,
            format!("stack {} does not exist", input.stack_name),
        ));
    };
    let body = serde_json::to_vec_pretty(&info.outputs)
        .map_err(|e| crate::error::invalid_input(e.to_string()))?;
    let uri = artifacts
        .put(
            &format!("{}stack-outputs.json", input.artifacts_prefix),
            "application/json",
            body,
        )
        .await?;
    Ok(Outputs {
        values: info.outputs,
        uri,
    })
}

/// The `deploy-infrastructure` function's name.
pub const DEPLOY_INFRASTRUCTURE: &str = "deploy-infrastructure";

/// Deploy Infrastructure: executes the approved change set.
pub struct DeployInfrastructure<S> {
    stacks: S,
}

impl<S: Stacks> DeployInfrastructure<S> {
    pub fn new(stacks: S) -> Self {
        DeployInfrastructure { stacks }
    }
}

impl<S: Stacks> Step for DeployInfrastructure<S> {
    const NAME: &'static str = DEPLOY_INFRASTRUCTURE;
    type Input = ExecuteInput;
    type Output = Progress;

    async fn run(&self, input: ExecuteInput) -> Result<Progress, StepError> {
        execute(&self.stacks, input).await
    }
}

/// The `stack-status` function's name.
pub const STACK_STATUS: &str = "stack-status";

/// Deploy Infrastructure: one poll of the stack until it is stable.
pub struct StackStatus<S> {
    settings: Settings,
    stacks: S,
}

impl<S: Stacks> StackStatus<S> {
    pub fn new(settings: Settings, stacks: S) -> Self {
        StackStatus { settings, stacks }
    }
}

impl<S: Stacks> Step for StackStatus<S> {
    const NAME: &'static str = STACK_STATUS;
    type Input = Progress;
    type Output = Progress;

    async fn run(&self, input: Progress) -> Result<Progress, StepError> {
        status(&self.settings, &self.stacks, input).await
    }
}

/// The `capture-outputs` function's name.
pub const CAPTURE_OUTPUTS: &str = "capture-outputs";

/// Capture Stack Outputs: the stack outputs, recorded as an artifact.
pub struct CaptureOutputs<S, A> {
    stacks: S,
    artifacts: A,
}

impl<S: Stacks, A: Artifacts> CaptureOutputs<S, A> {
    pub fn new(stacks: S, artifacts: A) -> Self {
        CaptureOutputs { stacks, artifacts }
    }
}

impl<S: Stacks, A: Artifacts> Step for CaptureOutputs<S, A> {
    const NAME: &'static str = CAPTURE_OUTPUTS;
    type Input = OutputsInput;
    type Output = Outputs;

    async fn run(&self, input: OutputsInput) -> Result<Outputs, StepError> {
        capture_outputs(&self.stacks, &self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryStacks};

    fn progress() -> Progress {
        Progress {
            stack_name: "shop-staging".into(),
            status: "IN_PROGRESS".into(),
            stack_status: String::new(),
            attempt: 0,
        }
    }

    #[tokio::test]
    async fn polls_until_complete() {
        let stacks = MemoryStacks::default();
        stacks.set_stack_statuses(&[
            "UPDATE_IN_PROGRESS",
            "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS",
            "UPDATE_COMPLETE",
        ]);
        let s = Settings::default();
        let mut p = status(&s, &stacks, progress()).await.unwrap();
        assert_eq!((p.status.as_str(), p.attempt), ("IN_PROGRESS", 1));
        p = status(&s, &stacks, p).await.unwrap();
        assert_eq!(p.status, "IN_PROGRESS");
        p = status(&s, &stacks, p).await.unwrap();
        assert_eq!(
            (p.status.as_str(), p.stack_status.as_str()),
            ("COMPLETE", "UPDATE_COMPLETE")
        );
    }

    #[tokio::test]
    async fn a_rollback_fails_with_the_reason_from_the_events() {
        let stacks = MemoryStacks::default();
        stacks.set_stack_statuses(&["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"]);
        stacks.set_failure_reason(
            "Api (AWS::Lambda::Function): Resource handler returned message: \"Role not found\"",
        );
        let s = Settings::default();
        let p = status(&s, &stacks, progress()).await.unwrap();
        assert_eq!(p.status, "IN_PROGRESS");
        let e = status(&s, &stacks, p).await.unwrap_err();
        assert_eq!(e.name, "StackDeployFailed");
        assert!(
            e.message.contains("UPDATE_ROLLBACK_COMPLETE") && e.message.contains("Role not found"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn create_failed_and_exhausted_waits_fail() {
        let stacks = MemoryStacks::default();
        stacks.set_stack_statuses(&["CREATE_FAILED"]);
        assert_eq!(
            status(&Settings::default(), &stacks, progress())
                .await
                .unwrap_err()
                .name,
            "StackDeployFailed"
        );
        let stacks = MemoryStacks::default();
        stacks.set_stack_statuses(&["UPDATE_IN_PROGRESS"]);
        let e = status(
            &Settings {
                max_polls: 1,
                ..Settings::default()
            },
            &stacks,
            progress(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "WaitExhausted");
    }

    #[tokio::test]
    async fn outputs_are_captured_as_an_artifact() {
        let stacks = MemoryStacks::default();
        stacks.set_outputs(&[("ApiUrl", "https://api.example.test")]);
        let arts = MemoryArtifacts::default();
        let out = capture_outputs(
            &stacks,
            &arts,
            OutputsInput {
                stack_name: "shop-staging".into(),
                artifacts_prefix: "runs/r/".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out.values["ApiUrl"], "https://api.example.test");
        assert!(arts.get_sync("runs/r/stack-outputs.json").is_some());
    }
}

//! Capture Stack Outputs (`capture-outputs`): the stack's outputs, recorded as an
//! artifact and handed to the frontend and the tests.

use crate::error::{names, StepError};
use crate::ports::{Artifacts, Stacks};
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The `capture-outputs` function's name.
pub const NAME: &str = "capture-outputs";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub stack_name: String,
    pub artifacts_prefix: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outputs {
    pub values: BTreeMap<String, String>,
    pub uri: String,
}

/// Capture Stack Outputs: reads the stack and writes `stack-outputs.json`.
pub struct CaptureOutputs<S, A> {
    pub stacks: S,
    pub artifacts: A,
}

impl<S: Stacks, A: Artifacts> Step<Input, Outputs> for CaptureOutputs<S, A> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Outputs, StepError> {
        let Some(info) = self.stacks.stack(&input.stack_name).await? else {
            return Err(StepError::new(
                names::STACK_DEPLOY_FAILED,
                format!("stack {} does not exist", input.stack_name),
            ));
        };
        let key = format!("{}stack-outputs.json", input.artifacts_prefix);
        let uri = self.artifacts.put_json(&key, &info.outputs).await?;
        Ok(Outputs {
            values: info.outputs,
            uri,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::*;

    #[tokio::test]
    async fn outputs_are_captured_as_an_artifact() {
        let stacks = MemoryStacks::default();
        stacks.set_outputs(&[("ApiUrl", "https://api.example.test")]);
        let arts = MemoryArtifacts::default();
        let step = CaptureOutputs {
            stacks: stacks.clone(),
            artifacts: arts.clone(),
        };
        let out = step
            .run(Input {
                stack_name: "shop-staging".into(),
                artifacts_prefix: "runs/r/".into(),
            })
            .await
            .unwrap();
        assert_eq!(out.values["ApiUrl"], "https://api.example.test");
        assert!(arts.get_sync("runs/r/stack-outputs.json").is_some());
    }
}

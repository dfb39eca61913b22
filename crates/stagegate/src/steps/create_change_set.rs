//! Package & Preview, first half (`create-change-set`): creates (never executes) the
//! CloudFormation change set for the run's packaged template. `describe-change-set`
//! then reads it until it is computed.

use crate::error::{names, StepError};
use crate::flow::Preview;
use crate::ports::{ChangeSetRequest, ChangeSetStatus, Stacks};
use crate::settings::Settings;
use crate::step::Step;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `create-change-set` function's name.
pub const NAME: &str = "create-change-set";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub run_id: String,
}

/// CloudFormation change set names: a letter, then letters, digits and hyphens.
fn change_set_name(run_id: &str) -> String {
    let cleaned: String = run_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("stagegate-{cleaned}");
    name.truncate(128);
    name
}

/// Create Change Set: the preview's change set, for the packaged template.
pub struct CreateChangeSet<S> {
    pub settings: Settings,
    pub stacks: S,
}

impl<S: Stacks> Step<Input, Preview> for CreateChangeSet<S> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Preview, StepError> {
        let request = ChangeSetRequest {
            stack_name: self.settings.stack_name.clone(),
            change_set_name: change_set_name(&input.run_id),
            template_uri: self.settings.template_uri.replace("{run}", &input.run_id),
            parameters: BTreeMap::new(),
        };
        let id = self
            .stacks
            .create_change_set(&request)
            .await
            .map_err(|e| StepError::new(names::CHANGE_SET_FAILED, e.to_string()))?;
        Ok(Preview {
            change_set_id: id,
            stack_name: request.stack_name,
            status: ChangeSetStatus::Pending,
            changes: Vec::new(),
            stack_version: String::new(),
            attempt: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStacks;

    #[tokio::test]
    async fn creates_a_change_set_for_the_packaged_template() {
        let stacks = MemoryStacks::default();
        let step = CreateChangeSet {
            settings: Settings::default(),
            stacks: stacks.clone(),
        };
        let p = step
            .run(Input {
                run_id: "rc-1.4.0--abc".into(),
            })
            .await
            .unwrap();
        assert_eq!(p.status, ChangeSetStatus::Pending);
        let req = stacks.last_request().unwrap();
        assert_eq!(req.change_set_name, "stagegate-rc-1-4-0--abc");
        assert_eq!(req.template_uri, "runs/rc-1.4.0--abc/packaged.yaml");
    }

    #[tokio::test]
    async fn a_change_set_that_cannot_be_created_is_change_set_failed() {
        let stacks = MemoryStacks::default();
        stacks.fail_create("S3 error: Access Denied");
        let step = CreateChangeSet {
            settings: Settings::default(),
            stacks,
        };
        let e = step.run(Input { run_id: "r".into() }).await.unwrap_err();
        assert_eq!(e.name, "ChangeSetFailed");
        assert!(e.message.contains("Access Denied"), "{}", e.message);
    }
}

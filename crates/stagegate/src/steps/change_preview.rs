//! Change preview: create (never execute) a CloudFormation change set for the
//! packaged template, then describe it until it is ready. Each describe is one poll
//! of a bounded Wait loop in the state machine.

use crate::error::{names, StepError};
use crate::ports::{ChangeSetRequest, ChangeSetStatus, ResourceChange, Stacks};
use crate::settings::Settings;
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateInput {
    pub run_id: String,
}

/// The preview as it moves through the loop and into the checklist.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Preview {
    pub change_set_id: String,
    pub stack_name: String,
    pub status: ChangeSetStatus,
    #[serde(default)]
    pub changes: Vec<ResourceChange>,
    /// The stack's version when the preview was made ("" if it does not exist).
    #[serde(default)]
    pub stack_version: String,
    pub attempt: u32,
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

async fn create(
    settings: &Settings,
    stacks: &impl Stacks,
    input: CreateInput,
) -> Result<Preview, StepError> {
    let request = ChangeSetRequest {
        stack_name: settings.stack_name.clone(),
        change_set_name: change_set_name(&input.run_id),
        template_uri: settings.template_uri.replace("{run}", &input.run_id),
        parameters: BTreeMap::new(),
    };
    let id = stacks
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

async fn describe(
    settings: &Settings,
    stacks: &impl Stacks,
    preview: Preview,
) -> Result<Preview, StepError> {
    let cs = stacks.describe_change_set(&preview.change_set_id).await?;
    let attempt = preview.attempt + 1;
    match cs.status {
        ChangeSetStatus::Failed => Err(StepError::new(
            names::CHANGE_SET_FAILED,
            format!(
                "change set {} failed: {}",
                cs.id,
                cs.status_reason.unwrap_or_else(|| "no reason given".into())
            ),
        )),
        ChangeSetStatus::Pending if attempt >= settings.max_polls => Err(StepError::new(
            names::WAIT_EXHAUSTED,
            format!(
                "change set {} was still being created after {attempt} polls",
                cs.id
            ),
        )),
        status => {
            let stack_version = match status {
                ChangeSetStatus::Pending => String::new(),
                _ => stacks
                    .stack(&cs.stack_name)
                    .await?
                    .map(|s| s.version)
                    .unwrap_or_default(),
            };
            Ok(Preview {
                change_set_id: cs.id,
                stack_name: cs.stack_name,
                status,
                changes: cs.changes,
                stack_version,
                attempt,
            })
        }
    }
}

/// The `create-change-set` function's name.
pub const CREATE_CHANGE_SET: &str = "create-change-set";

/// Package & Preview: creates (never executes) the change set for the packaged template.
pub struct CreateChangeSet<S> {
    settings: Settings,
    stacks: S,
}

impl<S: Stacks> CreateChangeSet<S> {
    pub fn new(settings: Settings, stacks: S) -> Self {
        CreateChangeSet { settings, stacks }
    }
}

impl<S: Stacks> Step for CreateChangeSet<S> {
    const NAME: &'static str = CREATE_CHANGE_SET;
    type Input = CreateInput;
    type Output = Preview;

    async fn run(&self, input: CreateInput) -> Result<Preview, StepError> {
        create(&self.settings, &self.stacks, input).await
    }
}

/// The `describe-change-set` function's name.
pub const DESCRIBE_CHANGE_SET: &str = "describe-change-set";

/// Package & Preview: one poll of the change set until it is computed.
pub struct DescribeChangeSet<S> {
    settings: Settings,
    stacks: S,
}

impl<S: Stacks> DescribeChangeSet<S> {
    pub fn new(settings: Settings, stacks: S) -> Self {
        DescribeChangeSet { settings, stacks }
    }
}

impl<S: Stacks> Step for DescribeChangeSet<S> {
    const NAME: &'static str = DESCRIBE_CHANGE_SET;
    type Input = Preview;
    type Output = Preview;

    async fn run(&self, input: Preview) -> Result<Preview, StepError> {
        describe(&self.settings, &self.stacks, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryStacks;

    #[tokio::test]
    async fn creates_a_change_set_for_the_packaged_template() {
        let stacks = MemoryStacks::default();
        let p = create(
            &Settings::default(),
            &stacks,
            CreateInput {
                run_id: "rc-1.4.0--abc".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(p.status, ChangeSetStatus::Pending);
        let req = stacks.last_request().unwrap();
        assert_eq!(req.change_set_name, "stagegate-rc-1-4-0--abc");
        assert_eq!(req.template_uri, "runs/rc-1.4.0--abc/packaged.yaml");
    }

    #[tokio::test]
    async fn describe_polls_until_ready_and_records_the_stack_version() {
        let stacks = MemoryStacks::default();
        stacks.set_pending_polls(2);
        let mut p = create(
            &Settings::default(),
            &stacks,
            CreateInput { run_id: "r".into() },
        )
        .await
        .unwrap();
        p = describe(&Settings::default(), &stacks, p).await.unwrap();
        assert_eq!((p.status.clone(), p.attempt), (ChangeSetStatus::Pending, 1));
        p = describe(&Settings::default(), &stacks, p).await.unwrap();
        p = describe(&Settings::default(), &stacks, p).await.unwrap();
        assert_eq!(p.status, ChangeSetStatus::Ready);
        assert_eq!(p.stack_version, "v1");
    }

    #[tokio::test]
    async fn a_pending_change_set_past_the_poll_limit_is_wait_exhausted() {
        let stacks = MemoryStacks::default();
        stacks.set_pending_polls(100);
        let settings = Settings {
            max_polls: 2,
            ..Settings::default()
        };
        let mut p = create(&settings, &stacks, CreateInput { run_id: "r".into() })
            .await
            .unwrap();
        p = describe(&settings, &stacks, p).await.unwrap();
        let e = describe(&settings, &stacks, p).await.unwrap_err();
        assert_eq!(e.name, "WaitExhausted");
    }

    #[tokio::test]
    async fn a_failed_change_set_is_change_set_failed_with_the_reason() {
        let stacks = MemoryStacks::default();
        stacks.fail_change_set("Template format error: Unresolved resource dependencies [Bucket]");
        let p = create(
            &Settings::default(),
            &stacks,
            CreateInput { run_id: "r".into() },
        )
        .await
        .unwrap();
        let e = describe(&Settings::default(), &stacks, p)
            .await
            .unwrap_err();
        assert_eq!(e.name, "ChangeSetFailed");
        assert!(e.message.contains("Unresolved resource"));
    }
}

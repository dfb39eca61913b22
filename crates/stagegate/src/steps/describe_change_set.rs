//! Package & Preview, second half (`describe-change-set`): one read of the change
//! set, one poll of a bounded Wait loop in the state machine, until it is computed;
//! then the stack's version, so Validate Infrastructure can tell whether the stack
//! changed after the preview. A computed preview's whole list of changes goes to
//! the run's prefix; the state carries the first ones and the digest of all
//! (`crate::results::bound_preview`).

use crate::error::{names, StepError};
use crate::flow::Preview;
use crate::ports::{Artifacts, ChangeSetStatus, Stacks};
use crate::results;
use crate::settings::Settings;
use crate::step::Step;

/// The `describe-change-set` function's name.
pub const NAME: &str = "describe-change-set";

/// Describe Change Set: the preview, one poll further.
pub struct DescribeChangeSet<S, A> {
    pub settings: Settings,
    pub stacks: S,
    pub artifacts: A,
}

impl<S: Stacks, A: Artifacts> Step<Preview, Preview> for DescribeChangeSet<S, A> {
    const NAME: &'static str = NAME;

    async fn run(&self, preview: Preview) -> Result<Preview, StepError> {
        let cs = self
            .stacks
            .describe_change_set(&preview.change_set_id)
            .await?;
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
            ChangeSetStatus::Pending if attempt >= self.settings.max_polls => Err(StepError::new(
                names::WAIT_EXHAUSTED,
                format!(
                    "change set {} was still being created after {attempt} polls",
                    cs.id
                ),
            )),
            status => {
                let stack_version = match status {
                    ChangeSetStatus::Pending => String::new(),
                    _ => self
                        .stacks
                        .stack(&cs.stack_name)
                        .await?
                        .map(|s| s.version)
                        .unwrap_or_default(),
                };
                let carried = Preview {
                    change_set_id: cs.id,
                    stack_name: cs.stack_name,
                    status,
                    changes: Vec::new(),
                    stack_version,
                    attempt,
                    more: 0,
                    changes_key: preview.changes_key,
                    changes_digest: String::new(),
                };
                results::bound_preview(&self.artifacts, carried, cs.changes).await
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryStacks};

    fn step(
        stacks: &MemoryStacks,
        max_polls: u32,
    ) -> DescribeChangeSet<MemoryStacks, MemoryArtifacts> {
        DescribeChangeSet {
            settings: Settings {
                max_polls,
                ..Settings::default()
            },
            stacks: stacks.clone(),
            artifacts: MemoryArtifacts::default(),
        }
    }

    /// What Create Change Set hands on: a change set being computed.
    async fn created(stacks: &MemoryStacks) -> Preview {
        Preview {
            change_set_id: stacks.run_change_set().await,
            stack_name: "app-staging".into(),
            status: ChangeSetStatus::Pending,
            changes: vec![],
            stack_version: String::new(),
            attempt: 0,
            more: 0,
            changes_key: String::new(),
            changes_digest: String::new(),
        }
    }

    #[tokio::test]
    async fn describe_polls_until_ready_and_records_the_stack_version() {
        let stacks = MemoryStacks::default();
        stacks.set_pending_polls(2);
        let step = step(&stacks, 120);
        let mut p = step.run(created(&stacks).await).await.unwrap();
        assert_eq!((p.status.clone(), p.attempt), (ChangeSetStatus::Pending, 1));
        p = step.run(p).await.unwrap();
        p = step.run(p).await.unwrap();
        assert_eq!(p.status, ChangeSetStatus::Ready);
        assert_eq!(p.stack_version, "v1");
    }

    #[tokio::test]
    async fn a_pending_change_set_past_the_poll_limit_is_wait_exhausted() {
        let stacks = MemoryStacks::default();
        stacks.set_pending_polls(100);
        let step = step(&stacks, 2);
        let p = step.run(created(&stacks).await).await.unwrap();
        let e = step.run(p).await.unwrap_err();
        assert_eq!(e.name, "WaitExhausted");
    }

    #[tokio::test]
    async fn a_failed_change_set_is_change_set_failed_with_the_reason() {
        let stacks = MemoryStacks::default();
        stacks.fail_change_set("Template format error: Unresolved resource dependencies [Bucket]");
        let e = step(&stacks, 120)
            .run(created(&stacks).await)
            .await
            .unwrap_err();
        assert_eq!(e.name, "ChangeSetFailed");
        assert!(e.message.contains("Unresolved resource"));
    }
}

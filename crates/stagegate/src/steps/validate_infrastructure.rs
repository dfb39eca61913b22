//! Validate Infrastructure (`validate-infrastructure`): confirms that what was
//! approved is what will be deployed — every artifact of the approved manifest is
//! still the same bytes and version ([`crate::manifest::verify`]: `ArtifactChanged`
//! otherwise), the change set is still executable, still holds the approved changes,
//! and the stack has not changed since the preview.

use crate::error::{names, StepError};
use crate::flow::{ManifestRef, Preview};
use crate::manifest;
use crate::ports::{Artifacts, ChangeSetStatus, Stacks};
use crate::results;
use crate::step::Step;
use serde::{Deserialize, Serialize};

/// The `validate-infrastructure` function's name.
pub const NAME: &str = "validate-infrastructure";

/// `preview` is null when Package & Preview failed; anything else is malformed.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub preview: Option<Preview>,
    /// The approved manifest (the checklist's); null where none was sealed.
    #[serde(default)]
    pub manifest: Option<ManifestRef>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub change_set_id: String,
    pub stack_name: String,
    /// Nothing to deploy: the infrastructure step is skipped.
    pub no_changes: bool,
}

/// Validate Infrastructure: what was approved is still what would be deployed.
pub struct ValidateInfrastructure<S, A> {
    pub stacks: S,
    pub artifacts: A,
}

impl<S: Stacks, A: Artifacts> Step<Input, Output> for ValidateInfrastructure<S, A> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        let stacks = &self.stacks;
        let preview = input.preview;
        let fail = |m: String| StepError::new(names::VALIDATION_FAILED, m);
        let Some(p) = preview else {
            return Err(fail("there is no change preview to validate (Package & Preview failed), so nothing approved can be deployed".into()));
        };
        let Some(approved) = input.manifest else {
            return Err(fail("no manifest was sealed before approval, so nothing binds what was approved to what would deploy".into()));
        };
        manifest::verify(&self.artifacts, &approved).await?;
        let current_version = stacks
            .stack(&p.stack_name)
            .await?
            .map(|s| s.version)
            .unwrap_or_default();
        if current_version != p.stack_version {
            return Err(fail(format!(
                "stack {} changed after the preview (was '{}', now '{}'): approve a fresh candidate",
                p.stack_name, p.stack_version, current_version
            )));
        }
        if p.status == ChangeSetStatus::NoChanges {
            return Ok(Output {
                change_set_id: p.change_set_id,
                stack_name: p.stack_name,
                no_changes: true,
            });
        }
        let cs = stacks.describe_change_set(&p.change_set_id).await?;
        if cs.status != ChangeSetStatus::Ready || !cs.executable {
            return Err(fail(format!(
                "change set {} can no longer be executed (status {:?}{})",
                cs.id,
                cs.status,
                cs.status_reason
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )));
        }
        let same = if p.changes_digest.is_empty() {
            cs.changes == p.changes
        } else {
            results::changes_digest(&cs.changes) == p.changes_digest
        };
        if !same {
            return Err(fail(format!(
                "change set {} no longer holds the changes that were approved",
                cs.id
            )));
        }
        Ok(Output {
            change_set_id: p.change_set_id,
            stack_name: p.stack_name,
            no_changes: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryStacks};

    /// A computed preview of a change set on `stacks`, as Package & Preview ends.
    async fn ready(stacks: &MemoryStacks) -> Preview {
        let id = stacks.run_change_set().await;
        let cs = stacks.describe_change_set(&id).await.unwrap();
        let stack = stacks.stack(&cs.stack_name).await.unwrap().unwrap();
        Preview {
            change_set_id: cs.id,
            stack_name: cs.stack_name,
            status: cs.status,
            changes: cs.changes,
            stack_version: stack.version,
            attempt: 1,
            more: 0,
            changes_key: String::new(),
            changes_digest: String::new(),
        }
    }

    /// A sealed manifest of one artifact, `runs/r/packaged.yaml`.
    async fn sealed() -> (MemoryArtifacts, ManifestRef) {
        let artifacts = MemoryArtifacts::holding("runs/r/packaged.yaml", "text/yaml", "x: 1");
        let m = manifest::seal(&artifacts, "r", "abc", "runs/r/", &["runs/r/packaged.yaml"])
            .await
            .unwrap();
        (artifacts, m)
    }

    async fn run(stacks: &MemoryStacks, preview: Option<Preview>) -> Result<Output, StepError> {
        let (artifacts, manifest) = sealed().await;
        let step = ValidateInfrastructure {
            stacks: stacks.clone(),
            artifacts,
        };
        step.run(Input {
            preview,
            manifest: Some(manifest),
        })
        .await
    }

    #[tokio::test]
    async fn an_artifact_changed_after_approval_is_artifact_changed_and_names_it() {
        let stacks = MemoryStacks::default();
        let p = ready(&stacks).await;
        let (artifacts, manifest) = sealed().await;
        artifacts.put_sync("runs/r/packaged.yaml", "text/yaml", "x: 2");
        let step = ValidateInfrastructure {
            stacks: stacks.clone(),
            artifacts,
        };
        let input = Input {
            preview: Some(p.clone()),
            manifest: Some(manifest),
        };
        let e = step.run(input).await.unwrap_err();
        assert_eq!(e.name, "ArtifactChanged");
        assert!(
            e.message.starts_with("runs/r/packaged.yaml: "),
            "{}",
            e.message
        );
        let no_manifest = Input {
            preview: Some(p),
            manifest: None,
        };
        let e = step.run(no_manifest).await.unwrap_err();
        assert_eq!(e.name, "ValidationFailed");
        assert!(e.message.contains("no manifest"), "{}", e.message);
    }

    #[tokio::test]
    async fn an_unchanged_stack_and_executable_change_set_pass() {
        let stacks = MemoryStacks::default();
        let p = ready(&stacks).await;
        assert!(!run(&stacks, Some(p)).await.unwrap().no_changes);
    }

    #[tokio::test]
    async fn a_stack_changed_since_the_preview_fails() {
        let stacks = MemoryStacks::default();
        let p = ready(&stacks).await;
        stacks.bump_version();
        let e = run(&stacks, Some(p)).await.unwrap_err();
        assert_eq!(e.name, "ValidationFailed");
        assert!(e.message.contains("changed after the preview"));
    }

    #[tokio::test]
    async fn a_change_set_that_is_no_longer_executable_fails() {
        let stacks = MemoryStacks::default();
        let p = ready(&stacks).await;
        stacks.make_unexecutable("OBSOLETE");
        assert_eq!(
            run(&stacks, Some(p)).await.unwrap_err().name,
            "ValidationFailed"
        );
    }

    #[tokio::test]
    async fn no_preview_fails_and_no_changes_skips() {
        let stacks = MemoryStacks::default();
        assert_eq!(
            run(&stacks, None).await.unwrap_err().name,
            "ValidationFailed"
        );
        stacks.set_no_changes();
        let p = ready(&stacks).await;
        assert!(run(&stacks, Some(p)).await.unwrap().no_changes);
    }
}

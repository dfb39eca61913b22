//! Roll Back (`roll-back`): after a failed bake, what the release goes back to. It
//! reads the stage's live release before this run (`live/<stage>.json`, recorded by
//! Notify when a run made it live), checks its staged objects again (the signed
//! evidence, every digest and version: [`crate::manifest::staged::staged_release`])
//! and plans the redeploy: a change set of that release's pinned template on this
//! stage's stack (`create-change-set` with `stagedRun`), then its commit on the
//! frontend. The state machine runs the plan with the same functions as a deploy.
//!
//! `RollbackFailed`, naming why and what to do by hand, when there is nothing to go
//! back to (no earlier release went live on this stage through stagegate, or it is
//! this very commit) or its objects no longer verify. The failed release stays. A
//! run that was itself a rollback on request is never rolled back automatically: the
//! release live before it is the one someone asked to leave.

use crate::error::{names, StepError};
use crate::flow::Rollback;
use crate::manifest::live::{live_key, live_release};
use crate::manifest::staged::{staged_release, Unproven};
use crate::ports::{Artifacts, Candidate, Signer};
use crate::settings::Settings;
use crate::step::Step;
use crate::text::reason;
use serde::Deserialize;
use serde_json::{json, Value};

/// The `roll-back` function's name.
pub const NAME: &str = "roll-back";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub candidate: Candidate,
    pub run_id: String,
    pub artifacts_prefix: String,
    /// What failed the bake (`{Error, Cause}`).
    pub failure: Value,
}

/// Roll Back: the previous live release, verified, and how to redeploy it.
pub struct RollBack<A, S> {
    pub settings: Settings,
    pub artifacts: A,
    pub signer: S,
}

impl<A: Artifacts, S: Signer> Step<Input, Rollback> for RollBack<A, S> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Rollback, StepError> {
        let stage = self.settings.stage.name();
        let why = reason(&input.failure);
        let failed = |problem: String| {
            let message = format!(
                "{why}; and it cannot be rolled back: {problem}. {} stays deployed on {stage}: fix forward with a new candidate, or deploy the last good release by hand",
                input.candidate.tag
            );
            StepError::new(names::ROLLBACK_FAILED, message)
        };
        if input.candidate.rollback {
            return Err(failed(format!(
                "this run was itself a rollback on request to {}, and the release it replaced is the one someone asked to leave",
                input.candidate.tag
            )));
        }
        let live = match live_release(&self.artifacts, stage).await? {
            Ok(Some(live)) => live,
            Ok(None) => {
                let key = live_key(stage);
                return Err(failed(format!("no earlier release went live on {stage} through stagegate ({key} does not exist)")));
            }
            Err(unreadable) => return Err(failed(unreadable)),
        };
        if live.commit == input.candidate.sha {
            return Err(failed(format!(
                "the release live before this run ({}) is this very commit",
                live.tag
            )));
        }
        let staged = match staged_release(&self.artifacts, &self.signer, &live.commit).await? {
            Ok((staged, _)) => staged,
            Err(Unproven::NotStaged(why)) => {
                return Err(failed(format!("{} is not staged: {why}", live.tag)))
            }
            Err(Unproven::EvidenceInvalid(found)) => {
                return Err(failed(format!(
                    "{}'s evidence does not hold: {}",
                    live.tag,
                    found.join("; ")
                )))
            }
        };
        let change_set = json!({
            "runId": format!("{}-rollback", input.run_id),
            "artifactsPrefix": format!("{}rollback/", input.artifacts_prefix),
            "stagedRun": staged.run_id,
        });
        Ok(Rollback {
            tag: live.tag,
            commit: live.commit,
            run_id: live.run_id,
            template_run: staged.run_id,
            evidence: live.evidence,
            reason: why,
            change_set,
        })
    }
}

#[cfg(test)]
mod tests;

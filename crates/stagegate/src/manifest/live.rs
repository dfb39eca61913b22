//! What is live on each stage: the last release a run of that stage made live (ready
//! on staging, promoted in production). Notify records it with the run's signed
//! evidence (`live/<stage>.json`); a release whose bake fails is rolled back to it.
//! The record names the commit and the staging run whose pinned template and code
//! that release deployed (production deploys staging's, never a rebuild), so a
//! rollback redeploys exactly those objects, after checking them again
//! ([`super::staged::staged_release`]).

use super::evidence::Evidence;
use crate::error::{names, StepError};
use crate::flow::ManifestRef;
use crate::ports::Artifacts;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `live/<stage>.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Live {
    pub stage: String,
    pub repository: String,
    pub tag: String,
    pub commit: String,
    /// The run that made it live.
    pub run_id: String,
    /// The staging run whose pinned template and code it deployed (the run itself on
    /// staging).
    pub template_run: String,
    /// The run's signed evidence bundle.
    pub evidence: ManifestRef,
    pub since: DateTime<Utc>,
    /// The release live on the stage before this one first went live: where
    /// `stagegate rollback <stage>` goes without `--to` (a rollback to this release
    /// keeps it, so rolling back twice walks back through the releases).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<String>,
}

/// Where stage `stage`'s live release is recorded.
pub fn live_key(stage: &str) -> String {
    format!("live/{stage}.json")
}

/// Where the record of `tag` as it last went live on `stage` is kept: what a
/// rollback on request to it checks (only a release that went live on the stage
/// through stagegate is one to go back to).
pub fn released_key(stage: &str, tag: &str) -> String {
    format!("live/{stage}/released/{tag}.json")
}

async fn read(
    artifacts: &impl Artifacts,
    key: &str,
) -> Result<Result<Option<Live>, String>, StepError> {
    let Some(bytes) = artifacts.get(key).await? else {
        return Ok(Ok(None));
    };
    Ok(serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("{key} is unreadable: {e}")))
}

/// `tag`'s record on `stage`, if it went live there.
pub async fn released(
    artifacts: &impl Artifacts,
    stage: &str,
    tag: &str,
) -> Result<Result<Option<Live>, String>, StepError> {
    read(artifacts, &released_key(stage, tag)).await
}

/// Records that the run of `evidence` (signed, at `at`) made its release live on
/// `stage` at `now`, and keeps it among the stage's released ones. A rollback on
/// request (`evidence.replaces`) keeps the release's own `previous`.
pub async fn record_live(
    artifacts: &impl Artifacts,
    stage: &str,
    evidence: &Evidence,
    at: &ManifestRef,
    now: DateTime<Utc>,
) -> Result<Live, StepError> {
    let staging_run = evidence
        .promotes
        .as_ref()
        .and_then(|p| p.get("stagingRun"))
        .and_then(|r| r.as_str());
    let previous = if evidence.replaces.is_some() {
        released(artifacts, stage, &evidence.tag)
            .await?
            .ok()
            .flatten()
            .and_then(|r| r.previous)
    } else {
        match live_release(artifacts, stage).await? {
            Ok(Some(now_live)) if now_live.commit == evidence.commit => now_live.previous,
            Ok(Some(now_live)) => Some(now_live.tag),
            _ => None,
        }
    };
    let live = Live {
        stage: stage.to_string(),
        repository: evidence.repository.clone(),
        tag: evidence.tag.clone(),
        commit: evidence.commit.clone(),
        run_id: evidence.run_id.clone(),
        template_run: staging_run.unwrap_or(&evidence.run_id).to_string(),
        evidence: at.clone(),
        since: now,
        previous,
    };
    let body = serde_json::to_vec_pretty(&live)
        .map_err(|e| StepError::new(names::DEPENDENCY_FAILED, e.to_string()))?;
    artifacts
        .put(
            &released_key(stage, &live.tag),
            "application/json",
            body.clone(),
        )
        .await?;
    artifacts
        .put(&live_key(stage), "application/json", body)
        .await?;
    Ok(live)
}

/// Stage `stage`'s live release, if a run made one live.
pub async fn live_release(
    artifacts: &impl Artifacts,
    stage: &str,
) -> Result<Result<Option<Live>, String>, StepError> {
    read(artifacts, &live_key(stage)).await
}

/// What `stagegate rollback <stage> [--to TAG]` goes back to: `to`, or without it
/// the release live before the one live now (its `previous`), as it went live on
/// the stage. Refused, naming why, when there is none, it never went live there, or
/// it is what is live now. The state machine checks it again (`verify-staged`).
pub async fn rollback_target(
    artifacts: &impl Artifacts,
    stage: &str,
    to: Option<&str>,
) -> Result<Result<Live, String>, StepError> {
    let now_live = match live_release(artifacts, stage).await? {
        Ok(Some(l)) => l,
        Ok(None) => {
            let key = live_key(stage);
            return Ok(Err(format!("nothing went live on {stage} through stagegate ({key} does not exist): nothing to roll back")));
        }
        Err(unreadable) => return Ok(Err(unreadable)),
    };
    let tag = match (to, &now_live.previous) {
        (Some(tag), _) => tag.to_string(),
        (None, Some(previous)) => previous.clone(),
        (None, None) => {
            return Ok(Err(format!(
                "no release went live on {stage} before {}: name one with --to",
                now_live.tag
            )))
        }
    };
    let target = match released(artifacts, stage, &tag).await? {
        Ok(Some(r)) => r,
        Ok(None) => {
            let key = released_key(stage, &tag);
            return Ok(Err(format!(
                "{tag} never went live on {stage} through stagegate ({key} does not exist)"
            )));
        }
        Err(unreadable) => return Ok(Err(unreadable)),
    };
    if target.commit == now_live.commit {
        return Ok(Err(format!(
            "{tag} is what is live on {stage} now ({}): nothing to roll back",
            now_live.tag
        )));
    }
    Ok(Ok(target))
}

#[cfg(test)]
mod tests;

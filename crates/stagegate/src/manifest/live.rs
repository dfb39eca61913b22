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
}

/// Where stage `stage`'s live release is recorded.
pub fn live_key(stage: &str) -> String {
    format!("live/{stage}.json")
}

/// Records that the run of `evidence` (signed, at `at`) made its release live on
/// `stage` at `now`.
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
    let live = Live {
        stage: stage.to_string(),
        repository: evidence.repository.clone(),
        tag: evidence.tag.clone(),
        commit: evidence.commit.clone(),
        run_id: evidence.run_id.clone(),
        template_run: staging_run.unwrap_or(&evidence.run_id).to_string(),
        evidence: at.clone(),
        since: now,
    };
    let body = serde_json::to_vec_pretty(&live)
        .map_err(|e| StepError::new(names::DEPENDENCY_FAILED, e.to_string()))?;
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
    let key = live_key(stage);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(Ok(None));
    };
    Ok(serde_json::from_slice(&bytes)
        .map(Some)
        .map_err(|e| format!("{key} is unreadable: {e}")))
}

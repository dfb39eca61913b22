//! What travels between the bake's and the rollback's states.

use super::ManifestRef;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a release whose bake failed goes back to (Roll Back's output, `$.rollback`):
/// the stage's live release before this run, verified again, and the change set
/// input that redeploys its pinned template.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rollback {
    pub tag: String,
    pub commit: String,
    /// The run that made it live, and the staging run whose template it deployed.
    pub run_id: String,
    pub template_run: String,
    /// Its signed evidence.
    pub evidence: ManifestRef,
    /// What tripped the rollback, on one line.
    pub reason: String,
    /// `create-change-set`'s input: the previous release's template on this stage's
    /// stack, its preview under the run's `rollback/`.
    pub change_set: Value,
}

/// The bake so far (Bake's output, its next round's input): until when it watches,
/// how long the run waits before the next round, and what it watches.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Baking {
    pub started_at: DateTime<Utc>,
    pub until: DateTime<Utc>,
    /// The wait before the next round: the interval, or what is left of the bake.
    pub wait_seconds: u64,
    /// Rounds done (alarms read, smoke suites run).
    pub rounds: u32,
    /// The bake is over and nothing went off.
    pub done: bool,
    /// The alarms watched (by name) and the smoke suites run each round.
    pub alarms: Vec<String>,
    pub smoke_suites: Vec<String>,
}

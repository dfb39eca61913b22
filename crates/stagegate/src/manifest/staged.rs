//! What staging proved about a commit, for promotion to production (DESIGN §6.4).
//!
//! When a staging run ends ready and its evidence is signed, Notify records the commit
//! as staged: `staged/<commit>.json` names the run, its signed evidence (key and
//! SHA-256) and when the commit was first ready (the soak counts from then; a later
//! run of the same commit moves the record to its evidence, never the clock).
//! [`staged_release`] is the check a promotion starts with: the commit must have such
//! a record (`NotStaged` otherwise), and the evidence it names must verify — the
//! signature, every digest, a ready outcome for this very commit (`EvidenceInvalid`,
//! naming every difference, otherwise).

use super::evidence::{self, Evidence};
use crate::candidate::is_commit_sha;
use crate::error::{names, StepError};
use crate::flow::ManifestRef;
use crate::ports::{Artifacts, Signer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// `staged/<commit>.json`: the commit's latest ready staging run.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Staged {
    pub commit: String,
    pub repository: String,
    pub tag: String,
    pub run_id: String,
    /// The run's signed evidence bundle.
    pub evidence: ManifestRef,
    /// When this commit first ended ready on staging.
    pub first_ready_at: DateTime<Utc>,
    /// When the run named here ended ready.
    pub ready_at: DateTime<Utc>,
}

/// Why a commit cannot be promoted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Unproven {
    /// No staging run of the commit ended ready (with signed evidence).
    NotStaged(String),
    /// The staging evidence does not hold: every difference.
    EvidenceInvalid(Vec<String>),
}

impl Unproven {
    /// The error a promotion run ends with.
    pub fn into_error(self) -> StepError {
        match self {
            Unproven::NotStaged(why) => StepError::new(names::NOT_STAGED, why),
            Unproven::EvidenceInvalid(found) => {
                StepError::new(names::EVIDENCE_INVALID, found.join("; "))
            }
        }
    }
}

/// Where the record of `commit` is.
pub fn staged_key(commit: &str) -> String {
    format!("staged/{commit}.json")
}

/// Records that `evidence` (signed, at `at`) made its commit ready on staging at
/// `now`, keeping the first time the commit was ready.
pub async fn record_staged(
    artifacts: &impl Artifacts,
    evidence: &Evidence,
    at: &ManifestRef,
    now: DateTime<Utc>,
) -> Result<Staged, StepError> {
    if !is_commit_sha(&evidence.commit) {
        return Err(crate::error::invalid_input(format!(
            "'{}' is not a commit id (40 lowercase hexadecimal digits)",
            evidence.commit
        )));
    }
    let key = staged_key(&evidence.commit);
    let earlier: Option<Staged> = match artifacts.get(&key).await? {
        Some(bytes) => serde_json::from_slice(&bytes).ok(),
        None => None,
    };
    let staged = Staged {
        commit: evidence.commit.clone(),
        repository: evidence.repository.clone(),
        tag: evidence.tag.clone(),
        run_id: evidence.run_id.clone(),
        evidence: at.clone(),
        first_ready_at: earlier.map_or(now, |e| e.first_ready_at.min(now)),
        ready_at: now,
    };
    artifacts.put_json(&key, &staged).await?;
    Ok(staged)
}

/// What staging proved about `commit`: its record and its verified evidence, or why
/// it cannot be promoted.
pub async fn staged_release(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    commit: &str,
) -> Result<Result<(Staged, Evidence), Unproven>, StepError> {
    if !is_commit_sha(commit) {
        return Err(crate::error::invalid_input(format!(
            "'{commit}' is not a commit id (40 lowercase hexadecimal digits)"
        )));
    }
    let key = staged_key(commit);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(Err(Unproven::NotStaged(format!(
            "no staging run of {commit} ended ready ({key} does not exist)"
        ))));
    };
    let staged: Staged = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            return Ok(Err(Unproven::EvidenceInvalid(vec![format!(
                "{key}: unreadable: {e}"
            )])))
        }
    };
    if !crate::flow::is_run_id(&staged.run_id) || staged.commit != commit {
        return Ok(Err(Unproven::EvidenceInvalid(vec![format!(
            "{key}: names run '{}' of commit {}: not a record of {commit}",
            staged.run_id, staged.commit
        )])));
    }
    let prefix = format!("runs/{}/", staged.run_id);
    let (evidence, digest) = match evidence::verify_bundle(artifacts, signer, &prefix).await? {
        Ok(held) => held,
        Err(found) => return Ok(Err(Unproven::EvidenceInvalid(found))),
    };
    let mut found = Vec::new();
    if staged.evidence.key != format!("{prefix}evidence.json") {
        found.push(format!(
            "{key}: names {}, not the run's evidence",
            staged.evidence.key
        ));
    }
    if digest != staged.evidence.digest {
        found.push(format!(
            "{prefix}evidence.json: sha256 {digest}, recorded as staged {}",
            staged.evidence.digest
        ));
    }
    if evidence.commit != commit {
        found.push(format!(
            "the evidence is of commit {}, not {commit}",
            evidence.commit
        ));
    }
    if evidence.outcome != "success" {
        found.push(format!(
            "the run ended {} at {}, not ready",
            evidence.outcome, evidence.stage
        ));
    }
    if found.is_empty() {
        Ok(Ok((staged, evidence)))
    } else {
        Ok(Err(Unproven::EvidenceInvalid(found)))
    }
}

#[cfg(test)]
mod tests;

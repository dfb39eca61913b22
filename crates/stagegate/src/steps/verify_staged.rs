//! Verify Staged Release (`verify-staged`), the production run's first check: the
//! commit must have a staging run that ended ready, whose signed evidence verifies
//! ([`crate::manifest::staged::staged_release`]: `NotStaged` / `EvidenceInvalid`),
//! and every object staging's approval bound must still be the bytes and versions
//! approved (`EvidenceInvalid`, naming each difference). Nothing is rebuilt: the
//! production run's `pinned.json` lists the staged template and code objects where
//! staging pinned them (same keys, digests and versions), and copies only the suites'
//! definitions into its own prefix (the same bytes, read by the smoke tests there).
//! Then the soak: `soakUntil` is when the commit first ended ready plus the soak
//! time; a newer `rc-*` on staging is another commit and moves nothing. Before it, the
//! definition waits for `soakUntil`, or this step refuses (`SoakIncomplete`) when the
//! production functions are configured to.
//!
//! A rollback on request (`candidate.rollback`, either stage) is the same check of a
//! release that went live on the stage before ([`crate::manifest::live::released`]:
//! its tag at its commit, not the one live now, else `RollbackRefused`); it soaked
//! when it first went live, so it does not wait again.

use crate::error::{invalid_input, names, StepError};
use crate::flow::{CheckResult, Run, StagedRelease};
use crate::manifest::{self, evidence::Evidence, live, staged, Entry};
use crate::ports::{Artifacts, Clock, Signer};
use crate::settings::{Settings, Stage};
use crate::step::Step;
use chrono::Duration;
use serde::Deserialize;

/// The `verify-staged` function's name.
pub const NAME: &str = "verify-staged";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub preflight: Run,
}

/// Verify Staged Release: what staging proved about the commit, and the soak.
pub struct VerifyStaged<A, G, C> {
    pub settings: Settings,
    pub artifacts: A,
    /// The evidence key (KMS on AWS): verifies staging's signature.
    pub signer: G,
    pub clock: C,
}

fn refused(message: String) -> StepError {
    StepError::new(names::ROLLBACK_REFUSED, message)
}

fn invalid(found: Vec<String>) -> StepError {
    staged::Unproven::EvidenceInvalid(found).into_error()
}

impl<A: Artifacts, G: Signer, C: Clock> VerifyStaged<A, G, C> {
    /// A rollback on request: `c` went live on this stage before, at this commit,
    /// and is not what is live now. What it replaces (tag, commit, run).
    async fn rollback_target(
        &self,
        c: &crate::ports::Candidate,
    ) -> Result<serde_json::Value, StepError> {
        let stage = self.settings.stage.name();
        let key = live::released_key(stage, &c.tag);
        match live::released(&self.artifacts, stage, &c.tag).await? {
            Ok(Some(r)) if r.commit == c.sha => {}
            Ok(Some(r)) => {
                return Err(refused(format!(
                    "{} went live on {stage} at {}, not {}: roll back to the commit that went live ({key})",
                    c.tag, r.commit, c.sha
                )))
            }
            Ok(None) => {
                return Err(refused(format!(
                    "{} never went live on {stage} through stagegate ({key} does not exist): only a release that did can be rolled back to",
                    c.tag
                )))
            }
            Err(unreadable) => return Err(refused(unreadable)),
        }
        match live::live_release(&self.artifacts, stage).await? {
            Ok(Some(now_live)) if now_live.commit == c.sha => Err(refused(format!(
                "{} is what is live on {stage} now: nothing to roll back",
                now_live.tag
            ))),
            Ok(Some(now_live)) => Ok(serde_json::json!({
                "tag": now_live.tag, "commit": now_live.commit, "runId": now_live.run_id,
            })),
            Ok(None) => Err(refused(format!(
                "nothing is recorded as live on {stage} ({}): nothing to roll back from",
                live::live_key(stage)
            ))),
            Err(unreadable) => Err(refused(unreadable)),
        }
    }

    /// Staging's pinned objects, each as the verified manifest lists it: the template
    /// and code production deploys by reference, the suites it copies.
    async fn pinned(&self, evidence: &Evidence, listed: &[Entry]) -> Result<Vec<Entry>, StepError> {
        let key = format!("runs/{}/pinned.json", evidence.run_id);
        let Some(bytes) = self.artifacts.get(&key).await? else {
            return Err(invalid(vec![format!("{key}: gone")]));
        };
        let pinned: Vec<Entry> = serde_json::from_slice(&bytes)
            .map_err(|e| invalid(vec![format!("{key}: unreadable: {e}")]))?;
        let unbound: Vec<String> = pinned
            .iter()
            .filter(|p| !listed.contains(p))
            .map(|p| format!("{key}: {} is not as staging's manifest binds it", p.key))
            .collect();
        if !unbound.is_empty() {
            return Err(invalid(unbound));
        }
        Ok(pinned)
    }

    /// Writes the production run's `pinned.json`: staging's objects by reference,
    /// the suites' definitions copied into `prefix`.
    async fn pin_for(
        &self,
        prefix: &str,
        staged: &str,
        pinned: Vec<Entry>,
    ) -> Result<(), StepError> {
        let mut entries = Vec::new();
        for entry in pinned {
            let Some(file) = entry
                .key
                .strip_prefix(staged)
                .filter(|f| f.starts_with("suites/"))
            else {
                entries.push(entry);
                continue;
            };
            let Some(body) = self.artifacts.get(&entry.key).await? else {
                return Err(invalid(vec![format!("{}: gone", entry.key)]));
            };
            if manifest::sha256(&body) != entry.sha256 {
                return Err(invalid(vec![format!(
                    "{}: changed while it was copied",
                    entry.key
                )]));
            }
            let key = format!("{prefix}{file}");
            self.artifacts.put(&key, "application/json", body).await?;
            match manifest::entry_of(&self.artifacts, &key).await? {
                Some(copy) if copy.sha256 == entry.sha256 => entries.push(copy),
                _ => {
                    return Err(invalid(vec![format!(
                        "{key}: not the bytes of {}",
                        entry.key
                    )]))
                }
            }
        }
        entries.sort_by(|a, b| a.key.cmp(&b.key));
        self.artifacts
            .put_json(&format!("{prefix}pinned.json"), &entries)
            .await?;
        Ok(())
    }
}

impl<A: Artifacts, G: Signer, C: Clock> Step<Input, StagedRelease> for VerifyStaged<A, G, C> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<StagedRelease, StepError> {
        let candidate = &input.preflight.candidate;
        if self.settings.stage != Stage::Production && !candidate.rollback {
            return Err(invalid_input(
                "verify-staged checks a promotion (STAGEGATE_STAGE=production) or a rollback on request",
            ));
        }
        let replaces = match candidate.rollback {
            true => Some(self.rollback_target(candidate).await?),
            false => None,
        };
        let commit = &candidate.sha;
        let (record, evidence) = staged::staged_release(&self.artifacts, &self.signer, commit)
            .await?
            .map_err(staged::Unproven::into_error)?;
        let Some(bound) = evidence.manifest.clone() else {
            return Err(invalid(vec![
                "the staging evidence binds no manifest".into()
            ]));
        };
        let (listed, differences) = manifest::differences(&self.artifacts, &bound).await?;
        if !differences.is_empty() {
            return Err(invalid(differences));
        }
        let listed = listed.map(|m| m.artifacts).unwrap_or_default();
        let pinned = self.pinned(&evidence, &listed).await?;
        let staged_prefix = format!("runs/{}/", evidence.run_id);
        self.pin_for(&input.preflight.artifacts_prefix, &staged_prefix, pinned)
            .await?;
        // A rollback's release soaked when it first went live.
        let soak = match replaces {
            Some(_) => Duration::zero(),
            None => Duration::seconds(self.settings.soak_seconds as i64),
        };
        let soak_until = record.first_ready_at + soak;
        let now = self.clock.now();
        if now < soak_until && self.settings.refuse_unsoaked {
            return Err(StepError::new(
                names::SOAK_INCOMPLETE,
                format!(
                    "{commit} has soaked on staging since {} and may be promoted from {soak_until}",
                    record.first_ready_at
                ),
            ));
        }
        Ok(StagedRelease {
            commit: commit.clone(),
            staging_run: record.run_id,
            staging_tag: record.tag,
            evidence: record.evidence,
            manifest: bound,
            first_ready_at: record.first_ready_at,
            soak_until,
            soaked: now >= soak_until,
            checks: evidence.checks.iter().map(check_result).collect(),
            decisions: evidence.decisions.iter().map(decision_line).collect(),
            replaces,
        })
    }
}

fn check_result(c: &manifest::evidence::Check) -> CheckResult {
    CheckResult {
        name: c.name.clone(),
        status: c.status.clone(),
        build: None,
        caught: None,
        preview: None,
        log: c.log.clone(),
    }
}

fn decision_line(d: &manifest::evidence::Decision) -> String {
    let verb = if d.approve { "approved" } else { "rejected" };
    let reason = d
        .reason
        .as_deref()
        .map(|r| format!(": {r}"))
        .unwrap_or_default();
    format!(
        "{} {verb} ({}, {}, {}){reason}",
        d.approver, d.gate, d.channel, d.at
    )
}

#[cfg(test)]
mod tests;

//! The evidence bundle: at the end of every run that reaches a Notify state (ready,
//! failed or cancelled), one signed `evidence.json` in the run's prefix — the
//! manifest's digest, every decision of both gates, each check's result and log, the
//! digests of the run's own records (reports, outputs, notes), the change set, the
//! stack and the frontend job. [`verify`] checks the signature and every digest
//! against the store and names each difference; production promotion relies on it.
//!
//! What is signed is a small statement naming the bundle by its SHA-256
//! (`evidence.sig.json`): KMS signs at most 4,096 bytes of raw message, and a
//! bundle can be larger. A run stopped from outside (aborted, timed out) reaches no
//! Notify state and has no bundle; its Step Functions history is its record.

use crate::error::{names, StepError};
use crate::flow::{Approval, CheckResult, ManifestRef};
use crate::manifest::{self, Entry};
use crate::ports::{Artifacts, Signature, Signer};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The run's own records, by name under its prefix, bound when present.
pub const RECORDS: &[&str] = &[
    "checklist.md",
    "stack-outputs.json",
    "test-report.json",
    "junit.xml",
    "performance-report.json",
    "approval.json",
    "release-notes.md",
    "timeline.svg",
];

/// One decision of one gate.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Decision {
    /// `deployment` (Wait for Approval) or `userAcceptance`.
    pub gate: String,
    pub approver: String,
    /// How it arrived: `email link`, `cli`, `terminal`.
    pub channel: String,
    pub approve: bool,
    pub at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// A production approval that also overrode the deployment window or freeze.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub break_glass: bool,
}

/// A check's result as the run recorded it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Check {
    pub name: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// `evidence.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evidence {
    pub run_id: String,
    pub execution_id: String,
    pub repository: String,
    pub tag: String,
    pub commit: String,
    /// `success`, `failure` or `cancelled`, and the stage it ended at.
    pub outcome: String,
    pub stage: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The approved manifest; absent when the run ended before it was sealed.
    pub manifest: Option<ManifestRef>,
    pub decisions: Vec<Decision>,
    pub checks: Vec<Check>,
    /// The run's records ([`RECORDS`]) with their digests and versions.
    pub records: Vec<Entry>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_set_id: Option<String>,
    /// The stack after the deploy: name and status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack: Option<Value>,
    /// The frontend job: id and URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frontend: Option<Value>,
    /// A production run: what it promotes (the staging run, its evidence's key and
    /// digest, the staged manifest), so the production bundle names the staging one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promotes: Option<Value>,
    /// A production run: the deployment window as it was checked (why it could
    /// deploy; whose break-glass, with their reasons).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<Value>,
    /// A run whose bake failed: the release it rolled back to (tag, commit, run,
    /// evidence) and what tripped it, so the bundle names both releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_to: Option<Value>,
    /// A rollback on request (`stagegate rollback`): the release it replaced (tag,
    /// commit, run), so the bundle names both releases.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replaces: Option<Value>,
    pub sealed_at: DateTime<Utc>,
}

/// What is signed: the bundle, by key and digest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    pub run_id: String,
    pub evidence: String,
    pub sha256: String,
}

/// `evidence.sig.json`: the statement exactly as signed, and the signature.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Signed {
    pub statement: String,
    pub signature: Signature,
}

fn of<T: serde::de::DeserializeOwned>(state: &Value, key: &str) -> Option<T> {
    serde_json::from_value(state.get(key)?.clone()).ok()
}

fn text(state: &Value, path: &[&str]) -> String {
    path.iter()
        .try_fold(state, |v, k| v.get(k))
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn decisions(gate: &str, approval: Option<Approval>) -> Vec<Decision> {
    approval
        .map(|a| a.votes)
        .unwrap_or_default()
        .into_iter()
        .map(|v| Decision {
            gate: gate.to_string(),
            approver: v.approver,
            channel: v.via,
            approve: v.approve,
            at: v.at,
            reason: v.reason,
            break_glass: v.break_glass,
        })
        .collect()
}

/// The evidence of a run from its final state, or `None` before the run had a prefix
/// (it failed in Preflight: nothing to bind).
pub fn from_state(
    state: &Value,
    outcome: &str,
    (stage, environment): (&str, &str),
    error: Option<String>,
    now: DateTime<Utc>,
) -> Option<(String, Evidence)> {
    let prefix = text(state, &["preflight", "artifactsPrefix"]);
    if prefix.is_empty() {
        return None;
    }
    let promotes = state.get("staged").map(|s| {
        serde_json::json!({
            "stagingRun": s.get("stagingRun"), "stagingTag": s.get("stagingTag"),
            "evidence": s.get("evidence"), "manifest": s.get("manifest"),
        })
    });
    let gate = if environment == "production" {
        "production"
    } else {
        "deployment"
    };
    let replaces = state
        .get("staged")
        .and_then(|s| s.get("replaces"))
        .filter(|v| !v.is_null())
        .cloned();
    let mut decisions_ = decisions(gate, of(state, "approval"));
    decisions_.extend(decisions("userAcceptance", of(state, "acceptance")));
    let checks: Vec<CheckResult> = of(state, "checks").unwrap_or_default();
    let evidence = Evidence {
        run_id: text(state, &["preflight", "runId"]),
        execution_id: text(state, &["preflight", "executionId"]),
        repository: text(state, &["preflight", "candidate", "repository"]),
        tag: text(state, &["preflight", "candidate", "tag"]),
        commit: text(state, &["preflight", "candidate", "sha"]),
        outcome: outcome.to_string(),
        stage: stage.to_string(),
        error,
        manifest: state
            .get("checklist")
            .and_then(|c| serde_json::from_value(c.get("manifest")?.clone()).ok()),
        decisions: decisions_,
        checks: checks
            .iter()
            .map(|c| Check {
                name: c.name.clone(),
                status: c.status.clone(),
                log: c.log_link(),
            })
            .collect(),
        records: Vec::new(),
        change_set_id: state
            .get("validation")
            .and_then(|v| v.get("changeSetId"))
            .and_then(Value::as_str)
            .map(str::to_string),
        stack: state
            .get("infrastructure")
            .filter(|v| !v.is_null())
            .cloned(),
        frontend: state.get("frontend").filter(|v| !v.is_null()).cloned(),
        promotes,
        window: state.get("window").filter(|v| !v.is_null()).cloned(),
        rolled_back_to: state.get("rollback").filter(|v| !v.is_null()).cloned(),
        replaces,
        sealed_at: now,
    };
    Some((prefix, evidence))
}

fn failed(message: String) -> StepError {
    StepError::new(names::DEPENDENCY_FAILED, message)
}

/// Binds the run's records into `evidence`, writes it under `prefix` and signs it.
/// Returns where it is and its SHA-256. Once signed, a run's evidence stays: a second
/// call (a retried Notify) returns the bundle already recorded.
pub async fn record(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    mut evidence: Evidence,
    prefix: &str,
) -> Result<ManifestRef, StepError> {
    let key = format!("{prefix}evidence.json");
    if artifacts
        .get(&format!("{prefix}evidence.sig.json"))
        .await?
        .is_some()
    {
        if let Some(bytes) = artifacts.get(&key).await? {
            let digest = manifest::sha256(&bytes);
            return Ok(ManifestRef { key, digest });
        }
    }
    for name in RECORDS {
        if let Some(entry) = manifest::entry_of(artifacts, &format!("{prefix}{name}")).await? {
            evidence.records.push(entry);
        }
    }
    let bytes = serde_json::to_vec_pretty(&evidence).map_err(|e| failed(e.to_string()))?;
    let digest = manifest::sha256(&bytes);
    artifacts.put(&key, "application/json", bytes).await?;
    let statement = Statement {
        run_id: evidence.run_id.clone(),
        evidence: key.clone(),
        sha256: digest.clone(),
    };
    let statement = serde_json::to_string(&statement).map_err(|e| failed(e.to_string()))?;
    let signature = signer.sign(statement.as_bytes()).await?;
    let signed = Signed {
        statement,
        signature,
    };
    let sig = serde_json::to_vec_pretty(&signed).map_err(|e| failed(e.to_string()))?;
    artifacts
        .put(
            &format!("{prefix}evidence.sig.json"),
            "application/json",
            sig,
        )
        .await?;
    Ok(ManifestRef { key, digest })
}

/// Checks run `prefix`'s evidence: the signature, the bundle's digest, the manifest
/// and every artifact it lists, every record. `Ok` with the evidence when all hold;
/// otherwise every difference, one line each.
pub async fn verify(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    prefix: &str,
) -> Result<Result<Evidence, Vec<String>>, StepError> {
    Ok(verify_bundle(artifacts, signer, prefix)
        .await?
        .map(|(e, _)| e))
}

/// [`verify`], with the SHA-256 of the bundle that holds (what a record naming the
/// bundle by digest is compared with).
pub async fn verify_bundle(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    prefix: &str,
) -> Result<Result<(Evidence, String), Vec<String>>, StepError> {
    let sig_key = format!("{prefix}evidence.sig.json");
    let Some(sig) = artifacts.get(&sig_key).await? else {
        return Ok(Err(vec![format!(
            "{sig_key}: no signed evidence for this run"
        )]));
    };
    let signed: Signed = match serde_json::from_slice(&sig) {
        Ok(s) => s,
        Err(e) => return Ok(Err(vec![format!("{sig_key}: unreadable: {e}")])),
    };
    let mut found = Vec::new();
    if !signer
        .verify(signed.statement.as_bytes(), &signed.signature)
        .await?
    {
        found.push(format!(
            "{sig_key}: the signature does not verify with key {}",
            signed.signature.key_id
        ));
    }
    let statement: Statement = match serde_json::from_str(&signed.statement) {
        Ok(s) => s,
        Err(e) => {
            found.push(format!("{sig_key}: the statement is unreadable: {e}"));
            return Ok(Err(found));
        }
    };
    let key = format!("{prefix}evidence.json");
    if statement.evidence != key {
        found.push(format!(
            "{sig_key}: signs {}, not {key}",
            statement.evidence
        ));
    }
    let Some(bytes) = artifacts.get(&key).await? else {
        found.push(format!("{key}: gone"));
        return Ok(Err(found));
    };
    let digest = manifest::sha256(&bytes);
    if digest != statement.sha256 {
        found.push(format!(
            "{key}: sha256 {digest}, signed {}",
            statement.sha256
        ));
    }
    let evidence: Evidence = match serde_json::from_slice(&bytes) {
        Ok(e) => e,
        Err(e) => {
            found.push(format!("{key}: unreadable: {e}"));
            return Ok(Err(found));
        }
    };
    if let Some(m) = &evidence.manifest {
        found.extend(manifest::differences(artifacts, m).await?.1);
    }
    found.extend(manifest::entry_differences(artifacts, &evidence.records).await?);
    Ok(if found.is_empty() {
        Ok((evidence, digest))
    } else {
        Err(found)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemorySigner};
    use serde_json::json;

    /// A run that was approved (with a reason) and signed off, its manifest sealed.
    async fn finished_run() -> (MemoryArtifacts, Value) {
        let store = MemoryArtifacts::holding("runs/r/packaged.yaml", "text/yaml", "x: 1");
        store.put_sync("runs/r/checklist.json", "application/json", "{}");
        let sealed = manifest::seal(
            &store,
            "r",
            "abc",
            "runs/r/",
            &["runs/r/checklist.json", "runs/r/packaged.yaml"],
        )
        .await
        .unwrap();
        store.put_sync("runs/r/junit.xml", "application/xml", "<testsuite/>");
        store.put_sync("runs/r/release-notes.md", "text/markdown", "# notes");
        let vote = |who: &str, reason: Option<&str>| {
            json!({"approver": who, "via": "email link", "approve": true, "reason": reason,
                   "at": "2026-12-06T10:00:00Z", "from": "203.0.113.9"})
        };
        let state = json!({
            "preflight": {"runId": "r", "executionId": "arn:x:r", "artifactsPrefix": "runs/r/",
                "candidate": {"repository": "acme/shop", "tag": "rc-1.4.0", "sha": "abc"}},
            "checks": [{"name": "ESLint", "status": "FAILED", "log": "https://logs/eslint"}],
            "checklist": {"manifest": sealed},
            "approval": {"votes": [vote("bob", Some("lint is a false positive"))]},
            "acceptance": {"votes": [vote("carol", None)]},
            "validation": {"changeSetId": "cs-1"},
            "infrastructure": {"stackName": "app", "stackStatus": "UPDATE_COMPLETE"},
            "frontend": {"jobId": "7", "url": "https://staging.example.test"}
        });
        (store, state)
    }

    async fn sealed(store: &MemoryArtifacts, state: &Value) -> ManifestRef {
        let (prefix, evidence) = from_state(
            state,
            "success",
            ("Ready for Production", "staging"),
            None,
            Utc::now(),
        )
        .unwrap();
        record(store, &MemorySigner::default(), evidence, &prefix)
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn the_evidence_holds_both_gates_the_checks_and_every_digest() {
        let (store, state) = finished_run().await;
        let at = sealed(&store, &state).await;
        assert_eq!(at.key, "runs/r/evidence.json");
        let e = verify(&store, &MemorySigner::default(), "runs/r/")
            .await
            .unwrap()
            .unwrap_or_else(|d| panic!("{d:?}"));
        let gates: Vec<(&str, &str)> = e
            .decisions
            .iter()
            .map(|d| (d.gate.as_str(), d.approver.as_str()))
            .collect();
        assert_eq!(gates, [("deployment", "bob"), ("userAcceptance", "carol")]);
        assert_eq!(
            e.decisions[0].reason.as_deref(),
            Some("lint is a false positive")
        );
        assert_eq!(e.checks[0].log.as_deref(), Some("https://logs/eslint"));
        let records: Vec<&str> = e.records.iter().map(|r| r.key.as_str()).collect();
        assert_eq!(records, ["runs/r/junit.xml", "runs/r/release-notes.md"]);
        assert_eq!(e.change_set_id.as_deref(), Some("cs-1"));
        assert!(e.manifest.is_some() && e.stack.is_some() && e.frontend.is_some());
    }

    #[tokio::test]
    async fn one_changed_byte_anywhere_is_named() {
        for key in [
            "runs/r/packaged.yaml",
            "runs/r/junit.xml",
            "runs/r/evidence.json",
        ] {
            let (store, state) = finished_run().await;
            sealed(&store, &state).await;
            let mut bytes = store.get_sync(key).unwrap();
            bytes[0] ^= 1;
            store.put_sync(key, "x", bytes);
            let found = verify(&store, &MemorySigner::default(), "runs/r/")
                .await
                .unwrap()
                .unwrap_err();
            assert!(
                found
                    .iter()
                    .any(|f| f.starts_with(&format!("{key}: sha256 "))),
                "{key}: {found:?}"
            );
        }
    }

    #[tokio::test]
    async fn another_key_or_no_signature_does_not_verify() {
        let (store, state) = finished_run().await;
        sealed(&store, &state).await;
        let found = verify(&store, &MemorySigner::other(), "runs/r/")
            .await
            .unwrap()
            .unwrap_err();
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("the signature does not verify"),
            "{found:?}"
        );
        let found = verify(&store, &MemorySigner::default(), "runs/other/")
            .await
            .unwrap()
            .unwrap_err();
        assert!(found[0].contains("no signed evidence"), "{found:?}");
    }

    #[tokio::test]
    async fn a_second_record_keeps_the_first_bundle() {
        let (store, state) = finished_run().await;
        let first = sealed(&store, &state).await;
        let later = from_state(
            &state,
            "success",
            ("Ready for Production", "staging"),
            None,
            Utc::now(),
        );
        let (prefix, evidence) = later.unwrap();
        let again = record(&store, &MemorySigner::default(), evidence, &prefix)
            .await
            .unwrap();
        assert_eq!(again, first);
    }

    #[test]
    fn a_run_that_failed_before_it_had_a_prefix_has_no_evidence() {
        let state = json!({"repository": "acme/shop", "tag": "bad"});
        assert!(from_state(
            &state,
            "failure",
            ("Preflight", "staging"),
            None,
            Utc::now()
        )
        .is_none());
    }
}

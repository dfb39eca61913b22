//! What grows with the input lives in the bucket, not in the state: Step Functions
//! fails a run whose state passes 256 KB (`States.DataLimitExceeded`, which no
//! catch handles). A suite's whole result is stored under the run's prefix; the
//! state carries its counts, its failed cases up to [`MAX_CASES`] (each message cut
//! to [`MAX_MESSAGE`] characters) and the key of the whole.

use crate::error::{invalid_input, StepError};
use crate::flow::{Preview, SuiteResult};
use crate::ports::{Artifacts, ResourceChange};
use sha2::{Digest, Sha256};

/// Failed cases a suite result carries in the state.
pub const MAX_CASES: usize = 20;
/// Characters of a case's message carried in the state.
pub const MAX_MESSAGE: usize = 500;

/// Resource changes a preview carries in the state.
pub const MAX_CHANGES: usize = 50;

/// The SHA-256 of a list of changes, as JSON.
pub fn changes_digest(changes: &[ResourceChange]) -> String {
    hex::encode(Sha256::digest(
        serde_json::to_vec(changes).unwrap_or_default(),
    ))
}

/// A computed preview as the state carries it: the whole list of `changes` stored at
/// its `changes_key` (when it has one), the first [`MAX_CHANGES`] kept, the digest
/// of the whole.
pub async fn bound_preview(
    artifacts: &impl Artifacts,
    mut preview: Preview,
    changes: Vec<ResourceChange>,
) -> Result<Preview, StepError> {
    preview.changes_digest = changes_digest(&changes);
    if preview.changes_key.is_empty() || changes.len() <= MAX_CHANGES {
        preview.changes = changes;
        return Ok(preview);
    }
    let body = serde_json::to_vec(&changes).map_err(|e| invalid_input(e.to_string()))?;
    artifacts
        .put(&preview.changes_key, "application/json", body)
        .await?;
    preview.more = changes.len() - MAX_CHANGES;
    preview.changes = changes.into_iter().take(MAX_CHANGES).collect();
    Ok(preview)
}

/// Every change of `preview`: read back from its key when it does not carry them
/// all, and checked against its digest.
pub async fn whole_changes(
    artifacts: &impl Artifacts,
    preview: &Preview,
) -> Result<Vec<ResourceChange>, StepError> {
    if preview.more == 0 {
        return Ok(preview.changes.clone());
    }
    let key = &preview.changes_key;
    let Some(bytes) = artifacts.get(key).await? else {
        return Err(invalid_input(format!(
            "{key}: the preview's changes are gone"
        )));
    };
    let changes: Vec<ResourceChange> =
        serde_json::from_slice(&bytes).map_err(|e| invalid_input(format!("{key}: {e}")))?;
    if changes_digest(&changes) != preview.changes_digest {
        return Err(invalid_input(format!(
            "{key}: not the changes that were previewed"
        )));
    }
    Ok(changes)
}

/// Stores `result` whole under `prefix` and returns what the state carries.
pub async fn store(
    artifacts: &impl Artifacts,
    prefix: &str,
    result: SuiteResult,
) -> Result<SuiteResult, StepError> {
    let key = format!("{prefix}results/{}.json", result.suite);
    let body = serde_json::to_vec(&result).map_err(|e| invalid_input(e.to_string()))?;
    artifacts.put(&key, "application/json", body).await?;
    let total = result.cases.len();
    let mut cases: Vec<_> = result
        .cases
        .into_iter()
        .filter(|c| !c.passed)
        .take(MAX_CASES)
        .collect();
    for c in &mut cases {
        if c.message.chars().count() > MAX_MESSAGE {
            c.message = c.message.chars().take(MAX_MESSAGE).collect::<String>() + "…";
        }
    }
    Ok(SuiteResult {
        suite: result.suite,
        passed: result.passed,
        failed: result.failed,
        more: total - cases.len(),
        cases,
        key: Some(key),
    })
}

/// The whole result a state's `result` stands for: read back from its key, or the
/// result itself when it carries all its cases.
pub async fn whole(
    artifacts: &impl Artifacts,
    result: SuiteResult,
) -> Result<SuiteResult, StepError> {
    let Some(key) = result.key.clone().filter(|_| result.more > 0) else {
        return Ok(result);
    };
    let Some(bytes) = artifacts.get(&key).await? else {
        return Err(invalid_input(format!("{key}: the suite's result is gone")));
    };
    serde_json::from_slice(&bytes).map_err(|e| invalid_input(format!("{key}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::CaseResult;
    use crate::testing::MemoryArtifacts;

    fn case(i: usize, passed: bool) -> CaseResult {
        CaseResult {
            name: format!("case {i}"),
            passed,
            message: "x".repeat(if passed { 10 } else { 2_000 }),
            elapsed_ms: 1,
        }
    }

    #[tokio::test]
    async fn ten_thousand_cases_travel_as_counts_and_the_first_failures() {
        let cases: Vec<CaseResult> = (0..10_000).map(|i| case(i, i % 100 != 0)).collect();
        let result = SuiteResult::of("e2e".into(), cases);
        let store_ = MemoryArtifacts::default();
        let carried = store(&store_, "runs/r/", result.clone()).await.unwrap();
        assert_eq!((carried.passed, carried.failed), (9_900, 100));
        assert_eq!(
            (carried.cases.len(), carried.more),
            (MAX_CASES, 10_000 - MAX_CASES)
        );
        assert!(carried
            .cases
            .iter()
            .all(|c| !c.passed && c.message.chars().count() == MAX_MESSAGE + 1));
        let size = serde_json::to_vec(&carried).unwrap().len();
        assert!(size < 16 * 1024, "{size} bytes");
        assert_eq!(whole(&store_, carried).await.unwrap(), result);
    }

    #[tokio::test]
    async fn a_thousand_changes_travel_as_the_first_fifty_and_a_digest() {
        let changes: Vec<ResourceChange> = (0..1_000)
            .map(|i| ResourceChange {
                action: "Add".into(),
                logical_id: format!("Queue{i}"),
                resource_type: "AWS::SQS::Queue".into(),
                replacement: String::new(),
            })
            .collect();
        let preview = Preview {
            change_set_id: "cs".into(),
            stack_name: "app".into(),
            status: crate::ports::ChangeSetStatus::Ready,
            changes: Vec::new(),
            stack_version: "1".into(),
            attempt: 1,
            more: 0,
            changes_key: "runs/r/preview-changes.json".into(),
            changes_digest: String::new(),
        };
        let store_ = MemoryArtifacts::default();
        let carried = bound_preview(&store_, preview, changes.clone())
            .await
            .unwrap();
        assert_eq!((carried.changes.len(), carried.more), (MAX_CHANGES, 950));
        assert!(serde_json::to_vec(&carried).unwrap().len() < 16 * 1024);
        assert_eq!(whole_changes(&store_, &carried).await.unwrap(), changes);
        store_.put_sync("runs/r/preview-changes.json", "x", "[]");
        let e = whole_changes(&store_, &carried).await.unwrap_err();
        assert!(
            e.message.contains("not the changes that were previewed"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn a_small_result_is_its_own_whole() {
        let result = SuiteResult::of("auth".into(), vec![case(1, true), case(2, false)]);
        let store_ = MemoryArtifacts::default();
        let carried = store(&store_, "runs/r/", result.clone()).await.unwrap();
        assert_eq!(carried.more, 1, "the passed case is not carried");
        assert_eq!(whole(&store_, carried).await.unwrap(), result);
    }
}

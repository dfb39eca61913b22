//! What staging proved: recorded once ready, verified before a promotion.

use super::*;
use crate::testing::{now, ready_evidence, MemoryArtifacts, MemorySigner, SHA};

fn evidence_of(run: &str, outcome: &str) -> Evidence {
    Evidence {
        outcome: outcome.into(),
        ..ready_evidence(run, "rc-1.4.0", SHA)
    }
}

/// A run that ended with `outcome`, its evidence signed, recorded as staged at `at`.
async fn staged_run(
    store: &MemoryArtifacts,
    signer: &MemorySigner,
    run: &str,
    outcome: &str,
    at: DateTime<Utc>,
) -> Staged {
    let e = evidence_of(run, outcome);
    let signed = evidence::record(store, signer, e.clone(), &format!("runs/{run}/"))
        .await
        .unwrap();
    record_staged(store, &e, &signed, at).await.unwrap()
}

#[tokio::test]
async fn a_commit_no_staging_run_made_ready_is_not_staged() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let e = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Unproven::NotStaged(why) if why.contains(SHA)),
        "{e:?}"
    );
    assert_eq!(e.into_error().name, "NotStaged");
}

#[tokio::test]
async fn a_ready_run_with_signed_evidence_is_promotable_and_the_soak_counts_from_the_first() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged_run(&store, &signer, "rc-1.4.0--0123456789ab", "success", now()).await;
    let later = now() + chrono::Duration::hours(5);
    staged_run(
        &store,
        &signer,
        "rc-1.4.0--0123456789ab-2",
        "success",
        later,
    )
    .await;
    let (staged, evidence) = staged_release(&store, &signer, SHA).await.unwrap().unwrap();
    assert_eq!(
        staged.run_id, "rc-1.4.0--0123456789ab-2",
        "the latest ready run"
    );
    assert_eq!((staged.first_ready_at, staged.ready_at), (now(), later));
    assert_eq!(evidence.run_id, staged.run_id);
}

#[tokio::test]
async fn evidence_changed_after_the_run_is_invalid_and_names_the_file() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let run = "rc-1.4.0--0123456789ab";
    staged_run(&store, &signer, run, "success", now()).await;
    let key = format!("runs/{run}/evidence.json");
    let mut bytes = store.get_sync(&key).unwrap();
    bytes.extend_from_slice(b" ");
    store.put_sync(&key, "application/json", bytes);
    let e = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    let Unproven::EvidenceInvalid(found) = &e else {
        panic!("{e:?}")
    };
    assert!(found.iter().any(|f| f.starts_with(&key)), "{found:#?}");
    assert_eq!(e.into_error().name, "EvidenceInvalid");
}

#[tokio::test]
async fn a_record_naming_a_run_that_did_not_end_ready_is_invalid() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged_run(&store, &signer, "rc-1.4.0--0123456789ab", "failure", now()).await;
    let e = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Unproven::EvidenceInvalid(f) if f.iter().any(|l| l.contains("not ready"))),
        "{e:?}"
    );
}

#[tokio::test]
async fn evidence_signed_by_another_key_is_invalid() {
    let store = MemoryArtifacts::default();
    staged_run(
        &store,
        &MemorySigner::default(),
        "rc-1.4.0--0123456789ab",
        "success",
        now(),
    )
    .await;
    let e = staged_release(&store, &MemorySigner::other(), SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&e, Unproven::EvidenceInvalid(f) if f.iter().any(|l| l.contains("signature"))),
        "{e:?}"
    );
}

#[tokio::test]
async fn a_commit_id_that_is_not_one_is_refused_before_any_read() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    for bad in [
        "",
        "../../runs/x",
        "0123456789abcdef0123456789abcdef0123456",
    ] {
        let e = staged_release(&store, &signer, bad).await.unwrap_err();
        assert_eq!(e.name, "InvalidInput", "{bad}");
    }
}

/// Forged records: one naming another commit's valid evidence, one whose run leads
/// out of the runs' prefix, one that is not JSON — each refused, nothing else read.
#[tokio::test]
async fn a_forged_staged_record_is_invalid() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    let mut e = evidence_of("rc-1.5.0--fedcba987654", "success");
    e.commit = other.into();
    let at = evidence::record(&store, &signer, e.clone(), "runs/rc-1.5.0--fedcba987654/")
        .await
        .unwrap();
    record_staged(&store, &e, &at, now()).await.unwrap();
    // The other commit's record, copied under this commit's key.
    let copied = store.get_sync(&staged_key(other)).unwrap();
    store.put_sync(&staged_key(SHA), "application/json", copied);
    let u = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&u, Unproven::EvidenceInvalid(f) if f[0].contains("not a record of")),
        "{u:?}"
    );
    // The same commit, but a run outside the runs' prefix.
    let mut forged: Staged =
        serde_json::from_slice(&store.get_sync(&staged_key(other)).unwrap()).unwrap();
    forged.commit = SHA.into();
    forged.run_id = "../staged".into();
    store.put_sync(
        &staged_key(SHA),
        "application/json",
        serde_json::to_vec(&forged).unwrap(),
    );
    let u = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&u, Unproven::EvidenceInvalid(f) if f[0].contains("'../staged'")),
        "{u:?}"
    );
    store.put_sync(&staged_key(SHA), "application/json", "not json");
    let u = staged_release(&store, &signer, SHA)
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        matches!(&u, Unproven::EvidenceInvalid(f) if f[0].contains("unreadable")),
        "{u:?}"
    );
}

/// A commit argument of 10,000 characters, or in capitals, is refused before any read.
#[tokio::test]
async fn an_oversized_or_uppercase_commit_is_refused() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    for bad in ["a".repeat(10_000), SHA.to_uppercase()] {
        let e = staged_release(&store, &signer, &bad).await.unwrap_err();
        assert_eq!(e.name, "InvalidInput");
    }
}

//! What is live, what went live before it, and what a rollback on request may go
//! back to.

use super::*;
use crate::manifest::evidence::{self, Evidence};
use crate::testing::{now, ready_evidence, MemoryArtifacts, MemorySigner};

const C1: &str = "1111111111111111111111111111111111111111";
const C2: &str = "2222222222222222222222222222222222222222";
const C3: &str = "3333333333333333333333333333333333333333";

/// `e` went live on staging (signed, then recorded as live).
async fn went_live(store: &MemoryArtifacts, e: Evidence) -> Live {
    let signer = MemorySigner::default();
    let prefix = format!("runs/{}/", e.run_id);
    let at = evidence::record(store, &signer, e.clone(), &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    record_live(store, "staging", &e, &at, now())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

fn release(tag: &str, commit: &str) -> Evidence {
    ready_evidence(&format!("{tag}--{}", &commit[..12]), tag, commit)
}

async fn target(store: &MemoryArtifacts, to: Option<&str>) -> Result<Live, String> {
    rollback_target(store, "staging", to)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn each_release_remembers_the_one_live_before_it_and_a_rollback_keeps_its_own() {
    let store = MemoryArtifacts::default();
    assert!(went_live(&store, release("rc-1.2.0", C1))
        .await
        .previous
        .is_none());
    let second = went_live(&store, release("rc-1.3.0", C2)).await;
    assert_eq!(second.previous.as_deref(), Some("rc-1.2.0"));
    // The same commit again (a re-run) keeps what it replaced.
    let again = went_live(&store, release("rc-1.3.0", C2)).await;
    assert_eq!(again.previous.as_deref(), Some("rc-1.2.0"));
    went_live(&store, release("rc-1.4.0", C3)).await;
    // Rolling back to rc-1.3.0 on request: its own predecessor, not rc-1.4.0.
    let back = Evidence {
        replaces: Some(serde_json::json!({"tag": "rc-1.4.0"})),
        ..release("rc-1.3.0", C2)
    };
    let live = went_live(&store, back).await;
    assert_eq!(
        (live.tag.as_str(), live.previous.as_deref()),
        ("rc-1.3.0", Some("rc-1.2.0"))
    );
    // So rolling back again, without --to, walks back to rc-1.2.0.
    let next = target(&store, None).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!((next.tag.as_str(), next.commit.as_str()), ("rc-1.2.0", C1));
}

#[tokio::test]
async fn a_rollback_target_is_refused_naming_why() {
    let store = MemoryArtifacts::default();
    let e = target(&store, None).await.unwrap_err();
    assert!(e.contains("nothing went live on staging"), "{e}");
    went_live(&store, release("rc-1.2.0", C1)).await;
    let e = target(&store, None).await.unwrap_err();
    assert!(
        e.contains("no release went live on staging before rc-1.2.0: name one with --to"),
        "{e}"
    );
    let e = target(&store, Some("rc-1.2.0")).await.unwrap_err();
    assert!(e.contains("is what is live on staging now"), "{e}");
    let e = target(&store, Some("rc-0.9.0")).await.unwrap_err();
    assert!(e.contains("rc-0.9.0 never went live on staging"), "{e}");
    went_live(&store, release("rc-1.3.0", C2)).await;
    let back = target(&store, Some("rc-1.2.0")).await;
    assert_eq!(back.map(|l| l.commit), Ok(C1.to_string()));
    store.put_sync("live/staging.json", "application/json", "{not json");
    let e = target(&store, None).await.unwrap_err();
    assert!(e.contains("live/staging.json is unreadable"), "{e}");
}

//! What a failed bake rolls back to, and when it cannot.

use super::*;
use crate::manifest::evidence;
use crate::manifest::live::record_live;
use crate::manifest::staged::record_staged;
use crate::testing::{
    candidate, now, ready_evidence as evidence_of, MemoryArtifacts, MemorySigner,
};

const PREVIOUS: &str = "1111111111111111111111111111111111111111";

/// rc-1.3.0 at PREVIOUS went live on staging: signed, staged, recorded as live.
async fn live_before(store: &MemoryArtifacts, signer: &MemorySigner) {
    let run = "rc-1.3.0--111111111111";
    let e = evidence_of(run, "rc-1.3.0", PREVIOUS);
    let signed = evidence::record(store, signer, e.clone(), &format!("runs/{run}/"))
        .await
        .unwrap();
    record_staged(store, &e, &signed, now()).await.unwrap();
    record_live(store, "staging", &e, &signed, now())
        .await
        .unwrap();
}

fn input() -> Input {
    let cause = json!({"errorType": "BakeFailed", "errorMessage": "round 2 of the bake: alarm shop-staging-5xx"});
    Input {
        candidate: candidate(),
        run_id: "rc-1.4.0--0123456789ab".into(),
        artifacts_prefix: "runs/rc-1.4.0--0123456789ab/".into(),
        failure: json!({"Error": "BakeFailed", "Cause": cause.to_string()}),
    }
}

fn step(store: &MemoryArtifacts, signer: &MemorySigner) -> RollBack<MemoryArtifacts, MemorySigner> {
    RollBack {
        settings: Settings::default(),
        artifacts: store.clone(),
        signer: signer.clone(),
    }
}

#[tokio::test]
async fn a_failed_bake_goes_back_to_the_stages_live_release_verified() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    live_before(&store, &signer).await;
    let plan = step(&store, &signer).run(input()).await.unwrap();
    assert_eq!(
        (plan.tag.as_str(), plan.commit.as_str()),
        ("rc-1.3.0", PREVIOUS)
    );
    assert_eq!(plan.template_run, "rc-1.3.0--111111111111");
    assert_eq!(
        plan.reason,
        "BakeFailed: round 2 of the bake: alarm shop-staging-5xx"
    );
    assert_eq!(
        plan.change_set,
        json!({
            "runId": "rc-1.4.0--0123456789ab-rollback",
            "artifactsPrefix": "runs/rc-1.4.0--0123456789ab/rollback/",
            "stagedRun": "rc-1.3.0--111111111111",
        })
    );
}

#[tokio::test]
async fn nothing_live_before_is_a_rollback_failure_that_says_what_to_do() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let e = step(&store, &signer).run(input()).await.unwrap_err();
    assert_eq!(e.name, "RollbackFailed");
    for part in [
        "BakeFailed: round 2 of the bake: alarm shop-staging-5xx",
        "no earlier release went live on staging through stagegate (live/staging.json does not exist)",
        "rc-1.4.0 stays deployed on staging",
        "by hand",
    ] {
        assert!(e.message.contains(part), "{part:?} not in {}", e.message);
    }
}

#[tokio::test]
async fn a_previous_release_whose_objects_changed_is_not_redeployed() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    live_before(&store, &signer).await;
    store.put_sync(
        "runs/rc-1.3.0--111111111111/evidence.json",
        "application/json",
        "{}",
    );
    let e = step(&store, &signer).run(input()).await.unwrap_err();
    assert_eq!(e.name, "RollbackFailed");
    assert!(
        e.message.contains("rc-1.3.0's evidence does not hold"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn the_same_commit_live_before_is_nothing_to_go_back_to() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let run = "rc-1.4.0--0123456789ab";
    let e = evidence_of(run, "rc-1.4.0", &candidate().sha);
    let signed = evidence::record(&store, &signer, e.clone(), &format!("runs/{run}/"))
        .await
        .unwrap();
    record_live(&store, "staging", &e, &signed, now())
        .await
        .unwrap();
    let e = step(&store, &signer).run(input()).await.unwrap_err();
    assert!(e.message.contains("is this very commit"), "{}", e.message);
}

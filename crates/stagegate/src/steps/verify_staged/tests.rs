//! Verify Staged Release: only what staging proved, its bytes unchanged, after the soak.

use super::*;
use crate::manifest::evidence::{self, Check, Decision, Evidence};
use crate::testing::{
    now, ready_evidence, run_info, FixedClock, MemoryArtifacts, MemorySigner, SHA,
};

const STAGING: &str = "rc-1.4.0--0123456789ab";
const SCRATCH: &str = "scratch/local:AWSCodeBuild-b1/";

/// A staging run of [`SHA`] that pinned a package (template, code, one suite), sealed
/// its manifest, ended ready at `at` and was recorded as staged.
async fn staged(store: &MemoryArtifacts, signer: &MemorySigner, at: chrono::DateTime<chrono::Utc>) {
    let template = format!("Resources: {{}} # s3://b/{SCRATCH}code/x.zip\n");
    store.put_sync(&format!("{SCRATCH}packaged.yaml"), "text/yaml", template);
    store.put_sync(&format!("{SCRATCH}code/x.zip"), "zip", "code");
    store.put_sync(
        &format!("{SCRATCH}suites/smoke.json"),
        "json",
        "{\"cases\":[]}",
    );
    let prefix = format!("runs/{STAGING}/");
    manifest::pin(store, SCRATCH, &prefix, &["smoke".into()])
        .await
        .unwrap();
    let sealed = manifest::seal(store, STAGING, SHA, &prefix, &[])
        .await
        .unwrap();
    let e = Evidence {
        manifest: Some(sealed),
        decisions: vec![Decision {
            gate: "deployment".into(),
            approver: "alice".into(),
            channel: "email link".into(),
            approve: true,
            at,
            reason: None,
            break_glass: false,
        }],
        checks: vec![Check {
            name: "ESLint".into(),
            status: "SUCCEEDED".into(),
            log: None,
        }],
        sealed_at: at,
        ..ready_evidence(STAGING, "rc-1.4.0", SHA)
    };
    let signed = evidence::record(store, signer, e.clone(), &prefix)
        .await
        .unwrap();
    staged::record_staged(store, &e, &signed, at).await.unwrap();
}

fn step(
    store: &MemoryArtifacts,
    signer: &MemorySigner,
    hours_later: i64,
    refuse: bool,
) -> VerifyStaged<MemoryArtifacts, MemorySigner, FixedClock> {
    VerifyStaged {
        settings: Settings {
            refuse_unsoaked: refuse,
            ..Settings::production()
        },
        artifacts: store.clone(),
        signer: signer.clone(),
        clock: FixedClock(now() + Duration::hours(hours_later)),
    }
}

fn input() -> Input {
    let mut run = run_info();
    run.candidate.tag = "v1.4.0".into();
    run.artifacts_prefix = "runs/v1.4.0--prod/".into();
    Input { preflight: run }
}

#[tokio::test]
async fn a_soaked_staged_commit_is_promoted_from_its_staged_objects_without_a_rebuild() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged(&store, &signer, now()).await;
    let before = store.keys();
    let out = step(&store, &signer, 25, false).run(input()).await.unwrap();
    assert!(out.soaked);
    assert_eq!(out.staging_run, STAGING);
    assert_eq!(out.checks[0].name, "ESLint");
    assert!(out.decisions[0].starts_with("alice approved (deployment, email link"));
    let pinned: Vec<Entry> =
        serde_json::from_slice(&store.get_sync("runs/v1.4.0--prod/pinned.json").unwrap()).unwrap();
    let staged_pins: Vec<Entry> = serde_json::from_slice(
        &store
            .get_sync(&format!("runs/{STAGING}/pinned.json"))
            .unwrap(),
    )
    .unwrap();
    let keys: Vec<&str> = pinned.iter().map(|e| e.key.as_str()).collect();
    assert!(
        keys.contains(&format!("runs/{STAGING}/packaged.yaml").as_str()),
        "{keys:?}"
    );
    assert!(
        keys.contains(&"runs/v1.4.0--prod/suites/smoke.json"),
        "{keys:?}"
    );
    for p in &pinned {
        let same = staged_pins
            .iter()
            .any(|s| s.sha256 == p.sha256 && s.size == p.size);
        assert!(same, "{} is not a staged object's bytes", p.key);
    }
    let new: Vec<String> = store
        .keys()
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(
        new,
        [
            "runs/v1.4.0--prod/pinned.json",
            "runs/v1.4.0--prod/suites/smoke.json"
        ]
    );
}

#[tokio::test]
async fn before_the_soak_ends_the_run_waits_until_then_or_refuses_when_configured() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged(&store, &signer, now()).await;
    let out = step(&store, &signer, 2, false).run(input()).await.unwrap();
    assert!(!out.soaked);
    assert_eq!(out.soak_until, now() + Duration::hours(24));
    let e = step(&store, &signer, 2, true)
        .run(input())
        .await
        .unwrap_err();
    assert_eq!(e.name, "SoakIncomplete");
    assert!(
        e.message
            .contains(&(now() + Duration::hours(24)).to_string()),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn one_changed_byte_of_a_staged_object_stops_the_promotion_naming_it() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged(&store, &signer, now()).await;
    let code = store
        .keys()
        .into_iter()
        .find(|k| k.starts_with(&format!("runs/{STAGING}/code/")))
        .unwrap();
    store.put_sync(&code, "zip", "codf");
    let e = step(&store, &signer, 25, false)
        .run(input())
        .await
        .unwrap_err();
    assert_eq!(e.name, "EvidenceInvalid");
    assert!(e.message.contains(&code), "{}", e.message);
    assert!(
        store.get_sync("runs/v1.4.0--prod/pinned.json").is_none(),
        "nothing pinned"
    );
}

#[tokio::test]
async fn a_commit_never_staged_is_not_staged_and_staging_functions_refuse_the_step() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    let e = step(&store, &signer, 25, false)
        .run(input())
        .await
        .unwrap_err();
    assert_eq!(e.name, "NotStaged");
    let mut staging = step(&store, &signer, 25, false);
    staging.settings = Settings::default();
    assert_eq!(staging.run(input()).await.unwrap_err().name, "InvalidInput");
}

#[tokio::test]
async fn the_same_bytes_written_again_are_another_version_and_refused() {
    let (store, signer) = (MemoryArtifacts::default(), MemorySigner::default());
    staged(&store, &signer, now()).await;
    let template = format!("runs/{STAGING}/packaged.yaml");
    let same = store.get_sync(&template).unwrap();
    store.put_sync(&template, "text/yaml", same);
    let e = step(&store, &signer, 25, false)
        .run(input())
        .await
        .unwrap_err();
    assert_eq!(e.name, "EvidenceInvalid");
    assert!(
        e.message
            .contains(&format!("{template}: rewritten since approval")),
        "{}",
        e.message
    );
}

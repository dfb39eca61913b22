//! Verify Staged Release against S3 and KMS as moto implements them, IAM enforced:
//! the production function's own policy (`ProductionVerifyStagedFunction`) is enough
//! to verify a staged commit's signed evidence and every staged object, and to pin
//! the production run; it cannot forge a staged record or sign evidence.

use crate::Moto;
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use stagegate::manifest::{self, evidence, staged};
use stagegate::ports::{Artifacts, Signer};
use stagegate::steps::verify_staged::{Input, VerifyStaged};
use stagegate::{Settings, Step};

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
const STAGING: &str = "rc-1.4.0--0123456789ab";
const SCRATCH: &str = "scratch/b1/";

/// A staging run of [`SHA`] that pinned a package, sealed it, ended ready with
/// signed evidence and was recorded as staged (as staging's functions do).
async fn staged_run(s3: &S3Artifacts, signer: &KmsSigner) {
    let template = format!("Resources: {{}} # s3://artifacts/{SCRATCH}code/x.zip\n");
    for (key, body) in [
        (format!("{SCRATCH}packaged.yaml"), template),
        (format!("{SCRATCH}code/x.zip"), "the api's code".to_string()),
        (
            format!("{SCRATCH}suites/smoke.json"),
            "{\"cases\":[]}".to_string(),
        ),
    ] {
        s3.put(&key, "application/octet-stream", body.into_bytes())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let prefix = format!("runs/{STAGING}/");
    manifest::pin(s3, SCRATCH, &prefix, &["smoke".into()])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let at = chrono::Utc::now() - chrono::Duration::days(2);
    ended_ready(s3, signer, ("rc-1.4.0", SHA, STAGING), at).await;
}

/// Staging run `run` of `tag` at `sha`, its objects pinned, seals its manifest and
/// ends ready at `at`, as staging's functions do: its evidence signed and recorded,
/// the commit recorded as staged. The evidence and where it is.
pub(crate) async fn ended_ready(
    s3: &S3Artifacts,
    signer: &KmsSigner,
    (tag, sha, run): (&str, &str, &str),
    at: chrono::DateTime<chrono::Utc>,
) -> (evidence::Evidence, stagegate::flow::ManifestRef) {
    let prefix = format!("runs/{run}/");
    let sealed = manifest::seal(s3, run, sha, &prefix, &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let state = serde_json::json!({
        "preflight": {"runId": run, "executionId": format!("arn:aws:states:us-east-1:123456789012:execution:staging:{run}"),
            "artifactsPrefix": prefix,
            "candidate": {"repository": "acme/shop", "tag": tag, "sha": sha}},
        "checklist": {"manifest": sealed}
    });
    let stage = ("Ready for Production", "staging");
    let (prefix, e) = evidence::from_state(&state, "success", stage, None, at)
        .unwrap_or_else(|| panic!("a run with a prefix"));
    let signed = evidence::record(s3, signer, e.clone(), &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    staged::record_staged(s3, &e, &signed, at)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    (e, signed)
}

fn production_run() -> Input {
    serde_json::from_value(serde_json::json!({"preflight": {
        "runId": "v1.4.0--0123456789ab",
        "executionId": "arn:aws:states:us-east-1:123456789012:execution:production:v1.4.0--0123456789ab",
        "artifactsPrefix": "runs/v1.4.0--0123456789ab/",
        "candidate": {"repository": "acme/shop", "tag": "v1.4.0", "version": "1.4.0", "sha": SHA, "pushedBy": "ana"}}}))
    .unwrap_or_else(|e| panic!("{e}"))
}

/// moto enforcing IAM with the bucket, an administrator's configuration, the
/// function's (exactly its template policy) and the evidence key's ARN.
async fn enforcing() -> (Moto, aws_types::SdkConfig, aws_types::SdkConfig, String) {
    // Eight requests unauthenticated: the bucket, an administrator, the key, the
    // function's user (moto counts every request until then, signed or not).
    let moto = Moto::start_enforcing_iam(8);
    moto.create_bucket("artifacts").await;
    let admin_policy = serde_json::json!({"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]});
    let admin = moto
        .sdk_config_as(&moto.iam_user("admin", &admin_policy).await)
        .await;
    let key_arn = {
        let kms = aws_sdk_kms::Client::new(&admin);
        let key = kms
            .create_key()
            .key_spec(KeySpec::EccNistP256)
            .key_usage(KeyUsageType::SignVerify)
            .send()
            .await;
        let key = key.unwrap_or_else(|e| panic!("create key: {e:?}"));
        key.key_metadata()
            .and_then(|m| m.arn())
            .unwrap_or_default()
            .to_string()
    };
    // moto 5.2.6 authorizes KMS requests against the resource `*`, not the key's ARN
    // (as it does DynamoDB's: tests/moto/iam.rs): the key statement is tried with `*`
    // here; its actions are the template's, its scope is held by tests/template/iam.rs.
    let policy = crate::iam::policy_of("ProductionVerifyStagedFunction", "unused")
        .to_string()
        .replace("\"EvidenceKey.Arn\"", "\"*\"");
    let policy: serde_json::Value = serde_json::from_str(&policy).unwrap_or_else(|e| panic!("{e}"));
    let function = moto
        .sdk_config_as(&moto.iam_user("verify-staged", &policy).await)
        .await;
    (moto, admin, function, key_arn)
}

type Verify = VerifyStaged<S3Artifacts, KmsSigner, stagegate::ports::SystemClock>;

/// moto enforcing IAM with [`staged_run`] done by an administrator; the bucket as the
/// administrator sees it, and production's Verify Staged Release with the function's
/// own credentials.
async fn staged_and_verifying() -> (Moto, S3Artifacts, Verify) {
    let (moto, admin, function, key_arn) = enforcing().await;
    let (s3, signer) = (
        S3Artifacts::from_config(&admin, "artifacts"),
        KmsSigner::from_config(&admin, &key_arn),
    );
    staged_run(&s3, &signer).await;
    let step = VerifyStaged {
        settings: Settings::production(),
        artifacts: S3Artifacts::from_config(&function, "artifacts"),
        signer: KmsSigner::from_config(&function, &key_arn),
        clock: stagegate::ports::SystemClock,
    };
    (moto, s3, step)
}

#[tokio::test]
async fn the_production_verify_policy_verifies_a_staged_commit_and_forges_nothing() {
    let (_moto, s3, step) = staged_and_verifying().await;
    let out = step
        .run(production_run())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(out.soaked && out.staging_run == STAGING, "{out:?}");
    let pinned = s3
        .get("runs/v1.4.0--0123456789ab/pinned.json")
        .await
        .unwrap_or_default();
    assert!(pinned.is_some_and(
        |p| String::from_utf8_lossy(&p).contains(&format!("runs/{STAGING}/packaged.yaml"))
    ));

    // What it must not do: record a commit as staged, touch staging's objects, sign.
    let forged = step
        .artifacts
        .put(&staged::staged_key(SHA), "application/json", b"{}".to_vec())
        .await;
    assert!(
        forged.is_err_and(|e| e.message.contains("AccessDenied")),
        "it wrote a staged record"
    );
    // (moto's KMS denial carries no error code; the administrator signed above.)
    assert!(
        step.signer.sign(b"forged statement").await.is_err(),
        "it signed"
    );
    // One byte changed by someone else: EvidenceInvalid, naming the object.
    let code = format!("runs/{STAGING}/code/");
    let listed = String::from_utf8(
        s3.get(&format!("runs/{STAGING}/pinned.json"))
            .await
            .unwrap_or_default()
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    let at = listed
        .find(&code)
        .unwrap_or_else(|| panic!("no code pinned: {listed}"));
    let key: String = listed[at..].chars().take_while(|c| *c != '"').collect();
    s3.put(&key, "application/zip", b"the api's codf".to_vec())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let e = step.run(production_run()).await.unwrap_err();
    assert_eq!(e.name, "EvidenceInvalid");
    assert!(e.message.contains(&key), "{}", e.message);
}

#[tokio::test]
async fn the_production_verify_policy_reads_what_went_live_for_a_rollback_and_refuses_what_did_not()
{
    let (_moto, s3, step) = staged_and_verifying().await;
    let mut rollback = production_run();
    rollback.preflight.candidate.rollback = true;
    // Nothing went live in production: the records are missing, and the function
    // can tell (a missing key, not a denied one), by name.
    let e = step.run(rollback.clone()).await.unwrap_err();
    assert_eq!(e.name, "RollbackRefused", "{e:?}");
    assert!(
        e.message.contains("v1.4.0 never went live on production"),
        "{}",
        e.message
    );
    // v1.4.0 went live, then v1.5.0: going back to v1.4.0 is verified and soaked.
    let live = |tag: &str, commit: &str| {
        serde_json::json!({"stage": "production", "repository": "acme/shop", "tag": tag,
            "commit": commit, "runId": format!("{tag}--x"), "templateRun": STAGING,
            "evidence": {"key": "k", "digest": "d"}, "since": "2026-12-01T10:00:00Z"})
        .to_string()
        .into_bytes()
    };
    s3.put(
        "live/production/released/v1.4.0.json",
        "application/json",
        live("v1.4.0", SHA),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    s3.put(
        "live/production.json",
        "application/json",
        live("v1.5.0", &"9".repeat(40)),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    let out = step.run(rollback).await.unwrap_or_else(|e| panic!("{e}"));
    assert!(
        out.soaked,
        "a rollback's release soaked when it first went live"
    );
    assert_eq!(out.replaces.unwrap_or_default()["tag"], "v1.5.0");
}

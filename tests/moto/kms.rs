//! KMS: the evidence key as the template makes it (ECC NIST P-256, sign/verify),
//! signing a run's evidence through the adapter, and the bundle checked against S3.

use crate::Moto;
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use stagegate::manifest::{self, evidence};
use stagegate::ports::{Artifacts, Signer};

/// A key made with the template's own key spec and usage; its ARN.
async fn evidence_key(moto: &Moto) -> String {
    let t = testkit::template();
    let p = &t["Resources"]["EvidenceKey"]["Properties"];
    let (spec, usage) = (p["KeySpec"].as_str(), p["KeyUsage"].as_str());
    assert_eq!((spec, usage), (Some("ECC_NIST_P256"), Some("SIGN_VERIFY")));
    let kms = aws_sdk_kms::Client::new(&moto.sdk_config().await);
    let key = kms
        .create_key()
        .key_spec(KeySpec::from(spec.unwrap_or_default()))
        .key_usage(KeyUsageType::from(usage.unwrap_or_default()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("create key: {e:?}"));
    key.key_metadata()
        .and_then(|m| m.arn())
        .unwrap_or_else(|| panic!("a key ARN"))
        .to_string()
}

#[tokio::test]
async fn the_evidence_key_signs_and_verifies_and_a_changed_message_does_not() {
    let moto = Moto::start();
    let arn = evidence_key(&moto).await;
    let signer = KmsSigner::from_config(&moto.sdk_config().await, &arn);
    let sig = signer.sign(b"statement").await.unwrap();
    assert_eq!(
        (sig.key_id.as_str(), sig.algorithm.as_str()),
        (arn.as_str(), "ECDSA_SHA_256")
    );
    assert!(signer.verify(b"statement", &sig).await.unwrap());
    assert!(!signer.verify(b"statement!", &sig).await.unwrap());
    let other = evidence_key(&moto).await;
    let by_other = KmsSigner::from_config(&moto.sdk_config().await, &other);
    assert!(
        !by_other.verify(b"statement", &sig).await.unwrap(),
        "another key"
    );
}

#[tokio::test]
async fn a_runs_evidence_in_s3_verifies_until_one_byte_changes() {
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let config = moto.sdk_config().await;
    let s3 = S3Artifacts::from_config(&config, "artifacts");
    let signer = KmsSigner::from_config(&config, evidence_key(&moto).await);
    s3.put(
        "runs/r/packaged.yaml",
        "text/yaml",
        b"Resources: {}".to_vec(),
    )
    .await
    .unwrap();
    let sealed = manifest::seal(&s3, "r", "abc", "runs/r/", &["runs/r/packaged.yaml"])
        .await
        .unwrap();
    let state = serde_json::json!({
        "preflight": {"runId": "r", "executionId": "arn:x", "artifactsPrefix": "runs/r/",
            "candidate": {"repository": "acme/shop", "tag": "rc-1.4.0", "sha": "abc"}},
        "checklist": {"manifest": sealed}
    });
    let (prefix, e) = evidence::from_state(
        &state,
        "success",
        ("Ready for Production", "staging"),
        None,
        chrono::Utc::now(),
    )
    .unwrap_or_else(|| panic!("a run with a prefix"));
    evidence::record(&s3, &signer, e, &prefix).await.unwrap();
    let held = evidence::verify(&s3, &signer, "runs/r/").await.unwrap();
    assert!(held.is_ok(), "{held:?}");
    s3.put(
        "runs/r/packaged.yaml",
        "text/yaml",
        b"Resources: {x}".to_vec(),
    )
    .await
    .unwrap();
    let found = evidence::verify(&s3, &signer, "runs/r/")
        .await
        .unwrap()
        .unwrap_err();
    assert!(
        found
            .iter()
            .any(|f| f.starts_with("runs/r/packaged.yaml: sha256 ")),
        "{found:?}"
    );
}

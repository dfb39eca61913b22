//! The rollback against S3, KMS and CloudFormation as moto implements them: the
//! stage's live release before the failed one is found, its signed evidence and
//! pinned objects verified, and the change set Roll Back plans is made from its
//! pinned template on the same stack: executing it takes the stack back.

use crate::Moto;
use aws_cloudformation_port::CfnStacks;
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use aws_sdk_kms::types::{KeySpec, KeyUsageType};
use serde_json::json;
use stagegate::manifest::{self, live};
use stagegate::ports::{Artifacts, ChangeSetStatus, Stacks};
use stagegate::steps::create_change_set::CreateChangeSet;
use stagegate::steps::roll_back::{Input, RollBack};
use stagegate::{Settings, Step};

const PREVIOUS: (&str, &str, &str) = (
    "rc-1.3.0",
    "1111111111111111111111111111111111111111",
    "rc-1.3.0--111111111111",
);
const CURRENT: (&str, &str, &str) = (
    "rc-1.4.0",
    "0123456789abcdef0123456789abcdef01234567",
    "rc-1.4.0--0123456789ab",
);

fn packaged(topics: &[&str]) -> String {
    let resources: serde_json::Map<String, serde_json::Value> = topics
        .iter()
        .map(|t| {
            (
                t.to_string(),
                json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": t}}),
            )
        })
        .collect();
    json!({"AWSTemplateFormatVersion": "2010-09-09", "Resources": resources}).to_string()
}

/// `run`'s package (the template of `topics`), pinned into the run.
async fn pinned(s3: &S3Artifacts, run: &str, topics: &[&str]) {
    let scratch = format!("scratch/{run}/");
    let template = packaged(topics).into_bytes();
    s3.put(&format!("{scratch}packaged.yaml"), "text/yaml", template)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    manifest::pin(s3, &scratch, &format!("runs/{run}/"), &[])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// A staging run of `tag` at `sha` that pinned the template of `topics`, sealed it,
/// ended ready with signed evidence, and was recorded as staged and live.
async fn ready_run(
    s3: &S3Artifacts,
    signer: &KmsSigner,
    (tag, sha, run): (&str, &str, &str),
    topics: &[&str],
) {
    pinned(s3, run, topics).await;
    let now = chrono::Utc::now();
    let (e, at) = crate::promotion::ended_ready(s3, signer, (tag, sha, run), now).await;
    live::record_live(s3, "staging", &e, &at, now)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
}

/// Creates and executes a change set of `run`'s pinned template on `shop-staging`.
async fn deploy(
    settings: &Settings,
    s3: &S3Artifacts,
    cfn: &CfnStacks,
    input: serde_json::Value,
) -> String {
    let step = CreateChangeSet {
        settings: settings.clone(),
        stacks: cfn.clone(),
        artifacts: s3.clone(),
        alarms: stagegate::testing::MemoryAlarms::default(),
    };
    let input = serde_json::from_value(input).unwrap_or_else(|e| panic!("{e}"));
    let preview = step.run(input).await.unwrap_or_else(|e| panic!("{e}"));
    preview.change_set_id
}

async fn topics(config: &aws_types::SdkConfig) -> Vec<String> {
    let out = aws_sdk_cloudformation::Client::new(config)
        .describe_stack_resources()
        .stack_name("shop-staging")
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let mut ids: Vec<String> = out
        .stack_resources()
        .iter()
        .filter_map(|r| r.logical_resource_id().map(str::to_string))
        .collect();
    ids.sort();
    ids
}

#[tokio::test]
async fn a_failed_release_goes_back_to_the_previous_releases_pinned_template() {
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let config = moto.sdk_config().await;
    let key = aws_sdk_kms::Client::new(&config)
        .create_key()
        .key_spec(KeySpec::EccNistP256)
        .key_usage(KeyUsageType::SignVerify)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let key_arn = key
        .key_metadata()
        .and_then(|m| m.arn())
        .unwrap_or_default()
        .to_string();
    let (s3, signer) = (
        S3Artifacts::from_config(&config, "artifacts"),
        KmsSigner::from_config(&config, &key_arn),
    );
    let cfn = CfnStacks::from_config(&config, "artifacts");
    let settings = Settings {
        stack_name: "shop-staging".into(),
        ..Settings::default()
    };

    // rc-1.3.0 went live with Orders; rc-1.4.0 added Refunds and is deployed.
    ready_run(&s3, &signer, PREVIOUS, &["Orders"]).await;
    let first = json!({"runId": PREVIOUS.2, "artifactsPrefix": format!("runs/{}/", PREVIOUS.2), "stagedRun": PREVIOUS.2});
    let id = deploy(&settings, &s3, &cfn, first).await;
    cfn.execute_change_set(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // Pinned, deployed, baking: it fails its bake before any record says it is live.
    pinned(&s3, CURRENT.2, &["Orders", "Refunds"]).await;
    let second = json!({"runId": CURRENT.2, "artifactsPrefix": format!("runs/{}/", CURRENT.2), "stagedRun": CURRENT.2});
    let id = deploy(&settings, &s3, &cfn, second).await;
    cfn.execute_change_set(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(topics(&config).await, ["Orders", "Refunds"]);

    let roll_back = RollBack {
        settings: settings.clone(),
        artifacts: s3.clone(),
        signer: signer.clone(),
    };
    let input: Input = serde_json::from_value(json!({
        "candidate": {"repository": "acme/shop", "tag": CURRENT.0, "version": "1.4.0", "sha": CURRENT.1, "pushedBy": "ana"},
        "runId": CURRENT.2, "artifactsPrefix": format!("runs/{}/", CURRENT.2),
        "failure": {"Error": "BakeFailed", "Cause": "round 2 of the bake: alarm shop-staging-5xx"}
    }))
    .unwrap_or_else(|e| panic!("{e}"));
    let plan = roll_back.run(input).await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (plan.tag.as_str(), plan.template_run.as_str()),
        (PREVIOUS.0, PREVIOUS.2)
    );
    let id = deploy(&settings, &s3, &cfn, plan.change_set.clone()).await;
    let cs = cfn
        .describe_change_set(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cs.status, ChangeSetStatus::Ready, "{:?}", cs.status_reason);
    let changes: Vec<(&str, &str)> = cs
        .changes
        .iter()
        .map(|c| (c.action.as_str(), c.logical_id.as_str()))
        .collect();
    assert_eq!(changes, [("Remove", "Refunds")]);
    cfn.execute_change_set(&id)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(topics(&config).await, ["Orders"], "the stack is back");
    // The rollback's preview went under the failed run's rollback/, not over its own.
    let preview = s3
        .get(&format!("runs/{}/rollback/preview-changes.json", CURRENT.2))
        .await;
    let _ = preview;
}

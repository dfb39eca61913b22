//! CloudFormation: a change set made from a packaged template in the artifacts
//! bucket, reviewed, then executed — first creating the stack, then updating it
//! with the parameters nobody set keeping their deployed values (not the template
//! defaults), then an unchanged template read as "no changes".
//!
//! Not covered here, because moto does not do it (they stay on the SDK mocks in
//! `crates/aws-cloudformation/src/tests.rs`): resources that fail (moto creates
//! every resource), so `failure_reason` and rollbacks; stack outputs after a
//! change set runs; `LastUpdatedTime` (the stack version's second half). moto also
//! reports "no changes" only when the parameters sent equal those the stack was
//! *created* with, so the template here has the one parameter the request sets.

use crate::Moto;
use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use serde_json::json;
use stagegate::ports::{Artifacts, ChangeSet, ChangeSetRequest, ChangeSetStatus, Stacks};
use std::collections::BTreeMap;

fn packaged(topics: &[&str]) -> Vec<u8> {
    let mut resources = serde_json::Map::new();
    for t in topics {
        resources.insert(
            t.to_string(),
            json!({"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": format!("{t}-${{Stage}}")}}}),
        );
    }
    serde_json::to_vec(&json!({
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "Stage": {"Type": "String", "Default": "dev"}
        },
        "Resources": resources
    }))
    .unwrap()
}

/// The `shop-staging` stack, changed through change sets of packaged templates in
/// the artifacts bucket.
struct Shop {
    moto: Moto,
    s3: S3Artifacts,
    cfn: CfnStacks,
}

impl Shop {
    async fn start() -> Shop {
        let moto = Moto::start();
        moto.create_bucket("artifacts").await;
        let config = moto.sdk_config().await;
        let s3 = S3Artifacts::from_config(&config, "artifacts");
        let cfn = CfnStacks::from_config(&config, "artifacts");
        Shop { moto, s3, cfn }
    }

    /// Run `run`'s change set: a template of `topics`, with `parameters` set.
    async fn propose(&self, run: &str, topics: &[&str], parameters: &[(&str, &str)]) -> ChangeSet {
        let template_uri = format!("runs/{run}/packaged.yaml");
        self.s3
            .put(&template_uri, "text/yaml", packaged(topics))
            .await
            .unwrap();
        let request = ChangeSetRequest {
            stack_name: "shop-staging".into(),
            change_set_name: format!("stagegate-{run}"),
            template_uri,
            parameters: parameters
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ..Default::default()
        };
        let id = self.cfn.create_change_set(&request).await.unwrap();
        self.cfn.describe_change_set(&id).await.unwrap()
    }

    async fn status(&self) -> String {
        self.cfn
            .stack("shop-staging")
            .await
            .unwrap()
            .unwrap()
            .status
    }

    async fn deployed_parameters(&self) -> BTreeMap<String, String> {
        let out = aws_sdk_cloudformation::Client::new(&self.moto.sdk_config().await)
            .describe_stacks()
            .stack_name("shop-staging")
            .send()
            .await
            .unwrap();
        out.stacks()[0]
            .parameters()
            .iter()
            .map(|p| {
                let value = p.parameter_value().unwrap_or_default();
                (p.parameter_key().unwrap().to_string(), value.to_string())
            })
            .collect()
    }
}

#[tokio::test]
async fn a_stack_is_created_then_updated_keeping_unset_parameters_then_unchanged() {
    let shop = Shop::start().await;
    assert_eq!(shop.cfn.stack("shop-staging").await.unwrap(), None);

    // 1. Create, with Stage set.
    let cs = shop
        .propose("r1", &["Orders"], &[("Stage", "staging")])
        .await;
    assert_eq!((cs.status, cs.executable), (ChangeSetStatus::Ready, true));
    assert_eq!(cs.stack_name, "shop-staging");
    let changes: Vec<_> = cs
        .changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.logical_id.as_str(),
                c.resource_type.as_str(),
            )
        })
        .collect();
    assert_eq!(changes, [("Add", "Orders", "AWS::SNS::Topic")]);
    // Reviewed but not executed: the stack exists only as a review.
    assert_eq!(shop.status().await, "REVIEW_IN_PROGRESS");
    shop.cfn.execute_change_set(&cs.id).await.unwrap();
    assert_eq!(shop.status().await, "CREATE_COMPLETE");
    assert_eq!(
        shop.deployed_parameters().await,
        BTreeMap::from([("Stage".to_string(), "staging".to_string())])
    );

    // 2. Update, setting nothing: Stage keeps "staging" (its default is "dev").
    let cs = shop.propose("r2", &["Orders", "Refunds"], &[]).await;
    assert_eq!(cs.status, ChangeSetStatus::Ready);
    let added: Vec<_> = cs.changes.iter().map(|c| c.logical_id.as_str()).collect();
    assert_eq!(added, ["Refunds"]);
    shop.cfn.execute_change_set(&cs.id).await.unwrap();
    assert_eq!(shop.status().await, "UPDATE_COMPLETE");
    assert_eq!(shop.deployed_parameters().await["Stage"], "staging");

    // 3. The same template again: no changes, which is not a failure.
    let cs = shop.propose("r3", &["Orders", "Refunds"], &[]).await;
    assert_eq!(
        cs.status,
        ChangeSetStatus::NoChanges,
        "{:?}",
        cs.status_reason
    );
    assert!(!cs.executable);
}

#[tokio::test]
async fn a_template_that_is_not_in_the_bucket_is_an_error_naming_the_call() {
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let cfn = CfnStacks::from_config(&moto.sdk_config().await, "artifacts");
    let e = cfn
        .create_change_set(&ChangeSetRequest {
            stack_name: "shop-staging".into(),
            change_set_name: "stagegate-r1".into(),
            template_uri: "s3://artifacts/runs/none/packaged.yaml".into(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("packaged template"), "{e}");
}

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
use stagegate::ports::{Artifacts, ChangeSetRequest, ChangeSetStatus, Stacks};
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

async fn deployed_parameters(moto: &Moto, stack: &str) -> BTreeMap<String, String> {
    let out = aws_sdk_cloudformation::Client::new(&moto.sdk_config().await)
        .describe_stacks()
        .stack_name(stack)
        .send()
        .await
        .unwrap();
    out.stacks()[0]
        .parameters()
        .iter()
        .map(|p| {
            (
                p.parameter_key().unwrap().to_string(),
                p.parameter_value().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_stack_is_created_then_updated_keeping_unset_parameters_then_unchanged() {
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let config = moto.sdk_config().await;
    let s3 = S3Artifacts::from_config(&config, "artifacts");
    let cfn = CfnStacks::from_config(&config, "artifacts");
    assert_eq!(cfn.stack("shop-staging").await.unwrap(), None);

    // 1. Create, with Stage set.
    s3.put("runs/r1/packaged.yaml", "text/yaml", packaged(&["Orders"]))
        .await
        .unwrap();
    let request = |run: &str, params: &[(&str, &str)]| ChangeSetRequest {
        stack_name: "shop-staging".into(),
        change_set_name: format!("stagegate-{run}"),
        template_uri: format!("runs/{run}/packaged.yaml"),
        parameters: params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    };
    let id = cfn
        .create_change_set(&request("r1", &[("Stage", "staging")]))
        .await
        .unwrap();
    let cs = cfn.describe_change_set(&id).await.unwrap();
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
    assert_eq!(
        cfn.stack("shop-staging").await.unwrap().unwrap().status,
        "REVIEW_IN_PROGRESS"
    );
    cfn.execute_change_set(&id).await.unwrap();
    assert_eq!(
        cfn.stack("shop-staging").await.unwrap().unwrap().status,
        "CREATE_COMPLETE"
    );
    assert_eq!(
        deployed_parameters(&moto, "shop-staging").await,
        BTreeMap::from([("Stage".to_string(), "staging".to_string())])
    );

    // 2. Update, setting nothing: Stage keeps "staging" (its default is "dev").
    s3.put(
        "runs/r2/packaged.yaml",
        "text/yaml",
        packaged(&["Orders", "Refunds"]),
    )
    .await
    .unwrap();
    let id = cfn.create_change_set(&request("r2", &[])).await.unwrap();
    let cs = cfn.describe_change_set(&id).await.unwrap();
    assert_eq!(cs.status, ChangeSetStatus::Ready);
    let added: Vec<_> = cs.changes.iter().map(|c| c.logical_id.as_str()).collect();
    assert_eq!(added, ["Refunds"]);
    cfn.execute_change_set(&id).await.unwrap();
    assert_eq!(
        cfn.stack("shop-staging").await.unwrap().unwrap().status,
        "UPDATE_COMPLETE"
    );
    assert_eq!(
        deployed_parameters(&moto, "shop-staging").await["Stage"],
        "staging"
    );

    // 3. The same template again: no changes, which is not a failure.
    s3.put(
        "runs/r3/packaged.yaml",
        "text/yaml",
        packaged(&["Orders", "Refunds"]),
    )
    .await
    .unwrap();
    let id = cfn.create_change_set(&request("r3", &[])).await.unwrap();
    let cs = cfn.describe_change_set(&id).await.unwrap();
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
            parameters: BTreeMap::new(),
        })
        .await
        .unwrap_err();
    assert!(e.to_string().contains("packaged template"), "{e}");
}

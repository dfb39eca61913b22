//! The AWS adapters against a real implementation of the AWS APIs: moto's server on
//! 127.0.0.1 (started per test, stopped after; `pip install 'moto[server]'`), reached
//! through the same SDK configuration as on AWS, with an endpoint override. Mocks
//! check that a request was made; these check what AWS does with it: conditional
//! writes, filter policies, task tokens, event patterns, keys.
//!
//! What moto does not implement is listed in the README (and stays on the SDK
//! mocks in each adapter crate).

mod bake;
mod cloudformation;
mod dynamodb;
mod eventbridge;
mod iam;
mod kms;
mod load;
mod promotion;
mod rollback;
mod s3;
mod secretsmanager;
mod sfn;
mod sns;

pub use testkit::Moto;

/// A fresh moto with the approvals table `approvals` made from the template.
pub async fn moto_with_table() -> (Moto, aws_dynamodb_port::DynamoTable) {
    let moto = Moto::start();
    moto.create_approvals_table("approvals").await;
    let table = aws_dynamodb_port::DynamoTable::from_config(&moto.sdk_config().await, "approvals");
    (moto, table)
}

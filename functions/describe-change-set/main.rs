//! Package & Preview: one read of the change set, until it is computed.

use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use stagegate::steps::describe_change_set::DescribeChangeSet;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (stacks, artifacts) = (CfnStacks::from(&ctx), S3Artifacts::from(&ctx));
    serve(DescribeChangeSet { stacks, artifacts, settings: ctx.settings }).await
}

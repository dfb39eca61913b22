//! Package & Preview: pins the package build's output, then creates (never executes)
//! the CloudFormation change set, the app's alarms as its rollback triggers.
use aws_cloudformation_port::CfnStacks;
use aws_cloudwatch_port::CloudWatchAlarms;
use aws_s3_port::S3Artifacts;
use stagegate::steps::create_change_set::CreateChangeSet;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (stacks, artifacts, alarms) =
        (CfnStacks::from(&ctx), S3Artifacts::from(&ctx), CloudWatchAlarms::from(&ctx));
    serve(CreateChangeSet { stacks, artifacts, alarms, settings: ctx.settings }).await
}

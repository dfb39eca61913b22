//! Capture Stack Outputs: the stack's outputs, recorded as an artifact.

use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use stagegate::steps::capture_outputs::CaptureOutputs;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(CaptureOutputs { stacks: CfnStacks::from(&ctx), artifacts: S3Artifacts::from(&ctx) })
        .await
}

//! Capture Stack Outputs: records the stack outputs.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use stagegate::steps::deploy::CaptureOutputs;
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let bucket = env.var("ARTIFACTS_BUCKET")?;
    let stacks = CfnStacks::from_config(&aws, bucket.clone());
    serve(CaptureOutputs::new(
        stacks,
        S3Artifacts::from_config(&aws, bucket),
    ))
    .await
}

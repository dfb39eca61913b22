//! Validate Infrastructure: what was approved is still what would be deployed.

use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use stagegate::steps::validate_infrastructure::ValidateInfrastructure;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (stacks, artifacts) = (CfnStacks::from(&ctx), S3Artifacts::from(&ctx));
    serve(ValidateInfrastructure { stacks, artifacts }).await
}

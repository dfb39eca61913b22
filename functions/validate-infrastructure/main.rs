//! Validate Infrastructure: what was approved is still what would be deployed.

use aws_cloudformation_port::CfnStacks;
use stagegate::steps::validate_infrastructure::ValidateInfrastructure;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(ValidateInfrastructure { stacks: CfnStacks::from(&ctx) }).await
}

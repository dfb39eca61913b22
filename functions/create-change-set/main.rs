//! Package & Preview: creates (never executes) the CloudFormation change set.

use aws_cloudformation_port::CfnStacks;
use stagegate::steps::create_change_set::CreateChangeSet;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(CreateChangeSet { stacks: CfnStacks::from(&ctx), settings: ctx.settings }).await
}

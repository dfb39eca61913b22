//! Package & Preview: one read of the change set, until it is computed.

use aws_cloudformation_port::CfnStacks;
use stagegate::steps::describe_change_set::DescribeChangeSet;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(DescribeChangeSet { stacks: CfnStacks::from(&ctx), settings: ctx.settings }).await
}

//! Await Stack Event: after a missed stack event, one status read.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::await_stack::AwaitStack, waiting::Waiting};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let waiting = Waiting { waits: Table::from(&ctx), runs: Sfn::from(&ctx), clock: SystemClock };
    serve(AwaitStack { stacks: CfnStacks::from(&ctx), waiting, settings: ctx.settings }).await
}

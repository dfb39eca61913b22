//! Deploy Infrastructure: the task waits on the stack, then the change set runs.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::deploy_infrastructure::DeployInfrastructure};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (stacks, store, runs) = (CfnStacks::from(&ctx), Table::from(&ctx), Sfn::from(&ctx));
    serve(DeployInfrastructure { stacks, store, runs, clock: SystemClock }).await
}

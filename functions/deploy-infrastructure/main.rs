//! Deploy Infrastructure: the task waits on the stack, then the change set runs.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::steps::deploy_infrastructure::DeployInfrastructure as Deploy;
use stagegate::{ports::SystemClock, waiting::Waiting};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let waiting = Waiting { waits: Table::from(&ctx), runs: Sfn::from(&ctx), clock: SystemClock };
    serve(Deploy { stacks: CfnStacks::from(&ctx), waiting }).await
}

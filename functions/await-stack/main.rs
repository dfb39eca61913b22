//! Await Stack Event: after a missed stack event, registers the task's new token,
//! reads the stack once and answers at once if it has settled.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::{deploy::AwaitStack, waits::Waiting};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    // One client: SendTask* and DescribeExecution take only a token or an ARN.
    let sfn = StepFunctions::from_config(&aws, "");
    let waiting = Waiting {
        waits: DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?),
        runs: sfn.clone(),
        clock: SystemClock,
    };
    serve(AwaitStack::new(settings()?, stacks, sfn, waiting)).await
}

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
    // SendTask* and DescribeExecution take only the token or the execution ARN.
    let waiting = Waiting {
        waits: DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?),
        runs: StepFunctions::from_config(&aws, ""),
        clock: SystemClock,
    };
    let callbacks = StepFunctions::from_config(&aws, "");
    serve(AwaitStack::new(settings()?, stacks, callbacks, waiting)).await
}

//! Await Stack Event: after a missed stack event, registers the task's new token,
//! reads the stack once and answers at once if it has settled.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::deploy::AwaitStack};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let waits = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    // SendTask* take only the token: no state machine ARN is needed here.
    let callbacks = StepFunctions::from_config(&aws, "");
    let step = AwaitStack::new(settings()?, stacks, waits, callbacks, SystemClock);
    serve(step).await
}

//! Deploy Infrastructure: registers the task's token under the stack, then executes
//! the approved change set; the stack's status event resumes the task.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable;
use stagegate::{ports::SystemClock, steps::deploy::DeployInfrastructure};
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let waits = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    serve(DeployInfrastructure::new(stacks, waits, SystemClock)).await
}

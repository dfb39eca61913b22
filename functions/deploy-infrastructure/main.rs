//! Deploy Infrastructure: registers the task's token under the stack, then executes
//! the approved change set; the stack's status event resumes the task.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::{deploy::DeployInfrastructure, waits::Waiting};
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let waiting = Waiting {
        waits: DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?),
        runs: StepFunctions::from_config(&aws, ""),
        clock: SystemClock,
    };
    serve(DeployInfrastructure::new(stacks, waiting)).await
}

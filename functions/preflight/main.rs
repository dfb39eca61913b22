//! Preflight: validates the candidate, finds duplicates and supersedes older waiting candidates.
//! Wiring only: the logic is `stagegate::functions::invoke("preflight", ..)`.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let sfn = StepFunctions::from_config(&aws, env.var("STATE_MACHINE_ARN")?);
    let world = stagegate_lambda::ports()?
        .with_approvals(DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?))
        .with_executions(sfn.clone())
        .with_callbacks(sfn);
    run_step("preflight", world).await
}

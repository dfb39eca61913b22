//! Preflight: validates the candidate, finds duplicates and supersedes older waiting candidates.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::steps::preflight::Preflight;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let sfn = StepFunctions::from_config(&aws, env.var("STATE_MACHINE_ARN")?);
    let approvals = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    serve(Preflight::new(settings()?, sfn.clone(), approvals, sfn)).await
}

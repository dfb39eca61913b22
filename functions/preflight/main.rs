//! Preflight: validates the candidate, claims its run once, records the newest
//! candidate and supersedes older ones waiting for approval. Wiring only.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::preflight::{Preflight, Runs};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (aws, env) = (stagegate_lambda::start().await, Env::process());
    let sfn = StepFunctions::from_config(&aws, env.var("STATE_MACHINE_ARN")?);
    let runs = Runs {
        executions: sfn.clone(),
        callbacks: sfn,
    };
    // One table: approvals, run claims and the newest candidates.
    let t = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let step = Preflight::new(settings()?, runs, t.clone(), t.clone(), t, SystemClock);
    serve(step).await
}

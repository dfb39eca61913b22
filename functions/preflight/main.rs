//! Preflight: validates the candidate, claims its run once, records the newest
//! candidate and supersedes older ones waiting for approval. Wiring only.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::preflight::{Preflight, Runs};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let sfn = StepFunctions::from_config(&aws, env.var("STATE_MACHINE_ARN")?);
    // One table: approvals, run claims and the newest candidates.
    let table = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let runs = Runs {
        executions: sfn.clone(),
        callbacks: sfn,
    };
    let step = Preflight::new(
        settings()?,
        runs,
        table.clone(),
        table.clone(),
        table,
        SystemClock,
    );
    serve(step).await
}

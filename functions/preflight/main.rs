//! Preflight: the candidate validated, its run claimed once, older ones superseded.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::preflight::Preflight};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (runs, store) = (StepFunctions::from(&ctx), DynamoTable::from(&ctx));
    serve(Preflight { runs, store, clock: SystemClock, settings: ctx.settings }).await
}

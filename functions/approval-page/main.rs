//! The approval review page (Function URL): `GET` reviews, a `POST` from it decides.

use aws_dynamodb_port::DynamoTable;
use aws_s3_port::S3Artifacts;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::approval_page::ApprovalPage};
use stagegate_lambda::{serve_url, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, runs) = (DynamoTable::from(&ctx), StepFunctions::from(&ctx));
    let (artifacts, settings) = (S3Artifacts::from(&ctx), ctx.settings);
    serve_url(ApprovalPage { store, runs, artifacts, clock: SystemClock, settings }).await
}

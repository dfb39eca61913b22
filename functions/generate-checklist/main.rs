//! Generate Checklist: the review document, in the artifacts bucket.

use aws_s3_port::S3Artifacts;
use stagegate::steps::generate_checklist::GenerateChecklist;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(GenerateChecklist { artifacts: S3Artifacts::from(&ctx), settings: ctx.settings }).await
}

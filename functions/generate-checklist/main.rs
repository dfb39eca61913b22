//! Generate Checklist: the review document, in the artifacts bucket.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_s3_port::S3Artifacts;
use stagegate::steps::checklist::GenerateChecklist;
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    serve(GenerateChecklist::new(artifacts)).await
}

//! Integration Tests: runs one HTTP suite against the deployed URLs.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_s3_port::S3Artifacts;
use stagegate::steps::suites::RunTestSuite;
use stagegate_https::HttpsClient;
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    serve(RunTestSuite::new(HttpsClient::new(), artifacts)).await
}

//! Integration Tests: one HTTP suite against the deployed URLs.

use aws_s3_port::S3Artifacts;
use stagegate::steps::run_test_suite::RunTestSuite;
use stagegate_https::HttpsClient;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(RunTestSuite { http: HttpsClient::new(), artifacts: S3Artifacts::from(&ctx) }).await
}

//! Performance Tests: load budgets against the deployed URLs.

use aws_s3_port::S3Artifacts;
use stagegate::steps::performance_tests::PerformanceTests;
use stagegate_https::HttpsClient;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(PerformanceTests { http: HttpsClient::new(), artifacts: S3Artifacts::from(&ctx) }).await
}

//! Test Results: every suite in one report (JSON and JUnit XML), and the verdict.

use aws_s3_port::S3Artifacts;
use stagegate::steps::test_report::TestReport;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(TestReport { artifacts: S3Artifacts::from(&ctx) }).await
}

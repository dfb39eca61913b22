//! Command Suites: a command suite's JUnit report, read into a suite result.

use aws_s3_port::S3Artifacts;
use stagegate::steps::read_suite_report::ReadSuiteReport;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(ReadSuiteReport { artifacts: S3Artifacts::from(&ctx), settings: ctx.settings }).await
}

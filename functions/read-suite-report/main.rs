//! Command Suites: reads a command suite's JUnit report (uploaded by its CodeBuild
//! build) into a suite result. Wiring only: the step's logic is in `stagegate::steps`.

use aws_s3_port::S3Artifacts;
use stagegate::steps::suites::ReadSuiteReport;
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    serve(ReadSuiteReport::new(artifacts)).await
}

//! Integration Tests: the JSON and JUnit report.
//! Wiring only: the logic is `stagegate::functions::invoke("test-report", ..)`.

use aws_s3_port::S3Artifacts;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?
        .with_artifacts(S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?));
    run_step("test-report", world).await
}

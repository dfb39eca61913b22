//! Performance Tests: latency budgets against the deployed URLs.
//! Wiring only: the logic is `stagegate::functions::invoke("performance-tests", ..)`.

use aws_s3_port::S3Artifacts;
use stagegate_https::HttpsClient;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?
        .with_http(HttpsClient::new()?)
        .with_artifacts(S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?));
    run_step("performance-tests", world).await
}

//! Deploy Infrastructure: records the stack outputs.
//! Wiring only: the logic is `stagegate::functions::invoke("capture-outputs", ..)`.

use aws_cloudformation_port::CfnStacks;
use aws_s3_port::S3Artifacts;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?
        .with_stacks(CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?))
        .with_artifacts(S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?));
    run_step("capture-outputs", world).await
}

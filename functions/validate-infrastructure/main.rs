//! Validate Infrastructure: what was approved is still what would be deployed.
//! Wiring only: the logic is `stagegate::functions::invoke("validate-infrastructure", ..)`.

use aws_cloudformation_port::CfnStacks;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?
        .with_stacks(CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?));
    run_step("validate-infrastructure", world).await
}

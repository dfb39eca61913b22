//! Package & Preview: creates (never executes) the CloudFormation change set.
//! Wiring only: the logic is `stagegate::functions::invoke("create-change-set", ..)`.

use aws_cloudformation_port::CfnStacks;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?.with_stacks(
        CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?)
            .with_deployment_role(env.optional("DEPLOYMENT_ROLE_ARN")),
    );
    run_step("create-change-set", world).await
}

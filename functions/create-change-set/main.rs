//! Package & Preview: creates (never executes) the CloudFormation change set.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_cloudformation_port::CfnStacks;
use stagegate::steps::change_preview::CreateChangeSet;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?)
        .with_deployment_role(env.optional("DEPLOYMENT_ROLE_ARN"));
    serve(CreateChangeSet::new(settings()?, stacks)).await
}

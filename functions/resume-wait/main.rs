//! Resume Wait: the target of the stack and Amplify status rules; answers the task
//! waiting on the event's stack or job. Wiring only: the logic is in `stagegate::steps`.

use aws_amplify_port::AmplifyHosting;
use aws_cloudformation_port::CfnStacks;
use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::waits::ResumeWait};
use stagegate_lambda::{serve, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let waits = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let callbacks = StepFunctions::from_config(&aws, "");
    let stacks = CfnStacks::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let (app, branch) = (env.var("AMPLIFY_APP_ID")?, env.var("AMPLIFY_BRANCH")?);
    let hosting = AmplifyHosting::from_config(&aws, app, branch);
    serve(ResumeWait::new(
        waits,
        callbacks,
        stacks,
        hosting,
        SystemClock,
    ))
    .await
}

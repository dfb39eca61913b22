//! Resume Wait: the stack and Amplify status rules' target; answers the waiting task.

use aws_amplify_port::AmplifyHosting as Amplify;
use aws_cloudformation_port::CfnStacks as Cfn;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::resume_wait::ResumeWait};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, runs, hosting) = (Table::from(&ctx), Sfn::from(&ctx), Amplify::from(&ctx));
    serve(ResumeWait { store, runs, hosting, stacks: Cfn::from(&ctx), clock: SystemClock }).await
}

//! Deploy Frontend: the outputs into the Amplify branch, a job, the task waiting on it.

use aws_amplify_port::AmplifyHosting as Amplify;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::deploy_frontend::DeployFrontend};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (hosting, store, runs) = (Amplify::from(&ctx), Table::from(&ctx), Sfn::from(&ctx));
    serve(DeployFrontend { hosting, store, runs, clock: SystemClock, settings: ctx.settings }).await
}

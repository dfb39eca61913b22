//! Deploy Frontend: the outputs into the Amplify branch, a job, the task waiting on it.

use aws_amplify_port::AmplifyHosting as Amplify;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::deploy_frontend::DeployFrontend, waiting::Waiting};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let waiting = Waiting { waits: Table::from(&ctx), runs: Sfn::from(&ctx), clock: SystemClock };
    serve(DeployFrontend { hosting: Amplify::from(&ctx), waiting, settings: ctx.settings }).await
}

//! Await Frontend Event: after a missed Amplify event, one job read.

use aws_amplify_port::AmplifyHosting as Amplify;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::await_frontend::AwaitFrontend, waiting::Waiting};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let waiting = Waiting { waits: Table::from(&ctx), runs: Sfn::from(&ctx), clock: SystemClock };
    serve(AwaitFrontend { hosting: Amplify::from(&ctx), waiting, settings: ctx.settings }).await
}

//! Await Frontend Event: after a missed Amplify event, one job read.

use aws_amplify_port::AmplifyHosting as Amplify;
use aws_dynamodb_port::DynamoTable as Table;
use aws_sfn_port::StepFunctions as Sfn;
use stagegate::{ports::SystemClock, steps::await_frontend::AwaitFrontend};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (hosting, store, runs) = (Amplify::from(&ctx), Table::from(&ctx), Sfn::from(&ctx));
    serve(AwaitFrontend { hosting, store, runs, clock: SystemClock, settings: ctx.settings }).await
}

//! Await Frontend Event: after a missed Amplify event, registers the task's new
//! token, reads the job once and answers at once if it has ended.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_amplify_port::AmplifyHosting;
use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::{frontend::*, waits::Waiting};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let (app, branch) = (env.var("AMPLIFY_APP_ID")?, env.var("AMPLIFY_BRANCH")?);
    // One client: SendTask* and DescribeExecution take only a token or an ARN.
    let sfn = StepFunctions::from_config(&aws, "");
    let waiting = Waiting {
        waits: DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?),
        runs: sfn.clone(),
        clock: SystemClock,
    };
    let ports = Ports {
        hosting: AmplifyHosting::from_config(&aws, app, branch),
        callbacks: sfn,
        waiting,
    };
    serve(AwaitFrontend::new(settings()?, ports)).await
}

//! Deploy Frontend: polls the Amplify job, then captures the URL.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_amplify_port::AmplifyHosting;
use stagegate::steps::frontend::FrontendStatus;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let (app, branch) = (env.var("AMPLIFY_APP_ID")?, env.var("AMPLIFY_BRANCH")?);
    let hosting = AmplifyHosting::from_config(&aws, app, branch);
    serve(FrontendStatus::new(settings()?, hosting)).await
}

//! Deploy Frontend: polls the Amplify job.
//! Wiring only: the logic is `stagegate::functions::invoke("frontend-status", ..)`.

use aws_amplify_port::AmplifyHosting;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?.with_hosting(AmplifyHosting::from_config(
        &aws,
        env.var("AMPLIFY_APP_ID")?,
        env.var("AMPLIFY_BRANCH")?,
    ));
    run_step("frontend-status", world).await
}

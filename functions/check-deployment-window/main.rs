//! Check Deployment Window: may the approved promotion deploy now, or when?
use stagegate::{ports::SystemClock, steps::check_deployment_window::CheckDeploymentWindow};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    serve(CheckDeploymentWindow { settings: ctx.settings, clock: SystemClock }).await
}

//! Mark Release Ready: release notes, the GitHub prerelease, the approval record.

use aws_s3_port::S3Artifacts;
use aws_secretsmanager_port::github;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::mark_release_ready::MarkReleaseReady};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (artifacts, runs) = (S3Artifacts::from(&ctx), StepFunctions::from(&ctx));
    serve(MarkReleaseReady { repository: github(&ctx), artifacts, runs, clock: SystemClock }).await
}

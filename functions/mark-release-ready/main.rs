//! Mark Release Ready: release notes and the GitHub prerelease. Wiring only: the
//! step's logic is in `stagegate::steps`.

use aws_s3_port::S3Artifacts;
use aws_secretsmanager_port::CachedSecret;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::release::MarkReleaseReady};
use stagegate_https::{GitHub, HttpsClient};
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (aws, env, settings) = (stagegate_lambda::start().await, Env::process(), settings()?);
    // Optional: without a token, notes are still written, no prerelease. Read on use.
    let token = env
        .optional("GITHUB_TOKEN_SECRET_ARN")
        .map(|arn| CachedSecret::from_config(&aws, arn));
    let repository = env.var("STAGEGATE_REPOSITORY")?;
    let github = GitHub::new(HttpsClient::new(), &repository, &settings.tag_prefix, token);
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let runs = StepFunctions::from_config(&aws, "");
    serve(MarkReleaseReady::new(
        &github,
        &github,
        artifacts,
        runs,
        SystemClock,
    ))
    .await
}

//! Mark Release Ready: release notes and the GitHub prerelease.
//! Wiring only: the logic is `stagegate::functions::invoke("mark-release-ready", ..)`.

use aws_s3_port::S3Artifacts;
use aws_secretsmanager_port::CachedSecret;
use stagegate_https::{GitHub, HttpsClient};
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    // The token is optional: without it, notes are still written, no prerelease.
    let token = match env.optional("GITHUB_TOKEN_SECRET_ARN") {
        Some(arn) => Some(CachedSecret::from_config(&aws, arn).value().await?),
        None => None,
    };
    let repository = env.var("STAGEGATE_REPOSITORY")?;
    let https = HttpsClient::new()?;
    let ports = stagegate_lambda::ports()?;
    let prefix = ports.settings.tag_prefix.clone();
    let github = |http| GitHub::new(http, &repository, &prefix, token.clone());
    let world = ports
        .with_artifacts(S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?))
        .with_history(github(https.clone()))
        .with_releases(github(https));
    run_step("mark-release-ready", world).await
}

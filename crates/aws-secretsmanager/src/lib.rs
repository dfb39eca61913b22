//! Secrets from AWS Secrets Manager, read once per container and cached: the webhook
//! secret ([`Secrets`]) and the optional GitHub token. A secret value is never logged
//! and never part of an error message.

use aws_common::port_error;
use aws_sdk_secretsmanager::Client;
use stagegate::error::PortError;
use stagegate::ports::PortResult;
use stagegate::ports::Secrets;
use stagegate_https::{GitHub, HttpsClient, Slack};
use std::sync::Arc;
use tokio::sync::OnceCell;

/// A secret, read on first use and cached (a cheap handle: clones share the value).
#[derive(Clone, Debug)]
pub struct CachedSecret {
    client: Client,
    secret_id: String,
    value: Arc<OnceCell<String>>,
}

impl CachedSecret {
    pub fn from_config(config: &aws_types::SdkConfig, secret_id: impl Into<String>) -> Self {
        Self::new(Client::new(config), secret_id)
    }

    pub fn new(client: Client, secret_id: impl Into<String>) -> Self {
        CachedSecret {
            client,
            secret_id: secret_id.into(),
            value: Arc::default(),
        }
    }

    /// The GitHub webhook's shared secret, from the deployment.
    pub fn webhook(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.webhook_secret_arn)
    }

    /// The secret string; fetched on first use. A failed fetch is not cached, so the
    /// next invocation tries again.
    pub async fn value(&self) -> PortResult<String> {
        self.value
            .get_or_try_init(|| async {
                let out = self
                    .client
                    .get_secret_value()
                    .secret_id(&self.secret_id)
                    .send()
                    .await
                    .map_err(|e| port_error(format!("read secret {}", self.secret_id), &e))?;
                out.secret_string()
                    .map(|s| s.trim().to_string())
                    .ok_or_else(|| {
                        PortError::new(
                            format!("read secret {}", self.secret_id),
                            "the secret has no string value (binary secrets are not supported)",
                        )
                    })
            })
            .await
            .cloned()
    }
}

impl Secrets for CachedSecret {
    async fn webhook_secret(&self) -> PortResult<String> {
        self.value().await
    }
}

/// The GitHub token, read from the secret by the first request that needs it.
impl stagegate_https::Token for CachedSecret {
    async fn token(&self) -> PortResult<String> {
        self.value().await
    }
}

/// The deployment's repository on GitHub, over HTTPS, its token read from Secrets
/// Manager by the first request that needs it; without a token secret configured,
/// public history and no prerelease.
pub fn github(ctx: &aws_common::Context) -> GitHub<HttpsClient, CachedSecret> {
    let token = ctx
        .deployment
        .github_token_secret_arn
        .as_ref()
        .map(|arn| CachedSecret::from_config(&ctx.aws, arn));
    let (repository, prefix) = (&ctx.deployment.repository, &ctx.settings.tag_prefix);
    GitHub::new(HttpsClient::new(), repository, prefix, token)
}

/// Slack's Web API with the app's secret (bot token and signing secret) read from
/// Secrets Manager by the first call that needs it; `None` unless the settings turn
/// Slack on (the context refuses Slack on without its secret).
pub fn slack(ctx: &aws_common::Context) -> Option<Slack<HttpsClient, CachedSecret>> {
    let (settings, arn) = (
        ctx.settings.slack.as_ref()?,
        ctx.deployment.slack_secret_arn.as_ref()?,
    );
    let secret = CachedSecret::from_config(&ctx.aws, arn);
    Some(Slack::new(HttpsClient::new(), &settings.api_url, secret))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_secretsmanager::operation::get_secret_value::GetSecretValueOutput;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    fn secret(rules: &[&Rule]) -> CachedSecret {
        let client = mock_client!(aws_sdk_secretsmanager, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_common::fast_retries()));
        CachedSecret::new(client, "stagegate/webhook")
    }

    #[tokio::test]
    async fn the_secret_is_read_once_and_trimmed() {
        let get = mock!(Client::get_secret_value)
            .match_requests(|r| r.secret_id() == Some("stagegate/webhook"))
            .then_output(|| {
                GetSecretValueOutput::builder()
                    .secret_string("s3cr3t\n")
                    .build()
            });
        let s = secret(&[&get]);
        assert_eq!(s.webhook_secret().await.unwrap(), "s3cr3t");
        assert_eq!(s.webhook_secret().await.unwrap(), "s3cr3t");
        assert_eq!(get.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_failed_read_is_retried_on_the_next_call_and_never_shows_the_value() {
        let get = mock!(Client::get_secret_value)
            .sequence()
            .http_status(400, Some("{\"__type\":\"ResourceNotFoundException\",\"message\":\"Secrets Manager can't find the specified secret.\"}".into()))
            .output(|| GetSecretValueOutput::builder().secret_string("later").build())
            .build();
        let s = secret(&[&get]);
        let e = s.value().await.unwrap_err();
        assert!(e.message.starts_with("ResourceNotFoundException"), "{e}");
        assert_eq!(s.value().await.unwrap(), "later");
    }

    #[tokio::test]
    async fn throttling_is_retried_by_the_sdk() {
        let get = mock!(Client::get_secret_value)
            .sequence()
            .http_status(
                400,
                Some("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}".into()),
            )
            .output(|| GetSecretValueOutput::builder().secret_string("v").build())
            .build();
        assert_eq!(secret(&[&get]).value().await.unwrap(), "v");
        assert_eq!(get.num_calls(), 2);
    }

    #[tokio::test]
    async fn a_binary_secret_is_refused_clearly() {
        let get =
            mock!(Client::get_secret_value).then_output(|| GetSecretValueOutput::builder().build());
        let e = secret(&[&get]).value().await.unwrap_err();
        assert!(e.message.contains("no string value"), "{e}");
    }
}

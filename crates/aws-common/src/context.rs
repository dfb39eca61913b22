//! [`Context`]: a function's configuration, loaded once per container.

use aws_types::SdkConfig;
use stagegate::settings::{ConfigErrors, Vars};
use stagegate::Settings;

/// The deployment's resources, as `template.yaml` names them to every function (its
/// `Globals`): one typed place, so no function reads an environment variable itself
/// and none is ever given an empty name to stand in for one it lacks. What a
/// function may *do* with each resource is its IAM policy.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Deployment {
    /// `ARTIFACTS_BUCKET`: one prefix per run.
    pub artifacts_bucket: String,
    /// `APPROVALS_TABLE`: approvals, links, approvers, claims, newest candidates,
    /// waiters.
    pub approvals_table: String,
    /// `APPROVALS_TOPIC_ARN`: personal approval emails.
    pub approvals_topic_arn: String,
    /// `NOTIFICATIONS_TOPIC_ARN`: outcomes, for everyone.
    pub notifications_topic_arn: String,
    /// `STATE_MACHINE_ARN`: the staging state machine.
    pub state_machine_arn: String,
    /// `EVENT_BUS_NAME`: where the webhook puts "release candidate tagged".
    pub event_bus_name: String,
    /// `WEBHOOK_SECRET_ARN`: the GitHub webhook's shared secret.
    pub webhook_secret_arn: String,
    /// `AMPLIFY_APP_ID` and `AMPLIFY_BRANCH`: the staging frontend.
    pub amplify_app_id: String,
    pub amplify_branch: String,
    /// `STAGEGATE_REPOSITORY`: the repository (`owner/name`) this deployment serves.
    pub repository: String,
    /// `DEPLOYMENT_ROLE_ARN`: the role CloudFormation assumes for the app's stack.
    pub deployment_role_arn: Option<String>,
    /// `GITHUB_TOKEN_SECRET_ARN`: without it, release notes are written and no
    /// GitHub release is touched.
    pub github_token_secret_arn: Option<String>,
    /// `EVIDENCE_KEY_ARN`: the KMS key (ECC P-256, sign/verify) that signs each run's
    /// evidence.
    pub evidence_key_arn: String,
    /// `SLACK_SECRET_ARN`: the Slack app's bot token and signing secret (JSON
    /// `{"botToken": "xoxb-…", "signingSecret": "…"}`); required with
    /// `STAGEGATE_SLACK_TEAM_ID`, unused without it.
    pub slack_secret_arn: Option<String>,
}

impl Deployment {
    /// Every variable it reads, required first.
    pub const VARIABLES: &'static [&'static str] = &[
        "ARTIFACTS_BUCKET",
        "APPROVALS_TABLE",
        "APPROVALS_TOPIC_ARN",
        "NOTIFICATIONS_TOPIC_ARN",
        "STATE_MACHINE_ARN",
        "EVENT_BUS_NAME",
        "WEBHOOK_SECRET_ARN",
        "AMPLIFY_APP_ID",
        "AMPLIFY_BRANCH",
        "STAGEGATE_REPOSITORY",
        "EVIDENCE_KEY_ARN",
        "DEPLOYMENT_ROLE_ARN",
        "GITHUB_TOKEN_SECRET_ARN",
        "SLACK_SECRET_ARN",
    ];

    /// The resources from `vars`, each missing one recorded in it.
    pub fn read<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>) -> Deployment {
        Deployment {
            artifacts_bucket: vars.required("ARTIFACTS_BUCKET"),
            approvals_table: vars.required("APPROVALS_TABLE"),
            approvals_topic_arn: vars.required("APPROVALS_TOPIC_ARN"),
            notifications_topic_arn: vars.required("NOTIFICATIONS_TOPIC_ARN"),
            state_machine_arn: vars.required("STATE_MACHINE_ARN"),
            event_bus_name: vars.required("EVENT_BUS_NAME"),
            webhook_secret_arn: vars.required("WEBHOOK_SECRET_ARN"),
            amplify_app_id: vars.required("AMPLIFY_APP_ID"),
            amplify_branch: vars.required("AMPLIFY_BRANCH"),
            repository: vars.required("STAGEGATE_REPOSITORY"),
            deployment_role_arn: vars.optional("DEPLOYMENT_ROLE_ARN"),
            github_token_secret_arn: vars.optional("GITHUB_TOKEN_SECRET_ARN"),
            evidence_key_arn: vars.required("EVIDENCE_KEY_ARN"),
            slack_secret_arn: vars.optional("SLACK_SECRET_ARN"),
        }
    }
}

/// What a function is given: the AWS configuration, the deployment's resources, the
/// settings. Built once per container, before the first event.
#[derive(Clone, Debug)]
pub struct Context {
    pub aws: SdkConfig,
    pub deployment: Deployment,
    pub settings: Settings,
}

impl Context {
    /// The context from variables read through `get`: `Err` names every variable
    /// that is missing or malformed, all at once.
    pub fn from_vars(
        aws: SdkConfig,
        get: impl Fn(&str) -> Option<String>,
    ) -> Result<Context, ConfigErrors> {
        let mut vars = Vars::new(get);
        let deployment = Deployment::read(&mut vars);
        let settings = Settings::read(&mut vars);
        if settings.slack.is_some() && deployment.slack_secret_arn.is_none() {
            vars.fail(
                "SLACK_SECRET_ARN",
                "is required when STAGEGATE_SLACK_TEAM_ID turns Slack on (the bot token and signing secret)".into(),
            );
        }
        if !vars.errors.is_empty() {
            return Err(ConfigErrors(vars.errors));
        }
        Ok(Context {
            aws,
            deployment,
            settings,
        })
    }

    /// The context of this process: the SDK's configuration from its usual chain
    /// (which honours `AWS_ENDPOINT_URL`, so functions run against AWS-compatible
    /// emulators unchanged), with the HTTPS client deferred to its first request
    /// ([`crate::https::on_first_use`]), and the variables of the environment.
    pub async fn load() -> Result<Context, ConfigErrors> {
        Context::from_vars(lambda_sdk_config(), |k| std::env::var(k).ok())
    }
}

/// The SDK configuration a Lambda function needs, from what Lambda sets: the region
/// (`AWS_REGION`), the role's credentials (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`) and, for emulators,
/// `AWS_ENDPOINT_URL`. Not `aws_config::defaults`: its chain (profiles, SSO, web
/// identity and assume-role through STS, IMDS) is never used on Lambda, and linking it
/// costs every function its size (docs/performance.md).
pub fn lambda_sdk_config() -> SdkConfig {
    lambda_sdk_config_from(|k| std::env::var(k).ok())
}

/// [`lambda_sdk_config`] from the variables `var` reads. Lambda's credentials stay
/// the same for the life of the execution environment, so they are read once.
fn lambda_sdk_config_from(var: impl Fn(&str) -> Option<String>) -> SdkConfig {
    use aws_credential_types::{provider::SharedCredentialsProvider, Credentials};
    use aws_smithy_async::rt::sleep::{default_async_sleep, SharedAsyncSleep, TokioSleep};
    use aws_types::region::Region;
    let var = |k: &str| var(k).filter(|v| !v.is_empty());
    let region = var("AWS_REGION").or_else(|| var("AWS_DEFAULT_REGION"));
    let sleep = default_async_sleep().unwrap_or_else(|| SharedAsyncSleep::new(TokioSleep::new()));
    let mut config = SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(region.map(Region::new))
        .http_client(crate::https::on_first_use())
        .sleep_impl(sleep)
        .time_source(aws_smithy_async::time::SharedTimeSource::default());
    if let (Some(id), Some(secret)) = (var("AWS_ACCESS_KEY_ID"), var("AWS_SECRET_ACCESS_KEY")) {
        let credentials = Credentials::new(id, secret, var("AWS_SESSION_TOKEN"), None, "Lambda");
        config = config.credentials_provider(SharedCredentialsProvider::new(credentials));
    }
    if let Some(url) = var("AWS_ENDPOINT_URL") {
        config = config.endpoint_url(url);
    }
    config.build()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What Lambda sets is what a function's SDK clients use: region, the role's
    /// credentials, and an emulator's endpoint.
    #[tokio::test]
    async fn the_sdk_configuration_comes_from_what_lambda_sets() {
        use aws_credential_types::provider::ProvideCredentials;
        let env = [
            ("AWS_REGION", "eu-west-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_SESSION_TOKEN", "session"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ];
        let read = |k: &str| {
            env.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        };
        let config = lambda_sdk_config_from(read);
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        let creds = config
            .credentials_provider()
            .expect("a provider")
            .provide_credentials()
            .await
            .expect("credentials from the environment");
        assert_eq!(creds.access_key_id(), "AKIDEXAMPLE");
        assert_eq!(creds.session_token(), Some("session"));
        let bare = lambda_sdk_config_from(|_| None);
        assert_eq!((bare.region(), bare.endpoint_url()), (None, None));
        assert!(bare.credentials_provider().is_none());
    }

    fn aws() -> SdkConfig {
        SdkConfig::builder()
            .behavior_version(aws_config::BehaviorVersion::latest())
            .build()
    }

    fn deployed(k: &str) -> Option<String> {
        match k {
            "DEPLOYMENT_ROLE_ARN" | "GITHUB_TOKEN_SECRET_ARN" => None,
            "STAGEGATE_REPOSITORY" => Some("acme/shop".into()),
            k if Deployment::VARIABLES.contains(&k) => Some(format!("{k}-value")),
            _ => None,
        }
    }

    #[test]
    fn reads_every_resource_and_the_settings() {
        let ctx = Context::from_vars(aws(), deployed).unwrap();
        assert_eq!(ctx.deployment.artifacts_bucket, "ARTIFACTS_BUCKET-value");
        assert_eq!(ctx.deployment.state_machine_arn, "STATE_MACHINE_ARN-value");
        assert_eq!(ctx.deployment.github_token_secret_arn, None);
        assert_eq!(ctx.deployment.repository, "acme/shop");
        assert_eq!(ctx.settings.repository.as_deref(), Some("acme/shop"));
    }

    #[test]
    fn slack_on_needs_the_secret_of_the_slack_app() {
        let on = |k: &str| match k {
            "STAGEGATE_SLACK_TEAM_ID" => Some("T0ACME".into()),
            "SLACK_SECRET_ARN" => None,
            k => deployed(k),
        };
        let e = Context::from_vars(aws(), on).unwrap_err();
        assert_eq!(e.0[0].name, "SLACK_SECRET_ARN", "{e:?}");
        let with_secret = |k: &str| match k {
            "STAGEGATE_SLACK_TEAM_ID" => Some("T0ACME".into()),
            k => deployed(k),
        };
        let ctx = Context::from_vars(aws(), with_secret).unwrap();
        assert_eq!(ctx.settings.slack.map(|s| s.team_id), Some("T0ACME".into()));
        assert_eq!(
            ctx.deployment.slack_secret_arn.as_deref(),
            Some("SLACK_SECRET_ARN-value")
        );
    }

    #[test]
    fn every_missing_or_malformed_variable_is_named_in_one_error() {
        let e = Context::from_vars(aws(), |k| match k {
            "ARTIFACTS_BUCKET" | "EVENT_BUS_NAME" => None,
            "APPROVALS_TABLE" => Some("  ".into()),
            "STAGEGATE_MAX_POLLS" => Some("lots".into()),
            k => deployed(k),
        })
        .unwrap_err();
        let names: Vec<&str> = e.0.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "ARTIFACTS_BUCKET",
                "APPROVALS_TABLE",
                "EVENT_BUS_NAME",
                "STAGEGATE_MAX_POLLS"
            ]
        );
        let text = e.to_string();
        assert!(text.contains("ARTIFACTS_BUCKET: is not set"), "{text}");
    }
}

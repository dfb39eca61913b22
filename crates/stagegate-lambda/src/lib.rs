//! What every stagegate Lambda shares, so each `functions/<name>/main.rs` only wires
//! adapters:
//!
//! - [`start`]: JSON logs (Lambda's `LogFormat: JSON`, level from
//!   `AWS_LAMBDA_LOG_LEVEL`), and the AWS configuration, loaded once per container.
//!   The SDK honours `AWS_ENDPOINT_URL` (and `AWS_ENDPOINT_URL_<SERVICE>`), so the
//!   functions run against AWS-compatible emulators unchanged.
//! - [`Env`]: the deployment's resource names, with an error naming a missing variable.
//! - [`run_step`]: the step's handler; a [`StepError`] becomes the Lambda error whose
//!   `errorType` is the step's stable name, which the state machine's `Catch` routes on.
//! - [`url`]: Lambda Function URL requests and responses (payload format 2.0).

pub mod url;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use stagegate::functions::{invoke, UnwiredPorts, World};
use stagegate::{Settings, StepError};

pub use aws_config::SdkConfig;
pub use lambda_runtime::Error;

/// A step's failure as Lambda reports it: `errorType` is the stable name.
#[derive(Debug)]
pub struct Failure(pub StepError);

impl From<Failure> for Diagnostic {
    fn from(f: Failure) -> Diagnostic {
        Diagnostic {
            error_type: f.0.name.to_string(),
            error_message: f.0.message,
        }
    }
}

/// A missing or invalid deployment variable.
#[derive(Debug)]
pub struct EnvError(pub String);

impl std::fmt::Display for EnvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EnvError {}

/// The deployment's variables (set by `template.yaml`).
pub struct Env<G = fn(&str) -> Option<String>> {
    get: G,
}

impl Env {
    pub fn process() -> Self {
        Env {
            get: |k| std::env::var(k).ok(),
        }
    }
}

impl<G: Fn(&str) -> Option<String>> Env<G> {
    pub fn from_fn(get: G) -> Self {
        Env { get }
    }

    /// A required variable.
    pub fn var(&self, name: &str) -> Result<String, EnvError> {
        self.optional(name).ok_or_else(|| {
            EnvError(format!(
                "{name} is not set: this function expects it from template.yaml"
            ))
        })
    }

    /// An optional variable; empty counts as unset.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    /// The region the function runs in (`AWS_REGION`, set by Lambda).
    pub fn region(&self) -> Result<String, EnvError> {
        self.var("AWS_REGION")
    }
}

/// Logging and the AWS configuration, once per container (before the first event).
pub async fn start() -> SdkConfig {
    lambda_runtime::tracing::init_default_subscriber();
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The settings (`STAGEGATE_*`) and the system clock, with no port wired yet.
pub fn ports() -> Result<UnwiredPorts, Error> {
    let settings = Settings::from_env().map_err(|e| Box::new(EnvError(e.to_string())))?;
    Ok(UnwiredPorts::unwired(settings, Box::new(chrono::Utc::now)))
}

/// One invocation of function `name` (what [`run_step`] serves).
pub async fn handle<W: World>(world: &W, name: &str, event: Value) -> Result<Value, Failure> {
    // Boxed: keeps the binaries' `main` future shallow (see `url::webhook`).
    let result = Box::pin(invoke(world, name, event)).await;
    match &result {
        Ok(_) => lambda_runtime::tracing::info!(function = name, "step succeeded"),
        // The name and message only: never the event (it holds task tokens).
        Err(e) => {
            lambda_runtime::tracing::warn!(function = name, error = e.name, message = %e.message, "step failed")
        }
    }
    result.map_err(Failure)
}

/// Serves function `name` of the staging flow with `world`'s adapters.
pub async fn run_step<W: World>(name: &'static str, world: W) -> Result<(), Error> {
    let world = &world;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(world, name, event.payload).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_step_error_becomes_a_diagnostic_with_its_stable_name() {
        let d: Diagnostic = Failure(StepError::new(
            "StackDeployFailed",
            "Db: Table already exists",
        ))
        .into();
        assert_eq!(d.error_type, "StackDeployFailed");
        assert_eq!(d.error_message, "Db: Table already exists");
    }

    #[tokio::test]
    async fn handle_reports_bad_input_by_name() {
        let w = UnwiredPorts::unwired(Settings::default(), Box::new(chrono::Utc::now));
        let e = handle(&w, "stack-status", json!("nonsense"))
            .await
            .unwrap_err();
        assert_eq!(e.0.name, "InvalidInput");
    }

    #[test]
    fn a_missing_variable_is_named() {
        let env = Env::from_fn(|k| (k == "SET").then(|| "v".to_string()));
        assert_eq!(env.var("SET").unwrap(), "v");
        let e = env.var("ARTIFACTS_BUCKET").unwrap_err();
        assert!(e.0.starts_with("ARTIFACTS_BUCKET is not set"), "{e}");
        assert_eq!(Env::from_fn(|_| Some("  ".into())).optional("X"), None);
    }
}

//! What every stagegate Lambda shares, so each `functions/<name>/main.rs` only builds
//! its step from its context and serves it:
//!
//! - [`context`]: JSON logs (Lambda's `LogFormat: JSON`, level from
//!   `AWS_LAMBDA_LOG_LEVEL`), then the function's [`Context`] (AWS configuration,
//!   deployment, settings), loaded once per container; every missing or malformed
//!   variable is named in the one error the function's init fails with.
//! - [`serve`]: a [`Step`] as a Lambda handler; a [`StepError`] becomes the Lambda
//!   error whose `errorType` is the step's stable name, which the state machine's
//!   `Catch` routes on.
//! - [`url::serve_url`]: an [`stagegate::step::Endpoint`] behind a Function URL.
//! - [`EmfStdout`]: stagegate's metrics, as EMF lines on standard output.

pub mod url;

use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use stagegate::step::invoke;
use stagegate::{Step, StepError};

pub use aws_common::Context;
pub use lambda_runtime::Error;
pub use url::serve_url;

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

/// A deployment whose variables are missing or malformed, every one named.
#[derive(Debug)]
pub struct ConfigurationError(pub String);

impl std::fmt::Display for ConfigurationError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigurationError {}

/// Logs, then the function's context: once per container, before the first event.
/// No file, network or TLS work that can wait: the HTTPS client loads its root
/// certificates on the first request ([`aws_common::https::on_first_use`]).
pub async fn context() -> Result<Context, Error> {
    init_logs();
    Context::load()
        .await
        .map_err(|e| Box::new(ConfigurationError(e.to_string())) as Error)
}

/// The log filter for a configured level: that level everywhere, except the Lambda
/// runtime itself, which never goes below DEBUG. At TRACE the runtime logs every raw
/// event, and events carry task tokens, which must appear in no log.
pub fn log_filter(configured: &str) -> String {
    use lambda_runtime::tracing::subscriber::filter::LevelFilter;
    use std::str::FromStr;
    let level = LevelFilter::from_str(configured).unwrap_or(LevelFilter::INFO);
    let runtime = std::cmp::min(level, LevelFilter::DEBUG);
    format!("{level},lambda_runtime={runtime},lambda_runtime_api_client={runtime}").to_lowercase()
}

/// [`log_filter`] as a `Targets` filter, not an `EnvFilter`: the same directives
/// without compiling regular expressions at start-up.
pub fn targets(configured: &str) -> lambda_runtime::tracing::subscriber::filter::Targets {
    use lambda_runtime::tracing::subscriber::filter::{LevelFilter, Targets};
    // `log_filter` only ever writes valid directives; INFO is its own default.
    log_filter(configured)
        .parse()
        .unwrap_or_else(|_| Targets::new().with_default(LevelFilter::INFO))
}

/// JSON logs when Lambda asks for them (`AWS_LAMBDA_LOG_FORMAT`), at
/// `AWS_LAMBDA_LOG_LEVEL`, through [`log_filter`].
fn init_logs() {
    use lambda_runtime::tracing::subscriber::{fmt, prelude::*, registry};
    let level = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "INFO".into());
    let filter = targets(&level);
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let logs = registry().with(filter);
    // A second initialisation (tests) is refused by tracing, and harmless.
    let _ = if json {
        logs.with(fmt::layer().json().with_target(false).without_time())
            .try_init()
    } else {
        logs.with(fmt::layer().with_target(false).without_time())
            .try_init()
    };
}

/// stagegate's metrics as Embedded Metric Format lines on standard output, which
/// Lambda sends to CloudWatch Logs as they are; CloudWatch extracts the metrics.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmfStdout;

impl stagegate::ports::Metrics for EmfStdout {
    fn emit(&self, line: String) {
        use std::io::Write as _;
        // One locked write per line, so a log line never lands inside it. A closed
        // standard output loses the metric, never the step.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

/// One invocation of `step` (what [`serve`] does with each event).
pub async fn handle<S, I, O>(step: &S, event: Value) -> Result<Value, Failure>
where
    S: Step<I, O>,
    I: DeserializeOwned + Send,
    O: Serialize + Send,
{
    // Boxed: keeps the binaries' `main` future shallow (the SDK futures are deep).
    let result = Box::pin(invoke(step, event)).await;
    match &result {
        Ok(_) => lambda_runtime::tracing::info!(function = S::NAME, "step succeeded"),
        // The name and message only: never the event (it holds task tokens).
        Err(e) => {
            lambda_runtime::tracing::warn!(function = S::NAME, error = e.name, message = %e.message, "step failed")
        }
    }
    result.map_err(Failure)
}

/// Serves `step` as this Lambda function.
pub async fn serve<S, I, O>(step: S) -> Result<(), Error>
where
    S: Step<I, O>,
    I: DeserializeOwned + Send,
    O: Serialize + Send,
{
    let step = &step;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        handle(step, event.payload).await
    }))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use stagegate::steps::test_report::TestReport;
    use stagegate::testing::MemoryArtifacts;

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
        let step = TestReport {
            artifacts: MemoryArtifacts::default(),
        };
        let e = handle(&step, json!("nonsense")).await.unwrap_err();
        assert_eq!(e.0.name, "InvalidInput");
        assert!(e.0.message.contains("test-report"), "{}", e.0.message);
    }

    #[test]
    fn the_runtime_never_logs_raw_events_whatever_the_level() {
        assert_eq!(
            log_filter("TRACE"),
            "trace,lambda_runtime=debug,lambda_runtime_api_client=debug"
        );
        assert_eq!(
            log_filter("info"),
            "info,lambda_runtime=info,lambda_runtime_api_client=info"
        );
        assert!(log_filter("nonsense").starts_with("info,"));
    }

    #[test]
    fn the_filter_in_force_keeps_the_runtime_at_debug_at_most() {
        use lambda_runtime::tracing::Level;
        let t = targets("TRACE");
        assert!(t.would_enable("stagegate", &Level::TRACE));
        assert!(t.would_enable("lambda_runtime", &Level::DEBUG));
        assert!(!t.would_enable("lambda_runtime", &Level::TRACE));
        assert!(!t.would_enable("lambda_runtime_api_client::body", &Level::TRACE));
        let t = targets("warn");
        assert!(!t.would_enable("stagegate", &Level::INFO));
        assert!(t.would_enable("stagegate", &Level::WARN));
    }
}

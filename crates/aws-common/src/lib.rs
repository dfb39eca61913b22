//! What every stagegate AWS adapter and function shares:
//!
//! - [`Context`]: what `template.yaml` gives every function — the AWS
//!   configuration, the deployment's resources ([`Deployment`]) and the settings —
//!   read once, every missing or malformed variable named in one error. Each
//!   adapter is built from it (`S3Artifacts::from(&ctx)`), so no function reads a
//!   variable itself.
//! - [`https::on_first_use`]: the SDK's HTTPS client without its eager start.
//! - SDK errors as [`PortError`]s: the service's error code and message when AWS
//!   answered, the whole cause chain when it did not (timeout, DNS, TLS), the same
//!   way for every adapter.

pub mod context;
pub mod https;

pub use context::{Context, Deployment};

use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use stagegate::error::PortError;
use std::error::Error;

/// Error codes AWS uses for throttling across its protocols.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "RequestThrottled",
    "SlowDown",
    "LimitExceededException",
];

/// The service's error code, when the service answered.
pub fn code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(s) => s.err().code(),
        _ => None,
    }
}

/// Whether AWS said "slow down" (after the SDK's own retries ran out).
pub fn is_throttling<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    code(err).is_some_and(|c| THROTTLING.contains(&c))
}

/// Error codes of server-side failures that AWS sends with a 5xx, and that a retry
/// may cure (the SDK's own classifier treats them as transient too).
const SERVER_SIDE: &[&str] = &[
    "InternalError",
    "InternalFailure",
    "InternalServerError",
    "InternalServiceError",
    "ServiceUnavailable",
    "ServiceUnavailableException",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// Whether trying again may cure `err`: throttling, a 5xx (by status or by code), a
/// timeout, a connection or response failure. A refusal (access denied, not found,
/// validation) or a request that could not be built is not.
pub fn is_transient<E>(err: &SdkError<E, HttpResponse>) -> bool
where
    E: ProvideErrorMetadata,
{
    match err {
        SdkError::ServiceError(s) => {
            let status = s.raw().status().as_u16();
            stagegate::error::is_transient_status(status)
                || is_throttling(err)
                || code(err).is_some_and(|c| SERVER_SIDE.contains(&c))
        }
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        _ => false,
    }
}

/// `operation: Code: message`, or the full cause chain for transport failures; marked
/// transient or refused by [`is_transient`].
pub fn port_error<E>(operation: impl Into<String>, err: &SdkError<E, HttpResponse>) -> PortError
where
    E: ProvideErrorMetadata + Error + 'static,
{
    let message = match err {
        SdkError::ServiceError(s) => {
            let e = s.err();
            let code = e.code().unwrap_or("UnknownError");
            let text = e.message().unwrap_or("no message");
            if is_throttling(err) {
                format!("{code}: {text} (throttled: still throttled after the SDK's retries)")
            } else {
                format!("{code}: {text}")
            }
        }
        other => DisplayErrorContext(other).to_string(),
    };
    if is_transient(err) {
        PortError::new(operation, message)
    } else {
        PortError::refused(operation, message)
    }
}

/// The retries adapters' tests give their mock clients: the SDK's standard mode,
/// three attempts, 1 ms apart, so throttling is retried as in production but fast.
pub fn fast_retries() -> aws_smithy_types::retry::RetryConfig {
    aws_smithy_types::retry::RetryConfig::standard()
        .with_max_attempts(3)
        .with_initial_backoff(std::time::Duration::from_millis(1))
}

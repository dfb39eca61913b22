//! What a function of stagegate is: a [`Step`] (a value that owns exactly the ports
//! it needs, with a stable name, a typed input and a typed output) or, behind a
//! Function URL, an [`Endpoint`] (the same, over HTTP, in the ecosystem's `http`
//! types).
//!
//! The same step value runs in three places: a Lambda binary serves it
//! (`stagegate_lambda::serve`), the embedded engine registers it under its name (the
//! rehearsal and the path tests), and unit tests call [`Step::run`] directly. A port
//! is a constructor argument, so a step cannot exist without the ports it uses:
//!
//! ```compile_fail
//! use stagegate::steps::test_report::TestReport;
//! // No artifact store: this does not compile.
//! let step = TestReport {};
//! ```
//!
//! ```
//! use stagegate::ports::{Artifacts, PortResult, Stored};
//! use stagegate::steps::test_report::TestReport;
//! use stagegate::Step;
//! struct Nowhere;
//! impl Artifacts for Nowhere {
//!     async fn put(&self, key: &str, _: &str, _: Vec<u8>) -> PortResult<String> {
//!         Ok(format!("nowhere://{key}"))
//!     }
//!     async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
//!         Ok(None)
//!     }
//!     async fn read(&self, _: &str) -> PortResult<Option<Stored>> {
//!         Ok(None)
//!     }
//! }
//! let step = TestReport { artifacts: Nowhere };
//! assert_eq!(<TestReport<Nowhere> as Step<_, _>>::NAME, "test-report");
//! # drop(step);
//! ```

use crate::error::{invalid_input, StepError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;

/// One function of the flow, invoked with a JSON event: a step from its `Input` to
/// its `Output` (`impl Step<Input, Checklist> for GenerateChecklist<A>`). Each step
/// type implements it once, so [`invoke`], `serve` and the engine's registry infer
/// both from the step value.
pub trait Step<Input, Output>: Send + Sync
where
    Input: DeserializeOwned + Send,
    Output: Serialize + Send,
{
    /// The stable name: the crate under `functions/`, the Lambda function, the
    /// `${<Name>FunctionArn}` substitution (see [`substitution_key`]) and the name the
    /// engine registers it under.
    const NAME: &'static str;

    fn run(&self, input: Input) -> impl Future<Output = Result<Output, StepError>> + Send;
}

/// Runs `step` on a JSON event, as Lambda and the engine deliver it: input that does
/// not fit the step's type is `InvalidInput` naming the step and the field.
pub async fn invoke<S, I, O>(step: &S, event: Value) -> Result<Value, StepError>
where
    S: Step<I, O>,
    I: DeserializeOwned + Send,
    O: Serialize + Send,
{
    let input: I = serde_json::from_value(event).map_err(|e| {
        invalid_input(format!(
            "{}: the input does not match what the step needs: {e}",
            S::NAME
        ))
    })?;
    let output = step.run(input).await?;
    // Our own types: serialising cannot fail in practice, but would still be an error.
    serde_json::to_value(&output)
        .map_err(|e| invalid_input(format!("{}: cannot serialise the output: {e}", S::NAME)))
}

/// An HTTP request to a public endpoint, as both servers hand it over (a Function URL
/// on AWS, 127.0.0.1 in the rehearsal): the body read whole, bounded by the server,
/// and a [`Peer`] among the extensions.
pub type WebRequest = http::Request<Vec<u8>>;

/// An endpoint's answer, headers included; both servers send it as it is.
pub type WebResponse = http::Response<String>;

/// What the server knows about a request that the client did not say.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peer {
    /// The client's address (recorded with a decision; never trusted for identity).
    pub source_ip: String,
    /// The origin this server answers at (`https://<function URL domain>` on AWS,
    /// `http://127.0.0.1:<port>` locally): a form posted from this server's own page
    /// has this `Origin`.
    pub origin: String,
}

impl Peer {
    /// The request's peer (empty when the server set none).
    pub fn of(request: &WebRequest) -> Peer {
        request
            .extensions()
            .get::<Peer>()
            .cloned()
            .unwrap_or_default()
    }
}

/// A text response with `status`, a `content-type` and `body`.
pub fn respond(status: u16, content_type: &str, body: impl Into<String>) -> WebResponse {
    response(status, content_type, body.into())
}

/// A response with `status`, a `content-type` and `body`, any body type (the
/// rehearsal's server answers with bytes).
pub fn response<B>(status: u16, content_type: &str, body: B) -> http::Response<B> {
    let mut response = http::Response::new(body);
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    response
}

/// The headers every answer of both servers carries (the Function URL and the
/// rehearsal's 127.0.0.1 server), refusals included; an endpoint may set stricter
/// ones of its own (the approval page's CSP allows its one style sheet), which these
/// do not replace.
pub const HARDENING: &[(&str, &str)] = &[
    (
        "content-security-policy",
        "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
    ("cross-origin-opener-policy", "same-origin"),
];

/// `headers` with each of [`HARDENING`] it does not set already.
pub fn harden(headers: &mut http::HeaderMap) {
    for (name, value) in HARDENING {
        if !headers.contains_key(*name) {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
    }
}

/// A plain-text response.
pub fn text(status: u16, body: impl Into<String>) -> WebResponse {
    respond(status, "text/plain; charset=utf-8", body)
}

/// The first value of header `name` of `request`, if it is text.
pub fn header<'a>(request: &'a WebRequest, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// A public HTTP endpoint.
pub trait Endpoint: Send + Sync {
    /// The function under `functions/` that serves it on AWS.
    const NAME: &'static str;

    /// Answers one request. Never fails: every problem is a response.
    fn handle(&self, request: WebRequest) -> impl Future<Output = WebResponse> + Send;
}

/// `DeployFrontendFunctionArn` for `deploy-frontend`: the substitution that
/// `template.yaml` gives the definition for each function.
pub fn substitution_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 11);
    for word in name.split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            key.extend(first.to_uppercase());
            key.push_str(chars.as_str());
        }
    }
    key.push_str("FunctionArn");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_keys_follow_the_function_names() {
        assert_eq!(
            substitution_key("deploy-frontend"),
            "DeployFrontendFunctionArn"
        );
        assert_eq!(substitution_key("notify"), "NotifyFunctionArn");
    }
}

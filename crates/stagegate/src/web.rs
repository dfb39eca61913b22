//! The two public HTTP endpoints (the GitHub webhook and the approval page) as values
//! that own their ports, like steps do. A Lambda Function URL serves one on AWS
//! (`stagegate_lambda::serve_url`), the rehearsal's 127.0.0.1 server serves the page
//! locally: both hand the endpoint the same [`WebRequest`] and send back its
//! [`WebResponse`] as it is, headers included, so the two answer alike.

use std::future::Future;

/// An HTTP request, as both servers see it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebRequest {
    pub method: String,
    /// The path without the query string.
    pub path: String,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
    /// The client's address (recorded with a decision; never trusted for identity).
    pub source_ip: String,
    /// The origin this server answers at, as the server knows it (not from a client
    /// header): `https://<function URL domain>` on AWS, `http://127.0.0.1:<port>`
    /// locally. A form posted from this server's own page has this `Origin`.
    pub origin: String,
}

impl WebRequest {
    /// The first value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// An HTTP response, complete with its headers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl WebResponse {
    pub fn new(status: u16, content_type: &str, body: impl Into<String>) -> Self {
        WebResponse {
            status,
            headers: vec![("content-type".into(), content_type.into())],
            body: body.into(),
        }
    }

    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }

    /// The value of header `name`, if set.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A public HTTP endpoint.
pub trait Endpoint: Send + Sync {
    /// The crate under `functions/` that serves it on AWS.
    const NAME: &'static str;

    /// Answers one request. Never fails: every problem is a response.
    fn handle(&self, request: WebRequest) -> impl Future<Output = WebResponse> + Send;
}

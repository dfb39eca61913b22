//! HTTP for the Lambdas: [`HttpsClient`] (the [`Http`] port that integration and
//! performance suites call the deployed URLs with) and [`GitHub`] (release notes'
//! history and the prerelease, over any [`Http`]).
//!
//! It reuses the stack the AWS SDK already links (hyper 1, rustls with aws-lc-rs,
//! the system's CA roots), so it adds almost nothing to a function's build.

mod github;
mod slack;

pub use github::{GitHub, Token};
pub use slack::Slack;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use stagegate::error::PortError;
use stagegate::ports::{Http, HttpRequest, HttpResponse, PortResult};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

/// Longest a suite request may take before it counts as failed.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Responses are cut here: a test needs a status and a small body, not a download.
pub const MAX_RESPONSE_BYTES: usize = 4 * 1024 * 1024;

type Connector = hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// An HTTPS (and HTTP) client trusting the system's CA roots. Clones share one
/// connection pool.
#[derive(Clone, Debug, Default)]
pub struct HttpsClient {
    /// Built by the first request: loading the system's CA roots reads and parses
    /// every certificate file, work a Lambda's init should not do for requests it may
    /// never send (docs/performance.md).
    client: Arc<OnceCell<Client<Connector, Full<Bytes>>>>,
}

impl HttpsClient {
    /// A client trusting the system's CA roots; plain `http://` is allowed too (a
    /// suite may target an internal endpoint, and tests use a local server).
    /// Nothing is loaded until the first request.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the connector (and its CA roots) has been built yet.
    pub fn is_started(&self) -> bool {
        self.client.initialized()
    }

    async fn client(&self) -> PortResult<&Client<Connector, Full<Bytes>>> {
        self.client
            .get_or_try_init(|| async {
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_native_roots()
                    .map_err(|e| {
                        PortError::new("load the system's CA certificates", e.to_string())
                    })?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(Client::builder(TokioExecutor::new()).build(connector))
            })
            .await
    }
}

impl Http for HttpsClient {
    async fn send(&self, request: &HttpRequest) -> PortResult<HttpResponse> {
        let what = || format!("{} {}", request.method, request.url);
        let mut builder = hyper::Request::builder()
            .method(request.method.as_str())
            .uri(request.url.as_str())
            .header("user-agent", "stagegate");
        for (k, v) in &request.headers {
            builder = builder.header(k.as_str(), v.as_str());
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        let req = builder
            .body(body)
            .map_err(|e| PortError::refused(what(), format!("invalid request: {e}")))?;
        let started = Instant::now();
        let exchange = async {
            let res = self
                .client()
                .await?
                .request(req)
                .await
                .map_err(|e| PortError::new(what(), error_chain(&e)))?;
            let status = res.status().as_u16();
            let headers: Vec<(String, String)> = res
                .headers()
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        String::from_utf8_lossy(v.as_bytes()).into_owned(),
                    )
                })
                .collect();
            let limited = http_body_util::Limited::new(res.into_body(), MAX_RESPONSE_BYTES);
            let bytes = limited
                .collect()
                .await
                .map_err(|e| PortError::new(what(), format!("reading the response: {e}")))?
                .to_bytes();
            Ok::<_, PortError>((status, headers, bytes))
        };
        let (status, headers, bytes) = tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| {
                PortError::new(what(), format!("no response within {REQUEST_TIMEOUT:?}"))
            })??;
        Ok(HttpResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&bytes).into_owned(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    /// One canned answer on 127.0.0.1; returns the URL and the request it received.
    async fn serve_once(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/health", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            let n = sock.read(&mut buf).await.unwrap();
            sock.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8_lossy(&buf[..n]).into_owned()
        });
        (url, task)
    }

    #[tokio::test]
    async fn sends_the_request_and_reads_status_and_body() {
        let (url, seen) =
            serve_once("HTTP/1.1 201 Created\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                .await;
        let res = HttpsClient::new()
            .send(&HttpRequest {
                method: "POST".into(),
                url,
                headers: vec![("x-suite".into(), "auth".into())],
                body: Some("{}".into()),
            })
            .await
            .unwrap();
        assert_eq!((res.status, res.body.as_str()), (201, "ok"));
        let req = seen.await.unwrap();
        assert!(req.starts_with("POST /health HTTP/1.1"), "{req}");
        assert!(req.contains("x-suite: auth"), "{req}");
    }

    /// The CA roots are loaded by the first request, not by `new` (a Lambda's init),
    /// and once: clones share the client.
    #[tokio::test]
    async fn nothing_is_loaded_until_the_first_request() {
        let (url, seen) = serve_once("HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n").await;
        let client = HttpsClient::new();
        let clone = client.clone();
        assert!(!client.is_started());
        let res = clone
            .send(&HttpRequest {
                method: "GET".into(),
                url,
                headers: vec![],
                body: None,
            })
            .await
            .unwrap();
        assert_eq!(res.status, 204);
        assert!(client.is_started(), "the clone shares the started client");
        seen.await.unwrap();
    }

    #[tokio::test]
    async fn a_refused_connection_is_an_error_naming_the_request() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        drop(listener);
        let e = HttpsClient::new()
            .send(&HttpRequest {
                method: "GET".into(),
                url: url.clone(),
                headers: vec![],
                body: None,
            })
            .await
            .unwrap_err();
        assert_eq!(e.operation, format!("GET {url}"));
    }

    #[tokio::test]
    async fn a_malformed_url_is_an_error_not_a_panic() {
        let e = HttpsClient::new()
            .send(&HttpRequest {
                method: "GET".into(),
                url: "not a url".into(),
                headers: vec![],
                body: None,
            })
            .await
            .unwrap_err();
        assert!(e.message.contains("invalid request"), "{e}");
    }
}

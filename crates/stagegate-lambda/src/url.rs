//! Lambda Function URL events (payload format 2.0), just the fields stagegate reads,
//! and the response shape Lambda turns back into HTTP.

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use stagegate::ports::{Approvals, Artifacts, TaskCallbacks};
use stagegate::steps::approval_page;
use stagegate::{webhook, Settings};
use std::collections::BTreeMap;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlRequest {
    #[serde(default)]
    pub raw_path: String,
    /// Header names arrive lower-cased.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
    #[serde(default)]
    pub is_base64_encoded: bool,
    pub request_context: RequestContext,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestContext {
    pub http: HttpContext,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpContext {
    pub method: String,
    #[serde(default)]
    pub source_ip: String,
}

impl UrlRequest {
    /// The raw body bytes; `None` when a base64 body does not decode.
    pub fn body_bytes(&self) -> Option<Vec<u8>> {
        let body = self.body.as_deref().unwrap_or_default();
        if self.is_base64_encoded {
            base64::engine::general_purpose::STANDARD.decode(body).ok()
        } else {
            Some(body.as_bytes().to_vec())
        }
    }

    pub fn method(&self) -> &str {
        &self.request_context.http.method
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlResponse {
    pub status_code: u16,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

impl UrlResponse {
    pub fn new(status_code: u16, content_type: &str, body: impl Into<String>) -> Self {
        let headers = BTreeMap::from([
            ("content-type".to_string(), content_type.to_string()),
            // Review pages must not be cached by proxies or framed by other sites.
            ("cache-control".to_string(), "no-store".to_string()),
            ("x-frame-options".to_string(), "DENY".to_string()),
            ("referrer-policy".to_string(), "no-referrer".to_string()),
        ]);
        UrlResponse {
            status_code,
            headers,
            body: body.into(),
        }
    }

    pub fn text(status_code: u16, body: impl Into<String>) -> Self {
        Self::new(status_code, "text/plain; charset=utf-8", body)
    }
}

/// The GitHub webhook behind a Function URL.
pub async fn webhook(
    config: &webhook::Config,
    secrets: &impl webhook::Secrets,
    claims: &impl webhook::Claims,
    events: &impl webhook::Events,
    request: UrlRequest,
) -> UrlResponse {
    if request.method() != "POST" {
        return UrlResponse::text(405, "GitHub delivers webhooks with POST");
    }
    let Some(body) = request.body_bytes() else {
        return UrlResponse::text(400, "the body is not valid base64");
    };
    let delivery = webhook::Delivery {
        headers: request.headers.into_iter().collect(),
        body,
    };
    // Boxed: the SDK futures inside are deep enough to overflow rustc's layout
    // query depth in the binary's `main` otherwise.
    let answer = Box::pin(webhook::handle(
        config,
        secrets,
        claims,
        events,
        chrono::Utc::now(),
        &delivery,
    ))
    .await;
    // Status and message only: they name the tag and commit, never the secret.
    lambda_runtime::tracing::info!(status = answer.status, message = %answer.message, "webhook delivery");
    UrlResponse::text(answer.status, answer.message)
}

/// The approval review page behind a Function URL.
pub async fn approval_page(
    settings: &Settings,
    approvals: &impl Approvals,
    callbacks: &impl TaskCallbacks,
    artifacts: &impl Artifacts,
    request: UrlRequest,
) -> UrlResponse {
    let Some(body) = request.body_bytes() else {
        return UrlResponse::text(400, "the body is not valid base64");
    };
    let page = Box::pin(approval_page::page(
        settings,
        approvals,
        callbacks,
        artifacts,
        chrono::Utc::now(),
        approval_page::PageRequest {
            method: request.method(),
            path: &request.raw_path,
            body: &body,
            from: request.request_context.http.source_ip.clone(),
        },
    ))
    .await;
    // Never the path: it holds the link id.
    lambda_runtime::tracing::info!(
        method = request.method(),
        status = page.status,
        "approval page"
    );
    UrlResponse::new(page.status, page.content_type, page.body)
}

/// Serves a Function URL with `handler`.
pub async fn run<F, Fut>(handler: F) -> Result<(), crate::Error>
where
    F: Fn(UrlRequest) -> Fut,
    Fut: std::future::Future<Output = UrlResponse>,
{
    let handler = &handler;
    lambda_runtime::run(lambda_runtime::service_fn(
        move |event: lambda_runtime::LambdaEvent<UrlRequest>| async move {
            Ok::<_, std::convert::Infallible>(handler(event.payload).await)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_function_url_event() {
        let ev: UrlRequest = serde_json::from_value(serde_json::json!({
            "version": "2.0", "rawPath": "/approvals/x", "rawQueryString": "",
            "headers": {"x-github-event": "push"},
            "requestContext": {"http": {"method": "POST", "path": "/approvals/x",
                "sourceIp": "198.51.100.1", "protocol": "HTTP/1.1", "userAgent": "curl"}},
            "body": "ZGVjaXNpb249YXBwcm92ZQ==", "isBase64Encoded": true
        }))
        .unwrap();
        assert_eq!(ev.method(), "POST");
        assert_eq!(ev.body_bytes().unwrap(), b"decision=approve");
        assert_eq!(ev.request_context.http.source_ip, "198.51.100.1");
    }

    #[test]
    fn an_undecodable_body_is_none() {
        let ev = UrlRequest {
            body: Some("***".into()),
            is_base64_encoded: true,
            ..Default::default()
        };
        assert_eq!(ev.body_bytes(), None);
    }
}

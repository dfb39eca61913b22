//! Lambda Function URLs (payload format 2.0), with the ecosystem's event types
//! (`aws_lambda_events`): the request becomes a [`WebRequest`], the endpoint's
//! [`WebResponse`] goes back as it is, headers included.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use aws_lambda_events::http::{HeaderName, HeaderValue};
use base64::Engine as _;
use lambda_runtime::{service_fn, LambdaEvent};
use stagegate::web::{Endpoint, WebRequest, WebResponse};

/// The request as the endpoints see it; `Err` is the answer to a request that cannot
/// be read (a base64 body that does not decode).
pub fn web_request(event: LambdaFunctionUrlRequest) -> Result<WebRequest, WebResponse> {
    let body = event.body.unwrap_or_default();
    let body = if event.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| WebResponse::text(400, "the body is not valid base64"))?
    } else {
        body.into_bytes()
    };
    let headers = event
        .headers
        .iter()
        .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
        .collect();
    let origin = event
        .request_context
        .domain_name
        .map(|d| format!("https://{d}"))
        .unwrap_or_default();
    let http = event.request_context.http;
    Ok(WebRequest {
        method: http.method.unwrap_or_default(),
        path: event.raw_path.or(http.path).unwrap_or_default(),
        headers,
        body,
        source_ip: http.source_ip.unwrap_or_default(),
        origin,
    })
}

/// The Function URL response for `response` (a header that is not valid HTTP is
/// dropped rather than failing the whole answer).
pub fn url_response(response: WebResponse) -> LambdaFunctionUrlResponse {
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(response.status);
    for (k, v) in &response.headers {
        if let (Ok(k), Ok(v)) = (
            HeaderName::from_bytes(k.as_bytes()),
            HeaderValue::from_str(v),
        ) {
            out.headers.insert(k, v);
        }
    }
    out.body = Some(response.body);
    out
}

/// One request to `endpoint`.
pub async fn handle<E: Endpoint>(
    endpoint: &E,
    event: LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let response = match web_request(event) {
        Ok(request) => {
            let method = request.method.clone();
            // Boxed: the SDK futures inside are deep enough to overflow rustc's
            // layout query depth in the binary's `main` otherwise.
            let response = Box::pin(endpoint.handle(request)).await;
            // Never the path or the body: the path holds the link id.
            lambda_runtime::tracing::info!(
                endpoint = E::NAME,
                method = %method,
                status = response.status,
                "request"
            );
            response
        }
        Err(refused) => refused,
    };
    url_response(response)
}

/// Serves `endpoint` behind this function's URL.
pub async fn serve_url<E: Endpoint>(endpoint: E) -> Result<(), crate::Error> {
    let endpoint = &endpoint;
    lambda_runtime::run(service_fn(
        move |event: LambdaEvent<LambdaFunctionUrlRequest>| async move {
            Ok::<_, std::convert::Infallible>(handle(endpoint, event.payload).await)
        },
    ))
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(body: &str, base64: bool) -> LambdaFunctionUrlRequest {
        serde_json::from_value(serde_json::json!({
            "version": "2.0", "rawPath": "/approvals/x", "rawQueryString": "",
            "headers": {"x-github-event": "push"},
            "requestContext": {"domainName": "abc.lambda-url.us-east-1.on.aws",
                "http": {"method": "POST", "path": "/approvals/x",
                "sourceIp": "198.51.100.1", "protocol": "HTTP/1.1", "userAgent": "curl"},
                "timeEpoch": 0},
            "body": body, "isBase64Encoded": base64
        }))
        .unwrap()
    }

    #[test]
    fn reads_a_function_url_event() {
        let r = web_request(event("ZGVjaXNpb249YXBwcm92ZQ==", true)).unwrap();
        assert_eq!(r.method, "POST");
        assert_eq!(r.path, "/approvals/x");
        assert_eq!(r.body, b"decision=approve");
        assert_eq!(r.source_ip, "198.51.100.1");
        assert_eq!(r.header("X-GitHub-Event"), Some("push"));
        assert_eq!(r.origin, "https://abc.lambda-url.us-east-1.on.aws");
    }

    #[test]
    fn an_undecodable_body_is_a_bad_request() {
        let refused = web_request(event("***", true)).unwrap_err();
        assert_eq!(refused.status, 400);
    }

    /// Behind a Function URL the approval page answers with the same security
    /// headers as on 127.0.0.1 (see `stagegate_local::http`'s test of the same).
    #[tokio::test]
    async fn the_approval_page_keeps_its_security_headers_behind_a_function_url() {
        use stagegate::memory::MemoryApprovals;
        use stagegate::ports::SystemClock;
        use stagegate::steps::approval_page::{security_headers, ApprovalPage};
        use stagegate::testing::{MemoryArtifacts, MemoryCallbacks};
        let page = ApprovalPage::new(
            &stagegate::Settings::default(),
            MemoryApprovals::default(),
            MemoryCallbacks::default(),
            MemoryArtifacts::default(),
            SystemClock,
        );
        for method in ["GET", "HEAD", "POST", "PUT"] {
            let mut ev = event("", false);
            ev.request_context.http.method = Some(method.into());
            let out = handle(&page, ev).await;
            for (k, v) in security_headers() {
                assert_eq!(
                    out.headers.get(k.as_str()).and_then(|v| v.to_str().ok()),
                    Some(v.as_str()),
                    "{method}: {k}"
                );
            }
            if method == "HEAD" {
                assert_eq!(out.body.as_deref(), Some(""));
            }
        }
    }

    #[test]
    fn the_response_keeps_every_header() {
        let mut r = WebResponse::text(409, "already decided");
        r.headers.push(("x-frame-options".into(), "DENY".into()));
        let out = url_response(r);
        assert_eq!(out.status_code, 409);
        assert_eq!(out.headers["x-frame-options"], "DENY");
        assert_eq!(out.headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(out.body.as_deref(), Some("already decided"));
    }
}

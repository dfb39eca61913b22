//! Lambda Function URLs (payload format 2.0), with the ecosystem's event types
//! (`aws_lambda_events`): the event becomes an `http::Request` (as `lambda_http`
//! makes it, with the client's address and this URL's origin as a [`Peer`]), the
//! endpoint's `http::Response` goes back as it is, headers included.

use aws_lambda_events::event::lambda_function_urls::{
    LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
};
use base64::Engine as _;
use lambda_runtime::{service_fn, LambdaEvent};
use stagegate::step::{text, Endpoint, Peer, WebRequest, WebResponse};

/// The request as the endpoints see it; `Err` says why one cannot be read (a base64
/// body that does not decode, a method or path that is not HTTP): a 400.
pub fn web_request(event: LambdaFunctionUrlRequest) -> Result<WebRequest, &'static str> {
    let body = event.body.unwrap_or_default();
    let body = if event.is_base64_encoded {
        base64::engine::general_purpose::STANDARD
            .decode(body)
            .map_err(|_| "the body is not valid base64")?
    } else {
        body.into_bytes()
    };
    let origin = event
        .request_context
        .domain_name
        .map(|d| format!("https://{d}"))
        .unwrap_or_default();
    let http = event.request_context.http;
    let path = event.raw_path.or(http.path).unwrap_or_else(|| "/".into());
    let uri = match event.raw_query_string.filter(|q| !q.is_empty()) {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    let mut request = http::Request::new(body);
    *request.method_mut() = http::Method::from_bytes(http.method.unwrap_or_default().as_bytes())
        .map_err(|_| "the method is not an HTTP method")?;
    *request.uri_mut() = uri.parse().map_err(|_| "the path is not an HTTP path")?;
    *request.headers_mut() = event.headers;
    request.extensions_mut().insert(Peer {
        source_ip: http.source_ip.unwrap_or_default(),
        origin,
    });
    Ok(request)
}

/// The Function URL response for `response`, headers as they are.
pub fn url_response(response: WebResponse) -> LambdaFunctionUrlResponse {
    let (parts, body) = response.into_parts();
    let mut out = LambdaFunctionUrlResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = parts.headers;
    out.body = Some(body);
    out
}

/// One request to `endpoint`.
pub async fn handle<E: Endpoint>(
    endpoint: &E,
    event: LambdaFunctionUrlRequest,
) -> LambdaFunctionUrlResponse {
    let response = match web_request(event) {
        Ok(request) => {
            let method = request.method().clone();
            // Boxed: the SDK futures inside are deep enough to overflow rustc's
            // layout query depth in the binary's `main` otherwise.
            let response = Box::pin(endpoint.handle(request)).await;
            // Never the path or the body: the path holds the link id.
            lambda_runtime::tracing::info!(
                endpoint = E::NAME,
                method = %method,
                status = response.status().as_u16(),
                "request"
            );
            response
        }
        Err(why) => text(400, why),
    };
    let mut response = response;
    stagegate::step::harden(response.headers_mut());
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
        assert_eq!(r.method(), http::Method::POST);
        assert_eq!(r.uri().path(), "/approvals/x");
        assert_eq!(r.body(), b"decision=approve");
        assert_eq!(stagegate::step::header(&r, "X-GitHub-Event"), Some("push"));
        let peer = Peer::of(&r);
        assert_eq!(peer.source_ip, "198.51.100.1");
        assert_eq!(peer.origin, "https://abc.lambda-url.us-east-1.on.aws");
    }

    struct Ok200;

    impl Endpoint for Ok200 {
        const NAME: &'static str = "ok";
        async fn handle(&self, _: WebRequest) -> WebResponse {
            text(200, "ok")
        }
    }

    /// A refusal of the server (an event that is not a request) carries the same
    /// hardening headers as an endpoint's own answer.
    #[tokio::test]
    async fn every_answer_carries_the_hardening_headers_refusals_included() {
        let refused = handle(&Ok200, event("***", true)).await;
        assert_eq!(refused.status_code, 400);
        let answered = handle(&Ok200, event("", false)).await;
        assert_eq!(answered.status_code, 200);
        for out in [refused, answered] {
            for (name, value) in stagegate::step::HARDENING {
                let got = out.headers.get(*name).and_then(|v| v.to_str().ok());
                assert_eq!(got, Some(*value), "{name}");
            }
        }
    }

    #[test]
    fn an_undecodable_body_or_method_is_refused_saying_why() {
        let refused = web_request(event("***", true)).unwrap_err();
        assert_eq!(refused, "the body is not valid base64");
        let mut bad = event("", false);
        bad.request_context.http.method = Some("GE T".into());
        assert_eq!(
            web_request(bad).unwrap_err(),
            "the method is not an HTTP method"
        );
    }

    /// Behind a Function URL the approval page answers with the same security
    /// headers as on 127.0.0.1 (see `stagegate_local::http`'s test of the same).
    #[tokio::test]
    async fn the_approval_page_keeps_its_security_headers_behind_a_function_url() {
        use stagegate::ports::SystemClock;
        use stagegate::steps::approval_page::{security_headers, ApprovalPage};
        use stagegate::testing::{MemoryArtifacts, MemoryRuns, MemoryTable};
        let page = ApprovalPage {
            settings: stagegate::Settings::default(),
            store: MemoryTable::default(),
            runs: MemoryRuns::default(),
            artifacts: MemoryArtifacts::default(),
            clock: SystemClock,
        };
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
        let mut r = text(409, "already decided");
        r.headers_mut()
            .insert("x-frame-options", http::HeaderValue::from_static("DENY"));
        let out = url_response(r);
        assert_eq!(out.status_code, 409);
        assert_eq!(out.headers["x-frame-options"], "DENY");
        assert_eq!(out.headers["content-type"], "text/plain; charset=utf-8");
        assert_eq!(out.body.as_deref(), Some("already decided"));
    }
}

//! HTTP on 127.0.0.1 for the rehearsal: the approval page, the local static site (and
//! the tests' stand-ins for AWS and GitHub), served by hyper — the HTTP stack the AWS
//! SDK already links — in the ecosystem's `http` types. An endpoint gets here exactly
//! the request it gets behind a Lambda Function URL (`http::Request`, with a [`Peer`]
//! saying who asked and which origin this server answers at), and its response goes
//! out as it made it.
//!
//! Bounded like a Function URL: a request head over [`MAX_HEAD`] bytes or a body over
//! [`MAX_BODY`] is refused, a client that does not send its head within
//! [`HEAD_TIMEOUT`] is dropped. `http://` only: the local target never needs TLS.

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use stagegate::step::{Endpoint, Peer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

/// Largest request head accepted (hyper answers a larger one with 431).
pub const MAX_HEAD: usize = 16 * 1024;
/// Largest request body accepted (413 beyond).
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a client has to send its request head.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as handlers get it: the body read whole, a [`Peer`] among the
/// extensions.
pub type Request = http::Request<Vec<u8>>;
/// A response, any body.
pub type Response = http::Response<Vec<u8>>;
/// What answers requests.
pub type Handler = Arc<dyn Fn(Request) -> BoxFuture<'static, Response> + Send + Sync>;

/// A response with `status`, a `content-type` and `body`.
pub fn respond(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Response {
    let mut response = http::Response::new(body.into());
    *response.status_mut() =
        http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    response
}

/// The handler of an [`Endpoint`]: the same request in, the same response out, as
/// behind a Lambda Function URL.
pub fn endpoint<E: Endpoint + 'static>(endpoint: Arc<E>) -> Handler {
    Arc::new(move |req: Request| {
        let endpoint = endpoint.clone();
        Box::pin(async move { endpoint.handle(req).await.map(String::into_bytes) })
    })
}

/// Binds 127.0.0.1 on `port` (0: any free port), so its address is known before the
/// handler is built (the approval page's links carry it).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Binds 127.0.0.1 on `port` and serves `handler` there: the address, and the server
/// task (aborting it stops the server).
pub async fn serve(
    port: u16,
    handler: Handler,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = bind(port).await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve_on(listener, handler)))
}

/// Serves `listener` with `handler` until the returned task is aborted.
pub fn serve_on(listener: TcpListener, handler: Handler) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let origin = match listener.local_addr() {
            Ok(a) => format!("http://{a}"),
            Err(_) => String::new(),
        };
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let (handler, origin) = (handler.clone(), origin.clone());
            let service = hyper::service::service_fn(move |req| {
                let peer = Peer {
                    source_ip: peer.ip().to_string(),
                    origin: origin.clone(),
                };
                answer(handler.clone(), peer, req)
            });
            tokio::spawn(async move {
                // One request per connection, as the old server did: no idle
                // keep-alive connection for the head timeout to cut.
                let _ = http1::Builder::new()
                    .keep_alive(false)
                    .max_buf_size(MAX_HEAD)
                    .timer(TokioTimer::new())
                    .header_read_timeout(HEAD_TIMEOUT)
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}

/// One request: its body read (bounded), handed over with its peer, answered.
async fn answer(
    handler: Handler,
    peer: Peer,
    req: http::Request<Incoming>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let (mut parts, body) = req.into_parts();
    let response = match Limited::new(body, MAX_BODY).collect().await {
        Ok(body) => {
            parts.extensions.insert(peer);
            handler(http::Request::from_parts(parts, body.to_bytes().to_vec())).await
        }
        Err(_) => respond(413, "text/plain; charset=utf-8", "Payload Too Large"),
    };
    Ok(response.map(|b| Full::new(Bytes::from(b))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate::ports::{Http, HttpRequest};
    use stagegate_https::HttpsClient;

    fn echo() -> Handler {
        Arc::new(|req: Request| {
            Box::pin(async move {
                let peer = Peer::of(&req);
                let text = format!(
                    "{} {} {} from {} at {}",
                    req.method(),
                    req.uri(),
                    String::from_utf8_lossy(req.body()),
                    peer.source_ip,
                    peer.origin
                );
                respond(200, "text/plain", text)
            })
        })
    }

    fn request(method: &str, url: &str, body: Option<&str>) -> HttpRequest {
        HttpRequest {
            method: method.into(),
            url: url.into(),
            headers: vec![],
            body: body.map(str::to_string),
        }
    }

    #[tokio::test]
    async fn a_request_reaches_the_handler_with_its_peer_and_back() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let r = HttpsClient::new()
            .send(&request(
                "POST",
                &format!("http://{addr}/x?y=1"),
                Some("hello"),
            ))
            .await
            .unwrap();
        assert_eq!(r.status, 200);
        assert_eq!(
            r.body,
            format!("POST /x?y=1 hello from 127.0.0.1 at http://{addr}")
        );
        task.abort();
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_with_413() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let big = "x".repeat(MAX_BODY + 1);
        let r = HttpsClient::new()
            .send(&request("POST", &format!("http://{addr}/"), Some(&big)))
            .await
            .unwrap();
        assert_eq!(r.status, 413);
        task.abort();
    }

    #[tokio::test]
    async fn an_oversized_head_is_refused() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let mut req = request("GET", &format!("http://{addr}/"), None);
        req.headers
            .push(("x-filler".into(), "y".repeat(MAX_HEAD + 1024)));
        let status = match HttpsClient::new().send(&req).await {
            Ok(r) => r.status,
            // hyper may close the connection instead of answering.
            Err(_) => 431,
        };
        assert_eq!(status, 431);
        task.abort();
    }
}

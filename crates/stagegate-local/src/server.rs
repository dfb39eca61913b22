//! HTTP on 127.0.0.1 for the rehearsal: the approval page, the local static site (and
//! the tests' stand-ins for AWS and GitHub), served by hyper — the HTTP stack the AWS
//! SDK already links — in the ecosystem's `http` types. An endpoint gets here exactly
//! the request it gets behind a Lambda Function URL (`http::Request`, with a [`Peer`]
//! saying who asked and which origin this server answers at), and its response goes
//! out as it made it.
//!
//! Bounded like a Function URL, and every refusal is this server's own answer with
//! the same hardening headers as any other ([`stagegate::step::HARDENING`]): the
//! request head is read here first, while it arrives — over [`MAX_HEAD`] bytes (or
//! over 100 headers) is 431, not within [`HEAD_TIMEOUT`] is 408, not HTTP is 400 —
//! and only a head that passes goes on to hyper; a body over [`MAX_BODY`] is 413.
//! `http://` only: the local target never needs TLS.

use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use stagegate::step::{Endpoint, Peer};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Largest request head accepted (431 beyond), counted as it is read.
pub const MAX_HEAD: usize = 16 * 1024;
/// Most headers in one request (431 beyond), as hyper's own limit.
const MAX_HEADERS: usize = 100;
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
    stagegate::step::response(status, content_type, body.into())
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
            tokio::spawn(connection(stream, service));
        }
    })
}

/// One connection: its head read and checked here, then served by hyper.
async fn connection<S>(mut stream: TcpStream, service: S)
where
    S: hyper::service::HttpService<Incoming, ResBody = Full<Bytes>> + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let head = match read_head(&mut stream).await {
        Ok(head) => head,
        Err(Some(refusal)) => {
            let _ = stream.write_all(&refusal).await;
            let _ = stream.shutdown().await;
            // Closing with unread bytes would reset the connection and could destroy
            // the answer before the client reads it: drain a little first (bounded).
            let drain = async {
                let mut sink = [0u8; 4096];
                let mut left: usize = 64 * 1024;
                while left > 0 {
                    match stream.read(&mut sink).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => left = left.saturating_sub(n),
                    }
                }
            };
            let _ = tokio::time::timeout(Duration::from_secs(1), drain).await;
            return;
        }
        Err(None) => return,
    };
    // One request per connection, as the old server did: no idle keep-alive
    // connection for the head timeout to cut.
    let io = Prefixed {
        head,
        at: 0,
        stream,
    };
    let _ = http1::Builder::new()
        .keep_alive(false)
        .max_buf_size(MAX_HEAD + 8 * 1024)
        .timer(TokioTimer::new())
        .header_read_timeout(HEAD_TIMEOUT)
        .serve_connection(TokioIo::new(io), service)
        .await;
}

/// The request head, through its blank line (and whatever came with it), read within
/// [`MAX_HEAD`] bytes and [`HEAD_TIMEOUT`] and parsed; else the refusal to send
/// (`None`: the client went away, nothing to answer).
async fn read_head(stream: &mut TcpStream) -> Result<Vec<u8>, Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(4096);
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(end + 4);
            }
            if buf.len() > MAX_HEAD {
                return Err(Some(431));
            }
            let mut chunk = [0u8; 4096];
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return Err(None),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
    };
    let end = match tokio::time::timeout(HEAD_TIMEOUT, read).await {
        Err(_) => return Err(Some(refusal(408))),
        Ok(Err(status)) => return Err(status.map(refusal)),
        Ok(Ok(end)) if end > MAX_HEAD => return Err(Some(refusal(431))),
        Ok(Ok(end)) => end,
    };
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    match httparse::Request::new(&mut headers).parse(&buf[..end]) {
        Ok(httparse::Status::Complete(_)) => Ok(buf),
        Err(httparse::Error::TooManyHeaders) => Err(Some(refusal(431))),
        _ => Err(Some(refusal(400))),
    }
}

/// A refusal as bytes on the wire: the status, a short text, the hardening headers,
/// and the connection closed.
fn refusal(status: u16) -> Vec<u8> {
    let code = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::BAD_REQUEST);
    let text = code.canonical_reason().unwrap_or("Refused");
    let mut headers = http::HeaderMap::new();
    stagegate::step::harden(&mut headers);
    let mut out = format!(
        "HTTP/1.1 {} {text}\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: {}\r\nconnection: close\r\n",
        code.as_u16(),
        text.len()
    );
    for (name, value) in &headers {
        out.push_str(&format!(
            "{name}: {}\r\n",
            value.to_str().unwrap_or_default()
        ));
    }
    out.push_str("\r\n");
    out.push_str(text);
    out.into_bytes()
}

/// The connection as hyper reads it: the head already read, then the rest.
struct Prefixed {
    head: Vec<u8>,
    at: usize,
    stream: TcpStream,
}

impl AsyncRead for Prefixed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.at < self.head.len() {
            let n = buf.remaining().min(self.head.len() - self.at);
            let at = self.at;
            buf.put_slice(&self.head[at..at + n]);
            self.at += n;
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Prefixed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
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
    let mut response = response;
    stagegate::step::harden(response.headers_mut());
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

    /// A POST one byte over [`MAX_BODY`].
    async fn post_oversized(addr: std::net::SocketAddr) -> stagegate::ports::HttpResponse {
        let big = "x".repeat(MAX_BODY + 1);
        HttpsClient::new()
            .send(&request("POST", &format!("http://{addr}/"), Some(&big)))
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_oversized_body_is_refused_with_413() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let r = post_oversized(addr).await;
        assert_eq!(r.status, 413);
        task.abort();
    }

    /// `bytes` sent raw to `addr`; the whole answer, as text.
    async fn raw(addr: SocketAddr, bytes: &[u8]) -> String {
        let mut s = TcpStream::connect(addr).await.unwrap();
        s.write_all(bytes).await.unwrap();
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out).await;
        String::from_utf8_lossy(&out).into_owned()
    }

    fn assert_hardened(answer: &str) {
        let lower = answer.to_ascii_lowercase();
        for (name, value) in stagegate::step::HARDENING {
            assert!(
                lower.contains(&format!("{name}: {}", value.to_ascii_lowercase())),
                "no {name} in {answer}"
            );
        }
    }

    /// Refusals are this server's own answers, hardened: a head over 16 KiB (without
    /// waiting for its end) or over 100 headers is 431, what is not HTTP is 400.
    #[tokio::test]
    async fn refusals_are_this_servers_own_hardened_answers() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let mut oversized = b"GET / HTTP/1.1\r\nhost: x\r\n".to_vec();
        oversized.extend_from_slice(format!("x-filler: {}\r\n", "y".repeat(17 * 1024)).as_bytes());
        let mut many = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..=MAX_HEADERS {
            many.extend_from_slice(format!("x-{i}: 1\r\n").as_bytes());
        }
        many.extend_from_slice(b"\r\n");
        for (request, status) in [
            (oversized, 431),
            (many, 431),
            (b"HELLO THERE\r\n\r\n".to_vec(), 400),
        ] {
            let answer = raw(addr, &request).await;
            assert!(
                answer.starts_with(&format!("HTTP/1.1 {status} ")),
                "{answer}"
            );
            assert_hardened(&answer);
        }
        task.abort();
    }

    #[tokio::test(start_paused = true)]
    async fn a_head_that_never_ends_is_answered_408() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let answer = raw(addr, b"GET / HTTP/1.1\r\nhost: x\r\n").await;
        assert!(answer.starts_with("HTTP/1.1 408 "), "{answer}");
        assert_hardened(&answer);
        task.abort();
    }

    #[tokio::test]
    async fn every_answer_of_a_handler_and_the_413_carry_the_hardening_headers() {
        let (addr, task) = serve(0, echo()).await.unwrap();
        let ok = raw(addr, b"GET /x HTTP/1.1\r\nhost: x\r\n\r\n").await;
        assert!(ok.starts_with("HTTP/1.1 200 "), "{ok}");
        assert_hardened(&ok);
        let r = post_oversized(addr).await;
        assert_eq!(r.status, 413);
        for (name, value) in stagegate::step::HARDENING {
            assert!(
                r.headers.iter().any(|(k, v)| k == name && v == value),
                "{name}"
            );
        }
        task.abort();
    }
}

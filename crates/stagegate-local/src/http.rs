//! A deliberately small HTTP/1.1 server and client for 127.0.0.1: the local static
//! site, the approval page and the integration suites' requests. One request per
//! connection, bounded sizes and times; `http://` only (the local target never needs
//! TLS, and says so instead of pretending).

use stagegate::web::{Endpoint, WebRequest, WebResponse};
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

const MAX_HEAD: usize = 16 * 1024;
const MAX_BODY: usize = 1024 * 1024;
const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// A request as this server reads it: the endpoints' own type, so the approval page
/// sees here exactly what it sees behind a Function URL.
pub type Request = WebRequest;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// Every header but `Content-Length` and `Connection`, which the server sets.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        Response {
            status,
            headers: vec![
                ("Content-Type".into(), content_type.into()),
                ("Cache-Control".into(), "no-store".into()),
                ("X-Content-Type-Options".into(), "nosniff".into()),
            ],
            body: body.into(),
        }
    }
    pub fn text(status: u16, body: &str) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body)
    }
}

impl From<WebResponse> for Response {
    /// An endpoint's response goes out exactly as the endpoint made it.
    fn from(r: WebResponse) -> Response {
        Response {
            status: r.status,
            headers: r.headers,
            body: r.body.into_bytes(),
        }
    }
}

pub type Handler =
    Arc<dyn Fn(Request) -> Pin<Box<dyn Future<Output = Response> + Send>> + Send + Sync>;

/// The handler of an [`Endpoint`]: the same request in, the same response out, as
/// behind a Lambda Function URL.
pub fn endpoint<E: Endpoint + 'static>(endpoint: Arc<E>) -> Handler {
    Arc::new(move |req: Request| {
        let endpoint = endpoint.clone();
        Box::pin(async move { endpoint.handle(req).await.into() })
    })
}

/// Binds 127.0.0.1 on `port` (0: any free port) and serves until the task is dropped.
/// Returns the bound address and the server task.
pub async fn serve(
    port: u16,
    handler: Handler,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = bind(port).await?;
    let addr = listener.local_addr()?;
    Ok((addr, serve_on(listener, handler)))
}

/// Binds 127.0.0.1 on `port` (0: any free port), so its address is known before the
/// handler is built (the approval page's links carry it).
pub async fn bind(port: u16) -> std::io::Result<TcpListener> {
    TcpListener::bind(("127.0.0.1", port)).await
}

/// Serves `listener` with `handler` until the returned task is dropped or aborted.
pub fn serve_on(listener: TcpListener, handler: Handler) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                continue;
            };
            let h = handler.clone();
            tokio::spawn(async move {
                let _ = handle(stream, peer, h).await;
            });
        }
    })
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        303 => "See Other",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Payload Too Large",
        500 => "Internal Server Error",
        _ => "Status",
    }
}

/// One connection: reading the request and writing the answer are bounded
/// ([`IO_TIMEOUT`] each, so a slow client cannot hold a connection); the handler may
/// take as long as it needs (a Lambda Runtime API's long poll does).
async fn handle(mut stream: TcpStream, peer: SocketAddr, handler: Handler) -> std::io::Result<()> {
    let local = stream.local_addr()?;
    let read = tokio::time::timeout(IO_TIMEOUT, read_request(&mut stream, peer, local)).await;
    let response = match read {
        Ok(Ok(req)) => handler(req).await,
        Ok(Err(status)) => Response::text(status, reason(status)),
        Err(_) => Response::text(408, "Request Timeout"),
    };
    tokio::time::timeout(IO_TIMEOUT, write_response(&mut stream, response))
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

async fn write_response(stream: &mut TcpStream, response: Response) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {} {}\r\n",
        response.status,
        reason(response.status)
    );
    for (k, v) in &response.headers {
        // A header value never carries a line break (that would split the response).
        if !v.contains(['\r', '\n']) && !k.contains(['\r', '\n', ':']) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
    }
    head.push_str(&format!(
        "Content-Length: {}\r\nConnection: close\r\n\r\n",
        response.body.len()
    ));
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&response.body).await?;
    stream.shutdown().await
}

async fn read_request(
    stream: &mut TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
) -> Result<Request, u16> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_HEAD {
            return Err(413);
        }
        let n = stream.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).map_err(|_| 400u16)?;
    let mut lines = head.split("\r\n");
    let mut first = lines.next().unwrap_or_default().split(' ');
    let (method, path) = (
        first.next().unwrap_or_default().to_string(),
        first.next().unwrap_or_default().to_string(),
    );
    if method.is_empty() || !path.starts_with('/') {
        return Err(400);
    }
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().map_err(|_| 400u16))
        .transpose()?
        .unwrap_or(0);
    if length > MAX_BODY {
        return Err(413);
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).await.map_err(|_| 400u16)?;
        if n == 0 {
            return Err(400);
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let path = path.split('?').next().unwrap_or_default().to_string();
    Ok(Request {
        method,
        path,
        headers: headers
            .into_iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v))
            .collect(),
        body,
        source_ip: peer.ip().to_string(),
        origin: format!("http://{local}"),
    })
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A response to a client request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: Vec<(String, String)>,
    pub body: String,
    pub elapsed_ms: u64,
}

/// Sends one request to an `http://host:port/path` URL.
pub async fn request(
    method: &str,
    url: &str,
    headers: &[(String, String)],
    body: Option<&str>,
) -> Result<ClientResponse, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("'{url}': the local target only reaches http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, "/"),
    };
    let started = Instant::now();
    let exchange = async {
        let mut stream = TcpStream::connect(authority)
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        let body = body.unwrap_or_default();
        let mut req = format!("{method} {path} HTTP/1.1\r\nHost: {authority}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
        if !body.is_empty()
            && !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req.push_str("Content-Type: application/json\r\n");
        }
        for (k, v) in headers {
            req.push_str(&format!("{k}: {v}\r\n"));
        }
        req.push_str("\r\n");
        req.push_str(body);
        stream
            .write_all(req.as_bytes())
            .await
            .map_err(|e| format!("{method} {url}: {e}"))?;
        // Read the head, then as many body bytes as Content-Length says (a server may
        // keep the connection open despite `Connection: close`), else to the end.
        let mut raw = Vec::new();
        let mut chunk = [0u8; 8192];
        let head_end = loop {
            if let Some(i) = find(&raw, b"\r\n\r\n") {
                break i;
            }
            let n = stream
                .read(&mut chunk)
                .await
                .map_err(|e| format!("{method} {url}: {e}"))?;
            if n == 0 {
                return Err(format!("{method} {url}: malformed response"));
            }
            raw.extend_from_slice(&chunk[..n]);
        };
        let length = String::from_utf8_lossy(&raw[..head_end])
            .split("\r\n")
            .filter_map(|l| l.split_once(':'))
            .find(|(k, _)| k.trim().eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.trim().parse::<usize>().ok());
        match length {
            Some(length) => {
                while raw.len() < head_end + 4 + length {
                    let n = stream
                        .read(&mut chunk)
                        .await
                        .map_err(|e| format!("{method} {url}: {e}"))?;
                    if n == 0 {
                        break;
                    }
                    raw.extend_from_slice(&chunk[..n]);
                }
                raw.truncate((head_end + 4 + length).min(raw.len()));
            }
            None => {
                stream
                    .read_to_end(&mut raw)
                    .await
                    .map_err(|e| format!("{method} {url}: {e}"))?;
            }
        }
        let head = String::from_utf8_lossy(&raw[..head_end]);
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse::<u16>().ok())
            .ok_or_else(|| format!("{method} {url}: malformed status line"))?;
        let headers = head
            .split("\r\n")
            .skip(1)
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        Ok(ClientResponse {
            status,
            headers,
            body: String::from_utf8_lossy(&raw[head_end + 4..]).into_owned(),
            elapsed_ms: started.elapsed().as_millis() as u64,
        })
    };
    tokio::time::timeout(IO_TIMEOUT, exchange)
        .await
        .map_err(|_| format!("{method} {url}: timed out after {}s", IO_TIMEOUT.as_secs()))?
}

impl ClientResponse {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub use stagegate::steps::approval_page::parse_form;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn serves_and_requests_round_trip() {
        let handler: Handler = Arc::new(|req: Request| {
            Box::pin(async move {
                Response::text(
                    200,
                    &format!(
                        "{} {} {}",
                        req.method,
                        req.path,
                        String::from_utf8_lossy(&req.body)
                    ),
                )
            })
        });
        let (addr, task) = serve(0, handler).await.unwrap();
        let r = request("POST", &format!("http://{addr}/x?y=1"), &[], Some("hello"))
            .await
            .unwrap();
        assert_eq!((r.status, r.body.as_str()), (200, "POST /x hello"));
        assert!(request("GET", "https://example.com/", &[], None)
            .await
            .unwrap_err()
            .contains("only reaches http://"));
        task.abort();
    }

    /// A client that never finishes its request gets a 408 after [`IO_TIMEOUT`]; a
    /// handler that takes longer than that (a Runtime API's long poll) still answers.
    #[tokio::test(start_paused = true)]
    async fn reading_is_bounded_and_handling_is_not() {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let handler: Handler = Arc::new(|_req: Request| {
            Box::pin(async move {
                tokio::time::sleep(IO_TIMEOUT * 3).await;
                Response::text(200, "late but whole")
            })
        });
        let (addr, task) = serve(0, handler).await.unwrap();
        let mut polling = TcpStream::connect(addr).await.unwrap();
        polling
            .write_all(b"GET /poll HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        polling.read_to_string(&mut answer).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
        assert!(answer.ends_with("late but whole"), "{answer}");
        let mut slow = TcpStream::connect(addr).await.unwrap();
        slow.write_all(b"GET /poll HTTP/1.1\r\nHost: x\r\n")
            .await
            .unwrap();
        let mut answer = String::new();
        slow.read_to_string(&mut answer).await.unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 408 Request Timeout"),
            "{answer}"
        );
        task.abort();
    }

    /// The approval page served here answers with exactly the headers it answers
    /// with behind a Function URL (see `stagegate_lambda::url`'s test of the same).
    #[tokio::test]
    async fn the_approval_page_keeps_its_security_headers_and_head_has_no_body() {
        use stagegate::memory::MemoryApprovals;
        use stagegate::ports::{Approvals, SystemClock};
        use stagegate::steps::approval_page::{security_headers, ApprovalPage};
        let approvals = Arc::new(MemoryApprovals::default());
        let record = stagegate::testing::pending_record("a", "rc-1.4.0", "t");
        let id = "B".repeat(43);
        let link = stagegate::ports::Link {
            id_hash: stagegate::approvals::hash_id(&id),
            approval_id: "a".into(),
            approver_id: "bob".into(),
            expires_at: chrono::Utc::now() + chrono::Duration::hours(1),
        };
        let mut record = record;
        record.expires_at = link.expires_at;
        approvals.create(&record, &[link]).await.unwrap();
        let page = ApprovalPage::new(
            &stagegate::Settings::default(),
            approvals,
            stagegate::testing::MemoryCallbacks::default(),
            stagegate::testing::MemoryArtifacts::default(),
            SystemClock,
        );
        let (addr, task) = serve(0, endpoint(Arc::new(page))).await.unwrap();
        for (method, path) in [
            ("GET", format!("/approvals/{id}")),
            ("GET", "/nothing".into()),
            ("HEAD", format!("/approvals/{id}")),
        ] {
            let r = request(method, &format!("http://{addr}{path}"), &[], None)
                .await
                .unwrap();
            for (k, v) in security_headers() {
                assert_eq!(r.header(&k), Some(v.as_str()), "{method} {path}: {k}");
            }
            if method == "HEAD" {
                assert_eq!((r.status, r.body.as_str()), (200, ""));
            } else {
                assert!(!r.body.is_empty());
            }
        }
        task.abort();
    }

    #[tokio::test]
    async fn oversized_bodies_are_refused() {
        let handler: Handler =
            Arc::new(|_req: Request| Box::pin(async { Response::text(200, "ok") }));
        let (addr, task) = serve(0, handler).await.unwrap();
        let big = "x".repeat(MAX_BODY + 1);
        let r = request("POST", &format!("http://{addr}/"), &[], Some(&big)).await;
        assert!(
            matches!(r, Ok(ClientResponse { status: 413, .. })) || r.is_err(),
            "{r:?}"
        );
        task.abort();
    }
}

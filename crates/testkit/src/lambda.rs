//! A Lambda Runtime API host on 127.0.0.1: runs a built function binary as Lambda
//! does (`AWS_LAMBDA_RUNTIME_API`), hands it events through
//! `GET /2018-06-01/runtime/invocation/next`, and takes its answers from
//! `.../invocation/<id>/response` and `.../error`. The end-to-end tests drive the
//! webhook and the approval page this way; the init benchmark times the first `next`.

use serde_json::Value;
use stagegate_local::server::{self, respond, Handler, Request, Response};
use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The domain of the Function URL in [`function_url_event`]s (a page's origin is
/// `https://` and this).
pub const URL_DOMAIN: &str = "e2e.lambda-url.us-east-1.on.aws";

/// A Function URL event (payload format 2.0) as Lambda hands it to a function, from
/// `source_ip`.
pub fn function_url_event(
    method: &str,
    path: &str,
    headers: Value,
    body: Option<&str>,
    source_ip: &str,
) -> Value {
    serde_json::json!({
        "version": "2.0",
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "anonymous",
            "apiId": "e2e",
            "domainName": URL_DOMAIN,
            "domainPrefix": "e2e",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": source_ip,
                "userAgent": headers["user-agent"].as_str().unwrap_or("e2e")
            },
            "requestId": "e2e",
            "routeKey": "$default",
            "stage": "$default",
            "time": "03/Dec/2026:10:00:00 +0000",
            "timeEpoch": 1_796_292_000_000u64
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// How an invocation ended: the function's response, or its error (`errorType`,
/// `errorMessage`).
pub type Answer = Result<Value, Value>;

#[derive(Default)]
struct State {
    /// When the first `GET .../next` arrived (the function finished its init).
    first_next: Option<Instant>,
    /// An init error the function reported.
    init_error: Option<Value>,
    /// When the first answer (response or error) arrived.
    first_answer: Option<Instant>,
    waiting: HashMap<String, oneshot::Sender<Answer>>,
}

/// A function binary running under this Runtime API host; killed when dropped.
pub struct LambdaProcess {
    child: tokio::process::Child,
    events: mpsc::UnboundedSender<(String, Value)>,
    state: Arc<Mutex<State>>,
    server: tokio::task::JoinHandle<()>,
    started: Instant,
    next_id: Mutex<u64>,
}

impl Drop for LambdaProcess {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        self.server.abort();
    }
}

fn lock(m: &Mutex<State>) -> std::sync::MutexGuard<'_, State> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl LambdaProcess {
    /// Starts `binary` with what Lambda sets plus `env` (and nothing inherited from
    /// this process) against a fresh Runtime API.
    pub async fn spawn(binary: &Path, env: &[(String, String)]) -> LambdaProcess {
        let state = Arc::new(Mutex::new(State::default()));
        let (events_tx, events_rx) = mpsc::unbounded_channel::<(String, Value)>();
        let events_rx = Arc::new(tokio::sync::Mutex::new(events_rx));
        let listener = server::bind(0).await.expect("a port for the Runtime API");
        let addr = listener.local_addr().expect("its address");
        let handler: Handler = {
            let state = state.clone();
            Arc::new(move |req: Request| {
                let state = state.clone();
                let events = events_rx.clone();
                Box::pin(async move { route(req, state, events).await })
            })
        };
        let server = server::serve_on(listener, handler);
        let started = Instant::now();
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Lambda's environment, not this process's: what the function sees on AWS,
        // then the caller's variables (which may override these).
        let child = tokio::process::Command::new(binary)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256")
            .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
            .env("AWS_LAMBDA_LOG_LEVEL", "INFO")
            .envs(env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{}: {e}", binary.display()));
        LambdaProcess {
            child,
            events: events_tx,
            state,
            server,
            started,
            next_id: Mutex::new(0),
        }
    }

    /// One invocation with `payload`; its answer (waits up to 60 s).
    pub async fn invoke(&self, payload: Value) -> Answer {
        let id = {
            let mut n = self.next_id.lock().unwrap_or_else(|p| p.into_inner());
            *n += 1;
            format!("req-{n}")
        };
        let (tx, rx) = oneshot::channel();
        lock(&self.state).waiting.insert(id.clone(), tx);
        self.events
            .send((id.clone(), payload))
            .expect("the Runtime API host runs");
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(answer)) => answer,
            _ => panic!(
                "the function did not answer invocation {id} (init error: {:?})",
                lock(&self.state).init_error
            ),
        }
    }

    /// The status code and body of a Function URL answer (panics, naming the error,
    /// when the function failed instead of answering).
    pub async fn call(&self, event: Value) -> (i64, String) {
        let answer = self
            .invoke(event)
            .await
            .unwrap_or_else(|e| panic!("the function failed instead of answering: {e}"));
        (
            answer["statusCode"].as_i64().unwrap_or_default(),
            answer["body"].as_str().unwrap_or_default().to_string(),
        )
    }

    /// How long the function took from spawn to its first `GET .../next`, once it
    /// has asked.
    pub fn init_duration(&self) -> Option<Duration> {
        lock(&self.state)
            .first_next
            .map(|t| t.duration_since(self.started))
    }

    /// Waits (up to 30 s) for the function to finish its init: spawn to its first
    /// `GET .../next`. The instant is taken when the request arrives, not when this
    /// notices it. Panics, saying why, if the function reports an init error or exits.
    pub async fn ready(&mut self) -> Duration {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(d) = self.init_duration() {
                return d;
            }
            if let Some(e) = self.init_error() {
                panic!("the function failed its init: {e}");
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("the function exited during its init ({status}); its stderr says why");
            }
            assert!(Instant::now() < deadline, "no GET .../next within 30 s");
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
    }

    /// Spawn to the first answer, once there is one.
    pub fn first_answer(&self) -> Option<Duration> {
        lock(&self.state)
            .first_answer
            .map(|t| t.duration_since(self.started))
    }

    /// The process's peak resident set so far (`VmHWM`), in bytes (Linux).
    pub fn peak_rss(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
        Some(kb * 1024)
    }

    /// The init error the function reported, if any.
    pub fn init_error(&self) -> Option<Value> {
        lock(&self.state).init_error.clone()
    }

    /// The process id (for resource measurements).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }
}

async fn route(
    req: Request,
    state: Arc<Mutex<State>>,
    events: Arc<tokio::sync::Mutex<mpsc::UnboundedReceiver<(String, Value)>>>,
) -> Response {
    const PREFIX: &str = "/2018-06-01/runtime/";
    const TEXT: &str = "text/plain; charset=utf-8";
    let Some(path) = req.uri().path().strip_prefix(PREFIX) else {
        return respond(404, TEXT, "not a Runtime API path");
    };
    let json = |status: u16, v: Value| respond(status, "application/json", v.to_string());
    match (req.method().as_str(), path) {
        ("GET", "invocation/next") => {
            {
                let mut s = lock(&state);
                if s.first_next.is_none() {
                    s.first_next = Some(Instant::now());
                }
            }
            let Some((id, payload)) = events.lock().await.recv().await else {
                return respond(500, TEXT, "no more events");
            };
            let deadline = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_millis() + 60_000)
                .unwrap_or_default();
            let mut r = json(200, payload);
            for (k, v) in [
                ("lambda-runtime-aws-request-id", id),
                ("lambda-runtime-deadline-ms", deadline.to_string()),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:123456789012:function:under-test".to_string(),
                ),
                (
                    "lambda-runtime-trace-id",
                    "Root=1-00000000-000000000000000000000000;Sampled=0".to_string(),
                ),
            ] {
                if let Ok(v) = http::HeaderValue::from_str(&v) {
                    r.headers_mut().insert(k, v);
                }
            }
            r
        }
        ("POST", "init/error") => {
            lock(&state).init_error =
                Some(serde_json::from_slice(req.body()).unwrap_or(Value::Null));
            json(202, serde_json::json!({"status": "OK"}))
        }
        ("POST", p) => {
            let Some((id, kind)) = p
                .strip_prefix("invocation/")
                .and_then(|rest| rest.split_once('/'))
            else {
                return respond(404, TEXT, "unknown path");
            };
            let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
            let answer = match kind {
                "response" => Ok(body),
                "error" => Err(body),
                _ => return respond(404, TEXT, "unknown path"),
            };
            let mut s = lock(&state);
            s.first_answer.get_or_insert_with(Instant::now);
            if let Some(tx) = s.waiting.remove(id) {
                let _ = tx.send(answer);
            }
            json(202, serde_json::json!({"status": "OK"}))
        }
        _ => respond(404, TEXT, "unknown path"),
    }
}

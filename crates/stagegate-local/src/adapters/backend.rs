//! The app's backend as a process: what "deploying the stack" starts locally. It runs
//! the app's declared command on a free port, in a process group of its own, and is
//! up when its health path answers; stopping it ends everything it started.

use super::Faults;
use crate::app::App;
use crate::procs;
use stagegate::ports::{Http, HttpRequest};
use stagegate_https::HttpsClient;
use std::collections::BTreeMap;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};

/// How long a backend has to answer its health path.
const HEALTH_WAIT: Duration = Duration::from_secs(10);
const HEALTH_EVERY: Duration = Duration::from_millis(100);

/// The running backend, if any.
#[derive(Default)]
pub(super) struct Backend {
    running: tokio::sync::Mutex<Option<(Child, procs::Group)>>,
    /// Its health URL while it runs (what the local alarm probes).
    health: std::sync::Mutex<Option<String>>,
    http: HttpsClient,
}

impl Backend {
    /// Stops the running backend, then starts the app's (a failing command when
    /// `break_it`): the outputs it declares once it is healthy, else why it is not.
    pub(super) async fn start(
        &self,
        app: &App,
        faults: &Faults,
        break_it: bool,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut guard = self.running.lock().await;
        *super::lock(&self.health) = None;
        if let Some((mut old, group)) = guard.take() {
            group.end(&mut old, Duration::from_secs(2)).await;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port for the backend: {e}"))?
            .port();
        let command = if break_it {
            "echo 'rehearsal: --fail deploy-infrastructure: the backend refuses to start (missing DATABASE_URL)' >&2; exit 1".to_string()
        } else {
            app.config.backend.command.clone()
        };
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&app.dir)
            .env("PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if !faults.is_empty() {
            // Every stage made to fail, for apps that break themselves on purpose
            // (the example's backend breaks its AI endpoint for integration-tests).
            cmd.env(
                "STAGEGATE_FAULT",
                faults.stages().collect::<Vec<_>>().join(","),
            );
        }
        let (mut child, group) = procs::spawn(&mut cmd)
            .map_err(|e| format!("cannot start the backend ({command}): {e}"))?;
        let said = child.stderr.take().map(Said::drain).unwrap_or_default();
        let health = format!("http://127.0.0.1:{port}{}", app.config.backend.health_path);
        match self.healthy(&mut child, &health, &said).await {
            Ok(()) => {
                *guard = Some((child, group));
                *super::lock(&self.health) = Some(health);
                Ok(app
                    .config
                    .backend
                    .outputs
                    .iter()
                    .map(|(k, v)| (k.clone(), v.replace("${port}", &port.to_string())))
                    .collect())
            }
            Err(why) => {
                group.end(&mut child, Duration::from_secs(1)).await;
                Err(why)
            }
        }
    }

    /// Waits for `health` to answer 2xx; `Err` when the process exits first (with
    /// the end of what it said) or the wait runs out.
    async fn healthy(&self, child: &mut Child, health: &str, said: &Said) -> Result<(), String> {
        let probe = HttpRequest {
            method: "GET".into(),
            url: health.into(),
            headers: vec![],
            body: None,
        };
        let deadline = tokio::time::Instant::now() + HEALTH_WAIT;
        while tokio::time::Instant::now() < deadline {
            if let Ok(Some(status)) = child.try_wait() {
                let tail = said.last_lines(5).await;
                let said = if tail.is_empty() {
                    String::new()
                } else {
                    format!(": {tail}")
                };
                return Err(format!("the backend exited ({status}){said}"));
            }
            if let Ok(r) = self.http.send(&probe).await {
                if (200..300).contains(&r.status) {
                    return Ok(());
                }
            }
            tokio::time::sleep(HEALTH_EVERY).await;
        }
        Err(format!(
            "the backend did not answer {health} within {} seconds",
            HEALTH_WAIT.as_secs()
        ))
    }

    /// The running backend's health URL; `None` when none runs.
    pub(super) fn health(&self) -> Option<String> {
        super::lock(&self.health).clone()
    }

    /// Stops the backend and everything it started.
    pub(super) async fn stop(&self) {
        *super::lock(&self.health) = None;
        if let Some((mut child, group)) = self.running.lock().await.take() {
            group.end(&mut child, Duration::from_secs(2)).await;
        }
    }
}

/// What the backend writes to stderr, read for as long as it runs (a pipe nobody
/// reads fills at 64 KiB and then blocks a backend that logs each request) and kept
/// as its last [`Said::KEPT`] bytes, to say why it exited.
#[derive(Clone, Default)]
struct Said {
    kept: std::sync::Arc<std::sync::Mutex<std::collections::VecDeque<u8>>>,
    done: Option<std::sync::Arc<tokio::sync::Notify>>,
}

impl Said {
    const KEPT: usize = 4096;

    fn drain(mut stderr: tokio::process::ChildStderr) -> Said {
        use tokio::io::AsyncReadExt as _;
        let said = Said {
            done: Some(Default::default()),
            ..Default::default()
        };
        let (kept, done) = (said.kept.clone(), said.done.clone());
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            while let Ok(n @ 1..) = stderr.read(&mut buf).await {
                let mut kept = super::lock(&kept);
                kept.extend(&buf[..n]);
                let over = kept.len().saturating_sub(Said::KEPT);
                kept.drain(..over);
            }
            if let Some(done) = done {
                done.notify_one();
            }
        });
        said
    }

    /// Its last `n` lines, joined with ` | `, once it has stopped writing (or after
    /// half a second: a process it started may hold the pipe open).
    async fn last_lines(&self, n: usize) -> String {
        if let Some(done) = &self.done {
            let _ = tokio::time::timeout(Duration::from_millis(500), done.notified()).await;
        }
        let bytes: Vec<u8> = super::lock(&self.kept).iter().copied().collect();
        let text = String::from_utf8_lossy(&bytes);
        let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
        lines[lines.len().saturating_sub(n)..].join(" | ")
    }
}

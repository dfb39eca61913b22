//! Amplify, locally: a "job" copies the app's frontend into the run's `site/` with an
//! `env.json` of the stack outputs it maps, and the site is served on 127.0.0.1. Its
//! jobs announce their end as Amplify's "Deployment Status Change" events do.

use super::{lock, safe_join, Faults};
use crate::server::{self, respond, Handler, Request, Response};
use serde_json::Value;
use stagegate::ports::{Hosting, Job, JobStatus, PortResult};
use stagegate::status_events::{amplify_status_event, stamped};
use stagegate::PortError;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Amplify, locally: the frontend copied into the run's `site/` with `env.json`,
/// served on 127.0.0.1. A cheap handle: clones are the same site.
#[derive(Clone)]
pub struct LocalHosting(Arc<Inner>);

struct Inner {
    source: PathBuf,
    site: PathBuf,
    faults: Faults,
    env: Mutex<BTreeMap<String, String>>,
    jobs: Arc<Mutex<Vec<Job>>>,
    server: tokio::sync::Mutex<Option<(std::net::SocketAddr, tokio::task::JoinHandle<()>)>>,
    /// "Deployment Status Change" events, for the local status rule.
    events: tokio::sync::broadcast::Sender<Value>,
    /// The branch it is (`staging`; `production` for a rehearsed promotion).
    branch: String,
}

/// The local hosting's app and branch, as its status events name them.
pub const LOCAL_APP: &str = "rehearsal";
pub const LOCAL_BRANCH: &str = "staging";

impl LocalHosting {
    pub fn new(source: PathBuf, site: PathBuf, faults: Faults) -> Self {
        Self::on_branch(source, site, faults, LOCAL_BRANCH)
    }

    /// A site of its own, on `branch` (production's, in a rehearsed promotion).
    pub fn on_branch(source: PathBuf, site: PathBuf, faults: Faults, branch: &str) -> Self {
        LocalHosting(Arc::new(Inner {
            branch: branch.to_string(),
            source,
            site,
            faults,
            env: Mutex::new(BTreeMap::new()),
            jobs: Arc::default(),
            server: tokio::sync::Mutex::new(None),
            events: tokio::sync::broadcast::channel(16).0,
        }))
    }

    /// The jobs' status events, as Amplify sends them to EventBridge.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Value> {
        self.0.events.subscribe()
    }

    pub async fn stop(&self) {
        if let Some((_, task)) = self.0.server.lock().await.take() {
            task.abort();
        }
    }

    async fn ensure_server(&self) -> Result<std::net::SocketAddr, PortError> {
        let mut guard = self.0.server.lock().await;
        if let Some((addr, _)) = guard.as_ref() {
            return Ok(*addr);
        }
        let root = self.0.site.clone();
        let slow = self.0.faults.has("performance-tests");
        let handler: Handler = Arc::new(move |req: Request| {
            let root = root.clone();
            Box::pin(async move {
                if slow {
                    tokio::time::sleep(Duration::from_millis(600)).await;
                }
                serve_file(&root, &req).await
            })
        });
        let (addr, task) = server::serve(0, handler)
            .await
            .map_err(|e| PortError::new("start the local site", e.to_string()))?;
        *guard = Some((addr, task));
        Ok(addr)
    }
}

/// Copies the directory `from` to `to`, recursively.
fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}

/// A file of the site, or why not (never a file outside it).
async fn serve_file(root: &Path, req: &Request) -> Response {
    const TEXT: &str = "text/plain; charset=utf-8";
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return respond(405, TEXT, "method not allowed");
    }
    let rel = match req.uri().path() {
        "/" => "index.html",
        path => path.trim_start_matches('/'),
    };
    let Ok(file) = safe_join(root, rel) else {
        return respond(404, TEXT, "not found");
    };
    match tokio::fs::read(&file).await {
        Ok(body) => {
            let ct = match file.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("json") => "application/json",
                Some("css") => "text/css",
                _ => "application/octet-stream",
            };
            let mut response = respond(200, ct, body);
            let headers = response.headers_mut();
            headers.insert("cache-control", http::HeaderValue::from_static("no-store"));
            headers.insert(
                "x-content-type-options",
                http::HeaderValue::from_static("nosniff"),
            );
            response
        }
        Err(_) => respond(404, TEXT, "not found"),
    }
}

impl Hosting for LocalHosting {
    async fn merge_environment(&self, vars: &BTreeMap<String, String>) -> PortResult<()> {
        lock(&self.0.env).extend(vars.clone());
        Ok(())
    }

    async fn start_job(&self, commit: &str) -> PortResult<String> {
        let id = (lock(&self.0.jobs).len() + 1).to_string();
        let (end, reason) = if self.0.faults.has("deploy-frontend") {
            (
                JobStatus::Failed,
                Some(
                    "rehearsal --fail deploy-frontend: the build step exited with status 1".into(),
                ),
            )
        } else {
            let _ = std::fs::remove_dir_all(&self.0.site);
            copy_dir(&self.0.source, &self.0.site)
                .map_err(|e| PortError::new("copy the frontend", e.to_string()))?;
            let mut env: serde_json::Map<String, Value> = lock(&self.0.env)
                .iter()
                .map(|(k, v)| (k.clone(), Value::String(v.clone())))
                .collect();
            env.insert("COMMIT".into(), Value::String(commit.into()));
            std::fs::write(
                self.0.site.join("env.json"),
                serde_json::to_vec_pretty(&env).unwrap_or_default(),
            )
            .map_err(|e| PortError::new("write env.json", e.to_string()))?;
            self.ensure_server().await?;
            (JobStatus::Succeeded, None)
        };
        lock(&self.0.jobs).push(Job {
            id: id.clone(),
            status: JobStatus::Running,
            reason: None,
        });
        // The job ends just after StartJob returns, as Amplify's do (minutes later),
        // and announces it: the task waiting on it is resumed by the event.
        let (jobs, events, job) = (self.0.jobs.clone(), self.0.events.clone(), id.clone());
        let branch = self.0.branch.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let status = if end == JobStatus::Succeeded {
                "SUCCEED"
            } else {
                "FAILED"
            };
            if let Some(j) = lock(&jobs).iter_mut().find(|j| j.id == job) {
                j.status = end;
                j.reason = reason;
            }
            let event = amplify_status_event(LOCAL_APP, &branch, &job, status);
            let _ = events.send(stamped(event, chrono::Utc::now()));
        });
        Ok(id)
    }

    async fn job(&self, id: &str) -> PortResult<Job> {
        lock(&self.0.jobs)
            .iter()
            .find(|j| j.id == id)
            .cloned()
            .ok_or_else(|| PortError::new("job", format!("no job {id}")))
    }

    async fn url(&self) -> PortResult<String> {
        let addr = self.ensure_server().await?;
        Ok(format!("http://{addr}"))
    }
    fn app_branch(&self) -> (String, String) {
        (LOCAL_APP.into(), self.0.branch.clone())
    }
}

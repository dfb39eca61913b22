//! CodeBuild, locally: each check's (or command suite's) command, `sh -c` in the app
//! directory, in a process group of its own, its log in the run's `logs/`. As on AWS,
//! a build writes its output to its own scratch prefix (`STAGEGATE_ARTIFACTS_DIR`,
//! `.stagegate/scratch/<role>:AWSCodeBuild-<uuid>/`), never into the run's: the
//! trusted steps pin from there.

use super::{safe_join, Faults};
use crate::procs;
use asl_engine::{BuildRequest, BuildResult, BuildRunner, StateError};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use stagegate::manifest::scratch_prefix;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// How long a local build may run (CodeBuild's own default timeout is an hour; a
/// check on a laptop that takes 15 minutes is stuck).
const BUILD_TIMEOUT: Duration = Duration::from_secs(900);

/// CodeBuild, locally: each check's command as a process in the app directory.
#[derive(Clone)]
pub struct ProcessBuilds {
    pub app_dir: PathBuf,
    pub artifacts_root: PathBuf,
    pub logs_dir: PathBuf,
    pub faults: Faults,
    /// The checks role's id in scratch prefixes (`Settings::checks_role_id`).
    pub role_id: String,
}

impl BuildRunner for ProcessBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, StateError>> {
        let me = self.clone();
        async move {
            let env: HashMap<String, String> = request.environment.iter().cloned().collect();
            // What keeps a build from running here is the build service failing.
            me.build(&request.id, env)
                .await
                .map_err(|e| StateError::new("CodeBuild.InternalError", e))
        }
        .boxed()
    }
}

impl ProcessBuilds {
    /// One build, as the checks project's buildspec runs it on AWS: the command with
    /// the build's environment; for a command suite, the stack outputs as
    /// `STAGEGATE_OUTPUT_<Name>` and a path for its JUnit report, which joins the
    /// run's artifacts after a failed command too.
    async fn build(
        &self,
        id: &str,
        mut env: HashMap<String, String>,
    ) -> Result<BuildResult, String> {
        let check = env
            .get("STAGEGATE_CHECK")
            .cloned()
            .unwrap_or_else(|| "build".into());
        let command = env
            .get("STAGEGATE_COMMAND")
            .cloned()
            .ok_or("the build has no STAGEGATE_COMMAND")?;
        let command = if self.faults.has(&check) {
            format!("echo 'rehearsal: --fail {check} made this check fail' >&2; exit 1")
        } else {
            command
        };
        let prefix = scratch_prefix(&self.role_id, id)?;
        env.insert("STAGEGATE_ARTIFACTS_PREFIX".into(), prefix.clone());
        let artifacts_dir = safe_join(&self.artifacts_root, prefix.trim_end_matches('/'))
            .map_err(|e| e.to_string())?;
        tokio::fs::create_dir_all(&self.logs_dir)
            .await
            .map_err(|e| e.to_string())?;
        let suite = env.get("STAGEGATE_SUITE").cloned();
        let junit = suite
            .as_ref()
            .map(|name| self.logs_dir.join(format!("{name}.junit.xml")));
        let mut cmd = Command::new("sh");
        cmd.arg("-c")
            .arg(&command)
            .current_dir(&self.app_dir)
            .envs(&env)
            .envs(suite_env(&env, junit.as_deref()))
            .env("STAGEGATE_ARTIFACTS_DIR", &artifacts_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let (status, output) = run(&command, &mut cmd).await;
        let log_name = suite.as_ref().map_or(check, |name| format!("suite-{name}"));
        let log_path = self.logs_dir.join(format!("{log_name}.log"));
        // As the buildspec does: the whole log in the build's scratch too, where
        // Generate Checklist reads a failed check's.
        tokio::fs::create_dir_all(&artifacts_dir)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::write(artifacts_dir.join(stagegate::manifest::CHECK_LOG), &output)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::write(&log_path, output)
            .await
            .map_err(|e| e.to_string())?;
        if let (Some(name), Some(path)) = (&suite, &junit) {
            keep_report(name, path, &artifacts_dir).await?;
        }
        Ok(BuildResult {
            status: status.into(),
            details: json!({"Logs": {"DeepLink": log_path.display().to_string()}}),
        })
    }
}

/// What a command suite's command gets beyond the build's environment: where to
/// write its JUnit report, and each stack output.
fn suite_env(env: &HashMap<String, String>, junit: Option<&Path>) -> Vec<(String, String)> {
    let Some(path) = junit else {
        return Vec::new();
    };
    let mut extra = vec![("STAGEGATE_JUNIT".to_string(), path.display().to_string())];
    let outputs: BTreeMap<String, String> = env
        .get("STAGEGATE_OUTPUTS")
        .and_then(|o| serde_json::from_str(o).ok())
        .unwrap_or_default();
    for (k, v) in outputs {
        extra.push((format!("STAGEGATE_OUTPUT_{k}"), v));
    }
    extra
}

/// Runs `cmd` to its end (bounded): the build status and its log.
async fn run(command: &str, cmd: &mut Command) -> (&'static str, String) {
    let (child, group) = match procs::spawn(cmd) {
        Err(e) => return ("FAULT", format!("cannot run sh: {e}\n")),
        Ok(spawned) => spawned,
    };
    // The group (the command and all it started) ends with this scope: when the
    // build ends, times out, or the run is cut short.
    let _group = group;
    match tokio::time::timeout(BUILD_TIMEOUT, child.wait_with_output()).await {
        Err(_) => (
            "TIMED_OUT",
            format!("{command}\n(timed out after 15 minutes)\n"),
        ),
        Ok(Err(e)) => ("FAULT", format!("cannot run sh: {e}\n")),
        Ok(Ok(out)) => (
            if out.status.success() {
                "SUCCEEDED"
            } else {
                "FAILED"
            },
            format!(
                "$ {command}\n{}{}\nexit: {}\n",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr),
                out.status
            ),
        ),
    }
}

/// A command suite's JUnit report joins the run's artifacts, if it wrote one.
async fn keep_report(name: &str, report: &Path, artifacts_dir: &Path) -> Result<(), String> {
    let Ok(bytes) = tokio::fs::read(report).await else {
        return Ok(());
    };
    let dir = artifacts_dir.join("suites");
    tokio::fs::create_dir_all(&dir)
        .await
        .map_err(|e| e.to_string())?;
    tokio::fs::write(dir.join(format!("{name}.junit.xml")), bytes)
        .await
        .map_err(|e| e.to_string())
}

//! A build runner that answers from a script, for the path tests (the rehearsal runs
//! the checks as real processes: `stagegate_local::adapters::ProcessBuilds`).

use asl_engine::{BuildRequest, BuildResult, BuildRunner, StateError};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use stagegate::manifest::scratch_prefix;
use stagegate::testing::MemoryArtifacts;
use stagegate::Settings;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A build runner that answers from a script: check name (`STAGEGATE_CHECK`) →
/// build status. Unscripted checks succeed. For path tests; the rehearsal runs
/// real processes.
#[derive(Clone, Default)]
pub struct ScriptedBuilds {
    statuses: Arc<Mutex<HashMap<String, String>>>,
    seen: Arc<Mutex<Vec<BuildRequest>>>,
    /// Where a command suite's build uploads its JUnit report, and each suite's.
    artifacts: Option<MemoryArtifacts>,
    reports: Arc<Mutex<HashMap<String, String>>>,
    /// How long each build runs (default: none).
    takes: std::time::Duration,
}

impl ScriptedBuilds {
    /// Builds that upload command suites' reports to `artifacts`, as the checks
    /// project's buildspec does.
    pub fn uploading_to(artifacts: MemoryArtifacts) -> Self {
        ScriptedBuilds {
            artifacts: Some(artifacts),
            ..Self::default()
        }
    }
    /// Each build runs for `d` (CodeBuild's minute or so in the path tests' virtual
    /// time).
    pub fn taking(self, d: std::time::Duration) -> Self {
        ScriptedBuilds { takes: d, ..self }
    }
    /// The JUnit XML command suite `suite` writes.
    pub fn report(&self, suite: &str, junit: &str) {
        self.reports
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(suite.into(), junit.into());
    }
    pub fn fail(&self, check: &str) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(check.into(), "FAILED".into());
    }
    /// The build service cannot run `check` (or suite): it raises `error`, with no
    /// `Cause` when `cause` is empty.
    pub fn unavailable(&self, check: &str, error: &str, cause: &str) {
        self.statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(check.into(), format!("!{error}|{cause}"));
    }
    pub fn requests(&self) -> Vec<BuildRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl BuildRunner for ScriptedBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, StateError>> {
        let check = request
            .environment
            .iter()
            .find(|(k, _)| k == "STAGEGATE_CHECK")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let var = |name: &str| {
            request
                .environment
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        // Scripted by check name, or by `suite:<name>` for a command suite.
        let scripted = var("STAGEGATE_SUITE").map_or(check.clone(), |s| format!("suite:{s}"));
        let status = self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&scripted)
            .cloned()
            .unwrap_or_else(|| "SUCCEEDED".into());
        let refused = status.strip_prefix('!').map(|e| {
            let (error, cause) = e.split_once('|').unwrap_or((e, ""));
            StateError::new(error, cause)
        });
        // Each build writes only its own scratch, as the checks role allows.
        let scratch = scratch_prefix(&Settings::default().checks_role_id, &request.id)
            .expect("the engine gives every build a well-formed id");
        let mut uploads: Vec<(String, String)> = Vec::new();
        if let Some(suite) = var("STAGEGATE_SUITE") {
            let reports = self.reports.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(report) = reports.get(&suite) {
                uploads.push((format!("{scratch}suites/{suite}.junit.xml"), report.clone()));
            }
        }
        if check == "package" && status == "SUCCEEDED" {
            uploads.extend(package_output(&scratch));
        }
        let upload = self.artifacts.clone().map(|a| (a, uploads));
        let takes = self.takes;
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        async move {
            if let Some(e) = refused {
                return Err(e);
            }
            tokio::time::sleep(takes).await;
            // The build's own credentials write its scratch (a store fault set by a
            // test is on the trusted steps' reads and writes, not on this).
            if let Some((artifacts, files)) = upload {
                for (key, body) in files {
                    artifacts.put_sync(&key, "application/octet-stream", body);
                }
            }
            Ok(BuildResult {
                status,
                details: json!({"Logs": {"DeepLink": format!("local://builds/{check}")}}),
            })
        }
        .boxed()
    }
}

/// What `sam package` leaves in a package build's scratch: the packaged template,
/// the code object it names, and the suites' definitions.
fn package_output(scratch: &str) -> Vec<(String, String)> {
    let template = format!(
        "Resources:\n  Api:\n    Type: AWS::Serverless::Function\n    Properties:\n      CodeUri: s3://artifacts/{scratch}code/0a1b2c\n"
    );
    let mut output = vec![
        (format!("{scratch}packaged.yaml"), template),
        (format!("{scratch}code/0a1b2c"), "the api's code".into()),
    ];
    for s in crate::flow::SUITES {
        let spec = String::from_utf8(crate::flow::suite_spec(s)).unwrap_or_default();
        output.push((format!("{scratch}suites/{s}.json"), spec));
    }
    output
}

//! A build runner that answers from a script, for the path tests (the rehearsal runs
//! the checks as real processes: `stagegate_local::adapters::ProcessBuilds`).

use asl_engine::{BuildRequest, BuildResult, BuildRunner};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use stagegate::ports::Artifacts;
use stagegate::testing::MemoryArtifacts;
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
    pub fn requests(&self) -> Vec<BuildRequest> {
        self.seen.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl BuildRunner for ScriptedBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, String>> {
        let check = request
            .environment
            .iter()
            .find(|(k, _)| k == "STAGEGATE_CHECK")
            .map(|(_, v)| v.clone())
            .unwrap_or_default();
        let status = self
            .statuses
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&check)
            .cloned()
            .unwrap_or_else(|| "SUCCEEDED".into());
        let var = |name: &str| {
            request
                .environment
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
        };
        let upload = var("STAGEGATE_SUITE").and_then(|suite| {
            let report = self
                .reports
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(&suite)
                .cloned()?;
            let key = format!(
                "{}suites/{suite}.junit.xml",
                var("STAGEGATE_ARTIFACTS_PREFIX").unwrap_or_default()
            );
            Some((self.artifacts.clone()?, key, report))
        });
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            if let Some((artifacts, key, report)) = upload {
                artifacts
                    .put(&key, "application/xml", report.into_bytes())
                    .await
                    .map_err(|e| e.to_string())?;
            }
            Ok(BuildResult {
                status,
                details: json!({"Logs": {"DeepLink": format!("local://builds/{check}")}}),
            })
        }
        .boxed()
    }
}

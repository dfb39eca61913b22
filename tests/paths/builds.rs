//! A build runner that answers from a script, for the path tests (the rehearsal runs
//! the checks as real processes: `stagegate_local::adapters::ProcessBuilds`).

use asl_engine::{BuildRequest, BuildResult, BuildRunner};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A build runner that answers from a script: check name (`STAGEGATE_CHECK`) →
/// build status. Unscripted checks succeed. For path tests; the rehearsal runs
/// real processes.
#[derive(Clone, Default)]
pub struct ScriptedBuilds {
    statuses: Arc<Mutex<HashMap<String, String>>>,
    seen: Arc<Mutex<Vec<BuildRequest>>>,
}

impl ScriptedBuilds {
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
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(request);
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
            Ok(BuildResult {
                status,
                details: json!({"Logs": {"DeepLink": format!("local://builds/{check}")}}),
            })
        }
        .boxed()
    }
}

//! Path tests: `statemachine/staging.asl.json`, run by the embedded engine with the
//! real step code and in-memory ports, one test per route of the seed's decision
//! points. Time is virtual: a 24-hour approval timeout takes no real time.

mod builds;
mod routes;

use asl_engine::{Clock, Control, Engine, EngineConfig, ExecutionDescription, HistoryEvent};
use builds::ScriptedBuilds;
use serde_json::{json, Value};
use stagegate::memory::MemoryApprovals;
use stagegate::ports::{Clock as _, Message, Topic};
use stagegate::steps::approval::{self, Decided, Decision, Refusal};
use stagegate::testing::*;
use stagegate::Settings;
use stagegate_local::{
    staging_registry, substitutions, Adapters, LocalStepFunctions, STAGING_DEFINITION,
    STATE_MACHINE,
};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SHA2: &str = "fedcba9876543210fedcba9876543210fedcba98";
pub const SUITES: &[&str] = &["auth", "content", "oauth", "ai"];

/// One staging deployment world: the engine running the real definition with the
/// same step values as the rehearsal, built on in-memory doubles the tests inspect.
pub struct Flow {
    pub engine: Engine,
    pub state_machine: String,
    pub settings: Settings,
    pub sfn: LocalStepFunctions,
    pub approvals: Arc<MemoryApprovals>,
    pub artifacts: Arc<MemoryArtifacts>,
    pub notifier: Arc<MemoryNotifier>,
    pub stacks: Arc<MemoryStacks>,
    pub hosting: Arc<MemoryHosting>,
    pub http: Arc<MemoryHttp>,
    pub builds: ScriptedBuilds,
}

impl Default for Flow {
    fn default() -> Self {
        Self::new()
    }
}

impl Flow {
    pub fn new() -> Flow {
        Self::with_settings(Settings {
            suites: SUITES.iter().map(|s| s.to_string()).collect(),
            frontend_env: BTreeMap::from([("ApiUrl".to_string(), "VITE_API_URL".to_string())]),
            ..Settings::default()
        })
    }

    pub fn with_settings(settings: Settings) -> Flow {
        let adapters = Adapters {
            artifacts: Arc::new(MemoryArtifacts::default()),
            notifier: Arc::new(MemoryNotifier::default()),
            stacks: Arc::new(MemoryStacks::default()),
            hosting: Arc::new(MemoryHosting::default()),
            http: Arc::new(MemoryHttp::default()),
            history: Arc::new(MemoryHistory::new(
                Some("rc-1.3.0"),
                vec![stagegate::ports::Commit {
                    sha: SHA.into(),
                    subject: "Add checkout".into(),
                    author: "ana".into(),
                }],
            )),
            releases: Arc::new(MemoryReleases::default()),
        };
        for s in SUITES {
            adapters.http.route(
                &format!("https://staging.example.test/{s}"),
                200,
                &format!("{s} ok"),
            );
        }
        let builds = ScriptedBuilds::default();
        let control = Control::new(Clock::fixed(), EngineConfig::default(), Some(3));
        let sfn = LocalStepFunctions::new(control.clone());
        let approvals = Arc::new(MemoryApprovals::default());
        let registry = staging_registry(&settings, &sfn, &approvals, &adapters, builds.clone());
        let engine = Engine::with_control(control, Arc::new(registry));
        let state_machine = engine
            .create_state_machine(STATE_MACHINE, STAGING_DEFINITION, &substitutions())
            .unwrap_or_else(|e| panic!("the staging definition must load: {e}"));
        Flow {
            engine,
            state_machine,
            settings,
            sfn,
            approvals,
            artifacts: adapters.artifacts,
            notifier: adapters.notifier,
            stacks: adapters.stacks,
            hosting: adapters.hosting,
            http: adapters.http,
            builds,
        }
    }

    /// Declares the app's suites in the run's artifacts, as its package step would.
    pub async fn publish_suites(&self, run: &str) {
        for s in SUITES {
            let spec = json!({"cases": [{"name": format!("{s} responds"), "request": {"url": format!("${{frontendUrl}}/{s}")}, "expect": {"status": 200, "bodyContains": "ok"}}]});
            let body = serde_json::to_vec(&spec).unwrap_or_default();
            stagegate::ports::Artifacts::put(
                self.artifacts.as_ref(),
                &format!("runs/{run}/suites/{s}.json"),
                "application/json",
                body,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Starts a run for `tag` at `sha`, named as stagegate names runs.
    pub async fn start(&self, tag: &str, sha: &str) -> String {
        let name = format!("{tag}--{}", &sha[..12]);
        self.publish_suites(&name).await;
        self.engine
            .start_execution(
                &self.state_machine,
                Some(&name),
                json!({"repository": "acme/shop", "tag": tag, "sha": sha, "pushedBy": "ana"}),
            )
            .unwrap_or_else(|e| panic!("start: {e}"))
    }

    /// Waits (in virtual time) for the approval email of `tag` and returns its link id.
    pub async fn approval_link(&self, tag: &str) -> String {
        self.link_of_kind(tag, "approval-request").await
    }

    /// Waits for the user-acceptance (sign-off) email of `tag`.
    pub async fn acceptance_link(&self, tag: &str) -> String {
        self.link_of_kind(tag, "acceptance-request").await
    }

    async fn link_of_kind(&self, tag: &str, kind: &str) -> String {
        for _ in 0..100_000 {
            let found = self.notifier.messages().into_iter().rev().find(|(t, m)| {
                *t == Topic::Approvals
                    && m.attributes.get("tag").map(String::as_str) == Some(tag)
                    && m.attributes.get("kind").map(String::as_str) == Some(kind)
            });
            if let Some((_, m)) = found {
                let start = m
                    .body
                    .find("/approvals/")
                    .map(|i| i + "/approvals/".len())
                    .unwrap_or_default();
                return m.body[start..start + 43].to_string();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("no {kind} for {tag} was sent");
    }

    /// Approves the deployment of `tag` as bob (the common case of most routes).
    pub async fn approve(&self, tag: &str) {
        let id = self.approval_link(tag).await;
        let decided = self.decide(&id, "bob", true, None).await;
        assert_eq!(decided, Ok(Decided::Approved), "approving {tag}");
    }

    pub async fn decide(
        &self,
        id: &str,
        approver: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let decision = Decision {
            approver: approver.into(),
            approve,
            reason: reason.map(str::to_string),
            from: "203.0.113.9".into(),
        };
        approval::decide(
            &self.settings,
            self.approvals.as_ref(),
            &self.sfn,
            self.sfn.now(),
            id,
            decision,
        )
        .await
        .unwrap_or_else(|e| panic!("decide: {e}"))
    }

    pub async fn finish(&self, arn: &str) -> (ExecutionDescription, Vec<HistoryEvent>) {
        let done = self
            .engine
            .wait_for_execution(arn)
            .await
            .unwrap_or_else(|e| panic!("wait: {e}"));
        let history = self.engine.get_execution_history(arn).unwrap_or_default();
        (done, history)
    }

    /// The outcome notification (not approval requests).
    pub fn outcome_messages(&self) -> Vec<Message> {
        self.notifier
            .messages()
            .into_iter()
            .filter(|(t, _)| *t == Topic::Notifications)
            .map(|(_, m)| m)
            .collect()
    }

    pub fn artifact_keys(&self, run_prefix: &str) -> Vec<String> {
        self.artifacts
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(run_prefix))
            .map(|k| k[run_prefix.len()..].to_string())
            .collect()
    }
}

/// Names of the states entered, in order.
pub fn route(history: &[HistoryEvent]) -> Vec<String> {
    asl_engine::history::states_entered(history)
}

/// Asserts `expected` appears in `route` in this order (other states may interleave).
pub fn assert_passes_through(route: &[String], expected: &[&str]) {
    let mut it = route.iter();
    for want in expected {
        assert!(
            it.any(|s| s == want),
            "route does not pass through {want:?} in order; route was {route:#?}"
        );
    }
}

pub fn assert_never_enters(route: &[String], states: &[&str]) {
    for s in states {
        assert!(
            !route.iter().any(|r| r == s),
            "route entered {s:?}: {route:#?}"
        );
    }
}

pub fn output(done: &ExecutionDescription) -> Value {
    done.output.clone().unwrap_or(Value::Null)
}

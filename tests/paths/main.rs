//! Path tests: `statemachine/staging.asl.json`, run by the embedded engine with the
//! real step code and in-memory ports, one test per route of the seed's decision
//! points. Time is virtual: a 24-hour approval timeout takes no real time.

mod approvals;
mod builds;
mod routes;

use asl_engine::{Clock, Control, Engine, EngineConfig, ExecutionDescription, HistoryEvent};
use builds::ScriptedBuilds;
use serde_json::{json, Value};
use stagegate::approvals::{form_token, hash_id, Decided, Desk, Form, Refusal};
use stagegate::memory::{MemoryApprovals, StaticApprovers};
use stagegate::ports::{Message, Topic};
use stagegate::testing::*;
use stagegate::Settings;
use stagegate_local::{
    execution_status_rule, staging_registry, substitutions, Adapters, LocalStepFunctions,
    LocalStores, STAGING_DEFINITION, STATE_MACHINE,
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
    pub stores: LocalStores,
    pub registry: Arc<asl_engine::Registry>,
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
        let stores = LocalStores {
            approvers: Arc::new(StaticApprovers(approvers())),
            ..LocalStores::default()
        };
        let registry = Arc::new(staging_registry(
            &settings,
            &sfn,
            &stores,
            &adapters,
            builds.clone(),
        ));
        let engine = Engine::with_control(control, registry.clone());
        let state_machine = engine
            .create_state_machine(STATE_MACHINE, STAGING_DEFINITION, &substitutions())
            .unwrap_or_else(|e| panic!("the staging definition must load: {e}"));
        // The template's rule on abnormal ends, as on AWS: it lives as long as the
        // runtime of the test.
        execution_status_rule(&engine, registry.clone());
        Flow {
            engine,
            state_machine,
            settings,
            sfn,
            approvals: stores.approvals.clone(),
            stores,
            registry,
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

    /// Waits (in virtual time) for bob's approval email of `tag`; his link id.
    pub async fn approval_link(&self, tag: &str) -> String {
        self.link(tag, "approval-request", "bob").await
    }

    /// Waits for carol's user-acceptance (sign-off) email of `tag`.
    pub async fn acceptance_link(&self, tag: &str) -> String {
        self.link(tag, "acceptance-request", "carol").await
    }

    /// Waits for `approver`'s email of `kind` for `tag` and returns its link id.
    pub async fn link(&self, tag: &str, kind: &str, approver: &str) -> String {
        for _ in 0..100_000 {
            let found = self.notifier.messages().into_iter().rev().find(|(t, m)| {
                *t == Topic::Approvals
                    && m.attributes.get("tag").map(String::as_str) == Some(tag)
                    && m.attributes.get("kind").map(String::as_str) == Some(kind)
                    && m.attributes.get("approver").map(String::as_str) == Some(approver)
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
        panic!("no {kind} for {tag} was sent to {approver}");
    }

    /// Approves the deployment of `tag` as bob (the common case of most routes).
    pub async fn approve(&self, tag: &str) {
        let id = self.approval_link(tag).await;
        let decided = self.decide(&id, true, None).await;
        assert_eq!(decided, Ok(Decided::Approved), "approving {tag}");
    }

    /// The approval desk, as the page and the CLI use it.
    pub fn desk(&self) -> Desk<Arc<MemoryApprovals>, LocalStepFunctions, LocalStepFunctions> {
        self.desk_with(self.sfn.clone())
    }

    /// The approval desk, sending decisions through `callbacks`.
    pub fn desk_with<C: stagegate::ports::TaskCallbacks>(
        &self,
        callbacks: C,
    ) -> Desk<Arc<MemoryApprovals>, C, LocalStepFunctions> {
        Desk::new(
            self.settings.pusher_may_approve,
            self.approvals.clone(),
            callbacks,
            self.sfn.clone(),
        )
    }

    /// The form token the review page gives the holder of link `id`.
    pub fn form_token(&self, id: &str) -> String {
        let hash = hash_id(id);
        self.approvals
            .links()
            .into_iter()
            .find(|l| l.id_hash == hash)
            .and_then(|link| {
                let record = self
                    .approvals
                    .all()
                    .into_iter()
                    .find(|r| r.id == link.approval_id)?;
                Some(form_token(&record, &link))
            })
            .unwrap_or_default()
    }

    /// Decides through the link `id`, with the form token its review page carries.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let token = self.form_token(id);
        let form = Form {
            approve,
            reason: reason.map(str::to_string),
            from: "203.0.113.9".into(),
        };
        self.desk()
            .decide_by_link(id, &token, form)
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
        // Let the end-of-run rule see the execution's end, as EventBridge would.
        tokio::time::sleep(Duration::from_secs(1)).await;
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

//! The staging flow in one process, on in-memory doubles: the local world the
//! rehearsal also runs (the real definition, the same step values), with every port an
//! in-memory double the tests inspect, wrapped in a fault plan ([`Faults`]) the tests
//! and the load drill arm. Time is whatever runtime runs it: paused (virtual) in the
//! path tests, real in the load drill.

use crate::builds::ScriptedBuilds;
use asl_engine::{Engine, ExecutionDescription, HistoryEvent};
use serde_json::{json, Value};
use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::links::{form_token, hash_id};
use stagegate::ports::{Artifacts, Message, Notifier, Topic};
use stagegate::testing::*;
use stagegate::testing::{Faults, Faulty};
use stagegate::Settings;
use stagegate_local::{LocalStepFunctions, LocalWorld, Ports, Setup, Time};
use std::collections::BTreeMap;
use std::time::Duration;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SHA2: &str = "fedcba9876543210fedcba9876543210fedcba98";
pub const SUITES: &[&str] = &["auth", "content", "oauth", "ai"];

/// One staging deployment world: the local world the rehearsal also runs (the real
/// definition, the same step values), on in-memory doubles the tests inspect and
/// virtual time.
pub struct Flow {
    pub world: LocalWorld,
    pub engine: Engine,
    pub state_machine: String,
    pub settings: Settings,
    pub sfn: LocalStepFunctions,
    pub table: MemoryTable,
    pub artifacts: MemoryArtifacts,
    pub notifier: MemoryNotifier,
    pub stacks: MemoryStacks,
    pub hosting: MemoryHosting,
    pub http: MemoryHttp,
    pub repository: MemoryRepository,
    /// The app's alarms, as CloudWatch would hold them (all OK until a test trips one).
    pub alarms: MemoryAlarms,
    pub builds: ScriptedBuilds,
    /// The key the run's evidence is signed with.
    pub signer: stagegate_local::adapters::LocalSigner,
    /// What fails, and how, on the steps' calls (every port, the table, Step
    /// Functions); empty until a test arms it. It counts every call made.
    pub faults: Faults,
    /// The production state machine's own: its stack, site, settings.
    pub production: crate::promotion::ProductionSite,
    /// Whether [`Flow::decide`] approves with break-glass.
    pub breaking_glass: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

pub type MemoryPorts = Ports<
    MemoryArtifacts,
    MemoryNotifier,
    MemoryStacks,
    MemoryHosting,
    MemoryHttp,
    MemoryRepository,
>;

/// The in-memory doubles of every port, the example app's suites answering.
pub fn doubles() -> MemoryPorts {
    let commit = stagegate::ports::Commit {
        sha: SHA.into(),
        subject: "Add checkout".into(),
        author: "ana".into(),
    };
    let ports = Ports {
        artifacts: MemoryArtifacts::default(),
        notifier: MemoryNotifier::default(),
        stacks: MemoryStacks::default(),
        hosting: MemoryHosting::default(),
        http: MemoryHttp::default(),
        repository: MemoryRepository::new(Some("rc-1.3.0"), vec![commit]).with_token(),
        signer: stagegate_local::adapters::LocalSigner::ephemeral()
            .unwrap_or_else(|e| panic!("{e}")),
        chat: None,
        alarms: stagegate_local::adapters::LocalAlarms::default(),
    };
    for s in SUITES {
        let url = format!("https://staging.example.test/{s}");
        ports.http.route(&url, 200, &format!("{s} ok"));
    }
    ports
}

/// The example app's settings: its four HTTP suites and the frontend's API URL.
pub fn example_settings() -> Settings {
    Settings {
        suites: SUITES.iter().map(|s| s.to_string()).collect(),
        frontend_env: BTreeMap::from([("ApiUrl".to_string(), "VITE_API_URL".to_string())]),
        ..Settings::default()
    }
}

impl Default for Flow {
    fn default() -> Self {
        Self::new()
    }
}

impl Flow {
    pub fn new() -> Flow {
        Self::with_settings(example_settings())
    }

    pub fn with_settings(settings: Settings) -> Flow {
        Self::with_approvers(settings, approvers())
    }

    /// A flow whose deployments and sign-offs these people decide.
    pub fn with_approvers(settings: Settings, people: Vec<stagegate::ports::Approver>) -> Flow {
        let production = crate::promotion::ProductionSite::new();
        Self::build(
            settings,
            people,
            Time::Virtual,
            Duration::from_secs(60),
            production,
        )
    }

    /// The example's flow on the system clock (the load drill: many runs at once,
    /// measured), what AWS does taking `aws_time` each: a build, a stack's or an
    /// Amplify job's status.
    pub fn real_time(aws_time: Duration) -> Flow {
        let production = crate::promotion::ProductionSite::new();
        let flow = Self::build(
            example_settings(),
            approvers(),
            Time::Real,
            aws_time,
            production,
        );
        flow.stacks.events.set_every(aws_time);
        flow.hosting.events.set_every(aws_time);
        flow
    }

    /// The example's flow with production's functions configured as `production`.
    pub fn with_production(production: Settings) -> Flow {
        let site = crate::promotion::ProductionSite {
            settings: production,
            ..crate::promotion::ProductionSite::new()
        };
        Self::build(
            example_settings(),
            approvers(),
            Time::Virtual,
            Duration::from_secs(60),
            site,
        )
    }

    fn build(
        settings: Settings,
        people: Vec<stagegate::ports::Approver>,
        time: Time,
        build_time: Duration,
        production: crate::promotion::ProductionSite,
    ) -> Flow {
        Self::build_through(
            (settings, people),
            time,
            build_time,
            production,
            |a: &MemoryArtifacts, n: &MemoryNotifier| (a.clone(), n.clone()),
        )
    }

    /// Builds the world; `through` gives the artifacts and notifier ports the steps
    /// use, from the memory doubles the tests read.
    pub(crate) fn build_through<A, N>(
        (settings, people): (Settings, Vec<stagegate::ports::Approver>),
        time: Time,
        build_time: Duration,
        production: crate::promotion::ProductionSite,
        through: impl FnOnce(&MemoryArtifacts, &MemoryNotifier) -> (A, N),
    ) -> Flow
    where
        A: Artifacts + Clone + 'static,
        N: Notifier + Clone + 'static,
    {
        let ports = doubles();
        let builds = ScriptedBuilds::uploading_to(ports.artifacts.clone()).taking(build_time);
        let (artifacts, notifier) = through(&ports.artifacts, &ports.notifier);
        let faults = Faults::default();
        let mut people = people;
        people.extend(crate::promotion::production_approvers());
        let world = LocalWorld::start(Setup {
            settings: settings.clone(),
            approvers: people,
            ports: Ports {
                artifacts: Faulty::new(artifacts, faults.clone()),
                notifier: Faulty::new(notifier, faults.clone()),
                stacks: Faulty::new(ports.stacks.clone(), faults.clone()),
                hosting: Faulty::new(ports.hosting.clone(), faults.clone()),
                http: ports.http.clone(),
                repository: ports.repository.clone(),
                signer: ports.signer.clone(),
                alarms: ports.alarms.clone(),
                chat: ports.chat.clone(),
            },
            builds: builds.clone(),
            time,
            status_events: vec![
                ports.stacks.events.subscribe(),
                ports.hosting.events.subscribe(),
            ],
            reconcile_every: None,
            faults: faults.clone(),
            production: Some(production.setup(&faults)),
        })
        .unwrap_or_else(|e| panic!("{e}"));
        crate::recording::record(&world.engine, &world.state_machine);
        if let Some(production) = &world.production_machine {
            crate::recording::record(&world.engine, production);
        }
        Flow {
            engine: world.engine.clone(),
            state_machine: world.state_machine.clone(),
            sfn: world.runs.clone(),
            table: world.table.clone(),
            world,
            settings,
            artifacts: ports.artifacts,
            notifier: ports.notifier,
            stacks: ports.stacks,
            hosting: ports.hosting,
            http: ports.http,
            repository: ports.repository,
            alarms: ports.alarms.store,
            signer: ports.signer,
            builds,
            faults,
            production,
            breaking_glass: Default::default(),
        }
    }

    /// Declares the app's suites in the run's artifacts, as its package step would.
    pub async fn publish_suites(&self, run: &str) {
        for s in SUITES {
            let body = suite_spec(s);
            stagegate::ports::Artifacts::put(
                &self.artifacts,
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
        self.start_in("acme/shop", tag, sha).await
    }

    /// Starts a run for `tag` at `sha` of `repository`.
    pub async fn start_in(&self, repository: &str, tag: &str, sha: &str) -> String {
        let name = format!("{tag}--{}", &sha[..12]);
        self.publish_suites(&name).await;
        self.engine
            .start_execution(
                &self.state_machine,
                Some(&name),
                json!({"repository": repository, "tag": tag, "sha": sha, "pushedBy": "ana", "pusher": github_pusher("ana")}),
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
            if let Some(id) = self.sent_link(tag, kind, approver) {
                return id;
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("no {kind} for {tag} was sent to {approver}");
    }

    /// The link id of `approver`'s latest email of `kind` for `tag`, if one was sent.
    pub fn sent_link(&self, tag: &str, kind: &str, approver: &str) -> Option<String> {
        self.sent_links(kind, approver).remove(tag)
    }

    /// Tag → link id of `approver`'s latest email of `kind`, for every tag.
    pub fn sent_links(&self, kind: &str, approver: &str) -> BTreeMap<String, String> {
        let mut links = BTreeMap::new();
        for (t, m) in self.notifier.messages() {
            let attr = |k: &str| m.attributes.get(k).map(String::as_str);
            if t != Topic::Approvals
                || attr("kind") != Some(kind)
                || attr("approver") != Some(approver)
            {
                continue;
            }
            let Some(start) = m.body.find("/approvals/").map(|i| i + "/approvals/".len()) else {
                continue;
            };
            if let (Some(tag), Some(id)) = (attr("tag"), m.body.get(start..start + 43)) {
                links.insert(tag.to_string(), id.to_string());
            }
        }
        links
    }

    /// Approves the deployment of `tag` as bob (the common case of most routes).
    pub async fn approve(&self, tag: &str) {
        let id = self.approval_link(tag).await;
        let decided = self.decide(&id, true, None).await;
        assert_eq!(decided, Ok(Decided::Approved), "approving {tag}");
    }

    /// The approval desk, as the page and the CLI use it.
    pub fn desk(&self) -> Desk<'_, MemoryTable, LocalStepFunctions, LocalStepFunctions> {
        self.world.desk()
    }

    /// The form token the review page gives the holder of link `id`.
    pub fn form_token(&self, id: &str) -> String {
        let hash = hash_id(id);
        self.table
            .links()
            .into_iter()
            .find(|l| l.id_hash == hash)
            .and_then(|link| {
                let record = self
                    .table
                    .records()
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
            break_glass: self
                .breaking_glass
                .load(std::sync::atomic::Ordering::Relaxed),
        };
        self.desk()
            .decide_by_link(id, &token, form)
            .await
            .unwrap_or_else(|e| panic!("decide: {e}"))
    }

    /// Starts `tag` at [`SHA`], approves it as bob and runs it to its end (the common
    /// route: what the test set up decides the rest).
    pub async fn approved_run(&self, tag: &str) -> (ExecutionDescription, Vec<HistoryEvent>) {
        let arn = self.start(tag, SHA).await;
        self.approve(tag).await;
        self.finish(&arn).await
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

    /// Waits (in virtual time) until run `arn` has entered `state`.
    pub async fn wait_for_state(&self, arn: &str, state: &str) {
        for _ in 0..100_000 {
            let history = self.engine.get_execution_history(arn).unwrap_or_default();
            if route(&history).iter().any(|s| s == state) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("{arn} never entered {state}");
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

/// The definition of the example's suite `s`, as its package step publishes it.
pub fn suite_spec(s: &str) -> Vec<u8> {
    let spec = json!({"cases": [{"name": format!("{s} responds"), "request": {"url": format!("${{frontendUrl}}/{s}")}, "expect": {"status": 200, "bodyContains": "ok"}}]});
    serde_json::to_vec(&spec).unwrap_or_default()
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

/// The artifacts prefix of the run of rc-1.4.0 at SHA.
pub const RUN: &str = "runs/rc-1.4.0--0123456789ab/";

/// Asserts which artifacts the run wrote, and which it must not have.
pub fn assert_artifacts(flow: &Flow, run: &str, present: &[&str], absent: &[&str]) {
    let keys = flow.artifact_keys(run);
    for a in present {
        assert!(
            keys.iter().any(|k| k == a),
            "artifact {a} missing: {keys:?}"
        );
    }
    for a in absent {
        assert!(
            !keys.iter().any(|k| k == a),
            "artifact {a} should not exist: {keys:?}"
        );
    }
}

pub fn only_outcome(flow: &Flow) -> Message {
    let msgs = flow.outcome_messages();
    assert_eq!(msgs.len(), 1, "exactly one outcome notification: {msgs:#?}");
    let m = msgs.into_iter().next().unwrap_or_else(|| unreachable!());
    assert_counted(flow, &[&m]);
    m
}

/// Each outcome notice is one run counted in stagegate's `Runs` metric, with its
/// outcome and repository, in the order they were sent.
pub fn assert_counted(flow: &Flow, notices: &[&Message]) {
    let runs = flow.world.metrics.of("Runs");
    let counted: Vec<(&str, &str)> = runs
        .iter()
        .map(|r| {
            (
                r["Outcome"].as_str().unwrap_or(""),
                r["Repository"].as_str().unwrap_or(""),
            )
        })
        .collect();
    let told: Vec<(&str, &str)> = notices
        .iter()
        .map(|m| {
            (
                m.attributes["outcome"].as_str(),
                m.attributes["repository"].as_str(),
            )
        })
        .collect();
    assert_eq!(counted, told, "{runs:#?}");
}

/// A flow with User Acceptance Testing on.
pub fn with_user_acceptance() -> Flow {
    let flow = Flow::new();
    let settings = Settings {
        user_acceptance: true,
        ..flow.settings.clone()
    };
    Flow::with_settings(settings)
}

/// Asserts the run ended with one failure notice, at `stage`, naming `error`.
pub fn assert_failed_at(flow: &Flow, stage: &str, error: &str) -> Message {
    let m = only_outcome(flow);
    assert_eq!(
        (
            m.attributes["outcome"].as_str(),
            m.attributes["stage"].as_str(),
            m.attributes.get("error").map(String::as_str)
        ),
        ("failure", stage, Some(error)),
        "{m:#?}"
    );
    assert_eq!(
        m.subject,
        format!("❌ acme/shop rc-1.4.0 failed at {stage}")
    );
    m
}

/// The outcome and the stage an outcome notification reports.
pub fn outcome_at(m: &Message) -> (&str, &str) {
    (
        m.attributes["outcome"].as_str(),
        m.attributes["stage"].as_str(),
    )
}

/// The text of artifact `name` of the run of rc-1.4.0 at SHA (empty when absent).
pub fn run_artifact(flow: &Flow, name: &str) -> String {
    let bytes = flow.artifacts.get_sync(&format!("{RUN}{name}"));
    String::from_utf8(bytes.unwrap_or_default()).unwrap_or_default()
}

/// The runs counted in stagegate's metrics, as (stage, outcome) in order; their
/// phase durations name `phase`, and each run waited for its approval.
pub fn assert_run_metrics(flow: &Flow, runs: &[(&str, &str)], phase: &str) {
    let counted = flow.world.metrics.of("Runs");
    let pairs: Vec<(&str, &str)> = counted
        .iter()
        .map(|r| {
            (
                r["Stage"].as_str().unwrap_or(""),
                r["Outcome"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(pairs, runs);
    let phases = flow.world.metrics.of("PhaseDuration");
    let named: Vec<&str> = phases.iter().filter_map(|p| p["Phase"].as_str()).collect();
    assert!(named.contains(&phase), "{named:?}");
    let waits = flow.world.metrics.of("ApprovalWait");
    assert_eq!(waits.len(), runs.len(), "{waits:?}");
    let last_stage = runs.last().map(|r| r.0);
    assert_eq!(waits.last().and_then(|w| w["Stage"].as_str()), last_stage);
}

//! One local world: the real `statemachine/staging.asl.json` in the embedded engine,
//! every function registered as the same step value its Lambda binary serves, the
//! engine itself standing in for Step Functions' task-token, execution and history
//! APIs, the approvals table in memory, and the template's rules (the end-of-run
//! notification, the stack and frontend status events, the reconcile schedule).
//!
//! The rehearsal starts one on the local adapters and real time; the path tests start
//! one on the in-memory doubles and virtual time. Both get the same steps, wired here
//! and nowhere else.

use crate::adapters::{LocalAlarms, LocalSigner};
use crate::LocalStepFunctions;
use asl_engine::{BuildRunner, Control, Engine, LambdaError, Registry};
use serde::{de::DeserializeOwned, Serialize};
use serde_json::Value;
use stagegate::desk::Desk;
use stagegate::flow::{function_names, production_name, PRODUCTION_FUNCTIONS};
use stagegate::ports::{
    Approver, Artifacts, Hosting, Http, Notifier, Releases, SourceHistory, Stacks,
};
use stagegate::step::{invoke, substitution_key};
use stagegate::steps::*;
use stagegate::testing::{Faults, Faulty, MemoryMetrics, MemoryTable};
use stagegate::waiting::Waiting;
use stagegate::{Settings, Step};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::Receiver;
use tokio::task::JoinHandle;

/// The staging definition, exactly as deployed to AWS.
pub const STAGING_DEFINITION: &str = include_str!("../../../statemachine/staging.asl.json");

/// The production definition, exactly as deployed to AWS.
pub const PRODUCTION_DEFINITION: &str = include_str!("../../../statemachine/production.asl.json");

/// The state machine's name in the engine (and in ARNs).
pub const STATE_MACHINE: &str = "staging";

/// The production state machine's name in the engine.
pub const PRODUCTION_MACHINE: &str = "production";

/// The CodeBuild project name the definition runs checks in.
pub const CHECKS_PROJECT: &str = "stagegate-checks";

/// `DefinitionSubstitutions` for the local engine: each function's ARN (the engine
/// dispatches by the name at its end) and the checks project.
pub fn substitutions() -> BTreeMap<String, String> {
    let production = PRODUCTION_FUNCTIONS.iter().map(|n| production_name(n));
    let mut subs: BTreeMap<String, String> = function_names()
        .map(str::to_string)
        .chain(production)
        .map(|name| {
            let arn = format!("arn:aws:lambda:us-east-1:123456789012:function:{name}");
            (substitution_key(&name), arn)
        })
        .collect();
    subs.insert("ChecksProjectName".into(), CHECKS_PROJECT.into());
    subs
}

/// The adapters a world plugs into the flow: cheap `Clone` handles, one clone per
/// step that uses it. Time, tokens and executions come from the engine; approvals,
/// claims and waiters from the world's [`MemoryTable`].
#[derive(Clone)]
pub struct Ports<A, N, S, H, Ht, G> {
    pub artifacts: A,
    pub notifier: N,
    pub stacks: S,
    pub hosting: H,
    pub http: Ht,
    pub repository: G,
    /// The evidence key (`LocalSigner::ephemeral()` where nobody verifies later).
    pub signer: LocalSigner,
    /// The app's alarms, as their evaluator sets them (the rehearsal's probes of the
    /// local backend; a test's hand). Every stage reads its own by name prefix.
    pub alarms: LocalAlarms,
    /// Slack's Web API (the stand-in, [`crate::slack::SlackStandIn`]), used when the
    /// settings turn Slack on; `None`: nobody is asked there.
    pub chat: Option<LocalSlack>,
}

/// Slack's Web API over HTTP, its app secret given as JSON (the stand-in's).
pub type LocalSlack = stagegate_https::Slack<stagegate_https::HttpsClient, String>;

/// How time passes in a world.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    /// The system clock: a rehearsal people watch.
    Real,
    /// Tokio's clock from a fixed instant, a fixed seed: under a paused runtime every
    /// wait is instant and every run the same (the path tests).
    Virtual,
}

/// What a world is made of.
pub struct Setup<A, N, S, H, Ht, G, B> {
    pub settings: Settings,
    /// Who decides approvals (as `stagegate approvers` stores them on AWS).
    pub approvers: Vec<Approver>,
    pub ports: Ports<A, N, S, H, Ht, G>,
    /// CodeBuild's stand-in.
    pub builds: B,
    pub time: Time,
    /// The stack's and the hosting's status events, for the status rules.
    pub status_events: Vec<Receiver<Value>>,
    /// How often the reconcile of undelivered decisions runs (`None`: only when
    /// invoked).
    pub reconcile_every: Option<Duration>,
    /// Faults injected into the world's own stores, the approvals table and the Step
    /// Functions APIs, as the steps call them (empty: none; the rehearsal's). Wrap
    /// `ports` in [`Faulty`] with the same plan for the others.
    pub faults: Faults,
    /// The production state machine and its functions (`None`: staging only).
    pub production: Option<Production<S, H, Ht>>,
}

/// Production's own: its functions' settings (`Settings::production()`), its stack,
/// its site and what reaches it, its status events. The artifacts bucket (what
/// staging proved), the topics, the repository and the evidence key are the world's.
pub struct Production<S, H, Ht> {
    pub settings: Settings,
    pub stacks: S,
    pub hosting: H,
    pub http: Ht,
    pub status_events: Vec<Receiver<Value>>,
}

/// A running world: the engine with the staging definition loaded and every function
/// registered, and its rules running until it is dropped.
pub struct LocalWorld {
    pub engine: Engine,
    /// The staging state machine's ARN.
    pub state_machine: String,
    /// The production state machine's ARN, when the world has one.
    pub production_machine: Option<String>,
    /// The engine as Step Functions' APIs (tokens, executions, history, time).
    pub runs: LocalStepFunctions,
    /// The approvals table.
    pub table: MemoryTable,
    /// stagegate's own metrics, as the EMF lines the functions would write on AWS.
    pub metrics: MemoryMetrics,
    pub settings: Settings,
    registry: Arc<Registry>,
    rules: Vec<JoinHandle<()>>,
}

impl Drop for LocalWorld {
    fn drop(&mut self) {
        for rule in &self.rules {
            rule.abort();
        }
    }
}

impl LocalWorld {
    /// Builds every step on `setup`'s ports, loads the definition, starts the rules.
    pub fn start<A, N, S, H, Ht, G, B>(setup: Setup<A, N, S, H, Ht, G, B>) -> Result<Self, String>
    where
        A: Artifacts + Clone + 'static,
        N: Notifier + Clone + 'static,
        S: Stacks + Clone + 'static,
        H: Hosting + Clone + 'static,
        Ht: Http + Clone + 'static,
        G: SourceHistory + Releases + Clone + 'static,
        B: BuildRunner,
    {
        let control = match setup.time {
            Time::Real => Control::system(),
            Time::Virtual => Control::deterministic(),
        };
        let runs = LocalStepFunctions::new(control.clone());
        let table = MemoryTable::with_approvers(setup.approvers);
        let (faulty_runs, faulty_table) = (
            Faulty::new(runs.clone(), setup.faults.clone()),
            Faulty::new(table.clone(), setup.faults.clone()),
        );
        let metrics = MemoryMetrics::default();
        let alarms = Faulty::new(setup.ports.alarms.clone(), setup.faults);
        let wiring = Wiring {
            settings: &setup.settings,
            ports: &setup.ports,
            runs: &faulty_runs,
            table: &faulty_table,
            metrics: &metrics,
            alarms: &alarms,
            production: false,
        };
        let (registry, production_events) = wiring.with_production(setup.production);
        let registry = Arc::new(registry.build_runner(setup.builds));
        let engine = Engine::with_control(control, registry.clone());
        let state_machine = engine
            .create_state_machine(STATE_MACHINE, STAGING_DEFINITION, &substitutions())
            .map_err(|e| format!("the staging definition does not load: {e}"))?;
        let production_machine = match production_events {
            None => None,
            Some(_) => Some(
                engine
                    .create_state_machine(
                        PRODUCTION_MACHINE,
                        PRODUCTION_DEFINITION,
                        &substitutions(),
                    )
                    .map_err(|e| format!("the production definition does not load: {e}"))?,
            ),
        };
        let mut rules = vec![
            execution_status_rule(&engine, registry.clone()),
            status_event_rule(
                setup.status_events,
                registry.clone(),
                resume_wait::NAME.into(),
            ),
            status_event_rule(
                production_events.unwrap_or_default(),
                registry.clone(),
                production_name(resume_wait::NAME),
            ),
        ];
        if let Some(every) = setup.reconcile_every {
            rules.push(schedule(registry.clone(), reconcile_approvals::NAME, every));
        }
        Ok(LocalWorld {
            engine,
            state_machine,
            production_machine,
            runs,
            table,
            metrics,
            settings: setup.settings,
            registry,
            rules,
        })
    }

    /// Invokes function `name` directly, as a rule or a schedule would; its error is
    /// `(errorType, message)`.
    pub async fn invoke(&self, name: &str, event: Value) -> Result<Value, (String, String)> {
        self.registry
            .invoke(name, event)
            .await
            .map_err(|e| (e.error.clone(), e.cause.clone()))
    }

    /// The names of the functions registered in the engine, sorted.
    pub fn functions(&self) -> Vec<String> {
        self.registry.lambda_names()
    }

    /// The approval desk, as the page, the CLI and the terminal decide through it.
    pub fn desk(&self) -> Desk<'_, MemoryTable, LocalStepFunctions, LocalStepFunctions> {
        Desk::new(&self.table, &self.runs, self.runs.clone())
            .pusher_may_approve(self.settings.pusher_may_approve)
    }
}

/// Whether function `name` is deployed for production only.
fn production_only(name: &str) -> bool {
    stagegate::flow::FUNCTIONS
        .iter()
        .any(|(n, how)| *n == name && *how == stagegate::flow::Invoked::InProduction)
}

/// Registers `step` under its name; its error becomes the Lambda error type the state
/// machine catches, exactly as `stagegate_lambda::serve` reports it on AWS.
pub fn register<S, I, O>(registry: Registry, step: S) -> Registry
where
    S: Step<I, O> + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    register_as(registry, S::NAME, step)
}

/// [`register`] under `name` (a production deployment of the step).
fn register_as<S, I, O>(registry: Registry, name: &str, step: S) -> Registry
where
    S: Step<I, O> + 'static,
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
{
    let step = Arc::new(step);
    registry.lambda(name, move |event: Value| {
        let step = step.clone();
        async move {
            invoke(step.as_ref(), event)
                .await
                .map_err(|e| LambdaError::new(e.name, e.message))
        }
    })
}

/// Every step of the flow, built from the world's ports.
struct Wiring<'a, A, N, S, H, Ht, G> {
    settings: &'a Settings,
    ports: &'a Ports<A, N, S, H, Ht, G>,
    runs: &'a Faulty<LocalStepFunctions>,
    table: &'a Faulty<MemoryTable>,
    metrics: &'a MemoryMetrics,
    alarms: &'a Faulty<LocalAlarms>,
    /// Registers the production deployments (`production-<name>`) of the functions
    /// the production definition uses, instead of staging's.
    production: bool,
}

impl<A, N, S, H, Ht, G> Wiring<'_, A, N, S, H, Ht, G>
where
    A: Artifacts + Clone + 'static,
    N: Notifier + Clone + 'static,
    S: Stacks + Clone + 'static,
    H: Hosting + Clone + 'static,
    Ht: Http + Clone + 'static,
    G: SourceHistory + Releases + Clone + 'static,
{
    /// The registry of every function the engine or a rule invokes: every function
    /// of `stagegate::flow::FUNCTIONS` but the two behind Function URLs.
    fn registry(&self) -> Registry {
        self.with_registry(Registry::new())
    }

    /// Every function, and production's (on its own ports and settings) when the
    /// world has it, with production's status events (`None`: no production).
    fn with_production(
        &self,
        production: Option<Production<S, H, Ht>>,
    ) -> (Registry, Option<Vec<Receiver<Value>>>) {
        let registry = self.registry();
        let Some(p) = production else {
            return (registry, None);
        };
        let ports = Ports {
            stacks: p.stacks,
            hosting: p.hosting,
            http: p.http,
            ..self.ports.clone()
        };
        let wiring = Wiring {
            settings: &p.settings,
            ports: &ports,
            production: true,
            ..*self
        };
        (wiring.with_registry(registry), Some(p.status_events))
    }

    /// `r` with every function of this wiring added.
    fn with_registry(&self, r: Registry) -> Registry {
        let r = self.until_approval(r);
        let r = self.deploys(r);
        let r = self.after_deploy(r);
        let (artifacts, signer, clock) = (
            self.ports.artifacts.clone(),
            self.ports.signer.clone(),
            self.runs.clone(),
        );
        let verify = verify_staged::VerifyStaged {
            settings: self.settings.clone(),
            artifacts,
            signer,
            clock,
        };
        let r = self.register(r, verify);
        let window = check_deployment_window::CheckDeploymentWindow {
            settings: self.settings.clone(),
            clock: self.runs.clone(),
        };
        self.bake_and_roll_back(self.register(r, window))
    }

    /// The bake and the rollback's plan (the rollback's deploy is the deploy's).
    fn bake_and_roll_back(&self, r: Registry) -> Registry {
        let p = self.ports;
        let bake = bake::Bake {
            settings: self.settings.clone(),
            alarms: self.alarms.clone(),
            http: p.http.clone(),
            artifacts: p.artifacts.clone(),
            clock: self.runs.clone(),
            metrics: self.metrics.clone(),
        };
        let roll_back = roll_back::RollBack {
            settings: self.settings.clone(),
            artifacts: p.artifacts.clone(),
            signer: p.signer.clone(),
        };
        self.register(self.register(r, bake), roll_back)
    }

    /// Registers `step` as this wiring deploys it: under its name, or under its
    /// production name when it is one of the production definition's functions (and
    /// not at all when it is not).
    fn register<St, I, O>(&self, r: Registry, step: St) -> Registry
    where
        St: Step<I, O> + 'static,
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
    {
        match self.production {
            false if production_only(St::NAME) => r,
            false => register(r, step),
            true if PRODUCTION_FUNCTIONS.contains(&St::NAME) => {
                register_as(r, &production_name(St::NAME), step)
            }
            true => r,
        }
    }

    /// Preflight to Wait for Approval, and the reconcile of decisions.
    fn until_approval(&self, r: Registry) -> Registry {
        let (s, p) = (self.settings, self.ports);
        let (runs, store) = (self.runs.clone(), self.table.clone());
        let clock = runs.clone();
        let r = self.register(
            r,
            preflight::Preflight {
                settings: s.clone(),
                runs,
                store,
                clock,
            },
        );
        let (stacks, artifacts) = (p.stacks.clone(), p.artifacts.clone());
        let r = self.register(
            r,
            create_change_set::CreateChangeSet {
                settings: s.clone(),
                stacks,
                artifacts,
                alarms: self.alarms.clone(),
            },
        );
        let (stacks, artifacts) = (p.stacks.clone(), p.artifacts.clone());
        let r = self.register(
            r,
            describe_change_set::DescribeChangeSet {
                settings: s.clone(),
                stacks,
                artifacts,
            },
        );
        let artifacts = p.artifacts.clone();
        let settings = s.clone();
        let r = self.register(
            r,
            generate_checklist::GenerateChecklist {
                settings,
                artifacts,
            },
        );
        let (store, notifier, clock) = (self.table.clone(), p.notifier.clone(), self.runs.clone());
        let chat = p.chat.clone();
        let request = request_approval::RequestApproval {
            settings: s.clone(),
            store,
            notifier,
            chat,
            clock,
        };
        let r = self.register(r, request);
        let (store, runs, clock) = (self.table.clone(), self.runs.clone(), self.runs.clone());
        let chat = p.chat.clone();
        let reconcile = reconcile_approvals::ReconcileApprovals {
            settings: s.clone(),
            store,
            runs,
            chat,
            clock,
        };
        self.register(r, reconcile)
    }

    /// The waits' ports: the table's waiters, and Step Functions as runs and clock.
    fn waiting(
        &self,
    ) -> Waiting<Faulty<MemoryTable>, Faulty<LocalStepFunctions>, Faulty<LocalStepFunctions>> {
        let (waits, runs, clock) = (self.table.clone(), self.runs.clone(), self.runs.clone());
        Waiting { waits, runs, clock }
    }

    /// Validate Infrastructure to Deploy Frontend, and the target of the status rules.
    fn deploys(&self, r: Registry) -> Registry {
        let settings = || self.settings.clone();
        let stacks = || self.ports.stacks.clone();
        let hosting = || self.ports.hosting.clone();
        let validate = validate_infrastructure::ValidateInfrastructure {
            stacks: stacks(),
            artifacts: self.ports.artifacts.clone(),
        };
        let deploy = deploy_infrastructure::DeployInfrastructure {
            stacks: stacks(),
            waiting: self.waiting(),
        };
        let await_stack = await_stack::AwaitStack {
            settings: settings(),
            stacks: stacks(),
            waiting: self.waiting(),
        };
        let outputs = capture_outputs::CaptureOutputs {
            stacks: stacks(),
            artifacts: self.ports.artifacts.clone(),
        };
        let frontend = deploy_frontend::DeployFrontend {
            settings: settings(),
            hosting: hosting(),
            waiting: self.waiting(),
        };
        let await_frontend = await_frontend::AwaitFrontend {
            settings: settings(),
            hosting: hosting(),
            waiting: self.waiting(),
        };
        let Waiting { waits, runs, clock } = self.waiting();
        let resume = resume_wait::ResumeWait {
            store: waits,
            runs,
            stacks: stacks(),
            hosting: hosting(),
            clock,
        };
        let r = self.register(
            self.register(self.register(r, validate), deploy),
            await_stack,
        );
        let r = self.register(
            self.register(self.register(r, outputs), frontend),
            await_frontend,
        );
        self.register(r, resume)
    }

    /// Integration Tests to Notify.
    fn after_deploy(&self, r: Registry) -> Registry {
        let p = self.ports;
        let (http, artifacts) = (p.http.clone(), p.artifacts.clone());
        let r = self.register(r, run_test_suite::RunTestSuite { http, artifacts });
        let artifacts = p.artifacts.clone();
        let settings = self.settings.clone();
        let r = self.register(
            r,
            read_suite_report::ReadSuiteReport {
                settings,
                artifacts,
            },
        );
        let artifacts = p.artifacts.clone();
        let r = self.register(r, test_report::TestReport { artifacts });
        let (http, artifacts) = (p.http.clone(), p.artifacts.clone());
        let r = self.register(r, performance_tests::PerformanceTests { http, artifacts });
        let (repository, artifacts) = (p.repository.clone(), p.artifacts.clone());
        let (runs, clock) = (self.runs.clone(), self.runs.clone());
        let release = mark_release_ready::MarkReleaseReady {
            repository,
            artifacts,
            runs,
            clock,
        };
        let r = self.register(r, release);
        let (notifier, store, clock) = (p.notifier.clone(), self.table.clone(), self.runs.clone());
        let (settings, artifacts, signer) =
            (self.settings.clone(), p.artifacts.clone(), p.signer.clone());
        let metrics = self.metrics.clone();
        self.register(
            r,
            notify::Notify {
                settings,
                notifier,
                store,
                clock,
                artifacts,
                signer,
                metrics,
            },
        )
    }
}

mod rules;
use rules::{execution_status_rule, schedule, status_event_rule};

#[cfg(test)]
mod tests;

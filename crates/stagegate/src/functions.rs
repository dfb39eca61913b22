//! The Lambda functions of the staging flow, by name, and how each turns its JSON
//! event into a step call. One table serves the Lambda binaries (issue 4), the local
//! rehearsal and the path tests, so all three run the same code for the same name.

use crate::error::PortError;
use crate::error::StepError;
use crate::ports::{
    ApprovalRecord, Approvals, Artifacts, CallbackError, ChangeSet, ChangeSetRequest, Commit,
    Executions, Hosting, Http, HttpRequest, HttpResponse, Job, Message, Notifier, PortResult,
    Releases, RunningExecution, SourceHistory, StackInfo, Stacks, TaskCallbacks, Topic, Update,
};
use crate::settings::Settings;
use crate::steps::{self, change_preview::Preview, parse, render};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// Everything the steps reach: one adapter per port, the settings and the clock.
pub trait World: Send + Sync {
    type Artifacts: Artifacts;
    type Notifier: Notifier;
    type Approvals: Approvals;
    type Callbacks: TaskCallbacks;
    type Executions: Executions;
    type Stacks: Stacks;
    type Hosting: Hosting;
    type Http: Http;
    type History: SourceHistory;
    type Releases: Releases;

    fn settings(&self) -> &Settings;
    fn now(&self) -> DateTime<Utc>;
    fn artifacts(&self) -> &Self::Artifacts;
    fn notifier(&self) -> &Self::Notifier;
    fn approvals(&self) -> &Self::Approvals;
    fn callbacks(&self) -> &Self::Callbacks;
    fn executions(&self) -> &Self::Executions;
    fn stacks(&self) -> &Self::Stacks;
    fn hosting(&self) -> &Self::Hosting;
    fn http(&self) -> &Self::Http;
    fn history(&self) -> &Self::History;
    fn releases(&self) -> &Self::Releases;
}

/// The standard [`World`]: one value per port. The AWS target, the rehearsal and the
/// tests differ only in the adapters they put in it.
pub struct Ports<A, N, Ap, C, E, S, H, Ht, Hi, R> {
    pub settings: Settings,
    /// The current time (the engine's clock locally, the system clock on AWS).
    pub clock: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    pub artifacts: A,
    pub notifier: N,
    pub approvals: Ap,
    pub callbacks: C,
    pub executions: E,
    pub stacks: S,
    pub hosting: H,
    pub http: Ht,
    pub history: Hi,
    pub releases: R,
}

impl<A, N, Ap, C, E, S, H, Ht, Hi, R> World for Ports<A, N, Ap, C, E, S, H, Ht, Hi, R>
where
    A: Artifacts,
    N: Notifier,
    Ap: Approvals,
    C: TaskCallbacks,
    E: Executions,
    S: Stacks,
    H: Hosting,
    Ht: Http,
    Hi: SourceHistory,
    R: Releases,
{
    type Artifacts = A;
    type Notifier = N;
    type Approvals = Ap;
    type Callbacks = C;
    type Executions = E;
    type Stacks = S;
    type Hosting = H;
    type Http = Ht;
    type History = Hi;
    type Releases = R;

    fn settings(&self) -> &Settings {
        &self.settings
    }
    fn now(&self) -> DateTime<Utc> {
        (self.clock)()
    }
    fn artifacts(&self) -> &A {
        &self.artifacts
    }
    fn notifier(&self) -> &N {
        &self.notifier
    }
    fn approvals(&self) -> &Ap {
        &self.approvals
    }
    fn callbacks(&self) -> &C {
        &self.callbacks
    }
    fn executions(&self) -> &E {
        &self.executions
    }
    fn stacks(&self) -> &S {
        &self.stacks
    }
    fn hosting(&self) -> &H {
        &self.hosting
    }
    fn http(&self) -> &Ht {
        &self.http
    }
    fn history(&self) -> &Hi {
        &self.history
    }
    fn releases(&self) -> &R {
        &self.releases
    }
}

/// A port a function does not use. Each Lambda wires only the adapters its IAM
/// policy allows; calling any other port is a bug, reported as a `DependencyFailed`
/// naming the port, never a panic.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unwired;

fn unwired<T>(port: &str) -> PortResult<T> {
    Err(PortError::new(
        port,
        "this port is not wired into this function (a stagegate bug: report it)",
    ))
}

impl Artifacts for Unwired {
    async fn put(&self, _: &str, _: &str, _: Vec<u8>) -> PortResult<String> {
        unwired("artifacts")
    }
    async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
        unwired("artifacts")
    }
}
impl Notifier for Unwired {
    async fn publish(&self, _: Topic, _: &Message) -> PortResult<String> {
        unwired("notifier")
    }
}
impl Approvals for Unwired {
    async fn create(&self, _: &ApprovalRecord) -> PortResult<()> {
        unwired("approvals")
    }
    async fn get(&self, _: &str) -> PortResult<Option<ApprovalRecord>> {
        unwired("approvals")
    }
    async fn update(&self, _: &ApprovalRecord, _: &ApprovalRecord) -> PortResult<Update> {
        unwired("approvals")
    }
    async fn pending(&self, _: &str) -> PortResult<Vec<ApprovalRecord>> {
        unwired("approvals")
    }
}
impl TaskCallbacks for Unwired {
    async fn succeed(&self, _: &str, _: &Value) -> Result<(), CallbackError> {
        Ok(unwired("task callbacks")?)
    }
    async fn fail(&self, _: &str, _: &str, _: &str) -> Result<(), CallbackError> {
        Ok(unwired("task callbacks")?)
    }
}
impl Executions for Unwired {
    async fn running(&self) -> PortResult<Vec<RunningExecution>> {
        unwired("executions")
    }
}
impl Stacks for Unwired {
    async fn create_change_set(&self, _: &ChangeSetRequest) -> PortResult<String> {
        unwired("stacks")
    }
    async fn describe_change_set(&self, _: &str) -> PortResult<ChangeSet> {
        unwired("stacks")
    }
    async fn execute_change_set(&self, _: &str) -> PortResult<()> {
        unwired("stacks")
    }
    async fn stack(&self, _: &str) -> PortResult<Option<StackInfo>> {
        unwired("stacks")
    }
    async fn failure_reason(&self, _: &str) -> PortResult<Option<String>> {
        unwired("stacks")
    }
}
impl Hosting for Unwired {
    async fn merge_environment(&self, _: &BTreeMap<String, String>) -> PortResult<()> {
        unwired("hosting")
    }
    async fn start_job(&self, _: &str) -> PortResult<String> {
        unwired("hosting")
    }
    async fn job(&self, _: &str) -> PortResult<Job> {
        unwired("hosting")
    }
    async fn url(&self) -> PortResult<String> {
        unwired("hosting")
    }
}
impl Http for Unwired {
    async fn send(&self, _: &HttpRequest) -> PortResult<HttpResponse> {
        unwired("http")
    }
}
impl SourceHistory for Unwired {
    async fn previous_candidate(&self, _: &str) -> PortResult<Option<String>> {
        unwired("source history")
    }
    async fn commits(&self, _: Option<&str>, _: &str) -> PortResult<Vec<Commit>> {
        unwired("source history")
    }
}
impl Releases for Unwired {
    async fn publish_prerelease(&self, _: &str, _: &str, _: &str) -> PortResult<Option<String>> {
        unwired("releases")
    }
}

/// Every port unwired: the start of a function's wiring.
pub type UnwiredPorts =
    Ports<Unwired, Unwired, Unwired, Unwired, Unwired, Unwired, Unwired, Unwired, Unwired, Unwired>;

impl UnwiredPorts {
    pub fn unwired(
        settings: Settings,
        clock: Box<dyn Fn() -> DateTime<Utc> + Send + Sync>,
    ) -> Self {
        Ports {
            settings,
            clock,
            artifacts: Unwired,
            notifier: Unwired,
            approvals: Unwired,
            callbacks: Unwired,
            executions: Unwired,
            stacks: Unwired,
            hosting: Unwired,
            http: Unwired,
            history: Unwired,
            releases: Unwired,
        }
    }
}

/// Type-changing builders: `Ports::unwired(..).with_stacks(cfn).with_artifacts(s3)`.
impl<A, N, Ap, C, E, S, H, Ht, Hi, R> Ports<A, N, Ap, C, E, S, H, Ht, Hi, R> {
    /// Wires the artifacts port.
    pub fn with_artifacts<X>(self, artifacts: X) -> Ports<X, N, Ap, C, E, S, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the notifier port.
    pub fn with_notifier<X>(self, notifier: X) -> Ports<A, X, Ap, C, E, S, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            notifier,
            artifacts: self.artifacts,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the approvals port.
    pub fn with_approvals<X>(self, approvals: X) -> Ports<A, N, X, C, E, S, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            approvals,
            artifacts: self.artifacts,
            notifier: self.notifier,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the callbacks port.
    pub fn with_callbacks<X>(self, callbacks: X) -> Ports<A, N, Ap, X, E, S, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            callbacks,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the executions port.
    pub fn with_executions<X>(self, executions: X) -> Ports<A, N, Ap, C, X, S, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            executions,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the stacks port.
    pub fn with_stacks<X>(self, stacks: X) -> Ports<A, N, Ap, C, E, X, H, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            stacks,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the hosting port.
    pub fn with_hosting<X>(self, hosting: X) -> Ports<A, N, Ap, C, E, S, X, Ht, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            hosting,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            http: self.http,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the http port.
    pub fn with_http<X>(self, http: X) -> Ports<A, N, Ap, C, E, S, H, X, Hi, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            http,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            history: self.history,
            releases: self.releases,
        }
    }
    /// Wires the history port.
    pub fn with_history<X>(self, history: X) -> Ports<A, N, Ap, C, E, S, H, Ht, X, R> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            history,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            releases: self.releases,
        }
    }
    /// Wires the releases port.
    pub fn with_releases<X>(self, releases: X) -> Ports<A, N, Ap, C, E, S, H, Ht, Hi, X> {
        Ports {
            settings: self.settings,
            clock: self.clock,
            releases,
            artifacts: self.artifacts,
            notifier: self.notifier,
            approvals: self.approvals,
            callbacks: self.callbacks,
            executions: self.executions,
            stacks: self.stacks,
            hosting: self.hosting,
            http: self.http,
            history: self.history,
        }
    }
}

/// Ports made of the in-memory adapters, for tests.
pub type MemoryPorts = Ports<
    crate::memory::MemoryArtifacts,
    crate::memory::MemoryNotifier,
    crate::memory::MemoryApprovals,
    crate::memory::MemoryCallbacks,
    crate::memory::MemoryExecutions,
    crate::memory::MemoryStacks,
    crate::memory::MemoryHosting,
    crate::memory::MemoryHttp,
    crate::memory::MemoryHistory,
    crate::memory::MemoryReleases,
>;

/// Function names: the crate under `functions/`, the `${<Pascal>FunctionArn}`
/// substitution and the state that invokes it.
pub const FUNCTIONS: &[(&str, &str)] = &[
    ("preflight", "Preflight"),
    ("create-change-set", "CreateChangeSet"),
    ("describe-change-set", "DescribeChangeSet"),
    ("generate-checklist", "GenerateChecklist"),
    ("request-approval", "RequestApproval"),
    ("validate-infrastructure", "ValidateInfrastructure"),
    ("deploy-infrastructure", "DeployInfrastructure"),
    ("stack-status", "StackStatus"),
    ("capture-outputs", "CaptureOutputs"),
    ("deploy-frontend", "DeployFrontend"),
    ("frontend-status", "FrontendStatus"),
    ("run-test-suite", "RunTestSuite"),
    ("test-report", "TestReport"),
    ("performance-tests", "PerformanceTests"),
    ("mark-release-ready", "MarkReleaseReady"),
    ("notify", "Notify"),
];

/// `preview` is null when Package & Preview failed; anything else is malformed.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ValidateInput {
    preview: Option<Preview>,
}

/// Runs function `name` on `event`.
pub async fn invoke<W: World>(world: &W, name: &str, event: Value) -> Result<Value, StepError> {
    let s = world.settings();
    match name {
        "preflight" => render(
            &steps::preflight::run(
                s,
                world.executions(),
                world.approvals(),
                world.callbacks(),
                parse(name, event)?,
            )
            .await?,
        ),
        "create-change-set" => {
            render(&steps::change_preview::create(s, world.stacks(), parse(name, event)?).await?)
        }
        "describe-change-set" => {
            render(&steps::change_preview::describe(s, world.stacks(), parse(name, event)?).await?)
        }
        "generate-checklist" => {
            render(&steps::checklist::run(world.artifacts(), parse(name, event)?).await?)
        }
        "request-approval" => render(
            &steps::approval::request(
                s,
                world.approvals(),
                world.notifier(),
                world.now(),
                parse(name, event)?,
            )
            .await?,
        ),
        "validate-infrastructure" => {
            let input: ValidateInput = parse(name, event)?;
            render(&steps::validate::run(world.stacks(), input.preview).await?)
        }
        "deploy-infrastructure" => {
            render(&steps::deploy::execute(world.stacks(), parse(name, event)?).await?)
        }
        "stack-status" => {
            render(&steps::deploy::status(s, world.stacks(), parse(name, event)?).await?)
        }
        "capture-outputs" => render(
            &steps::deploy::capture_outputs(world.stacks(), world.artifacts(), parse(name, event)?)
                .await?,
        ),
        "deploy-frontend" => {
            render(&steps::frontend::start(s, world.hosting(), parse(name, event)?).await?)
        }
        "frontend-status" => {
            render(&steps::frontend::status(s, world.hosting(), parse(name, event)?).await?)
        }
        "run-test-suite" => render(
            &steps::suites::run_suite(world.http(), world.artifacts(), parse(name, event)?).await?,
        ),
        "test-report" => {
            render(&steps::suites::report(world.artifacts(), parse(name, event)?).await?)
        }
        "performance-tests" => render(
            &steps::performance::run(world.http(), world.artifacts(), parse(name, event)?).await?,
        ),
        "mark-release-ready" => render(
            &steps::release::run(
                world.history(),
                world.releases(),
                world.artifacts(),
                parse(name, event)?,
            )
            .await?,
        ),
        "notify" => render(&steps::notify::run(s, world.notifier(), parse(name, event)?).await?),
        other => Err(crate::error::invalid_input(format!(
            "there is no function named '{other}'"
        ))),
    }
}

/// `${PreflightFunctionArn}` for `preflight`, and so on.
pub fn substitution_key(name: &str) -> Option<String> {
    FUNCTIONS
        .iter()
        .find(|f| f.0 == name)
        .map(|f| format!("{}FunctionArn", f.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryHistory;
    use serde_json::json;

    fn mem() -> MemoryPorts {
        Ports {
            settings: Settings::default(),
            clock: Box::new(crate::testing::now),
            artifacts: Default::default(),
            notifier: Default::default(),
            approvals: Default::default(),
            callbacks: Default::default(),
            executions: Default::default(),
            stacks: Default::default(),
            hosting: Default::default(),
            http: Default::default(),
            history: MemoryHistory::new(None, vec![]),
            releases: Default::default(),
        }
    }

    /// Every function refuses malformed input with a named error, never a panic.
    #[tokio::test]
    async fn every_function_refuses_bad_input_by_name() {
        let w = mem();
        for (name, _) in FUNCTIONS {
            for bad in [json!(null), json!("text"), json!({"unexpected": [1, 2]})] {
                let e = invoke(&w, name, bad.clone()).await.unwrap_err();
                assert_eq!(e.name, "InvalidInput", "{name} with {bad}: {e}");
                assert!(
                    e.message.contains(name),
                    "{name}: the message should name the function: {}",
                    e.message
                );
            }
        }
    }

    /// The trigger is the user's input, so a bad one is an invalid candidate.
    #[tokio::test]
    async fn preflight_calls_a_bad_trigger_an_invalid_candidate() {
        let e = invoke(
            &mem(),
            "preflight",
            json!({"trigger": {"tag": 1}, "executionId": "arn:x"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
    }

    #[tokio::test]
    async fn an_unknown_function_is_invalid_input() {
        let e = invoke(&mem(), "deploy-everything", json!({}))
            .await
            .unwrap_err();
        assert_eq!(e.name, "InvalidInput");
        assert!(e.message.contains("deploy-everything"));
    }

    /// A function that reaches a port it was not wired with fails by name.
    #[tokio::test]
    async fn an_unwired_port_is_a_dependency_failure_naming_the_port() {
        let w = Ports::unwired(Settings::default(), Box::new(crate::testing::now));
        let e = invoke(
            &w,
            "notify",
            json!({"outcome": "success", "executionId": "arn:x", "state": {}}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "DependencyFailed", "{e}");
        assert!(
            e.message.contains("notifier") && e.message.contains("not wired"),
            "{e}"
        );
    }

    #[test]
    fn substitution_keys_follow_the_function_names() {
        assert_eq!(
            substitution_key("deploy-frontend").as_deref(),
            Some("DeployFrontendFunctionArn")
        );
        assert_eq!(substitution_key("nope"), None);
    }
}

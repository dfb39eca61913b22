//! The Lambda functions of the staging flow, by name, and how each turns its JSON
//! event into a step call. One table serves the Lambda binaries (issue 4), the local
//! rehearsal and the path tests, so all three run the same code for the same name.

use crate::error::StepError;
use crate::ports::{
    Approvals, Artifacts, Executions, Hosting, Http, Notifier, Releases, SourceHistory, Stacks,
    TaskCallbacks,
};
use crate::settings::Settings;
use crate::steps::{self, change_preview::Preview, parse, render};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::Value;

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

    #[test]
    fn substitution_keys_follow_the_function_names() {
        assert_eq!(
            substitution_key("deploy-frontend").as_deref(),
            Some("DeployFrontendFunctionArn")
        );
        assert_eq!(substitution_key("nope"), None);
    }
}

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

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
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

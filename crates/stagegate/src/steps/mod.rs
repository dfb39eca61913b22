//! The staging flow's steps: pure logic over ports. Each function of the flow is a
//! step type ([`crate::Step`]) that owns exactly its ports, takes typed input and
//! returns typed output or a [`crate::StepError`] whose name the state machine routes
//! on. Nothing here knows about Lambda, Step Functions or AWS SDKs.

pub mod approval;
pub mod approval_page;
pub mod change_preview;
pub mod checklist;
pub mod deploy;
pub mod frontend;
pub mod notify;
pub mod performance;
pub mod preflight;
pub mod release;
pub mod suite_spec;
pub mod suites;
pub mod validate;
pub mod waits;

/// The phases of a run, in flow order: the top-level states people follow (the
/// rehearsal's progress and timeline, the release notes' Gantt chart).
pub const PHASES: &[&str] = &[
    "Preflight",
    "Pre-Deployment Checks",
    "Generate Checklist",
    "Wait for Approval",
    "Validate Infrastructure",
    "Deploy Infrastructure",
    "Capture Stack Outputs",
    "Deploy Frontend",
    "Integration Tests",
    "Command Suites",
    "Test Results",
    "Performance Tests",
    "User Acceptance Testing",
    "Mark Release Ready",
    "Notify Success",
    "Notify Failure",
    "Notify Cancelled",
];

/// The functions of the staging flow, by the name each step type carries
/// ([`crate::Step::NAME`]): one crate under `functions/` each, one
/// `${<Name>FunctionArn}` substitution each in `template.yaml`.
pub const FUNCTIONS: &[&str] = &[
    preflight::NAME,
    change_preview::CREATE_CHANGE_SET,
    change_preview::DESCRIBE_CHANGE_SET,
    checklist::NAME,
    approval::NAME,
    validate::NAME,
    deploy::DEPLOY_INFRASTRUCTURE,
    deploy::AWAIT_STACK,
    deploy::CAPTURE_OUTPUTS,
    frontend::DEPLOY_FRONTEND,
    frontend::AWAIT_FRONTEND,
    suites::RUN_TEST_SUITE,
    suites::READ_SUITE_REPORT,
    suites::TEST_REPORT,
    performance::NAME,
    release::NAME,
    notify::NAME,
];

/// The run id (the execution's name) from its id (ARN) or a bare name.
pub fn run_id(execution_id: &str) -> &str {
    execution_id.rsplit(':').next().unwrap_or(execution_id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::{
        MemoryApprovals, MemoryCandidates, MemoryClaims, MemoryWaits, StaticApprovers,
    };
    use crate::step::invoke;
    use crate::testing::*;
    use crate::{Settings, Step, StepError};
    use serde_json::{json, Value};

    /// Runs one step on `event` through [`invoke`], as Lambda and the engine do.
    async fn call<S: Step>(step: S, event: Value) -> (&'static str, Result<Value, StepError>) {
        (S::NAME, invoke(&step, event).await)
    }

    /// Every step of the flow, built with test doubles, run on `event`.
    async fn every_step(event: Value) -> Vec<(&'static str, Result<Value, StepError>)> {
        let s = Settings::default;
        let (approvals, arts, stacks) = (
            MemoryApprovals::default(),
            MemoryArtifacts::default(),
            MemoryStacks::default(),
        );
        let (hosting, http, notifier) = (
            MemoryHosting::default(),
            MemoryHttp::default(),
            MemoryNotifier::default(),
        );
        let (callbacks, executions) = (MemoryCallbacks::default(), MemoryExecutions::default());
        let history = MemoryHistory::new(None, vec![]);
        let releases = MemoryReleases::default();
        let waits = MemoryWaits::default();
        let waiting = || waits::Waiting {
            waits: &waits,
            runs: &executions,
            clock: FixedClock(now()),
        };
        let frontend = || frontend::Ports {
            hosting: &hosting,
            callbacks: &callbacks,
            waiting: waiting(),
        };
        let e = || event.clone();
        vec![
            call(
                preflight::Preflight::new(
                    s(),
                    preflight::Runs {
                        executions: &executions,
                        callbacks: &callbacks,
                    },
                    &approvals,
                    MemoryClaims::default(),
                    MemoryCandidates::default(),
                    FixedClock(now()),
                ),
                e(),
            )
            .await,
            call(change_preview::CreateChangeSet::new(s(), &stacks), e()).await,
            call(change_preview::DescribeChangeSet::new(s(), &stacks), e()).await,
            call(checklist::GenerateChecklist::new(&arts), e()).await,
            call(
                approval::RequestApproval::new(
                    s(),
                    &approvals,
                    StaticApprovers(approvers()),
                    &notifier,
                    MemoryCandidates::default(),
                    FixedClock(now()),
                ),
                e(),
            )
            .await,
            call(validate::ValidateInfrastructure::new(&stacks), e()).await,
            call(deploy::DeployInfrastructure::new(&stacks, waiting()), e()).await,
            call(
                deploy::AwaitStack::new(s(), &stacks, &callbacks, waiting()),
                e(),
            )
            .await,
            call(deploy::CaptureOutputs::new(&stacks, &arts), e()).await,
            call(frontend::DeployFrontend::new(s(), frontend()), e()).await,
            call(frontend::AwaitFrontend::new(s(), frontend()), e()).await,
            call(suites::RunTestSuite::new(&http, &arts), e()).await,
            call(suites::ReadSuiteReport::new(&arts), e()).await,
            call(suites::TestReport::new(&arts), e()).await,
            call(performance::PerformanceTests::new(&http, &arts), e()).await,
            call(
                release::MarkReleaseReady::new(
                    &history,
                    &releases,
                    &arts,
                    MemoryTimelines::default(),
                    FixedClock(now()),
                ),
                e(),
            )
            .await,
            call(
                notify::Notify::new(s(), &notifier, MemoryClaims::default(), FixedClock(now())),
                e(),
            )
            .await,
        ]
    }

    #[tokio::test]
    async fn the_function_list_is_the_names_of_the_step_types() {
        let names: Vec<&str> = every_step(json!(null))
            .await
            .into_iter()
            .map(|r| r.0)
            .collect();
        assert_eq!(names, FUNCTIONS);
    }

    /// Every step refuses malformed input with a named error, never a panic.
    #[tokio::test]
    async fn every_step_refuses_bad_input_by_name() {
        for bad in [json!(null), json!("text"), json!({"unexpected": [1, 2]})] {
            for (name, result) in every_step(bad.clone()).await {
                let e = result.expect_err(name);
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
        let (approvals, callbacks, executions) = (
            MemoryApprovals::default(),
            MemoryCallbacks::default(),
            MemoryExecutions::default(),
        );
        let step = preflight::Preflight::new(
            Settings::default(),
            preflight::Runs {
                executions,
                callbacks,
            },
            approvals,
            MemoryClaims::default(),
            MemoryCandidates::default(),
            FixedClock(now()),
        );
        let e = invoke(
            &step,
            json!({"trigger": {"tag": 1}, "executionId": "arn:x"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
    }
}

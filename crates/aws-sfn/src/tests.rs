//! The Step Functions adapter against the SDK's mocks.

use super::*;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::operation::get_execution_history::GetExecutionHistoryOutput;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureOutput;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessOutput;
use aws_sdk_sfn::operation::start_execution::StartExecutionOutput;
use aws_sdk_sfn::types::{HistoryEvent, StateEnteredEventDetails, StateExitedEventDetails};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime as SdkTime;
use serde_json::json;

const SM: &str = "arn:aws:states:eu-west-1:123456789012:stateMachine:stagegate-staging";

fn sfn(rules: &[&Rule]) -> StepFunctions {
    let client = mock_client!(aws_sdk_sfn, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_common::fast_retries()));
    StepFunctions::new(client, SM)
}

fn json_error(ty: &str) -> Option<String> {
    Some(format!("{{\"__type\":\"{ty}\",\"message\":\"m\"}}"))
}

#[tokio::test]
async fn success_sends_the_output_as_json() {
    let ok = mock!(Client::send_task_success)
        .match_requests(|r| {
            r.task_token() == Some("tok") && r.output() == Some("{\"approved\":true}")
        })
        .then_output(|| SendTaskSuccessOutput::builder().build());
    sfn(&[&ok])
        .succeed("tok", &json!({"approved": true}))
        .await
        .unwrap();
    assert_eq!(ok.num_calls(), 1);
}

#[tokio::test]
async fn failure_is_cut_to_the_service_limits() {
    let long = "x".repeat(MAX_ERROR + 10);
    let ok = mock!(Client::send_task_failure)
        .match_requests(|r| r.error().unwrap().len() == MAX_ERROR && r.cause() == Some("because"))
        .then_output(|| SendTaskFailureOutput::builder().build());
    sfn(&[&ok]).fail("tok", &long, "because").await.unwrap();
    assert_eq!(ok.num_calls(), 1);
}

#[tokio::test]
async fn a_task_that_is_gone_is_closed_not_an_error() {
    for code in ["TaskTimedOut", "TaskDoesNotExist", "InvalidToken"] {
        let gone = mock!(Client::send_task_success)
            .sequence()
            .http_status(400, json_error(code))
            .build();
        let e = sfn(&[&gone]).succeed("tok", &json!({})).await.unwrap_err();
        assert_eq!(e, CallbackError::TaskClosed(code.into()));
    }
}

#[tokio::test]
async fn other_callback_errors_are_port_errors_after_retrying_throttling() {
    let throttled = mock!(Client::send_task_failure)
        .sequence()
        .http_status(400, json_error("ThrottlingException"))
        .repeatedly()
        .build();
    match sfn(&[&throttled])
        .fail("tok", "Rejected", "no")
        .await
        .unwrap_err()
    {
        CallbackError::Port(p) => assert!(p.message.contains("throttled"), "{p}"),
        other => panic!("expected a port error, got {other:?}"),
    }
    assert_eq!(throttled.num_calls(), 3);
}

fn described(arn: &str, input: &str) -> DescribeExecutionOutput {
    DescribeExecutionOutput::builder()
        .execution_arn(arn)
        .state_machine_arn(SM)
        .status(ExecutionStatus::Running)
        .start_date(SdkTime::from_secs(1_700_000_000))
        .input(input)
        .build()
        .unwrap()
}

#[tokio::test]
async fn is_running_reads_the_executions_status() {
    let running = mock!(Client::describe_execution)
        .match_requests(|r| r.execution_arn() == Some("arn:e1"))
        .then_output(|| described("arn:e1", "{}"));
    assert!(sfn(&[&running]).is_running("arn:e1").await.unwrap());
    let done = mock!(Client::describe_execution).then_output(|| {
        DescribeExecutionOutput::builder()
            .execution_arn("arn:e2")
            .state_machine_arn(SM)
            .status(ExecutionStatus::Failed)
            .start_date(SdkTime::from_secs(1_700_000_000))
            .build()
            .unwrap()
    });
    assert!(!sfn(&[&done]).is_running("arn:e2").await.unwrap());
}

#[tokio::test]
async fn an_execution_that_does_not_exist_is_not_running() {
    let gone = mock!(Client::describe_execution)
        .sequence()
        .http_status(400, json_error("ExecutionDoesNotExist"))
        .build();
    assert!(!sfn(&[&gone]).is_running("arn:gone").await.unwrap());
    let denied = mock!(Client::describe_execution)
        .sequence()
        .http_status(400, json_error("AccessDeniedException"))
        .build();
    let e = sfn(&[&denied]).is_running("arn:e").await.unwrap_err();
    assert!(e.message.starts_with("AccessDeniedException"), "{e}");
}

#[tokio::test]
async fn start_names_the_run_and_a_repeat_is_the_same_run() {
    let name = "rc-1-4-0--0123456789ab";
    let first = mock!(Client::start_execution)
        .match_requests(move |r| r.name() == Some(name) && r.state_machine_arn() == Some(SM))
        .then_output(|| {
            StartExecutionOutput::builder()
                .execution_arn(execution_arn(SM, "rc-1-4-0--0123456789ab"))
                .start_date(SdkTime::from_secs(0))
                .build()
                .unwrap()
        });
    let s = sfn(&[&first])
        .start(name, &json!({"tag": "rc-1.4.0"}))
        .await
        .unwrap();
    assert!(s.new);
    assert_eq!(
        s.execution_arn,
        "arn:aws:states:eu-west-1:123456789012:execution:stagegate-staging:rc-1-4-0--0123456789ab"
    );

    let again = mock!(Client::start_execution)
        .sequence()
        .http_status(400, json_error("ExecutionAlreadyExists"))
        .build();
    let s2 = sfn(&[&again]).start(name, &json!({})).await.unwrap();
    assert_eq!(
        s2,
        Started {
            execution_arn: s.execution_arn,
            new: false
        }
    );
}

#[tokio::test]
async fn start_with_a_missing_state_machine_fails_clearly() {
    let missing = mock!(Client::start_execution)
        .sequence()
        .http_status(400, json_error("StateMachineDoesNotExist"))
        .build();
    let e = sfn(&[&missing]).start("n", &json!({})).await.unwrap_err();
    assert!(e.message.starts_with("StateMachineDoesNotExist"), "{e}");
}

fn entered(id: i64, secs: i64, name: &str) -> HistoryEvent {
    HistoryEvent::builder()
        .id(id)
        .timestamp(SdkTime::from_secs(secs))
        .r#type(HistoryEventType::TaskStateEntered)
        .state_entered_event_details(
            StateEnteredEventDetails::builder()
                .name(name)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

fn exited(id: i64, secs: i64, name: &str) -> HistoryEvent {
    HistoryEvent::builder()
        .id(id)
        .timestamp(SdkTime::from_secs(secs))
        .r#type(HistoryEventType::TaskStateExited)
        .state_exited_event_details(
            StateExitedEventDetails::builder()
                .name(name)
                .build()
                .unwrap(),
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_view_has_the_phases_across_history_pages() {
    let describe = mock!(Client::describe_execution).then_output(|| {
        DescribeExecutionOutput::builder()
            .execution_arn("e1")
            .state_machine_arn(SM)
            .status(ExecutionStatus::Failed)
            .start_date(SdkTime::from_secs(100))
            .stop_date(SdkTime::from_secs(190))
            .error("StackDeployFailed")
            .cause("Db: Table already exists")
            .build()
            .unwrap()
    });
    let history = mock!(Client::get_execution_history)
        .sequence()
        .output(|| {
            GetExecutionHistoryOutput::builder()
                .events(entered(2, 100, "Preflight"))
                .events(exited(3, 101, "Preflight"))
                .next_token("p2")
                .build()
                .unwrap()
        })
        .output(|| {
            GetExecutionHistoryOutput::builder()
                .events(entered(4, 101, "Deploy Infrastructure"))
                .events(exited(5, 150, "Deploy Infrastructure"))
                .events(entered(6, 150, "Notify Failure"))
                .build()
                .unwrap()
        })
        .build();
    let v = sfn(&[&describe, &history]).view("e1").await.unwrap();
    assert_eq!(v.status, "FAILED");
    assert_eq!(v.error.as_deref(), Some("StackDeployFailed"));
    let summary: Vec<_> = v
        .phases
        .iter()
        .map(|p| {
            (
                p.state.as_str(),
                p.exited.map(|x| (x - p.entered).num_seconds()),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("Preflight", Some(1)),
            ("Deploy Infrastructure", Some(49)),
            ("Notify Failure", None)
        ]
    );
}

#[tokio::test]
async fn a_view_of_an_unknown_execution_is_an_error() {
    let describe = mock!(Client::describe_execution)
        .sequence()
        .http_status(400, json_error("ExecutionDoesNotExist"))
        .build();
    let e = sfn(&[&describe]).view("arn:e").await.unwrap_err();
    assert!(e.message.starts_with("ExecutionDoesNotExist"), "{e}");
}

#[tokio::test]
async fn an_unreadable_history_is_an_error() {
    let describe = mock!(Client::describe_execution).then_output(|| described("e1", "{}"));
    let history = mock!(Client::get_execution_history)
        .sequence()
        .http_status(400, json_error("AccessDeniedException"))
        .build();
    let e = sfn(&[&describe, &history]).view("e1").await.unwrap_err();
    assert_eq!(e.operation, "read the history of e1");
}

#[test]
fn an_execution_arn_names_its_state_machine() {
    let sm = "arn:aws:states:eu-west-1:123456789012:stateMachine:stack-staging";
    let exec = execution_arn(sm, "rc-1.4.0--0123456789ab");
    assert_eq!(state_machine_of(&exec).as_deref(), Some(sm));
    assert_eq!(state_machine_of("rc-1.4.0--0123456789ab"), None);
}

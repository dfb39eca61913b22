//! Step Functions: an execution waiting on a `.waitForTaskToken` task (the approval
//! gate's shape) is resumed, or failed, by the adapter the approval desk uses; a gone
//! task is `TaskClosed`; starting the same run twice is one execution.

use crate::Moto;
use aws_sfn_port::{Runs, StepFunctions};
use serde_json::{json, Value};
use stagegate::ports::{CallbackError, Executions, TaskCallbacks};
use std::time::Duration;

async fn waiting_machine(moto: &Moto) -> (StepFunctions, String) {
    let (arn, queue) = moto
        .approval_shaped_machine("staging", json!({"tag.$": "$.tag"}))
        .await;
    (
        StepFunctions::from_config(&moto.sdk_config().await, arn),
        queue,
    )
}

async fn token(moto: &Moto, queue: &str) -> String {
    let got = moto.receive(queue, Duration::from_secs(10)).await;
    assert_eq!(got.len(), 1, "one token sent: {got:?}");
    let body: Value = serde_json::from_str(&got[0]).unwrap();
    body["token"].as_str().unwrap().to_string()
}

async fn settled(moto: &Moto, sfn: &StepFunctions, arn: &str) -> aws_sfn_port::ExecutionView {
    moto.stopped(arn).await;
    sfn.view(arn).await.unwrap()
}

#[tokio::test]
async fn an_approval_resumes_the_waiting_execution_once() {
    let moto = Moto::start();
    let (sfn, queue) = waiting_machine(&moto).await;
    let input = json!({"tag": "rc-1.4.0"});
    let started = sfn.start("rc-1.4.0--0123456789ab", &input).await.unwrap();
    assert!(started.new);
    // Starting the same run again (same name, same input) is the same execution.
    let again = sfn.start("rc-1.4.0--0123456789ab", &input).await.unwrap();
    assert_eq!(again.execution_arn, started.execution_arn);
    let token = token(&moto, &queue).await;
    assert!(sfn.is_running(&started.execution_arn).await.unwrap());

    sfn.succeed(&token, &json!({"approved": true, "approver": "bob"}))
        .await
        .unwrap();
    let view = settled(&moto, &sfn, &started.execution_arn).await;
    assert_eq!(view.status, "SUCCEEDED");
    assert_eq!(view.input, input);
    let states: Vec<&str> = view.phases.iter().map(|p| p.state.as_str()).collect();
    assert_eq!(states, ["Wait for Approval", "Approved"]);
    assert!(!sfn.is_running(&started.execution_arn).await.unwrap());
    // The same history, as Mark Release Ready reads it for its Gantt chart.
    let phases = stagegate::ports::Timelines::phases(&sfn, &started.execution_arn)
        .await
        .unwrap();
    assert_eq!(phases, view.phases);
    assert!(phases
        .iter()
        .all(|p| p.exited.is_some_and(|x| x >= p.entered)));

    // A second answer (a second click that got past the table) is a closed task.
    match sfn.succeed(&token, &json!({})).await {
        Err(CallbackError::TaskClosed(code)) => assert_eq!(code, "InvalidToken"),
        other => panic!("a second answer was {other:?}"),
    }
}

#[tokio::test]
async fn a_rejection_fails_the_execution_with_the_error_the_machine_routes_on() {
    let moto = Moto::start();
    let (sfn, queue) = waiting_machine(&moto).await;
    let started = sfn
        .start("rc-1.4.0--0123456789ab", &json!({"tag": "rc-1.4.0"}))
        .await
        .unwrap();
    let token = token(&moto, &queue).await;
    // A cause longer than Step Functions accepts (32,768 characters) is cut, not
    // refused. (moto does not keep the cause; the cut is checked on the SDK mock.)
    sfn.fail(&token, "Rejected", &"not this week ".repeat(3_000))
        .await
        .unwrap();
    let view = settled(&moto, &sfn, &started.execution_arn).await;
    assert_eq!(view.status, "FAILED");
    assert_eq!(view.error.as_deref(), Some("Rejected"));
}

#[tokio::test]
async fn an_unknown_execution_is_not_running_and_an_unknown_token_is_closed() {
    let moto = Moto::start();
    let (sfn, _) = waiting_machine(&moto).await;
    let missing = aws_sfn_port::execution_arn(sfn.state_machine_arn(), "nope");
    assert!(!sfn.is_running(&missing).await.unwrap());
    assert!(matches!(
        sfn.fail("not-a-token", "Rejected", "").await,
        Err(CallbackError::TaskClosed(_))
    ));
    let e = sfn.view(&missing).await.unwrap_err();
    assert!(e.message.contains("ExecutionDoesNotExist"), "{e}");
}

/// `stagegate status --recent`: the machine's runs as ListExecutions gives them,
/// newest first. moto only records these executions: 5.2.1 could not start a second
/// execution of a machine it runs (a `TypeError` pickling a lock), so the histories
/// the figures are read from are the other tests' here.
#[tokio::test]
async fn recent_runs_are_listed_newest_first() {
    let moto = Moto::start();
    let definition = json!({"StartAt": "Preflight", "States": {
        "Preflight": {"Type": "Pass", "Next": "Ready for Production"},
        "Ready for Production": {"Type": "Succeed"}}});
    let machine = moto.create_state_machine("staging", &definition).await;
    let sfn = StepFunctions::from_config(&moto.sdk_config().await, machine);
    let mut started = Vec::new();
    for tag in ["rc-1.4.0", "rc-1.4.1", "rc-1.4.2"] {
        let run = sfn
            .start(&format!("{tag}--0123456789ab"), &json!({"tag": tag}))
            .await;
        started.push(run.unwrap().execution_arn);
        // ListExecutions orders by start date, which moto keeps in seconds.
        tokio::time::sleep(Duration::from_millis(1100)).await;
    }
    started.reverse();
    assert_eq!(sfn.recent(10).await.unwrap(), started);
    assert_eq!(sfn.recent(2).await.unwrap(), started[..2]);
    let view = sfn.view(&started[0]).await.unwrap();
    assert_eq!(view.input, json!({"tag": "rc-1.4.2"}));
}

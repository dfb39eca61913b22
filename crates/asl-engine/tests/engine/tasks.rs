//! Task resources: Lambda (both forms), errors and panics, CodeBuild through a build
//! runner, other integrations, timeouts, payload limits, and history shapes.

use crate::{engine_with, of_type, run, types, FN};
use asl_engine::{
    BuildRequest, BuildResult, BuildRunner, Details, EngineError, EventType, ExecutionStatus,
    LambdaError, Registry, StateError,
};
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};

fn echo() -> Registry {
    Registry::new().lambda("echo", |v: Value| async move { Ok(v) })
}

#[tokio::test(start_paused = true)]
async fn lambda_invoke_wraps_the_result_in_payload() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": format!("{FN}echo:live"), "Payload": {"a.$": "$.a"}}, "End": true}}});
    let (done, h) = run(def, echo(), json!({"a": 1})).await;
    assert_eq!(
        done.output,
        Some(json!({"ExecutedVersion": "$LATEST", "Payload": {"a": 1}, "StatusCode": 200}))
    );
    assert_eq!(
        types(&h),
        vec![
            EventType::ExecutionStarted,
            EventType::TaskStateEntered,
            EventType::TaskScheduled,
            EventType::TaskStarted,
            EventType::TaskSucceeded,
            EventType::TaskStateExited,
            EventType::ExecutionSucceeded
        ]
    );
    match &of_type(&h, EventType::TaskScheduled)[0].details {
        Details::TaskScheduled {
            resource_type,
            resource,
            parameters,
            ..
        } => {
            assert_eq!(
                (resource_type.as_str(), resource.as_str()),
                ("lambda", "invoke")
            );
            assert_eq!(parameters.value()["Payload"], json!({"a": 1}));
        }
        other => panic!("unexpected details {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_plain_function_arn_returns_the_raw_result_with_lambda_events() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}echo"), "End": true}}});
    let (done, h) = run(def, echo(), json!({"a": 1})).await;
    assert_eq!(done.output, Some(json!({"a": 1})));
    assert!(types(&h).contains(&EventType::LambdaFunctionScheduled));
    assert!(types(&h).contains(&EventType::LambdaFunctionSucceeded));
}

#[tokio::test(start_paused = true)]
async fn a_handler_error_becomes_the_task_error() {
    let reg = Registry::new().lambda("deploy", |_| async {
        Err(LambdaError::new(
            "StackDeployFailed",
            "UPDATE_ROLLBACK_COMPLETE",
        ))
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}deploy"), "End": true}}});
    let (done, h) = run(def, reg, json!({})).await;
    assert_eq!(done.error.as_deref(), Some("StackDeployFailed"));
    assert!(done.cause.unwrap().contains("UPDATE_ROLLBACK_COMPLETE"));
    assert_eq!(of_type(&h, EventType::LambdaFunctionFailed).len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_handler_panic_is_lambda_unknown_not_an_engine_crash() {
    let reg = Registry::new().lambda("crash", |_| async {
        if true {
            panic!("index out of bounds");
        }
        Ok(json!(null))
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}crash"), "End": true}}});
    let (done, _) = run(def, reg, json!({})).await;
    assert_eq!(done.error.as_deref(), Some("Lambda.Unknown"));
    assert!(done.cause.unwrap().contains("index out of bounds"));
}

#[tokio::test(start_paused = true)]
async fn an_unknown_function_is_resource_not_found() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": "nobody"}, "End": true}}});
    let (done, _) = run(def, echo(), json!({})).await;
    assert_eq!(
        done.error.as_deref(),
        Some("Lambda.ResourceNotFoundException")
    );
}

#[tokio::test(start_paused = true)]
async fn an_integration_without_a_handler_is_a_load_error() {
    let engine = engine_with(Registry::new());
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish", "End": true}}});
    let err = engine
        .create_state_machine("x", &def.to_string(), &Default::default())
        .unwrap_err();
    assert!(matches!(err, EngineError::InvalidDefinition(_)));
    assert!(err.to_string().contains("sns:publish"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn registered_integrations_receive_the_parameters() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    let reg = Registry::new().integration("sns:publish", move |call| {
        s.lock().unwrap().push(call.input.clone());
        async { Ok(json!({"MessageId": "m-1"})) }
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message.$": "$.msg"}, "End": true}}});
    let (done, _) = run(def, reg, json!({"msg": "hi"})).await;
    assert_eq!(done.output, Some(json!({"MessageId": "m-1"})));
    assert_eq!(
        seen.lock().unwrap()[0],
        json!({"TopicArn": "arn:aws:sns:us-east-1:1:t", "Message": "hi"})
    );
}

struct FakeBuilds {
    seen: Arc<Mutex<Vec<BuildRequest>>>,
}

impl BuildRunner for FakeBuilds {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, StateError>> {
        let ok = request
            .environment
            .iter()
            .any(|(k, v)| k == "CHECK" && v == "lint");
        self.seen.lock().unwrap().push(request);
        async move {
            tokio::time::sleep(std::time::Duration::from_secs(42)).await;
            Ok(BuildResult {
                status: if ok { "SUCCEEDED" } else { "FAILED" }.into(),
                details: json!({"Logs": {"DeepLink": "file:///tmp/log"}}),
            })
        }
        .boxed()
    }
}

fn build_machine(check: &str) -> Value {
    json!({"StartAt": "Check", "States": {"Check": {"Type": "Task", "Resource": "arn:aws:states:::codebuild:startBuild.sync",
        "Parameters": {"ProjectName": "checks", "EnvironmentVariablesOverride": [{"Name": "CHECK", "Value": check, "Type": "PLAINTEXT"}]},
        "End": true}}})
}

#[tokio::test(start_paused = true)]
async fn codebuild_sync_runs_the_build_and_returns_the_build() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let reg = Registry::new().build_runner(FakeBuilds { seen: seen.clone() });
    let (done, h) = run(build_machine("lint"), reg, json!({})).await;
    let out = done.output.unwrap();
    assert_eq!(out["Build"]["BuildStatus"], json!("SUCCEEDED"));
    assert_eq!(out["Build"]["ProjectName"], json!("checks"));
    assert_eq!(out["Build"]["Logs"]["DeepLink"], json!("file:///tmp/log"));
    assert_eq!(seen.lock().unwrap()[0].project_name, "checks");
    assert_eq!(crate::secs_between(&h[0], h.last().unwrap()), 42.0);
    // As AWS records a `.sync` integration: submitted (the StartBuild response, the
    // build in progress) between started and succeeded.
    let task: Vec<EventType> = types(&h)
        .into_iter()
        .filter(|t| format!("{t:?}").starts_with("Task"))
        .collect();
    use EventType::*;
    assert_eq!(
        task,
        [
            TaskStateEntered,
            TaskScheduled,
            TaskStarted,
            TaskSubmitted,
            TaskSucceeded,
            TaskStateExited
        ]
    );
    let submitted = &of_type(&h, TaskSubmitted)[0];
    let out = serde_json::to_value(submitted).unwrap().to_string();
    assert!(out.contains("IN_PROGRESS"), "{out}");
    assert_eq!(
        crate::secs_between(&h[0], submitted),
        0.0,
        "submitted when started"
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_sync_build_fails_the_task_with_the_build_as_cause() {
    let reg = Registry::new().build_runner(FakeBuilds {
        seen: Default::default(),
    });
    let (done, _) = run(build_machine("unit"), reg, json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(done.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["Build"]["BuildStatus"], json!("FAILED"));
}

#[tokio::test(start_paused = true)]
async fn codebuild_without_a_runner_is_a_load_error() {
    let err = engine_with(Registry::new())
        .create_state_machine("x", &build_machine("lint").to_string(), &Default::default())
        .unwrap_err();
    assert!(err.to_string().contains("build runner"), "{err}");
}

#[tokio::test(start_paused = true)]
async fn timeout_seconds_path_reads_the_timeout_from_the_input() {
    let reg = Registry::new().lambda("slow", |_| async {
        tokio::time::sleep(std::time::Duration::from_secs(100)).await;
        Ok(json!(1))
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}slow"), "TimeoutSecondsPath": "$.limit", "End": true}}});
    let (done, h) = run(def, reg, json!({"limit": 7})).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_eq!(crate::secs_between(&h[0], h.last().unwrap()), 7.0);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_result_is_data_limit_exceeded_and_not_caught_by_all() {
    let reg = Registry::new().lambda("huge", |_| async { Ok(json!("x".repeat(300 * 1024))) });
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": format!("{FN}huge"), "End": true, "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "C"}]},
        "C": {"Type": "Succeed"}
    }});
    let (done, _) = run(def, reg, json!({})).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("States.DataLimitExceeded"));
}

#[tokio::test(start_paused = true)]
async fn retry_count_is_visible_in_the_context_object() {
    let attempts = Arc::new(Mutex::new(Vec::new()));
    let a = attempts.clone();
    let reg = Registry::new().lambda("count", move |v: Value| {
        a.lock().unwrap().push(v["retry"].clone());
        let fail = v["retry"] != json!(2);
        async move {
            if fail {
                Err(LambdaError::new("Again", "again"))
            } else {
                Ok(json!("done"))
            }
        }
    });
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}count"),
        "Parameters": {"retry.$": "$$.State.RetryCount"}, "Retry": [{"ErrorEquals": ["Again"]}], "End": true}}});
    let (done, _) = run(def, reg, json!({})).await;
    assert_eq!(done.output, Some(json!("done")));
    assert_eq!(
        *attempts.lock().unwrap(),
        vec![json!(0), json!(1), json!(2)]
    );
}

#[tokio::test(start_paused = true)]
async fn history_links_events_with_previous_event_ids() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "End": true}}});
    let (_, h) = run(def, Registry::new(), json!({})).await;
    for (i, e) in h.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        // As in AWS histories, the first state's entered event (2) links to 0.
        let previous = if i == 1 { 0 } else { i as u64 };
        assert_eq!(e.previous_event_id, previous, "event {}", e.id);
    }
}

/// As in AWS histories: a Parallel's exited event links to the last event of its
/// branches.
#[tokio::test(start_paused = true)]
async fn a_parallels_exit_links_to_its_branches_last_event() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 5, "End": true}}}]}}});
    let (_, h) = run(def, Registry::new(), json!({})).await;
    let exited = &of_type(&h, EventType::ParallelStateExited)[0];
    let last_branch_event = h
        .iter()
        .filter(|e| e.id < exited.id && !format!("{:?}", e.event_type).starts_with("Parallel"))
        .map(|e| e.id)
        .max()
        .unwrap();
    assert_eq!(
        exited.previous_event_id,
        last_branch_event,
        "{:?}",
        types(&h)
    );
}

#[tokio::test(start_paused = true)]
async fn a_runtime_error_inside_a_state_is_not_reported_as_an_abort() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{FN}echo"),
        "Parameters": {"x.$": "$.missing"}, "End": true}}});
    let (done, h) = run(def, echo(), json!({})).await;
    assert_eq!(done.error.as_deref(), Some("States.Runtime"));
    assert!(
        of_type(&h, EventType::TaskStateAborted).is_empty(),
        "{:?}",
        types(&h)
    );
    assert_eq!(
        types(&h),
        vec![
            EventType::ExecutionStarted,
            EventType::TaskStateEntered,
            EventType::ExecutionFailed
        ]
    );
}

//! The template's EventBridge rules and schedules, locally: each delivers to the
//! function the template names, through the world's registry.

use super::PRODUCTION_MACHINE;
use asl_engine::{Engine, Registry};
use serde_json::{json, Value};
use stagegate::flow::production_name;
use stagegate::steps::notify;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::task::JoinHandle;

/// The template's "execution ended abnormally" rule, locally: every execution of
/// `engine` that ends `FAILED`, `TIMED_OUT` or `ABORTED` is sent to `notify` as the
/// "Step Functions Execution Status Change" event EventBridge would deliver.
pub(super) fn execution_status_rule(engine: &Engine, registry: Arc<Registry>) -> JoinHandle<()> {
    let mut events = engine.subscribe();
    let engine = engine.clone();
    tokio::spawn(async move {
        loop {
            let (arn, event) = match events.recv().await {
                Ok(e) => e,
                Err(RecvError::Lagged(_)) => continue,
                Err(RecvError::Closed) => return,
            };
            let status = match event.event_type.to_string().as_str() {
                "ExecutionFailed" => "FAILED",
                "ExecutionTimedOut" => "TIMED_OUT",
                "ExecutionAborted" => "ABORTED",
                _ => continue,
            };
            let Ok(d) = engine.describe_execution(&arn) else {
                continue;
            };
            let detail = json!({
                "executionArn": d.execution_arn, "stateMachineArn": d.state_machine_arn,
                "name": d.name, "status": status, "input": d.input.to_string(),
                "error": d.error, "cause": d.cause,
            });
            let event = json!({
                "version": "0", "detail-type": "Step Functions Execution Status Change",
                "source": "aws.states", "resources": [&*arn], "detail": detail,
            });
            // EventBridge retries a failed target; one attempt is enough locally, and a
            // failure is in the run's outbox (or its absence) for everyone to see.
            let production = d
                .state_machine_arn
                .ends_with(&format!(":{PRODUCTION_MACHINE}"));
            let notify = match production {
                true => production_name(notify::NAME),
                false => notify::NAME.to_string(),
            };
            let _ = registry.invoke(&notify, event).await;
        }
    })
}

/// The template's stack and frontend status rules, locally: every event on `events`
/// is delivered to `resume-wait`, as EventBridge would.
pub(super) fn status_event_rule(
    events: Vec<Receiver<Value>>,
    registry: Arc<Registry>,
    resume: String,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let forwards = events.into_iter().map(|mut rx| {
            let (registry, resume) = (registry.clone(), resume.clone());
            async move {
                loop {
                    match rx.recv().await {
                        // A failed delivery is what a missed event is: the task's
                        // timeout and its status read take over, as on AWS.
                        Ok(event) => drop(registry.invoke(&resume, event).await),
                        Err(RecvError::Lagged(_)) => continue,
                        Err(RecvError::Closed) => return,
                    }
                }
            }
        });
        futures::future::join_all(forwards).await;
    })
}

/// An EventBridge schedule, locally: invokes function `name` every `every`.
pub(super) fn schedule(
    registry: Arc<Registry>,
    name: &'static str,
    every: Duration,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(every).await;
            let _ = registry.invoke(name, json!({"source": "aws.events"})).await;
        }
    })
}

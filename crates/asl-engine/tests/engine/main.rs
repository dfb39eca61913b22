//! Integration tests of the engine through its public API: each module pins one
//! area of the Step Functions semantics. One test binary keeps link time down.

mod choice;
mod errors;
mod executions;
mod flow;
mod io;
mod links;
mod mocks;
mod quotas;
mod tasks;
mod tokens;

use asl_engine::{
    Clock, Engine, EngineConfig, EventType, ExecutionDescription, HistoryEvent, Registry,
    TaskExecutor,
};
use serde_json::Value;
use std::sync::Arc;

pub const FN: &str = "arn:aws:lambda:us-east-1:123456789012:function:";

/// An engine on the fixed clock with seeded jitter, for reproducible runs.
pub fn engine_with(executor: impl TaskExecutor) -> Engine {
    Engine::with_options(
        Arc::new(executor),
        Clock::fixed(),
        EngineConfig::default(),
        Some(7),
    )
}

/// Loads `definition`, runs it to the end with `input`, returns the result and history.
pub async fn run(
    definition: Value,
    registry: Registry,
    input: Value,
) -> (ExecutionDescription, Vec<HistoryEvent>) {
    run_on(&engine_with(registry), definition, input).await
}

pub async fn run_on(
    engine: &Engine,
    definition: Value,
    input: Value,
) -> (ExecutionDescription, Vec<HistoryEvent>) {
    let arn = engine
        .create_state_machine("test", &definition.to_string(), &Default::default())
        .expect("test definitions are valid");
    let done = engine
        .run(&arn, None, input)
        .await
        .expect("the execution runs");
    let history = engine
        .get_execution_history(&done.execution_arn)
        .expect("history exists");
    (done, history)
}

/// Names of the states entered, in order.
pub fn route(history: &[HistoryEvent]) -> Vec<String> {
    asl_engine::history::states_entered(history)
}

pub fn types(history: &[HistoryEvent]) -> Vec<EventType> {
    history.iter().map(|e| e.event_type).collect()
}

/// Seconds between two events of the history (virtual time).
pub fn secs_between(a: &HistoryEvent, b: &HistoryEvent) -> f64 {
    (b.timestamp - a.timestamp).num_milliseconds() as f64 / 1000.0
}

/// The events of one type.
pub fn of_type(history: &[HistoryEvent], t: EventType) -> Vec<&HistoryEvent> {
    history.iter().filter(|e| e.event_type == t).collect()
}

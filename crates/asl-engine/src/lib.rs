//! # asl-engine — AWS Step Functions, embedded
//!
//! An interpreter for Amazon States Language definitions (JSONPath query language)
//! that runs inside a Rust process: no AWS account, no Docker, no JVM. stagegate uses
//! it to run `statemachine/staging.asl.json` — the very file deployed to AWS — on a
//! laptop (the local rehearsal) and in its path tests.
//!
//! ```no_run
//! use asl_engine::{Engine, Registry};
//! use serde_json::json;
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let registry = Registry::new().lambda("greet", |ev| async move {
//!     Ok(json!({"greeting": format!("hello {}", ev["name"].as_str().unwrap_or("?"))}))
//! });
//! let engine = Engine::new(registry);
//! let arn = engine.create_state_machine("demo", r#"{"StartAt": "Greet", "States": {
//!     "Greet": {"Type": "Task", "Resource": "${GreetArn}", "End": true}}}"#,
//!     &[("GreetArn".to_string(), "arn:aws:lambda:us-east-1:123456789012:function:greet".to_string())].into())?;
//! let done = engine.run(&arn, Some("first"), json!({"name": "ops"})).await?;
//! assert_eq!(done.output, Some(json!({"greeting": "hello ops"})));
//! # Ok(()) }
//! ```
//!
//! ## How it maps to AWS
//!
//! | Step Functions                          | asl-engine                                                        |
//! |-----------------------------------------|-------------------------------------------------------------------|
//! | `CreateStateMachine` + `DefinitionSubstitutions` | [`Engine::create_state_machine`] (`${Name}` → value; a missing one is an error) |
//! | Definition validation                   | [`StateMachine::from_json`]: every problem, with its location      |
//! | `StartExecution` (idempotent by name+input) | [`Engine::start_execution`]                                     |
//! | `DescribeExecution` / `ListExecutions`  | [`Engine::describe_execution`] / [`Engine::list_executions`]       |
//! | `GetExecutionHistory`                   | [`Engine::get_execution_history`] (same event types and details)   |
//! | `StopExecution`                         | [`Engine::stop_execution`] (`ABORTED`, `...StateAborted` events)   |
//! | `SendTaskSuccess/Failure/Heartbeat`     | [`Engine::send_task_success`] ... (same `InvalidToken`/`TaskTimedOut` errors) |
//! | Lambda function (plain ARN or `lambda:invoke`) | an async Rust handler in a [`Registry`]; `lambda:invoke` wraps the result in `{"Payload": ...}` |
//! | Lambda function error (`errorType`)     | [`LambdaError`] → the task's `Error` is the `errorType`, `Cause` the error JSON |
//! | Unhandled Lambda error (crash)          | a handler panic → `Lambda.Unknown`                                 |
//! | `codebuild:startBuild.sync`             | a [`BuildRunner`] (stagegate's runs local processes)               |
//! | Other integrations (`sns:publish`, `aws-sdk:*`) | [`Registry::integration`] handlers; unregistered → load error |
//! | Step Functions Local mock config        | [`MockConfig`] / [`MockExecutor`]                                  |
//! | Service time                            | tokio's clock: paused runtimes make waits instant ([`Clock`])      |
//! | The maximum execution time (one year)   | [`MAX_EXECUTION_SECONDS`]: then `ExecutionTimedOut` (`States.Timeout`), whatever `TimeoutSeconds` says |
//! | The history quota (25,000 events)        | [`MAX_HISTORY_EVENTS`]: event 25,000 ends the execution, `ExecutionFailed` unless it is `ExecutionSucceeded`; nothing catches it (an endless loop ends there, as on AWS) |
//!
//! ## What is not supported
//!
//! Each is rejected when the definition loads, never silently run differently:
//! `QueryLanguage: JSONata` (and `Arguments`/`Output`), workflow variables (`Assign`),
//! distributed Map (`ItemReader`, `ItemBatcher`, `ResultWriter`, tolerated failures,
//! `Mode: DISTRIBUTED`), activities, task `Credentials`, `HeartbeatSeconds` on tasks
//! other than `.waitForTaskToken` (AWS ignores them there), and any integration the
//! executor has no handler for. Also absent: Express workflows, redrive, versions and
//! aliases, execution-history paging, Jayway path functions such as `.length()`.
//!
//! Known deliberate choices where AWS documents nothing precise: a `Fail` state
//! without `Error` fails with an empty error name; `States.StringSplit` drops empty
//! tokens. A `States.Runtime` error's cause names the problem in the engine's own
//! words (AWS's text differs), the full history's too ([`HISTORY_FULL`]).
//!
//! ## Checked against AWS's own histories
//!
//! Executions recorded against AWS by others (LocalStack's snapshot recordings of real
//! executions; 2026-12-07, run through `stagegate test-case` with each Task answered
//! as the recording shows AWS answered it) agree event for event — type, id,
//! `previousEventId`, state names, outputs, errors — for every Choice operator,
//! the intrinsic functions, and 53 executions of Pass, Parallel, inline Map, Retry,
//! Catch, Lambda and SDK tasks, timeouts and comments. What they pinned down, each now
//! a test (`tests/engine/links.rs`): a caught error exits its state
//! (`TaskStateExited` with the catcher's output); `ParallelStateFailed` and
//! `MapStateFailed` are recorded once, when the error is final, and link to the
//! failing branch's or iteration's last event, as does a retry's `…StateStarted`;
//! a Map iteration that takes the slot another freed chains from it (the recordings
//! run one at a time; that the first `MaxConcurrency` start from `MapStateStarted`
//! is our reading); `MapStateSucceeded`
//! and `MapStateExited` link to the last `MapIterationSucceeded`. Not compared: the
//! recordings of what is not supported above (distributed Map, JSONata) and those whose
//! placeholders hide the value compared (ARNs in the context object).

pub mod choice;
pub mod clock;
pub mod definition;
pub mod engine;
pub mod error;
pub mod history;
mod interp;
pub mod intrinsics;
pub mod mock;
pub mod path;
pub mod task;
pub mod template;

pub use clock::Clock;
pub use definition::{LoadError, StateMachine};
pub use engine::{
    Control, Engine, EngineConfig, EngineError, ExecutionDescription, ExecutionStatus,
};
pub use error::StateError;
pub use history::{Details, EventType, HistoryEvent, Payload};
pub use interp::{HISTORY_FULL, MAX_EXECUTION_SECONDS, MAX_HISTORY_EVENTS};
pub use mock::{MockConfig, MockExecutor};
pub use task::{
    BuildRequest, BuildResult, BuildRunner, LambdaError, Pattern, Registry, Resource, TaskCall,
    TaskExecutor, TaskOutput,
};

/// A single-threaded runtime with paused time: every wait (Wait states, retries,
/// timeouts) completes as soon as nothing else can run, deterministically. Used by
/// `stagegate test-case` and available to any test harness.
pub fn virtual_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
}

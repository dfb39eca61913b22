//! Execution history: the events `GetExecutionHistory` returns, with the same type
//! names, id/previousEventId links and `...EventDetails` objects (JSON text in
//! `input`/`output`/`parameters`, as AWS does).

use crate::clock::format_timestamp;
use chrono::{DateTime, Utc};
use serde::ser::SerializeMap;
use serde::{Serialize, Serializer};
use serde_json::{json, Value};
use std::fmt;

/// Event types, spelled as in the Step Functions API.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EventType {
    ExecutionStarted,
    ExecutionSucceeded,
    ExecutionFailed,
    ExecutionAborted,
    ExecutionTimedOut,
    TaskStateEntered,
    TaskStateExited,
    TaskStateAborted,
    TaskScheduled,
    TaskStarted,
    TaskSubmitted,
    TaskSucceeded,
    TaskFailed,
    TaskTimedOut,
    LambdaFunctionScheduled,
    LambdaFunctionStarted,
    LambdaFunctionSucceeded,
    LambdaFunctionFailed,
    LambdaFunctionTimedOut,
    PassStateEntered,
    PassStateExited,
    ChoiceStateEntered,
    ChoiceStateExited,
    WaitStateEntered,
    WaitStateExited,
    WaitStateAborted,
    SucceedStateEntered,
    SucceedStateExited,
    FailStateEntered,
    ParallelStateEntered,
    ParallelStateStarted,
    ParallelStateSucceeded,
    ParallelStateFailed,
    ParallelStateAborted,
    ParallelStateExited,
    MapStateEntered,
    MapStateStarted,
    MapStateSucceeded,
    MapStateFailed,
    MapStateAborted,
    MapStateExited,
    MapIterationStarted,
    MapIterationSucceeded,
    MapIterationFailed,
    MapIterationAborted,
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Serialize for EventType {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// A JSON document recorded in an event (`input`, `output`, `parameters`), kept as
/// its text — what `GetExecutionHistory` returns, and one allocation instead of a
/// tree of them: an execution records every state's input and output, so the
/// history would otherwise copy every document twice (docs/performance.md).
#[derive(Clone)]
pub struct Payload(Box<str>);

impl Payload {
    /// The document's JSON text.
    pub fn of(v: &Value) -> Payload {
        // Straight into a buffer (`Display` goes through `fmt` and is slower); a
        // `Value` always serializes.
        Payload(
            serde_json::to_string(v)
                .unwrap_or_default()
                .into_boxed_str(),
        )
    }

    /// The JSON text, as AWS records it.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The document. A payload is only ever made from a `Value`, so its text parses.
    pub fn value(&self) -> Value {
        serde_json::from_str(&self.0).unwrap_or(Value::Null)
    }
}

impl From<Value> for Payload {
    fn from(v: Value) -> Payload {
        Payload::of(&v)
    }
}

impl fmt::Debug for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Payload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Equal documents, whatever their key order.
impl PartialEq for Payload {
    fn eq(&self, other: &Payload) -> bool {
        self.0 == other.0 || self.value() == other.value()
    }
}

impl PartialEq<Value> for Payload {
    fn eq(&self, other: &Value) -> bool {
        self.value() == *other
    }
}

/// One history event.
#[derive(Clone, Debug, PartialEq)]
pub struct HistoryEvent {
    pub timestamp: DateTime<Utc>,
    pub event_type: EventType,
    pub id: u64,
    pub previous_event_id: u64,
    pub details: Details,
}

/// The `...EventDetails` payload of an event.
#[derive(Clone, Debug, PartialEq)]
pub enum Details {
    None,
    ExecutionStarted {
        input: Payload,
        role_arn: String,
    },
    ExecutionSucceeded {
        output: Payload,
    },
    /// For `ExecutionFailed`, `ExecutionAborted`, `ExecutionTimedOut`.
    ExecutionError {
        error: String,
        cause: String,
    },
    StateEntered {
        name: String,
        input: Payload,
    },
    StateExited {
        name: String,
        output: Payload,
    },
    TaskScheduled {
        resource_type: String,
        resource: String,
        region: String,
        parameters: Payload,
        timeout_in_seconds: Option<u64>,
        heartbeat_in_seconds: Option<u64>,
    },
    TaskStarted {
        resource_type: String,
        resource: String,
    },
    /// `TaskSubmitted` and `TaskSucceeded`.
    TaskOutput {
        resource_type: String,
        resource: String,
        output: Payload,
    },
    /// `TaskFailed` and `TaskTimedOut`.
    TaskError {
        resource_type: String,
        resource: String,
        error: String,
        cause: String,
    },
    LambdaScheduled {
        resource: String,
        input: Payload,
        timeout_in_seconds: Option<u64>,
    },
    LambdaSucceeded {
        output: Payload,
    },
    /// `LambdaFunctionFailed` and `LambdaFunctionTimedOut`.
    LambdaError {
        error: String,
        cause: String,
    },
    MapStarted {
        length: usize,
    },
    MapIteration {
        name: String,
        index: usize,
    },
}

impl HistoryEvent {
    /// The state name for `*StateEntered`/`*StateExited` events.
    pub fn state_name(&self) -> Option<&str> {
        match &self.details {
            Details::StateEntered { name, .. } | Details::StateExited { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The input a `*StateEntered` event carries (the state's input), else `None`.
    pub fn state_input(&self) -> Option<Value> {
        match &self.details {
            Details::StateEntered { input, .. } => Some(input.value()),
            _ => None,
        }
    }

    /// The output a `*StateExited` event carries (the state's output), else `None`.
    pub fn state_output(&self) -> Option<Value> {
        match &self.details {
            Details::StateExited { output, .. } => Some(output.value()),
            _ => None,
        }
    }

    /// Error name, for events that carry one.
    pub fn error(&self) -> Option<&str> {
        match &self.details {
            Details::ExecutionError { error, .. }
            | Details::TaskError { error, .. }
            | Details::LambdaError { error, .. } => Some(error),
            _ => None,
        }
    }

    fn details_key(&self) -> Option<&'static str> {
        use EventType::*;
        Some(match self.event_type {
            ExecutionStarted => "executionStartedEventDetails",
            ExecutionSucceeded => "executionSucceededEventDetails",
            ExecutionFailed => "executionFailedEventDetails",
            ExecutionAborted => "executionAbortedEventDetails",
            ExecutionTimedOut => "executionTimedOutEventDetails",
            TaskScheduled => "taskScheduledEventDetails",
            TaskStarted => "taskStartedEventDetails",
            TaskSubmitted => "taskSubmittedEventDetails",
            TaskSucceeded => "taskSucceededEventDetails",
            TaskFailed => "taskFailedEventDetails",
            TaskTimedOut => "taskTimedOutEventDetails",
            LambdaFunctionScheduled => "lambdaFunctionScheduledEventDetails",
            LambdaFunctionSucceeded => "lambdaFunctionSucceededEventDetails",
            LambdaFunctionFailed => "lambdaFunctionFailedEventDetails",
            LambdaFunctionTimedOut => "lambdaFunctionTimedOutEventDetails",
            MapStateStarted => "mapStateStartedEventDetails",
            MapIterationStarted => "mapIterationStartedEventDetails",
            MapIterationSucceeded => "mapIterationSucceededEventDetails",
            MapIterationFailed => "mapIterationFailedEventDetails",
            MapIterationAborted => "mapIterationAbortedEventDetails",
            _ => match self.details {
                Details::StateEntered { .. } => "stateEnteredEventDetails",
                Details::StateExited { .. } => "stateExitedEventDetails",
                _ => return None,
            },
        })
    }

    /// The details as `GetExecutionHistory` returns them: every input and output with
    /// its `inputDetails`/`outputDetails` (`truncated` is always false: the engine
    /// fails a run whose data passes the limit instead of cutting it), and an error or
    /// cause that is not there left out, not empty.
    fn details_json(&self) -> Option<Value> {
        let text = |v: &Payload| Value::String(v.as_str().to_string());
        let whole = json!({"truncated": false});
        Some(match &self.details {
            Details::None => return None,
            Details::ExecutionStarted { input, role_arn } => {
                json!({"input": text(input), "inputDetails": whole, "roleArn": role_arn})
            }
            Details::ExecutionSucceeded { output } => {
                json!({"output": text(output), "outputDetails": whole})
            }
            Details::ExecutionError { error, cause } => error_cause(error, cause),
            Details::StateEntered { name, input } => {
                json!({"name": name, "input": text(input), "inputDetails": whole})
            }
            Details::StateExited { name, output } => {
                json!({"name": name, "output": text(output), "outputDetails": whole})
            }
            Details::TaskScheduled {
                resource_type,
                resource,
                region,
                parameters,
                timeout_in_seconds,
                heartbeat_in_seconds,
            } => {
                let mut v = json!({"resourceType": resource_type, "resource": resource, "region": region, "parameters": text(parameters)});
                if let Some(t) = timeout_in_seconds {
                    v["timeoutInSeconds"] = json!(t);
                }
                if let Some(h) = heartbeat_in_seconds {
                    v["heartbeatInSeconds"] = json!(h);
                }
                v
            }
            Details::TaskStarted {
                resource_type,
                resource,
            } => json!({"resourceType": resource_type, "resource": resource}),
            Details::TaskOutput {
                resource_type,
                resource,
                output,
            } => {
                json!({"resourceType": resource_type, "resource": resource, "output": text(output), "outputDetails": whole})
            }
            Details::TaskError {
                resource_type,
                resource,
                error,
                cause,
            } => {
                let mut v = error_cause(error, cause);
                v["resourceType"] = json!(resource_type);
                v["resource"] = json!(resource);
                v
            }
            Details::LambdaScheduled {
                resource,
                input,
                timeout_in_seconds,
            } => {
                let mut v =
                    json!({"resource": resource, "input": text(input), "inputDetails": whole});
                if let Some(t) = timeout_in_seconds {
                    v["timeoutInSeconds"] = json!(t);
                }
                v
            }
            Details::LambdaSucceeded { output } => {
                json!({"output": text(output), "outputDetails": whole})
            }
            Details::LambdaError { error, cause } => error_cause(error, cause),
            Details::MapStarted { length } => json!({"length": length}),
            Details::MapIteration { name, index } => json!({"name": name, "index": index}),
        })
    }
}

/// An error and a cause as `GetExecutionHistory` has them: each only when there is one.
fn error_cause(error: &str, cause: &str) -> Value {
    let mut v = json!({});
    if !error.is_empty() {
        v["error"] = json!(error);
    }
    if !cause.is_empty() {
        v["cause"] = json!(cause);
    }
    v
}

/// The names of the states entered, in order: the route an execution took.
pub fn states_entered(history: &[HistoryEvent]) -> Vec<String> {
    history
        .iter()
        .filter(|e| matches!(e.details, Details::StateEntered { .. }))
        .filter_map(|e| e.state_name().map(str::to_string))
        .collect()
}

impl Serialize for HistoryEvent {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut m = s.serialize_map(None)?;
        m.serialize_entry("timestamp", &format_timestamp(self.timestamp))?;
        m.serialize_entry("type", &self.event_type)?;
        m.serialize_entry("id", &self.id)?;
        m.serialize_entry("previousEventId", &self.previous_event_id)?;
        if let (Some(k), Some(v)) = (self.details_key(), self.details_json()) {
            m.serialize_entry(k, &v)?;
        }
        m.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;

    /// A payload is the document's compact JSON text; equal documents are equal
    /// payloads whatever their key order; the document comes back intact.
    #[test]
    fn a_payload_is_the_documents_text() {
        let v = json!({"b": [1, {"c": "é\"q"}], "a": null});
        let p = Payload::of(&v);
        assert_eq!(p.as_str(), v.to_string());
        assert_eq!(p.value(), v);
        assert_eq!(p, Payload::of(&json!({"a": null, "b": [1, {"c": "é\"q"}]})));
        assert_ne!(p, Payload::of(&json!({"a": 1})));
        assert!(p == v);
    }

    #[test]
    fn serializes_like_get_execution_history() {
        let e = HistoryEvent {
            timestamp: Clock::fixed().now(),
            event_type: EventType::TaskStateEntered,
            id: 2,
            previous_event_id: 0,
            details: Details::StateEntered {
                name: "Preflight".into(),
                input: json!({"tag": "rc-1.4.0"}).into(),
            },
        };
        assert_eq!(
            serde_json::to_value(&e).unwrap(),
            json!({
                "timestamp": "2026-01-01T00:00:00.000Z",
                "type": "TaskStateEntered",
                "id": 2,
                "previousEventId": 0,
                "stateEnteredEventDetails": {"name": "Preflight", "input": "{\"tag\":\"rc-1.4.0\"}", "inputDetails": {"truncated": false}}
            })
        );
    }

    /// A Fail state without `Error` or `Cause` (or a stop without them): the details
    /// are empty, as AWS records them (LocalStack's recording of `test_state_fail_empty`),
    /// not an empty error and cause.
    #[test]
    fn an_error_or_cause_that_is_not_there_is_left_out() {
        let failed = |error: &str, cause: &str| HistoryEvent {
            timestamp: Clock::fixed().now(),
            event_type: EventType::ExecutionFailed,
            id: 3,
            previous_event_id: 2,
            details: Details::ExecutionError {
                error: error.into(),
                cause: cause.into(),
            },
        };
        let details = |e: HistoryEvent| {
            serde_json::to_value(&e).unwrap()["executionFailedEventDetails"].clone()
        };
        assert_eq!(details(failed("", "")), json!({}));
        assert_eq!(details(failed("Oops", "")), json!({"error": "Oops"}));
        assert_eq!(
            details(failed("Oops", "why")),
            json!({"error": "Oops", "cause": "why"})
        );
    }
}

//! Mocked service integrations in the Step Functions Local mock-config format, so
//! teams can run the test cases they already have:
//!
//! ```json
//! { "StateMachines": { "Machine": { "TestCases": { "HappyPath": { "State": "MockName" } } } },
//!   "MockedResponses": { "MockName": { "0": { "Return": {...} }, "1-2": { "Throw": { "Error": "E", "Cause": "C" } } } } }
//! ```
//!
//! A mocked Task answers with the `Return` (the service's response, e.g. the
//! `{"Payload": ...}` of `lambda:invoke`) or fails with the `Throw`; the key is the
//! zero-based invocation of that state in the execution, so retries and loops can be
//! answered differently. A `.waitForTaskToken` task answers at once with its mock. A
//! Task with no mock is run by the fallback executor, or fails with `States.Runtime`
//! when there is none. An invocation beyond the mocked range fails the same way.

use crate::definition::StateMachine;
use crate::engine::lock;
use crate::error::StateError;
use crate::task::{Resource, TaskCall, TaskExecutor, TaskFuture, TaskOutput};
use futures::FutureExt;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// A parsed mock configuration file.
#[derive(Clone, Debug)]
pub struct MockConfig {
    machines: BTreeMap<String, BTreeMap<String, BTreeMap<String, String>>>,
    responses: BTreeMap<String, Arc<MockedResponse>>,
}

#[derive(Clone, Debug)]
struct MockedResponse {
    /// (first, last) invocation index, inclusive, and the answer.
    steps: Vec<(u32, u32, Answer)>,
}

#[derive(Clone, Debug)]
enum Answer {
    Return(Value),
    Throw(StateError),
}

impl MockConfig {
    pub fn parse(text: &str) -> Result<MockConfig, String> {
        let v: Value = serde_json::from_str(text)
            .map_err(|e| format!("the mock config is not valid JSON: {e}"))?;
        Self::from_value(&v)
    }

    pub fn from_value(v: &Value) -> Result<MockConfig, String> {
        let obj = v
            .as_object()
            .ok_or("the mock config must be a JSON object")?;
        for k in obj.keys() {
            if k != "StateMachines" && k != "MockedResponses" {
                return Err(format!("unknown top-level field '{k}' (expected 'StateMachines' and 'MockedResponses')"));
            }
        }
        let mut responses = BTreeMap::new();
        if let Some(r) = obj.get("MockedResponses") {
            let r = r.as_object().ok_or("'MockedResponses' must be an object")?;
            for (name, steps) in r {
                responses.insert(name.clone(), Arc::new(parse_response(name, steps)?));
            }
        }
        let mut machines = BTreeMap::new();
        let sms = obj
            .get("StateMachines")
            .and_then(Value::as_object)
            .ok_or("'StateMachines' is required and must be an object")?;
        for (sm, body) in sms {
            let cases = body
                .get("TestCases")
                .and_then(Value::as_object)
                .ok_or_else(|| format!("StateMachines.{sm} needs a 'TestCases' object"))?;
            let mut out = BTreeMap::new();
            for (case, states) in cases {
                let states = states
                    .as_object()
                    .ok_or_else(|| format!("StateMachines.{sm}.TestCases.{case} must map state names to mocked responses"))?;
                let mut map = BTreeMap::new();
                for (state, resp) in states {
                    let resp = resp
                        .as_str()
                        .ok_or_else(|| format!("StateMachines.{sm}.TestCases.{case}.{state} must name a mocked response"))?;
                    if !responses.contains_key(resp) {
                        return Err(format!(
                            "StateMachines.{sm}.TestCases.{case}.{state} uses '{resp}', which is not in 'MockedResponses'"
                        ));
                    }
                    map.insert(state.clone(), resp.to_string());
                }
                out.insert(case.clone(), map);
            }
            machines.insert(sm.clone(), out);
        }
        Ok(MockConfig {
            machines,
            responses,
        })
    }

    /// State machine names in the config.
    pub fn state_machines(&self) -> Vec<&str> {
        self.machines.keys().map(String::as_str).collect()
    }

    /// The state machines that define a test case of this name.
    pub fn machines_with_case(&self, case: &str) -> Vec<&str> {
        self.machines
            .iter()
            .filter(|(_, cases)| cases.contains_key(case))
            .map(|(k, _)| k.as_str())
            .collect()
    }

    /// An executor answering with one test case's mocks. Every mocked state must
    /// exist in `definition` (a typo would otherwise silently call the fallback).
    pub fn executor(
        &self,
        state_machine: &str,
        test_case: &str,
        definition: &StateMachine,
        fallback: Option<Arc<dyn TaskExecutor>>,
    ) -> Result<MockExecutor, String> {
        let cases = self.machines.get(state_machine).ok_or_else(|| {
            format!(
                "the mock config has no state machine '{state_machine}' (it has: {})",
                self.state_machines().join(", ")
            )
        })?;
        let case = cases.get(test_case).ok_or_else(|| {
            format!(
                "state machine '{state_machine}' has no test case '{test_case}' (it has: {})",
                cases.keys().cloned().collect::<Vec<_>>().join(", ")
            )
        })?;
        let names = definition.state_names();
        let mut mocks = HashMap::new();
        for (state, resp) in case {
            if !names.contains(state) {
                return Err(format!(
                    "test case '{test_case}' mocks state '{state}', which is not in the definition"
                ));
            }
            mocks.insert(state.clone(), self.responses[resp].clone());
        }
        Ok(MockExecutor {
            mocks,
            counters: Mutex::new(HashMap::new()),
            fallback,
            case: test_case.to_string(),
        })
    }
}

fn parse_response(name: &str, v: &Value) -> Result<MockedResponse, String> {
    let obj = v.as_object().ok_or_else(|| {
        format!("MockedResponses.{name} must map invocation indexes to responses")
    })?;
    let mut steps = Vec::new();
    for (key, resp) in obj {
        let bad_key = || {
            format!(
                "MockedResponses.{name}: '{key}' is not an invocation index ('0') or range ('1-2')"
            )
        };
        let (first, last) = match key.split_once('-') {
            Some((a, b)) => (
                a.parse::<u32>().map_err(|_| bad_key())?,
                b.parse::<u32>().map_err(|_| bad_key())?,
            ),
            None => {
                let n = key.parse::<u32>().map_err(|_| bad_key())?;
                (n, n)
            }
        };
        if last < first {
            return Err(format!(
                "MockedResponses.{name}: range '{key}' ends before it starts"
            ));
        }
        let r = resp.as_object().ok_or_else(|| {
            format!("MockedResponses.{name}.{key} must be an object with 'Return' or 'Throw'")
        })?;
        let answer = match (r.get("Return"), r.get("Throw")) {
            (Some(v), None) if r.len() == 1 => Answer::Return(v.clone()),
            (None, Some(t)) if r.len() == 1 => {
                let error = t.get("Error").and_then(Value::as_str);
                let cause = t.get("Cause").and_then(Value::as_str).unwrap_or_default();
                match error {
                    Some(e) => Answer::Throw(StateError::new(e, cause)),
                    None => {
                        return Err(format!(
                            "MockedResponses.{name}.{key}.Throw needs an 'Error' string"
                        ))
                    }
                }
            }
            _ => {
                return Err(format!(
                    "MockedResponses.{name}.{key} must have exactly one of 'Return' or 'Throw'"
                ))
            }
        };
        if steps.iter().any(|(a, b, _)| first <= *b && *a <= last) {
            return Err(format!(
                "MockedResponses.{name}: '{key}' overlaps another invocation index"
            ));
        }
        steps.push((first, last, answer));
    }
    steps.sort_by_key(|s| s.0);
    Ok(MockedResponse { steps })
}

/// Answers mocked states from a test case; delegates the rest to a fallback.
pub struct MockExecutor {
    mocks: HashMap<String, Arc<MockedResponse>>,
    counters: Mutex<HashMap<(String, String), u32>>,
    fallback: Option<Arc<dyn TaskExecutor>>,
    case: String,
}

impl TaskExecutor for MockExecutor {
    fn check(&self, resource: &Resource) -> Result<(), String> {
        // Unmocked states may still use this resource through the fallback; states
        // with mocks need nothing. A missing answer is reported when it happens.
        let _ = resource;
        Ok(())
    }

    fn call(&self, call: TaskCall) -> TaskFuture {
        let Some(mock) = self.mocks.get(&call.state_name).cloned() else {
            return match &self.fallback {
                Some(f) => f.call(call),
                None => {
                    let msg = format!(
                        "state '{}' has no mocked response in test case '{}' and no real integration is available",
                        call.state_name, self.case
                    );
                    async move { Err(StateError::runtime(msg)) }.boxed()
                }
            };
        };
        let index = {
            let mut c = lock(&self.counters);
            let n = c
                .entry((call.execution_arn.clone(), call.state_name.clone()))
                .or_insert(0);
            let i = *n;
            *n += 1;
            i
        };
        let answer = mock
            .steps
            .iter()
            .find(|(a, b, _)| (*a..=*b).contains(&index))
            .map(|s| s.2.clone());
        let state = call.state_name.clone();
        // A mocked Lambda answer is the Invoke response (`{"StatusCode", "Payload"}`);
        // a Task whose Resource is the function's own ARN yields only its payload.
        let bare_lambda = matches!(call.resource, crate::task::Resource::LambdaArn { .. });
        async move {
            match answer {
                Some(Answer::Return(v)) if bare_lambda && v.get("Payload").is_some() => {
                    Ok(TaskOutput::Done(v["Payload"].clone()))
                }
                Some(Answer::Return(v)) => Ok(TaskOutput::Done(v)),
                Some(Answer::Throw(e)) => Err(e),
                None => Err(StateError::runtime(format!(
                    "state '{state}' has no mocked response for invocation {index}"
                ))),
            }
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn sm() -> StateMachine {
        StateMachine::from_value(&json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke", "Parameters": {"FunctionName": "f"}, "End": true}}})).unwrap()
    }

    #[tokio::test]
    async fn a_bare_function_arn_yields_the_payload_of_the_mocked_invoke_response() {
        use crate::task::{Resource, TaskCall, TaskExecutor as _};
        let config = MockConfig::from_value(&json!({
            "StateMachines": {"M": {"TestCases": {"T": {"A": "R"}}}},
            "MockedResponses": {"R": {"0": {"Return": {"StatusCode": 200, "Payload": {"ok": true}}}}}
        }))
        .unwrap();
        for (arn, expected) in [
            (
                "arn:aws:lambda:us-east-1:123456789012:function:f",
                json!({"ok": true}),
            ),
            (
                "arn:aws:states:::lambda:invoke",
                json!({"StatusCode": 200, "Payload": {"ok": true}}),
            ),
        ] {
            let exec = config.executor("M", "T", &sm(), None).unwrap();
            let call = TaskCall {
                execution_arn: "arn:x".into(),
                state_name: "A".into(),
                resource: Resource::parse(arn).unwrap(),
                input: json!({}),
                task_token: None,
                retry_count: 0,
            };
            match exec.call(call).await.unwrap() {
                TaskOutput::Done(v) => assert_eq!(v, expected, "{arn}"),
                other => panic!("{other:?}"),
            }
        }
    }

    #[test]
    fn rejects_unknown_response_names_and_bad_indexes() {
        let e = MockConfig::from_value(&json!({"StateMachines": {"M": {"TestCases": {"T": {"A": "Nope"}}}}, "MockedResponses": {}})).unwrap_err();
        assert!(
            e.contains("'Nope', which is not in 'MockedResponses'"),
            "{e}"
        );
        let e = MockConfig::from_value(
            &json!({"StateMachines": {}, "MockedResponses": {"R": {"x": {"Return": 1}}}}),
        )
        .unwrap_err();
        assert!(e.contains("not an invocation index"), "{e}");
        let e = MockConfig::from_value(&json!({"StateMachines": {}, "MockedResponses": {"R": {"0-2": {"Return": 1}, "2": {"Return": 2}}}})).unwrap_err();
        assert!(e.contains("overlaps"), "{e}");
        let e = MockConfig::from_value(&json!({"StateMachines": {}, "MockedResponses": {"R": {"0": {"Return": 1, "Throw": {"Error": "E"}}}}})).unwrap_err();
        assert!(e.contains("exactly one of"), "{e}");
    }

    #[test]
    fn rejects_mocks_for_states_that_do_not_exist() {
        let c = MockConfig::from_value(&json!({"StateMachines": {"M": {"TestCases": {"T": {"Typo": "R"}}}}, "MockedResponses": {"R": {"0": {"Return": 1}}}})).unwrap();
        let e = c.executor("M", "T", &sm(), None).err().unwrap();
        assert!(e.contains("mocks state 'Typo'"), "{e}");
        assert!(c
            .executor("M", "Nope", &sm(), None)
            .err()
            .unwrap()
            .contains("no test case 'Nope'"));
        assert!(c
            .executor("X", "T", &sm(), None)
            .err()
            .unwrap()
            .contains("no state machine 'X'"));
    }
}

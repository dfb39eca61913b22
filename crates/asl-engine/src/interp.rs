//! The interpreter: runs one execution through its states, recording history.
//!
//! Input/output processing order per state is AWS's: raw input → `InputPath` →
//! `Parameters` (effective input) → work → `ResultSelector` → `ResultPath` (merged
//! into the *raw* input) → `OutputPath`. Errors that are not `States.Runtime` go
//! through `Retry` (first matching retrier, each with its own attempt count) and then
//! `Catch` (first matching catcher; its `ResultPath` applies to the raw input).

use crate::clock::{format_timestamp, parse_timestamp};
use crate::definition::{
    Catcher, Fail, IoPath, Jitter, Kind, MapState, Parallel, Pass, ResultPathSpec, Retrier, Scope,
    Seconds, State, Task, Text, Wait,
};
use crate::engine::{lock, ExecutionRecord, ExecutionStatus, Finished, Inner, MAX_PAYLOAD_BYTES};
use crate::error::{any_matches, names, StateError};
use crate::history::{Details, EventType, HistoryEvent, Payload};
use crate::task::{Pattern, Resource, TaskCall, TaskExecutor, TaskOutput};
use crate::template::truncate;
use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use futures::FutureExt;
use rand::Rng;
use serde_json::{json, Value};
use std::cell::OnceCell;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

/// One line of control flow (the execution, a branch, an iteration): events it emits
/// link to its previous event through `previousEventId`.
struct Thread {
    last: AtomicU64,
}

impl Thread {
    fn starting_after(id: u64) -> Self {
        Thread {
            last: AtomicU64::new(id),
        }
    }
}

struct Ctx {
    inner: Arc<Inner>,
    executor: Arc<dyn TaskExecutor>,
    rec: Arc<ExecutionRecord>,
    /// `$$` without the per-state parts, built once.
    base_context: Value,
    /// Set once the history holds all but its last event ([`MAX_HISTORY_EVENTS`]).
    full: tokio::sync::watch::Sender<bool>,
}

/// Step Functions' hard quota on a Standard execution's history. Once an execution
/// has 24,999 events, the next decides: `ExecutionSucceeded` as event 25,000 ends it
/// successfully; anything else fails it with `ExecutionFailed` as event 25,000
/// ("Avoid reaching the history quota", AWS Step Functions Developer Guide). The error
/// and cause are ours ([`HISTORY_FULL`]): AWS documents the failure, not its words.
pub const MAX_HISTORY_EVENTS: usize = 25_000;

/// How long a Standard execution may run (one year, 365 days): then it times out
/// (`States.Timeout`), whatever its `TimeoutSeconds`.
pub const MAX_EXECUTION_SECONDS: u64 = 365 * 86_400;

/// The cause of an execution failed by [`MAX_HISTORY_EVENTS`] (error `States.Runtime`).
pub const HISTORY_FULL: &str = "The execution reached the maximum number of history events (25000)";

/// Where a state hands control: the next state, or the end of its scope.
struct Step {
    output: Value,
    next: Option<String>,
}

pub(crate) async fn run_execution(
    inner: Arc<Inner>,
    executor: Arc<dyn TaskExecutor>,
    rec: Arc<ExecutionRecord>,
) {
    let cx = Ctx {
        base_context: base_context(&inner, &rec),
        inner: inner.clone(),
        executor,
        rec: rec.clone(),
        full: tokio::sync::watch::Sender::new(false),
    };
    let root = Thread::starting_after(0);
    cx.emit(
        &root,
        EventType::ExecutionStarted,
        Details::ExecutionStarted {
            input: Payload::of(&rec.input),
            role_arn: inner.config.role_arn.clone(),
        },
    );
    // As in AWS histories, the first state's entered event links to nothing (0), not
    // to ExecutionStarted.
    root.last.store(0, Ordering::SeqCst);
    let mut stop = rec.stop.subscribe();
    let mut full = cx.full.subscribe();
    // A Standard execution lives a year at most, whatever its TimeoutSeconds.
    let timeout = match rec.machine.definition.timeout_seconds {
        Some(s) if s < MAX_EXECUTION_SECONDS => Some(s),
        _ => None,
    };
    let body = cx.run_scope(&rec.machine.definition.root, rec.input.clone(), &root);
    let end = tokio::select! {
        biased;
        s = stop.wait_for(Option::is_some) => {
            let (e, c) = s.ok().and_then(|v| v.clone()).unwrap_or_default();
            End::Stopped(e, c)
        }
        _ = tokio::time::sleep(Duration::from_secs(timeout.unwrap_or(MAX_EXECUTION_SECONDS)))
            => End::TimedOut(timeout),
        // A state waiting (a Wait, a task token) when the history filled up.
        _ = full.wait_for(|f| *f) => End::Done(Err(StateError::runtime(HISTORY_FULL))),
        r = body => End::Done(r),
    };
    // The body's last state filled the history: its end cannot be event 25,000.
    let end = match end {
        End::Done(Ok(_)) if *cx.full.borrow() => End::Done(Err(StateError::runtime(HISTORY_FULL))),
        end => end,
    };
    let (status, finished, event, details) = end.close(cx.now());
    cx.emit(&root, event, details);
    *lock(&rec.result) = Some(finished);
    rec.status.send_replace(status);
}

/// `$$` without the per-state parts.
fn base_context(inner: &Inner, rec: &ExecutionRecord) -> Value {
    json!({
        "Execution": {
            "Id": &*rec.arn,
            "Input": rec.input,
            "Name": rec.name,
            "RoleArn": inner.config.role_arn,
            "StartTime": format_timestamp(rec.start),
            "RedriveCount": 0,
        },
        "StateMachine": {"Id": rec.machine.arn, "Name": rec.machine.name},
    })
}

/// How an execution ended.
enum End {
    Done(Result<Value, StateError>),
    Stopped(String, String),
    /// After its `TimeoutSeconds`, or (`None`) the year an execution may last.
    TimedOut(Option<u64>),
}

impl End {
    /// The execution's status, its record, and the event that closes its history.
    fn close(self, stop: DateTime<Utc>) -> (ExecutionStatus, Finished, EventType, Details) {
        let (status, event, error, cause) = match self {
            End::Done(Ok(output)) => {
                let details = Details::ExecutionSucceeded {
                    output: Payload::of(&output),
                };
                let finished = Finished {
                    stop,
                    output: Some(output),
                    error: None,
                    cause: None,
                };
                return (
                    ExecutionStatus::Succeeded,
                    finished,
                    EventType::ExecutionSucceeded,
                    details,
                );
            }
            End::Done(Err(e)) => (
                ExecutionStatus::Failed,
                EventType::ExecutionFailed,
                e.error,
                e.cause,
            ),
            End::Stopped(error, cause) => (
                ExecutionStatus::Aborted,
                EventType::ExecutionAborted,
                error,
                cause,
            ),
            End::TimedOut(s) => (
                ExecutionStatus::TimedOut,
                EventType::ExecutionTimedOut,
                names::TIMEOUT.into(),
                match s {
                    Some(s) => format!("The execution exceeded its TimeoutSeconds of {s}"),
                    None => format!("The execution exceeded the maximum execution time of one year ({MAX_EXECUTION_SECONDS} seconds)"),
                },
            ),
        };
        let finished = Finished {
            stop,
            output: None,
            error: Some(error.clone()),
            cause: Some(cause.clone()),
        };
        (
            status,
            finished,
            event,
            Details::ExecutionError { error, cause },
        )
    }
}

/// Emits an `...Aborted` event if dropped before being disarmed: a state or
/// iteration cut short by a failing sibling branch, a stop, or a timeout.
struct AbortGuard<'a> {
    cx: &'a Ctx,
    thread: &'a Thread,
    event: Option<(EventType, Details)>,
}

impl AbortGuard<'_> {
    fn disarm(&mut self) {
        self.event = None;
    }
}

impl Drop for AbortGuard<'_> {
    fn drop(&mut self) {
        if let Some((t, d)) = self.event.take() {
            self.cx.emit(self.thread, t, d);
        }
    }
}

/// Per-retrier attempt counts for one visit of a state.
struct Retries<'a> {
    retriers: &'a [Retrier],
    counts: Vec<u32>,
    total: u32,
}

impl<'a> Retries<'a> {
    fn new(retriers: &'a [Retrier]) -> Self {
        Retries {
            retriers,
            counts: vec![0; retriers.len()],
            total: 0,
        }
    }

    /// The delay before the next attempt, or `None` when the error is not retried.
    /// The first retrier whose `ErrorEquals` matches decides, even if exhausted.
    fn next_delay(
        &mut self,
        err: &StateError,
        rng: &std::sync::Mutex<rand::rngs::StdRng>,
    ) -> Option<Duration> {
        let i = self
            .retriers
            .iter()
            .position(|r| any_matches(&r.error_equals, &err.error))?;
        let r = &self.retriers[i];
        if self.counts[i] >= r.max_attempts {
            return None;
        }
        let mut delay = r.interval_seconds as f64 * r.backoff_rate.powi(self.counts[i] as i32);
        if let Some(max) = r.max_delay_seconds {
            delay = delay.min(max as f64);
        }
        if r.jitter == Jitter::Full {
            delay = lock(rng).gen_range(0.0..=delay);
        }
        self.counts[i] += 1;
        self.total += 1;
        Some(Duration::from_secs_f64(delay.min(1.0e9)))
    }
}

/// How a Task, Parallel or Map state handles the end of its work.
struct Handling<'a> {
    retry: &'a [Retrier],
    catch: &'a [Catcher],
    result_selector: Option<&'a crate::template::Template>,
    result_path: &'a ResultPathSpec,
    aborted: EventType,
    exited: EventType,
    /// Parallel's and Map's `…StateFailed`, recorded once the state's error is final
    /// (not between retries, as in AWS histories); a Task's `TaskFailed` is per attempt.
    failed: Option<EventType>,
}

impl Ctx {
    fn now(&self) -> DateTime<Utc> {
        self.inner.clock.now()
    }

    fn emit(&self, thread: &Thread, event_type: EventType, details: Details) -> u64 {
        let event = {
            let mut h = lock(&self.rec.history);
            let closing = matches!(
                event_type,
                EventType::ExecutionSucceeded
                    | EventType::ExecutionFailed
                    | EventType::ExecutionAborted
                    | EventType::ExecutionTimedOut
            );
            if h.len() + 1 >= MAX_HISTORY_EVENTS && !closing {
                // The last event is the execution's end: this one is not recorded,
                // and the execution fails at its next state (or now, if it waits).
                self.full.send_replace(true);
                return h.len() as u64;
            }
            let id = h.len() as u64 + 1;
            let e = HistoryEvent {
                timestamp: self.now(),
                event_type,
                id,
                previous_event_id: thread.last.swap(id, Ordering::SeqCst),
                details,
            };
            let e = Arc::new(e);
            h.push(e.clone());
            e
        };
        let id = event.id;
        // No subscriber is fine: history is the record, the channel is a courtesy.
        let _ = self.inner.events.send((self.rec.arn.clone(), event));
        id
    }

    /// The context object (`$$`) as the state `st` sees it; `null` for a state that
    /// never reads it (decided at load: `State::reads_context`), so that most states
    /// do not copy the execution input into a context they would throw away.
    fn context(
        &self,
        st: &State,
        entered: DateTime<Utc>,
        retry_count: u32,
        token: Option<&str>,
        item: Option<(usize, &Value)>,
    ) -> Value {
        if !st.reads_context {
            return Value::Null;
        }
        let mut c = self.base_context.clone();
        c["State"] = json!({"Name": st.name, "EnteredTime": format_timestamp(entered), "RetryCount": retry_count});
        if let Some(t) = token {
            c["Task"] = json!({ "Token": t });
        }
        if let Some((i, v)) = item {
            c["Map"] = json!({"Item": {"Index": i, "Value": v}});
        }
        c
    }

    fn run_scope<'a>(
        &'a self,
        scope: &'a Scope,
        input: Value,
        thread: &'a Thread,
    ) -> BoxFuture<'a, Result<Value, StateError>> {
        async move {
            let mut name = scope.start_at.clone();
            let mut input = input;
            loop {
                if *self.full.borrow() {
                    return Err(StateError::runtime(HISTORY_FULL));
                }
                let Some(state) = scope.states.get(&name) else {
                    return Err(StateError::runtime(format!("no state named '{name}'")));
                };
                let step = self.run_state(state, input, thread).await?;
                match step.next {
                    Some(n) => {
                        name = n;
                        input = step.output;
                    }
                    None => return Ok(step.output),
                }
            }
        }
        .boxed()
    }

    async fn run_state(&self, st: &State, raw: Value, thread: &Thread) -> Result<Step, StateError> {
        let entered = self.now();
        let step = match &st.kind {
            Kind::Task(t) => self.task(st, t, raw, thread, entered).await,
            Kind::Pass(p) => self.pass(st, p, raw, thread, entered),
            Kind::Choice(_) => self.choice(st, raw, thread, entered),
            Kind::Wait(w) => self.wait(st, w, raw, thread, entered).await,
            Kind::Succeed => {
                self.entered(thread, EventType::SucceedStateEntered, st, &raw);
                let out = self.io(
                    &st.output_path,
                    self.io(&st.input_path, raw, &Value::Null, "InputPath")?,
                    &Value::Null,
                    "OutputPath",
                )?;
                self.exited(thread, EventType::SucceedStateExited, st, &out);
                Ok(Step {
                    output: out,
                    next: None,
                })
            }
            Kind::Fail(f) => self.fail(st, f, raw, thread, entered),
            Kind::Parallel(p) => self.parallel(st, p, raw, thread, entered).await,
            Kind::Map(m) => self.map(st, m, raw, thread, entered).await,
        }?;
        check_size(&step.output, &st.name)?;
        Ok(step)
    }

    fn entered(&self, thread: &Thread, t: EventType, st: &State, raw: &Value) {
        self.emit(
            thread,
            t,
            Details::StateEntered {
                name: st.name.clone(),
                input: Payload::of(raw),
            },
        );
    }

    fn exited(&self, thread: &Thread, t: EventType, st: &State, out: &Value) {
        self.emit(
            thread,
            t,
            Details::StateExited {
                name: st.name.clone(),
                output: Payload::of(out),
            },
        );
    }

    /// InputPath / OutputPath / ItemsPath.
    fn io(
        &self,
        spec: &IoPath,
        v: Value,
        context: &Value,
        field: &str,
    ) -> Result<Value, StateError> {
        match spec {
            IoPath::Whole => Ok(v),
            IoPath::Null => Ok(json!({})),
            IoPath::Path(p) => p.select(&v, context).ok_or_else(|| {
                StateError::runtime(format!(
                    "Invalid path '{p}' for {field}: no results for the input '{}'",
                    truncate(&v.to_string())
                ))
            }),
        }
    }

    fn result_path(
        &self,
        spec: &ResultPathSpec,
        raw: Value,
        result: Value,
    ) -> Result<Value, StateError> {
        match spec {
            ResultPathSpec::Whole => Ok(result),
            ResultPathSpec::Discard => Ok(raw),
            ResultPathSpec::Path(p) => p.set(raw, result).map_err(StateError::runtime),
        }
    }

    /// ResultSelector → ResultPath → OutputPath.
    fn finish_output(
        &self,
        st: &State,
        selector: Option<&crate::template::Template>,
        result_path: &ResultPathSpec,
        raw: Value,
        result: Value,
        context: impl Fn() -> Value,
    ) -> Result<Value, StateError> {
        let result = match selector {
            Some(t) => t.eval(&result, &context())?,
            None => result,
        };
        let merged = self.result_path(result_path, raw, result)?;
        self.io(&st.output_path, merged, &Value::Null, "OutputPath")
    }

    fn catch(&self, catchers: &[Catcher], raw: Value, err: StateError) -> Result<Step, StateError> {
        let Some(c) = catchers
            .iter()
            .find(|c| any_matches(&c.error_equals, &err.error))
        else {
            return Err(err);
        };
        // An error need not have a cause (the specification says it SHOULD): one
        // without one is caught as `{"Error"}` alone, so a definition cannot count on
        // `$.Cause` being there.
        let error_output = if err.cause.is_empty() {
            json!({"Error": err.error})
        } else {
            json!({"Error": err.error, "Cause": err.cause})
        };
        let output = self.result_path(&c.result_path, raw, error_output)?;
        Ok(Step {
            output,
            next: Some(c.next.clone()),
        })
    }

    fn seconds(
        &self,
        spec: &Option<Seconds>,
        input: &Value,
        context: &Value,
        field: &str,
    ) -> Result<Option<u64>, StateError> {
        match spec {
            None => Ok(None),
            Some(Seconds::Fixed(n)) => Ok(Some(*n)),
            Some(Seconds::Path(p)) => match p.select(input, context) {
                Some(v) => match v.as_u64() {
                    Some(n) if n > 0 => Ok(Some(n)),
                    _ => Err(StateError::runtime(format!(
                        "{field}Path '{p}' must point to a positive integer, found {v}"
                    ))),
                },
                None => Err(StateError::runtime(format!(
                    "{field}Path '{p}' could not be found in the input"
                ))),
            },
        }
    }

    async fn task(
        &self,
        st: &State,
        t: &Task,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::TaskStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw.clone(), &Value::Null, "InputPath")?;
        let handling = Handling {
            retry: &t.retry,
            catch: &t.catch,
            result_selector: t.result_selector.as_ref(),
            result_path: &t.result_path,
            aborted: EventType::TaskStateAborted,
            exited: EventType::TaskStateExited,
            failed: None,
        };
        self.with_retry_catch(st, &handling, raw, thread, entered, |retry_count| {
            let effective = &effective;
            async move {
                let lease = (t.resource.pattern() == Pattern::WaitForTaskToken)
                    .then(|| self.inner.open_token());
                let token = lease.as_ref().map(|l| l.token.clone());
                let context = self.context(st, entered, retry_count, token.as_deref(), None);
                let params = match &t.parameters {
                    Some(tpl) => tpl.eval(effective, &context)?,
                    None => effective.clone(),
                };
                let timeout = self.seconds(&t.timeout, effective, &context, "TimeoutSeconds")?;
                let heartbeat =
                    self.seconds(&t.heartbeat, effective, &context, "HeartbeatSeconds")?;
                Ok(self
                    .attempt(
                        st,
                        &t.resource,
                        params,
                        lease,
                        retry_count,
                        timeout,
                        heartbeat,
                        thread,
                    )
                    .await)
            }
        })
        .await
    }

    /// What Task, Parallel and Map share after their work: `Retry`, `Catch`, and the
    /// result's path to the state's output. `attempt(retry_count)` does the work once:
    /// `Ok(Ok(result))`, `Ok(Err(e))` for an error that `Retry`/`Catch` handle, or
    /// `Err(e)` for a runtime error that skips both. The `aborted` event is recorded
    /// if the state is cut short (a failing sibling branch, a stop, a timeout).
    #[allow(clippy::too_many_arguments)]
    async fn with_retry_catch<F, Fut>(
        &self,
        st: &State,
        h: &Handling<'_>,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
        mut attempt: F,
    ) -> Result<Step, StateError>
    where
        F: FnMut(u32) -> Fut,
        Fut: Future<Output = Result<Result<Value, StateError>, StateError>>,
    {
        let mut guard = AbortGuard {
            cx: self,
            thread,
            event: Some((h.aborted, Details::None)),
        };
        let mut retries = Retries::new(h.retry);
        let outcome = loop {
            match attempt(retries.total).await {
                Ok(Ok(v)) => break Ok(Ok(v)),
                Ok(Err(e)) => match retries.next_delay(&e, &self.inner.rng) {
                    Some(d) => tokio::time::sleep(d).await,
                    None => break Ok(Err(e)),
                },
                Err(runtime) => break Err(runtime),
            }
        };
        guard.disarm();
        let result = match outcome? {
            Ok(v) => v,
            Err(e) => {
                if let Some(failed) = h.failed {
                    self.emit(thread, failed, Details::None);
                }
                // A caught error still exits the state, with the catcher's output,
                // as AWS records it.
                let step = self.catch(h.catch, raw, e)?;
                self.exited(thread, h.exited, st, &step.output);
                return Ok(step);
            }
        };
        let context = || self.context(st, entered, retries.total, None, None);
        let output =
            self.finish_output(st, h.result_selector, h.result_path, raw, result, context)?;
        self.exited(thread, h.exited, st, &output);
        Ok(Step {
            output,
            next: st.next.clone(),
        })
    }

    #[allow(clippy::too_many_arguments)]
    async fn attempt(
        &self,
        st: &State,
        resource: &Resource,
        params: Value,
        lease: Option<crate::engine::TokenLease>,
        retry_count: u32,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
        thread: &Thread,
    ) -> Result<Value, StateError> {
        self.scheduled(thread, resource, &params, timeout, heartbeat);
        let call = TaskCall {
            execution_arn: self.rec.arn.to_string(),
            state_name: st.name.clone(),
            resource: resource.clone(),
            input: params,
            task_token: lease.as_ref().map(|l| l.token.clone()),
            retry_count,
        };
        // The service's response to a submitted job or a delivered callback.
        let submitted = |response: &Value| {
            self.emit(
                thread,
                EventType::TaskSubmitted,
                Details::TaskOutput {
                    resource_type: resource.resource_type(),
                    resource: resource.resource_name(),
                    output: Payload::of(response),
                },
            );
        };
        let work = async {
            match self.executor.call(call).await? {
                TaskOutput::Done(v) => Ok(v),
                TaskOutput::Submitted(response, completion) => {
                    submitted(&response);
                    completion.await
                }
                TaskOutput::AwaitToken(response) => {
                    submitted(&response);
                    match lease {
                        Some(lease) => wait_for_token(lease, heartbeat).await,
                        None => Err(StateError::runtime(
                            "the executor asked to wait for a task token, but this task has none",
                        )),
                    }
                }
            }
        };
        let result = match timeout {
            Some(s) => tokio::select! {
                r = work => r,
                _ = tokio::time::sleep(Duration::from_secs(s)) => Err(StateError::new(names::TIMEOUT, format!("The task did not finish within TimeoutSeconds ({s})"))),
            },
            None => work.await,
        };
        let result = result.and_then(|v| {
            check_size(&v, &st.name)?;
            Ok(v)
        });
        self.task_ended(thread, resource, &result);
        result
    }

    /// The events that open a task attempt: scheduled, then started.
    fn scheduled(
        &self,
        thread: &Thread,
        resource: &Resource,
        params: &Value,
        timeout: Option<u64>,
        heartbeat: Option<u64>,
    ) {
        let (resource_type, name) = (resource.resource_type(), resource.resource_name());
        if matches!(resource, Resource::LambdaArn { .. }) {
            let details = Details::LambdaScheduled {
                resource: resource.arn().to_string(),
                input: Payload::of(params),
                timeout_in_seconds: timeout,
            };
            self.emit(thread, EventType::LambdaFunctionScheduled, details);
            self.emit(thread, EventType::LambdaFunctionStarted, Details::None);
            return;
        }
        let details = Details::TaskScheduled {
            resource_type: resource_type.clone(),
            resource: name.clone(),
            region: self.inner.config.region.clone(),
            parameters: Payload::of(params),
            timeout_in_seconds: timeout,
            heartbeat_in_seconds: heartbeat,
        };
        self.emit(thread, EventType::TaskScheduled, details);
        let details = Details::TaskStarted {
            resource_type,
            resource: name,
        };
        self.emit(thread, EventType::TaskStarted, details);
    }

    /// The event that closes a task attempt: succeeded, failed or timed out.
    fn task_ended(&self, thread: &Thread, resource: &Resource, result: &Result<Value, StateError>) {
        let lambda_arn = matches!(resource, Resource::LambdaArn { .. });
        let (resource_type, name) = (resource.resource_type(), resource.resource_name());
        let (ty, details) = match result {
            Ok(v) if lambda_arn => (
                EventType::LambdaFunctionSucceeded,
                Details::LambdaSucceeded {
                    output: Payload::of(v),
                },
            ),
            Ok(v) => (
                EventType::TaskSucceeded,
                Details::TaskOutput {
                    resource_type,
                    resource: name,
                    output: Payload::of(v),
                },
            ),
            Err(e) => {
                let timed_out = e.error == names::TIMEOUT || e.error == names::HEARTBEAT_TIMEOUT;
                let ty = match (lambda_arn, timed_out) {
                    (true, true) => EventType::LambdaFunctionTimedOut,
                    (true, false) => EventType::LambdaFunctionFailed,
                    (false, true) => EventType::TaskTimedOut,
                    (false, false) => EventType::TaskFailed,
                };
                let (error, cause) = (e.error.clone(), e.cause.clone());
                let details = if lambda_arn {
                    Details::LambdaError { error, cause }
                } else {
                    Details::TaskError {
                        resource_type,
                        resource: name,
                        error,
                        cause,
                    }
                };
                (ty, details)
            }
        };
        self.emit(thread, ty, details);
    }

    fn pass(
        &self,
        st: &State,
        p: &Pass,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::PassStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw.clone(), &Value::Null, "InputPath")?;
        let result = match (&p.result, &p.parameters) {
            (Some(r), _) => r.clone(),
            (None, Some(t)) => t.eval(&effective, &self.context(st, entered, 0, None, None))?,
            (None, None) => effective,
        };
        let merged = self.result_path(&p.result_path, raw, result)?;
        let output = self.io(&st.output_path, merged, &Value::Null, "OutputPath")?;
        self.exited(thread, EventType::PassStateExited, st, &output);
        Ok(Step {
            output,
            next: st.next.clone(),
        })
    }

    fn choice(
        &self,
        st: &State,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        let Kind::Choice(c) = &st.kind else {
            unreachable!("dispatched on Kind::Choice")
        };
        self.entered(thread, EventType::ChoiceStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw, &Value::Null, "InputPath")?;
        let context = OnceCell::new();
        let mut next = None;
        for (rule, target) in &c.choices {
            let cx = context.get_or_init(|| self.context(st, entered, 0, None, None));
            if rule.eval(&effective, cx)? {
                next = Some(target.clone());
                break;
            }
        }
        let next = match next.or_else(|| c.default.clone()) {
            Some(n) => n,
            None => {
                return Err(StateError::new(
                    names::NO_CHOICE_MATCHED,
                    format!(
                        "No Choice rule in '{}' matched the input and there is no Default",
                        st.name
                    ),
                ))
            }
        };
        let output = self.io(&st.output_path, effective, &Value::Null, "OutputPath")?;
        self.exited(thread, EventType::ChoiceStateExited, st, &output);
        Ok(Step {
            output,
            next: Some(next),
        })
    }

    async fn wait(
        &self,
        st: &State,
        w: &Wait,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::WaitStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw, &Value::Null, "InputPath")?;
        let until: DateTime<Utc> = match w {
            Wait::Seconds(s) => entered + chrono::Duration::seconds(*s as i64),
            Wait::Timestamp(t) => *t,
            Wait::SecondsPath(p) => match p.select(&effective, &Value::Null) {
                Some(v) => match v.as_u64() {
                    Some(s) if s <= 99_999_999 => entered + chrono::Duration::seconds(s as i64),
                    _ => {
                        return Err(StateError::runtime(format!(
                            "SecondsPath '{p}' must point to a non-negative integer, found {v}"
                        )))
                    }
                },
                None => {
                    return Err(StateError::runtime(format!(
                        "SecondsPath '{p}' could not be found in the input"
                    )))
                }
            },
            Wait::TimestampPath(p) => match p.select(&effective, &Value::Null) {
                Some(v) => match v.as_str().and_then(parse_timestamp) {
                    Some(t) => t,
                    None => {
                        return Err(StateError::runtime(format!(
                            "TimestampPath '{p}' must point to an RFC 3339 timestamp, found {v}"
                        )))
                    }
                },
                None => {
                    return Err(StateError::runtime(format!(
                        "TimestampPath '{p}' could not be found in the input"
                    )))
                }
            },
        };
        let mut guard = AbortGuard {
            cx: self,
            thread,
            event: Some((EventType::WaitStateAborted, Details::None)),
        };
        self.inner.clock.sleep_until(until).await;
        guard.disarm();
        let output = self.io(&st.output_path, effective, &Value::Null, "OutputPath")?;
        self.exited(thread, EventType::WaitStateExited, st, &output);
        Ok(Step {
            output,
            next: st.next.clone(),
        })
    }

    fn fail(
        &self,
        st: &State,
        f: &Fail,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::FailStateEntered, st, &raw);
        let context = OnceCell::new();
        let text = |t: &Option<Text>, field: &str| -> Result<String, StateError> {
            let v = match t {
                None => return Ok(String::new()),
                Some(Text::Literal(s)) => return Ok(s.clone()),
                Some(Text::Path(p)) => p
                    .select(
                        &raw,
                        context.get_or_init(|| self.context(st, entered, 0, None, None)),
                    )
                    .ok_or_else(|| {
                        StateError::runtime(format!(
                            "{field}Path '{p}' could not be found in the input"
                        ))
                    })?,
                Some(Text::Intrinsic(i)) => i.eval(
                    &raw,
                    context.get_or_init(|| self.context(st, entered, 0, None, None)),
                )?,
            };
            v.as_str().map(str::to_string).ok_or_else(|| {
                StateError::runtime(format!("{field}Path must produce a string, found {v}"))
            })
        };
        Err(StateError::new(
            text(&f.error, "Error")?,
            text(&f.cause, "Cause")?,
        ))
    }

    async fn parallel(
        &self,
        st: &State,
        p: &Parallel,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::ParallelStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw.clone(), &Value::Null, "InputPath")?;
        let handling = Handling {
            retry: &p.retry,
            catch: &p.catch,
            result_selector: p.result_selector.as_ref(),
            result_path: &p.result_path,
            aborted: EventType::ParallelStateAborted,
            exited: EventType::ParallelStateExited,
            failed: Some(EventType::ParallelStateFailed),
        };
        self.with_retry_catch(st, &handling, raw, thread, entered, |retry_count| {
            let effective = &effective;
            async move {
                let context = self.context(st, entered, retry_count, None, None);
                let input = match &p.parameters {
                    Some(t) => t.eval(effective, &context)?,
                    None => effective.clone(),
                };
                let started = self.emit(thread, EventType::ParallelStateStarted, Details::None);
                let threads: Vec<Thread> = p
                    .branches
                    .iter()
                    .map(|_| Thread::starting_after(started))
                    .collect();
                let branches = p
                    .branches
                    .iter()
                    .zip(&threads)
                    .map(|(b, th)| self.run_scope(b, input.clone(), th));
                let joined = join_limited(branches.collect(), p.branches.len()).await;
                match joined {
                    Ok(results) => {
                        self.emit(thread, EventType::ParallelStateSucceeded, Details::None);
                        // As in AWS histories, ParallelStateExited links to the last
                        // event of the branches, not to ParallelStateSucceeded.
                        let last = threads.iter().map(|t| t.last.load(Ordering::SeqCst));
                        if let Some(last) = last.max().filter(|&l| l > started) {
                            thread.last.store(last, Ordering::SeqCst);
                        }
                        Ok(Ok(Value::Array(results)))
                    }
                    // What follows a failure (`ParallelStateFailed`, or a retry's
                    // `ParallelStateStarted`) links to the failing branch's last event.
                    Err((i, e)) => {
                        let last = threads[i].last.load(Ordering::SeqCst);
                        thread.last.store(last, Ordering::SeqCst);
                        Ok(Err(e))
                    }
                }
            }
        })
        .await
    }

    #[allow(clippy::too_many_arguments)]
    async fn iteration(
        &self,
        st: &State,
        m: &MapState,
        effective: &Value,
        index: usize,
        item: Value,
        links: &MapLinks,
        entered: DateTime<Utc>,
    ) -> Result<Value, StateError> {
        let input = match &m.item_selector {
            Some(t) => t.eval(
                effective,
                &self.context(st, entered, 0, None, Some((index, &item))),
            )?,
            None => item,
        };
        let details = || Details::MapIteration {
            name: st.name.clone(),
            index,
        };
        let th = Thread::starting_after(links.start(index));
        self.emit(&th, EventType::MapIterationStarted, details());
        let mut guard = AbortGuard {
            cx: self,
            thread: &th,
            event: Some((EventType::MapIterationAborted, details())),
        };
        let r = self.run_scope(&m.processor, input, &th).await;
        guard.disarm();
        drop(guard);
        let last = th.last.load(Ordering::SeqCst);
        let ty = if r.is_ok() {
            EventType::MapIterationSucceeded
        } else {
            EventType::MapIterationFailed
        };
        let ended = self.emit(&th, ty, details());
        links.ended(index, last, r.is_ok().then_some(ended));
        r
    }

    async fn map(
        &self,
        st: &State,
        m: &MapState,
        raw: Value,
        thread: &Thread,
        entered: DateTime<Utc>,
    ) -> Result<Step, StateError> {
        self.entered(thread, EventType::MapStateEntered, st, &raw);
        let effective = self.io(&st.input_path, raw.clone(), &Value::Null, "InputPath")?;
        let context = self.context(st, entered, 0, None, None);
        let items = match self.io(&m.items_path, effective.clone(), &context, "ItemsPath")? {
            Value::Array(items) => items,
            other => {
                return Err(StateError::runtime(format!(
                    "ItemsPath must select a JSON array, found {}",
                    truncate(&other.to_string())
                )))
            }
        };
        let concurrency = match self.seconds(
            &Some(m.max_concurrency.clone()),
            &effective,
            &context,
            "MaxConcurrency",
        )? {
            Some(0) | None => items.len().max(1),
            Some(n) => n as usize,
        };
        let handling = Handling {
            retry: &m.retry,
            catch: &m.catch,
            result_selector: m.result_selector.as_ref(),
            result_path: &m.result_path,
            aborted: EventType::MapStateAborted,
            exited: EventType::MapStateExited,
            failed: Some(EventType::MapStateFailed),
        };
        self.with_retry_catch(st, &handling, raw, thread, entered, |_| {
            let (effective, items) = (&effective, &items);
            async move {
                let started = self.emit(
                    thread,
                    EventType::MapStateStarted,
                    Details::MapStarted {
                        length: items.len(),
                    },
                );
                let links = MapLinks::new(started, concurrency);
                let iterations: Vec<_> = items
                    .iter()
                    .enumerate()
                    .map(|(index, item)| {
                        self.iteration(st, m, effective, index, item.clone(), &links, entered)
                    })
                    .collect();
                match join_limited(iterations, concurrency).await {
                    Ok(results) => {
                        // MapStateSucceeded and MapStateExited both link to the last
                        // iteration's end.
                        let last = links.last_ended();
                        thread.last.store(last, Ordering::SeqCst);
                        self.emit(thread, EventType::MapStateSucceeded, Details::None);
                        thread.last.store(last, Ordering::SeqCst);
                        Ok(Ok(Value::Array(results)))
                    }
                    Err((i, e)) => {
                        if let Some(last) = links.failed_at(i) {
                            thread.last.store(last, Ordering::SeqCst);
                        }
                        Ok(Err(e))
                    }
                }
            }
        })
        .await
    }
}

/// How a Map's events link through `previousEventId`, as AWS records them (LocalStack's
/// recordings of real executions, `MaxConcurrency: 1`): an iteration started in the
/// slot another one freed links to that one's last event; `MapStateSucceeded` and
/// `MapStateExited` link to the last `MapIterationSucceeded`; what follows a failure
/// (`MapStateFailed`, a retry's `MapStateStarted`) links to the failing iteration's
/// last event, not to its `MapIterationFailed`.
struct MapLinks {
    started: u64,
    /// How many iterations run at once: the first ones each take a fresh slot.
    concurrency: usize,
    freed: std::sync::Mutex<std::collections::VecDeque<u64>>,
    last_ended: AtomicU64,
    failed: std::sync::Mutex<std::collections::HashMap<usize, u64>>,
}

impl MapLinks {
    fn new(started: u64, concurrency: usize) -> Self {
        MapLinks {
            started,
            concurrency,
            freed: Default::default(),
            last_ended: AtomicU64::new(started),
            failed: Default::default(),
        }
    }

    /// Where iteration `index` links as it starts: the first `concurrency` take fresh
    /// slots (`MapStateStarted`); a later one takes the slot an ended one freed.
    fn start(&self, index: usize) -> u64 {
        if index < self.concurrency {
            return self.started;
        }
        lock(&self.freed).pop_front().unwrap_or(self.started)
    }

    /// Iteration `index` ended after its event `last`; `succeeded` is its
    /// `MapIterationSucceeded`, `None` if it failed.
    fn ended(&self, index: usize, last: u64, succeeded: Option<u64>) {
        lock(&self.freed).push_back(last);
        match succeeded {
            Some(id) => {
                self.last_ended.fetch_max(id, Ordering::SeqCst);
            }
            None => {
                lock(&self.failed).insert(index, last);
            }
        }
    }

    fn last_ended(&self) -> u64 {
        self.last_ended.load(Ordering::SeqCst)
    }

    /// The last event of iteration `index`, if it failed.
    fn failed_at(&self, index: usize) -> Option<u64> {
        lock(&self.failed).get(&index).copied()
    }
}

/// Runs branches or iterations as Step Functions does: up to `limit` at once, started
/// in order, all started ones making progress together; the first failure (lowest
/// index within a round) ends the join with its index and drops the rest, which
/// records their `...Aborted` events. Results keep input order.
async fn join_limited<F>(futures: Vec<F>, limit: usize) -> Result<Vec<Value>, (usize, StateError)>
where
    F: Future<Output = Result<Value, StateError>>,
{
    let limit = limit.max(1);
    let total = futures.len();
    let mut waiting = futures.into_iter().map(Box::pin).enumerate();
    let mut active: Vec<(usize, Pin<Box<F>>)> = Vec::new();
    let mut results: Vec<Option<Value>> = (0..total).map(|_| None).collect();
    let mut done = 0;
    std::future::poll_fn(move |cx| loop {
        while active.len() < limit {
            match waiting.next() {
                Some(f) => active.push(f),
                None => break,
            }
        }
        let mut failed: Option<(usize, StateError)> = None;
        let before = done;
        active.retain_mut(|(i, f)| match f.as_mut().poll(cx) {
            Poll::Ready(Ok(v)) => {
                results[*i] = Some(v);
                done += 1;
                false
            }
            Poll::Ready(Err(e)) => {
                failed.get_or_insert((*i, e));
                false
            }
            Poll::Pending => true,
        });
        if let Some(e) = failed {
            return Poll::Ready(Err(e));
        }
        if done == total {
            return Poll::Ready(Ok(results.iter_mut().filter_map(Option::take).collect()));
        }
        if done == before {
            return Poll::Pending;
        }
    })
    .await
}

/// Waits for `SendTaskSuccess`/`SendTaskFailure` on the lease's token, failing with
/// `States.HeartbeatTimeout` when `HeartbeatSeconds` pass without a heartbeat. The
/// lease closes the token when this returns or is dropped (task timeout, abort).
async fn wait_for_token(
    mut lease: crate::engine::TokenLease,
    heartbeat: Option<u64>,
) -> Result<Value, StateError> {
    let beat = lease.heartbeat.clone();
    loop {
        let silence = async {
            match heartbeat {
                Some(s) => tokio::time::sleep(Duration::from_secs(s)).await,
                None => futures::future::pending::<()>().await,
            }
        };
        tokio::select! {
            biased;
            r = &mut lease.receiver => {
                return match r {
                    Ok(outcome) => outcome,
                    Err(_) => Err(StateError::runtime("the task token was dropped without an answer")),
                };
            }
            _ = beat.notified() => continue,
            _ = silence => {
                return Err(StateError::new(
                    names::HEARTBEAT_TIMEOUT,
                    format!("No heartbeat was received within HeartbeatSeconds ({})", heartbeat.unwrap_or_default()),
                ));
            }
        }
    }
}

fn check_size(v: &Value, state: &str) -> Result<(), StateError> {
    let size = serialized_len(v);
    if size > MAX_PAYLOAD_BYTES {
        return Err(StateError::new(
            names::DATA_LIMIT_EXCEEDED,
            format!("The state/task '{state}' returned a result with a size exceeding the maximum number of bytes service limit ({size} > {MAX_PAYLOAD_BYTES})"),
        ));
    }
    Ok(())
}

/// The length of `v` serialized, without building the text.
fn serialized_len(v: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0 += b.len();
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut c = Count(0);
    // Writing to memory cannot fail; a Value always serializes.
    let _ = serde_json::to_writer(&mut c, v);
    c.0
}

//! Task resources and the pluggable task executor.
//!
//! The engine knows *how* a Task runs (patterns, timeouts, tokens, retries); a
//! [`TaskExecutor`] knows *what* a resource does. [`Registry`] is the standard
//! executor: Lambda functions registered as async Rust handlers (reached through
//! `lambda:invoke` or a plain function ARN), `codebuild:startBuild[.sync]` delegated to
//! a [`BuildRunner`], and any other `service:action` registered as a handler.

use crate::error::StateError;
use futures::future::BoxFuture;
use futures::FutureExt;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

/// The integration pattern of a service-integration resource.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Call the API and continue with its response.
    RequestResponse,
    /// `.sync` / `.sync:2`: wait for the job to finish.
    Sync,
    /// `.waitForTaskToken`: call, then wait for `SendTaskSuccess`/`SendTaskFailure`.
    WaitForTaskToken,
}

/// A parsed `Resource` field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resource {
    /// `arn:aws:lambda:<region>:<account>:function:<name>[:qualifier]`: the legacy
    /// form, whose result is the function's raw output.
    LambdaArn { arn: String, function: String },
    /// `arn:aws:states:::<service>:<action>[.sync|.sync:2|.waitForTaskToken]`, with
    /// `service` like `lambda`, `codebuild`, `sns` or `aws-sdk:s3`.
    Integration {
        arn: String,
        service: String,
        action: String,
        pattern: Pattern,
    },
}

impl Resource {
    pub fn parse(arn: &str) -> Result<Resource, String> {
        let parts: Vec<&str> = arn.splitn(6, ':').collect();
        if parts.len() < 6 || parts[0] != "arn" {
            return Err(format!("'{arn}' is not a resource ARN"));
        }
        match parts[2] {
            "lambda" => {
                let rest: Vec<&str> = parts[5].split(':').collect();
                match rest.as_slice() {
                    ["function", name] | ["function", name, _] if !name.is_empty() => Ok(Resource::LambdaArn {
                        arn: arn.to_string(),
                        function: name.to_string(),
                    }),
                    _ => Err(format!("'{arn}' is not a Lambda function ARN")),
                }
            }
            "states" => {
                let rest = parts[5];
                if rest.starts_with("activity:") {
                    return Err(format!("'{arn}': activities are not supported by the local engine"));
                }
                let (body, pattern) = if let Some(b) = rest.strip_suffix(".waitForTaskToken") {
                    (b, Pattern::WaitForTaskToken)
                } else if let Some(b) = rest.strip_suffix(".sync:2") {
                    (b, Pattern::Sync)
                } else if let Some(b) = rest.strip_suffix(".sync") {
                    (b, Pattern::Sync)
                } else {
                    (rest, Pattern::RequestResponse)
                };
                // `body` is `service:action`, or `aws-sdk:service:action`.
                let (service, action) = match body.rsplit_once(':') {
                    Some((s, a)) if !s.is_empty() && !a.is_empty() => (s.to_string(), a.to_string()),
                    _ => return Err(format!("'{arn}' does not name a service and action")),
                };
                if !parts[3].is_empty() || !parts[4].is_empty() {
                    return Err(format!("'{arn}': service integrations are written without a region and account (arn:aws:states:::service:action)"));
                }
                Ok(Resource::Integration {
                    arn: arn.to_string(),
                    service,
                    action,
                    pattern,
                })
            }
            other => Err(format!("'{arn}': '{other}' resources are not supported (use a Lambda ARN or arn:aws:states:::service:action)")),
        }
    }

    pub fn arn(&self) -> &str {
        match self {
            Resource::LambdaArn { arn, .. } | Resource::Integration { arn, .. } => arn,
        }
    }

    pub fn pattern(&self) -> Pattern {
        match self {
            Resource::LambdaArn { .. } => Pattern::RequestResponse,
            Resource::Integration { pattern, .. } => *pattern,
        }
    }

    /// `resourceType` as the history shows it (`lambda`, `codebuild`, ...).
    pub fn resource_type(&self) -> String {
        match self {
            Resource::LambdaArn { .. } => "lambda".into(),
            Resource::Integration { service, .. } => service.clone(),
        }
    }

    /// `resource` as the history shows it (`invoke.waitForTaskToken`, ...).
    pub fn resource_name(&self) -> String {
        match self {
            Resource::LambdaArn { function, .. } => function.clone(),
            Resource::Integration {
                action, pattern, ..
            } => match pattern {
                Pattern::RequestResponse => action.clone(),
                Pattern::Sync => format!("{action}.sync"),
                Pattern::WaitForTaskToken => format!("{action}.waitForTaskToken"),
            },
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.arn())
    }
}

/// One attempt of a Task state, as handed to an executor.
#[derive(Clone, Debug)]
pub struct TaskCall {
    pub execution_arn: String,
    pub state_name: String,
    pub resource: Resource,
    /// The effective parameters (after InputPath and Parameters).
    pub input: Value,
    /// Set for `.waitForTaskToken` tasks.
    pub task_token: Option<String>,
    /// 0 for the first attempt, then 1, 2, ... for retries.
    pub retry_count: u32,
}

/// What an executor reports for a call.
pub enum TaskOutput {
    /// The task's result (for `.waitForTaskToken`, a mock may answer directly).
    Done(Value),
    /// The callback was delivered; the engine now waits for the task token.
    /// The value is the service's response, recorded in `TaskSubmitted`.
    AwaitToken(Value),
    /// A `.sync` job was submitted: the value is the service's response, recorded
    /// in `TaskSubmitted` as AWS records it; the task ends when the job does.
    Submitted(Value, BoxFuture<'static, Result<Value, StateError>>),
}

impl std::fmt::Debug for TaskOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TaskOutput::Done(v) => f.debug_tuple("Done").field(v).finish(),
            TaskOutput::AwaitToken(v) => f.debug_tuple("AwaitToken").field(v).finish(),
            TaskOutput::Submitted(v, _) => f.debug_tuple("Submitted").field(v).finish(),
        }
    }
}

pub type TaskFuture = BoxFuture<'static, Result<TaskOutput, StateError>>;

/// Runs Task states' resources. Implementations must be cheap to call concurrently.
pub trait TaskExecutor: Send + Sync + 'static {
    /// Called at load time for every Task resource: an `Err` makes the definition
    /// fail to load, so an unsupported integration is never a silent difference.
    fn check(&self, resource: &Resource) -> Result<(), String>;

    fn call(&self, call: TaskCall) -> TaskFuture;
}

/// An error returned by a Lambda handler: `errorType` and `errorMessage` as the
/// Lambda runtime reports them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LambdaError {
    pub error_type: String,
    pub message: String,
}

impl LambdaError {
    pub fn new(error_type: impl Into<String>, message: impl Into<String>) -> Self {
        LambdaError {
            error_type: error_type.into(),
            message: message.into(),
        }
    }
}

type LambdaFn = Arc<dyn Fn(Value) -> BoxFuture<'static, Result<Value, LambdaError>> + Send + Sync>;
type IntegrationFn =
    Arc<dyn Fn(TaskCall) -> BoxFuture<'static, Result<Value, StateError>> + Send + Sync>;

/// A request to run a build, from `codebuild:startBuild` parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildRequest {
    /// The build's id, `<project>:<uuid>`, as `Build.Id` reports it.
    pub id: String,
    pub project_name: String,
    /// `EnvironmentVariablesOverride`, in order.
    pub environment: Vec<(String, String)>,
    pub source_version: Option<String>,
    pub buildspec_override: Option<String>,
}

/// The end of a build.
#[derive(Clone, Debug, PartialEq)]
pub struct BuildResult {
    /// `SUCCEEDED`, `FAILED`, `FAULT`, `TIMED_OUT` or `STOPPED`.
    pub status: String,
    /// Extra fields merged into the `Build` object (logs location, phases, ...).
    pub details: Value,
}

/// Runs builds for `codebuild:startBuild[.sync]`. A build that ran and ended is a
/// [`BuildResult`] (a `.sync` task then fails unless it `SUCCEEDED`); one the build
/// service could not run is the error it raised (`CodeBuild.AccessDeniedException`,
/// …), as the task's error.
pub trait BuildRunner: Send + Sync + 'static {
    fn run(&self, request: BuildRequest) -> BoxFuture<'static, Result<BuildResult, StateError>>;
}

/// The standard executor: registered Lambda handlers, a build runner, and handlers for
/// other integrations.
#[derive(Clone, Default)]
pub struct Registry {
    lambdas: HashMap<String, LambdaFn>,
    integrations: HashMap<String, IntegrationFn>,
    builds: Option<Arc<dyn BuildRunner>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers a Lambda function by name (the last part of its ARN).
    pub fn lambda<F, Fut>(mut self, name: &str, handler: F) -> Self
    where
        F: Fn(Value) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, LambdaError>> + Send + 'static,
    {
        self.lambdas
            .insert(name.to_string(), Arc::new(move |v| handler(v).boxed()));
        self
    }

    /// Registers a handler for `service:action` (e.g. `sns:publish`), all patterns.
    pub fn integration<F, Fut>(mut self, service_action: &str, handler: F) -> Self
    where
        F: Fn(TaskCall) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Value, StateError>> + Send + 'static,
    {
        self.integrations.insert(
            service_action.to_string(),
            Arc::new(move |c| handler(c).boxed()),
        );
        self
    }

    /// Invokes a registered Lambda function directly, as a service other than a state
    /// machine would (an EventBridge rule or schedule target): `Err` is the function's
    /// error, with its `errorType`, or `Lambda.ResourceNotFoundException`.
    pub async fn invoke(&self, name: &str, payload: Value) -> Result<Value, StateError> {
        self.invoke_lambda(name, payload).await
    }

    /// The names of the registered Lambda functions, sorted.
    pub fn lambda_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.lambdas.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn build_runner(mut self, runner: impl BuildRunner) -> Self {
        self.builds = Some(Arc::new(runner));
        self
    }

    fn invoke_lambda(
        &self,
        function_ref: &str,
        payload: Value,
    ) -> BoxFuture<'static, Result<Value, StateError>> {
        let name = function_name(function_ref);
        let Some(handler) = self.lambdas.get(&name).cloned() else {
            let msg = format!(
                "Function not found: {function_ref} (no handler is registered for '{name}')"
            );
            return async move { Err(StateError::new("Lambda.ResourceNotFoundException", msg)) }
                .boxed();
        };
        async move {
            match AssertUnwindSafe(handler(payload)).catch_unwind().await {
                Ok(Ok(v)) => Ok(v),
                Ok(Err(e)) => Err(StateError::new(
                    e.error_type.clone(),
                    json!({"errorMessage": e.message, "errorType": e.error_type}).to_string(),
                )),
                Err(panic) => {
                    let msg = panic
                        .downcast_ref::<&str>()
                        .map(|s| s.to_string())
                        .or_else(|| panic.downcast_ref::<String>().cloned())
                        .unwrap_or_else(|| "the handler panicked".into());
                    Err(StateError::new(
                        "Lambda.Unknown",
                        json!({"errorMessage": msg, "errorType": "Panic"}).to_string(),
                    ))
                }
            }
        }
        .boxed()
    }
}

/// `my-fn`, `my-fn:alias`, `arn:aws:lambda:r:a:function:my-fn[:alias]` → `my-fn`.
pub fn function_name(reference: &str) -> String {
    if let Some(rest) = reference.split(":function:").nth(1) {
        return rest.split(':').next().unwrap_or(rest).to_string();
    }
    reference.split(':').next().unwrap_or(reference).to_string()
}

impl TaskExecutor for Registry {
    fn check(&self, resource: &Resource) -> Result<(), String> {
        match resource {
            Resource::LambdaArn { .. } => Ok(()),
            Resource::Integration {
                service, action, ..
            } => {
                let key = format!("{service}:{action}");
                if key == "lambda:invoke" || self.integrations.contains_key(&key) {
                    Ok(())
                } else if key == "codebuild:startBuild" {
                    self.builds.as_ref().map(|_| ()).ok_or_else(|| {
                        format!("'{resource}' needs a build runner and none is configured")
                    })
                } else {
                    Err(format!(
                        "'{resource}': no handler is registered for the '{key}' integration"
                    ))
                }
            }
        }
    }

    fn call(&self, call: TaskCall) -> TaskFuture {
        match &call.resource {
            Resource::LambdaArn { function, .. } => {
                let fut = self.invoke_lambda(function, call.input.clone());
                async move { fut.await.map(TaskOutput::Done) }.boxed()
            }
            Resource::Integration {
                service,
                action,
                pattern,
                ..
            } => {
                let key = format!("{service}:{action}");
                let pattern = *pattern;
                if let Some(h) = self.integrations.get(&key).cloned() {
                    return async move {
                        let v = h(call).await?;
                        Ok(match pattern {
                            Pattern::WaitForTaskToken => TaskOutput::AwaitToken(v),
                            _ => TaskOutput::Done(v),
                        })
                    }
                    .boxed();
                }
                match key.as_str() {
                    "lambda:invoke" => self.lambda_invoke(call, pattern),
                    "codebuild:startBuild" => self.start_build(call, pattern),
                    _ => {
                        let msg = format!("no handler is registered for the '{key}' integration");
                        async move { Err(StateError::runtime(msg)) }.boxed()
                    }
                }
            }
        }
    }
}

impl Registry {
    fn lambda_invoke(&self, call: TaskCall, pattern: Pattern) -> TaskFuture {
        let Some(function) = call
            .input
            .get("FunctionName")
            .and_then(Value::as_str)
            .map(str::to_string)
        else {
            return async {
                Err(StateError::new(
                    "States.TaskFailed",
                    "lambda:invoke needs a 'FunctionName' parameter",
                ))
            }
            .boxed();
        };
        let payload = call
            .input
            .get("Payload")
            .cloned()
            .unwrap_or_else(|| json!({}));
        let event = call.input.get("InvocationType").and_then(Value::as_str) == Some("Event");
        let fut = self.invoke_lambda(&function, payload);
        if event {
            // Asynchronous invocation: Lambda accepts the event and answers 202 at once.
            tokio::spawn(fut);
            return async { Ok(TaskOutput::Done(json!({"Payload": "", "StatusCode": 202}))) }
                .boxed();
        }
        async move {
            let out = fut.await?;
            let response = json!({"ExecutedVersion": "$LATEST", "Payload": out, "StatusCode": 200});
            Ok(match pattern {
                Pattern::WaitForTaskToken => TaskOutput::AwaitToken(response),
                _ => TaskOutput::Done(response),
            })
        }
        .boxed()
    }

    fn start_build(&self, call: TaskCall, pattern: Pattern) -> TaskFuture {
        let Some(runner) = self.builds.clone() else {
            return async { Err(StateError::runtime("no build runner is configured")) }.boxed();
        };
        let mut request = match build_request(&call.input) {
            Ok(r) => r,
            Err(msg) => {
                return async move { Err(StateError::new("CodeBuild.InvalidInputException", msg)) }
                    .boxed()
            }
        };
        let id = format!("{}:{}", request.project_name, uuid::Uuid::new_v4());
        request.id = id.clone();
        let base = json!({
            "Id": id,
            "Arn": format!("arn:aws:codebuild:local:000000000000:build/{id}"),
            "ProjectName": request.project_name,
            "SourceVersion": request.source_version,
            "Environment": {"EnvironmentVariables": request.environment.iter()
                .map(|(n, v)| json!({"Name": n, "Value": v, "Type": "PLAINTEXT"})).collect::<Vec<_>>()},
        });
        let run = runner.run(request);
        match pattern {
            Pattern::Sync => {
                let mut submitted = base.clone();
                submitted["BuildStatus"] = Value::String("IN_PROGRESS".into());
                let submitted = json!({ "Build": submitted });
                // (The runner starts and finishes a build in one future, so a build the
                // service refuses to start fails after `TaskSubmitted` here.)
                let completion = async move { finish_build(base, run.await?) }.boxed();
                async move { Ok(TaskOutput::Submitted(submitted, completion)) }.boxed()
            }
            _ => {
                tokio::spawn(run);
                let mut build = base;
                build["BuildStatus"] = Value::String("IN_PROGRESS".into());
                let out = json!({ "Build": build });
                async move {
                    Ok(match pattern {
                        Pattern::WaitForTaskToken => TaskOutput::AwaitToken(out),
                        _ => TaskOutput::Done(out),
                    })
                }
                .boxed()
            }
        }
    }
}

/// A `.sync` build's end: its result merged into the `Build` it started as; a build
/// that did not succeed fails the task, with the build as the cause (as on AWS).
fn finish_build(base: Value, result: BuildResult) -> Result<Value, StateError> {
    let mut build = base;
    if let (Some(b), Some(extra)) = (build.as_object_mut(), result.details.as_object()) {
        for (k, v) in extra {
            b.insert(k.clone(), v.clone());
        }
    }
    build["BuildStatus"] = Value::String(result.status.clone());
    build["BuildComplete"] = Value::Bool(true);
    let out = json!({ "Build": build });
    if result.status == "SUCCEEDED" {
        Ok(out)
    } else {
        Err(StateError::new("States.TaskFailed", out.to_string()))
    }
}

fn build_request(input: &Value) -> Result<BuildRequest, String> {
    let project_name = input
        .get("ProjectName")
        .and_then(Value::as_str)
        .ok_or("codebuild:startBuild needs a 'ProjectName' string parameter")?
        .to_string();
    let mut environment = Vec::new();
    if let Some(vars) = input.get("EnvironmentVariablesOverride") {
        let arr = vars
            .as_array()
            .ok_or("'EnvironmentVariablesOverride' must be an array of {Name, Value, Type}")?;
        for (i, v) in arr.iter().enumerate() {
            let name = v.get("Name").and_then(Value::as_str);
            let value = v.get("Value").map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            });
            match (name, value) {
                (Some(n), Some(val)) => environment.push((n.to_string(), val)),
                _ => {
                    return Err(format!(
                        "'EnvironmentVariablesOverride[{i}]' needs 'Name' and 'Value'"
                    ))
                }
            }
        }
    }
    Ok(BuildRequest {
        id: String::new(),
        project_name,
        environment,
        source_version: input
            .get("SourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        buildspec_override: input
            .get("BuildspecOverride")
            .and_then(Value::as_str)
            .map(str::to_string),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_optimized_integrations_and_patterns() {
        let r = Resource::parse("arn:aws:states:::lambda:invoke.waitForTaskToken").unwrap();
        assert_eq!(r.pattern(), Pattern::WaitForTaskToken);
        assert_eq!(r.resource_type(), "lambda");
        assert_eq!(r.resource_name(), "invoke.waitForTaskToken");
        let r = Resource::parse("arn:aws:states:::codebuild:startBuild.sync").unwrap();
        assert_eq!(
            (r.resource_type(), r.pattern()),
            ("codebuild".to_string(), Pattern::Sync)
        );
        let r = Resource::parse("arn:aws:states:::aws-sdk:s3:getObject").unwrap();
        assert_eq!(
            (r.resource_type(), r.resource_name()),
            ("aws-sdk:s3".to_string(), "getObject".to_string())
        );
        let r = Resource::parse("arn:aws:states:::states:startExecution.sync:2").unwrap();
        assert_eq!(r.pattern(), Pattern::Sync);
    }

    #[test]
    fn parses_plain_lambda_arns_with_qualifiers() {
        let r = Resource::parse("arn:aws:lambda:us-east-1:123456789012:function:preflight:live")
            .unwrap();
        assert_eq!(
            r,
            Resource::LambdaArn {
                arn: "arn:aws:lambda:us-east-1:123456789012:function:preflight:live".into(),
                function: "preflight".into()
            }
        );
    }

    #[test]
    fn rejects_activities_and_unknown_resources() {
        assert!(
            Resource::parse("arn:aws:states:us-east-1:123456789012:activity:x")
                .unwrap_err()
                .contains("activities")
        );
        assert!(Resource::parse("arn:aws:sqs:us-east-1:1:queue").is_err());
        assert!(Resource::parse("not-an-arn")
            .unwrap_err()
            .contains("not a resource ARN"));
        assert!(Resource::parse("arn:aws:lambda:us-east-1:1:layer:x").is_err());
    }

    #[test]
    fn function_names_from_every_reference_form() {
        assert_eq!(function_name("preflight"), "preflight");
        assert_eq!(function_name("preflight:live"), "preflight");
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:preflight"),
            "preflight"
        );
        assert_eq!(
            function_name("arn:aws:lambda:us-east-1:1:function:preflight:$LATEST"),
            "preflight"
        );
    }

    #[test]
    fn build_request_reads_environment_overrides() {
        let r = build_request(&json!({"ProjectName": "checks", "EnvironmentVariablesOverride": [{"Name": "CHECK", "Value": "lint", "Type": "PLAINTEXT"}], "SourceVersion": "abc"})).unwrap();
        assert_eq!(
            r.environment,
            vec![("CHECK".to_string(), "lint".to_string())]
        );
        assert_eq!(r.source_version.as_deref(), Some("abc"));
        assert!(build_request(&json!({}))
            .unwrap_err()
            .contains("ProjectName"));
        assert!(build_request(
            &json!({"ProjectName": "p", "EnvironmentVariablesOverride": [{"Name": "X"}]})
        )
        .unwrap_err()
        .contains("[0]"));
    }
}

//! Loading an ASL definition: `${Name}` substitution, parsing into a typed model, and
//! the static checks Step Functions does at `CreateStateMachine` (plus a few it does
//! not, where a silent difference would otherwise be possible).
//!
//! Every problem is reported with its location (`/States/Deploy/Retry/0`), all at once.

use crate::choice::Rule;
use crate::error::names;
use crate::intrinsics::{looks_like_intrinsic, Intrinsic};
use crate::path::{Path, ReferencePath};
use crate::task::{Pattern, Resource};
use crate::template::Template;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::Arc;

/// A definition that failed to load, with every problem found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

/// One problem: where (a JSON-pointer-like location) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    pub location: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.location, self.message)
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "the state machine definition is invalid ({} problem(s)):",
            self.problems.len()
        )?;
        for p in &self.problems {
            writeln!(f, "  - {p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadError {}

impl LoadError {
    fn single(location: &str, message: impl Into<String>) -> Self {
        LoadError {
            problems: vec![Problem {
                location: location.into(),
                message: message.into(),
            }],
        }
    }
}

/// Replaces `${Name}` with the caller's values, as CloudFormation does with
/// `DefinitionSubstitutions`. Every placeholder must have a value.
pub fn substitute(
    text: &str,
    substitutions: &BTreeMap<String, String>,
) -> Result<String, LoadError> {
    let mut out = String::with_capacity(text.len());
    let mut missing = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find('}') {
            Some(end) => {
                let key = &after[..end];
                match substitutions.get(key) {
                    Some(v) => out.push_str(v),
                    None => {
                        if !missing.contains(&key.to_string()) {
                            missing.push(key.to_string());
                        }
                        out.push_str(&rest[start..start + 2 + end + 1]);
                    }
                }
                rest = &after[end + 1..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    if missing.is_empty() {
        Ok(out)
    } else {
        Err(LoadError {
            problems: missing
                .into_iter()
                .map(|k| Problem {
                    location: format!("${{{k}}}"),
                    message: format!("no value was given for the definition substitution '{k}'"),
                })
                .collect(),
        })
    }
}

/// Every `${Name}` placeholder in a definition, in order of first appearance.
pub fn placeholders(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let key = after[..end].to_string();
        if !out.contains(&key) {
            out.push(key);
        }
        rest = &after[end + 1..];
    }
    out
}

/// A loaded, validated state machine.
#[derive(Debug)]
pub struct StateMachine {
    pub(crate) root: Arc<Scope>,
    pub timeout_seconds: Option<u64>,
    pub comment: Option<String>,
    tasks: Vec<Resource>,
}

impl StateMachine {
    /// Parses definition text (after substitution).
    pub fn from_json(text: &str) -> Result<StateMachine, LoadError> {
        let v: Value = serde_json::from_str(text).map_err(|e| {
            LoadError::single("/", format!("the definition is not valid JSON: {e}"))
        })?;
        Self::from_value(&v)
    }

    /// Substitutes `${Name}` placeholders, then parses.
    pub fn from_template(
        text: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<StateMachine, LoadError> {
        Self::from_json(&substitute(text, substitutions)?)
    }

    pub fn from_value(v: &Value) -> Result<StateMachine, LoadError> {
        let mut cx = Loader::default();
        let Some(obj) = v.as_object() else {
            return Err(LoadError::single(
                "/",
                "the definition must be a JSON object",
            ));
        };
        cx.check_fields(
            "",
            obj,
            &[
                "StartAt",
                "States",
                "Comment",
                "Version",
                "TimeoutSeconds",
                "QueryLanguage",
            ],
            "the top level",
        );
        cx.query_language("", obj);
        let timeout_seconds = cx.opt_positive_int("", obj, "TimeoutSeconds");
        let comment = obj
            .get("Comment")
            .and_then(Value::as_str)
            .map(str::to_string);
        let root = cx.scope("", obj);
        cx.finish()?;
        let root = root.ok_or_else(|| {
            LoadError::single("/", "the definition has no usable top-level states")
        })?;
        Ok(StateMachine {
            root,
            timeout_seconds,
            comment,
            tasks: cx.tasks,
        })
    }

    /// Every Task resource in the definition (for executor checks).
    pub fn task_resources(&self) -> &[Resource] {
        &self.tasks
    }

    /// Names of all states, at every depth.
    pub fn state_names(&self) -> Vec<String> {
        let mut out = Vec::new();
        fn walk(s: &Scope, out: &mut Vec<String>) {
            for name in &s.order {
                out.push(name.clone());
                match &s.states[name].kind {
                    Kind::Parallel(p) => p.branches.iter().for_each(|b| walk(b, out)),
                    Kind::Map(m) => walk(&m.processor, out),
                    _ => {}
                }
            }
        }
        walk(&self.root, &mut out);
        out
    }
}

#[derive(Debug)]
pub(crate) struct Scope {
    pub start_at: String,
    pub states: HashMap<String, Arc<State>>,
    pub order: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct State {
    pub name: String,
    pub kind: Kind,
    pub input_path: IoPath,
    pub output_path: IoPath,
    pub next: Option<String>,
    /// Whether anything in the state (its paths, templates, intrinsic arguments,
    /// nested branches) mentions the context object (`$$`). The interpreter builds
    /// the context object only for the states that do.
    pub reads_context: bool,
}

/// `InputPath` / `OutputPath` / `ItemsPath`: absent (`$`), `null`, or a path.
#[derive(Clone, Debug)]
pub(crate) enum IoPath {
    Whole,
    Null,
    Path(Path),
}

#[derive(Clone, Debug)]
pub(crate) enum ResultPathSpec {
    Whole,
    Discard,
    Path(ReferencePath),
}

#[derive(Debug)]
pub(crate) enum Kind {
    Task(Task),
    Pass(Pass),
    Choice(Choice),
    Wait(Wait),
    Succeed,
    Fail(Fail),
    Parallel(Parallel),
    Map(MapState),
}

#[derive(Clone, Debug)]
pub(crate) enum Seconds {
    Fixed(u64),
    Path(Path),
}

#[derive(Debug)]
pub(crate) struct Task {
    pub resource: Resource,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
}

#[derive(Debug)]
pub(crate) struct Pass {
    pub result: Option<Value>,
    pub parameters: Option<Template>,
    pub result_path: ResultPathSpec,
}

#[derive(Debug)]
pub(crate) struct Choice {
    pub choices: Vec<(Rule, String)>,
    pub default: Option<String>,
}

#[derive(Debug)]
pub(crate) enum Wait {
    Seconds(u64),
    SecondsPath(Path),
    Timestamp(chrono::DateTime<chrono::Utc>),
    TimestampPath(Path),
}

#[derive(Debug)]
pub(crate) enum Text {
    Literal(String),
    Path(Path),
    Intrinsic(Intrinsic),
}

#[derive(Debug)]
pub(crate) struct Fail {
    pub error: Option<Text>,
    pub cause: Option<Text>,
}

#[derive(Debug)]
pub(crate) struct Parallel {
    pub branches: Vec<Arc<Scope>>,
    pub parameters: Option<Template>,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Debug)]
pub(crate) struct MapState {
    pub processor: Arc<Scope>,
    pub items_path: IoPath,
    pub item_selector: Option<Template>,
    pub max_concurrency: Seconds,
    pub result_selector: Option<Template>,
    pub result_path: ResultPathSpec,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Jitter {
    None,
    Full,
}

#[derive(Debug)]
pub(crate) struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Debug)]
pub(crate) struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: ResultPathSpec,
}

const COMMON: &[&str] = &["Type", "Comment", "QueryLanguage"];
const IO: &[&str] = &["InputPath", "OutputPath"];
const FLOW: &[&str] = &["Next", "End"];

#[derive(Default)]
struct Loader {
    problems: Vec<Problem>,
    names: HashMap<String, String>,
    tasks: Vec<Resource>,
}

/// A field given as a value (`Seconds`) or as a path to one (`SecondsPath`).
enum Given<'a> {
    Value(&'a Value),
    Path(&'a Value),
}

impl Loader {
    /// `result`'s value; its error is the problem at `location` (and `None`).
    fn checked<T, E: Into<String>>(&mut self, location: &str, result: Result<T, E>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.problem(location, e);
                None
            }
        }
    }

    fn problem(&mut self, location: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            location: if location.is_empty() {
                "/".into()
            } else {
                location.into()
            },
            message: message.into(),
        });
    }

    fn finish(&mut self) -> Result<(), LoadError> {
        if self.problems.is_empty() {
            Ok(())
        } else {
            Err(LoadError {
                problems: std::mem::take(&mut self.problems),
            })
        }
    }

    fn check_fields(&mut self, loc: &str, obj: &Map<String, Value>, allowed: &[&str], what: &str) {
        for k in obj.keys() {
            if !allowed.contains(&k.as_str()) {
                let hint = match k.as_str() {
                    "Assign" => " (workflow variables are not supported by the local engine)",
                    "Arguments" | "Output" => " (JSONata fields are not supported: use JSONPath)",
                    "Credentials" => {
                        " (cross-account task credentials are not supported by the local engine)"
                    }
                    "ItemReader"
                    | "ItemBatcher"
                    | "ResultWriter"
                    | "ToleratedFailurePercentage"
                    | "ToleratedFailureCount"
                    | "ToleratedFailurePercentagePath"
                    | "ToleratedFailureCountPath"
                    | "Label" => " (distributed Map is not supported by the local engine)",
                    _ => "",
                };
                self.problem(
                    &format!("{loc}/{k}"),
                    format!("'{k}' is not a valid field for {what}{hint}"),
                );
            }
        }
    }

    fn query_language(&mut self, loc: &str, obj: &Map<String, Value>) {
        match obj.get("QueryLanguage") {
            None => {}
            Some(Value::String(s)) if s == "JSONPath" => {}
            Some(Value::String(s)) if s == "JSONata" => self.problem(
                &format!("{loc}/QueryLanguage"),
                "JSONata is not supported by the local engine: use JSONPath",
            ),
            Some(_) => self.problem(
                &format!("{loc}/QueryLanguage"),
                "must be \"JSONPath\" or \"JSONata\"",
            ),
        }
    }

    fn opt_positive_int(&mut self, loc: &str, obj: &Map<String, Value>, key: &str) -> Option<u64> {
        let v = obj.get(key)?;
        match v.as_u64() {
            Some(n) if n > 0 => Some(n),
            _ => {
                self.problem(
                    &format!("{loc}/{key}"),
                    format!("'{key}' must be a positive integer"),
                );
                None
            }
        }
    }

    fn scope(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<Arc<Scope>> {
        let start_at = match obj.get("StartAt") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(&format!("{loc}/StartAt"), "'StartAt' must be a string");
                None
            }
            None => {
                self.problem(loc, "'StartAt' is required");
                None
            }
        };
        let Some(states) = obj.get("States").and_then(Value::as_object) else {
            self.problem(loc, "'States' is required and must be an object");
            return None;
        };
        if states.is_empty() {
            self.problem(
                &format!("{loc}/States"),
                "'States' must contain at least one state",
            );
        }
        let mut out = HashMap::new();
        let mut order = Vec::new();
        for (name, def) in states {
            let sloc = format!("{loc}/States/{name}");
            if name.is_empty() || name.chars().count() > 80 {
                self.problem(&sloc, "a state name must be 1 to 80 characters");
            }
            if let Some(prev) = self.names.insert(name.clone(), sloc.clone()) {
                self.problem(&sloc, format!("the state name '{name}' is already used at {prev}; names must be unique in the whole state machine"));
            }
            let Some(def) = def.as_object() else {
                self.problem(&sloc, "a state must be a JSON object");
                continue;
            };
            if let Some(st) = self.state(&sloc, name, def) {
                out.insert(name.clone(), Arc::new(st));
                order.push(name.clone());
            }
        }
        let start_at = start_at?;
        if !states.contains_key(&start_at) {
            self.problem(
                &format!("{loc}/StartAt"),
                format!("'StartAt' names '{start_at}', which is not a state here"),
            );
            return None;
        }
        // Transitions must stay inside this scope, and every state must be reachable.
        let mut targets: Vec<(String, String, String)> = Vec::new();
        for (name, st) in &out {
            for (field, target) in st.transitions() {
                targets.push((name.clone(), field, target));
            }
        }
        targets.sort();
        for (from, field, to) in &targets {
            if !states.contains_key(to) {
                self.problem(
                    &format!("{loc}/States/{from}/{field}"),
                    format!("'{to}' is not a state in this scope (transitions cannot leave a branch or iterator)"),
                );
            }
        }
        if out.len() == states.len() {
            let mut seen = HashSet::new();
            let mut queue = VecDeque::from([start_at.clone()]);
            while let Some(n) = queue.pop_front() {
                if !seen.insert(n.clone()) {
                    continue;
                }
                if let Some(st) = out.get(&n) {
                    for (_, t) in st.transitions() {
                        queue.push_back(t);
                    }
                }
            }
            for name in &order {
                if !seen.contains(name) {
                    self.problem(
                        &format!("{loc}/States/{name}"),
                        format!("state '{name}' is not reachable from '{start_at}'"),
                    );
                }
            }
        }
        Some(Arc::new(Scope {
            start_at,
            states: out,
            order,
        }))
    }

    fn state(&mut self, loc: &str, name: &str, obj: &Map<String, Value>) -> Option<State> {
        let ty = match obj.get("Type") {
            Some(Value::String(t)) => t.as_str(),
            _ => {
                self.problem(loc, "'Type' is required and must be a string");
                return None;
            }
        };
        self.query_language(loc, obj);
        let allowed: Vec<&str> = match ty {
            "Task" => [
                COMMON,
                IO,
                FLOW,
                &[
                    "Resource",
                    "Parameters",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                    "TimeoutSeconds",
                    "TimeoutSecondsPath",
                    "HeartbeatSeconds",
                    "HeartbeatSecondsPath",
                ],
            ]
            .concat(),
            "Pass" => [COMMON, IO, FLOW, &["Parameters", "Result", "ResultPath"]].concat(),
            "Choice" => [COMMON, IO, &["Choices", "Default"]].concat(),
            "Wait" => [
                COMMON,
                IO,
                FLOW,
                &["Seconds", "SecondsPath", "Timestamp", "TimestampPath"],
            ]
            .concat(),
            "Succeed" => [COMMON, IO].concat(),
            "Fail" => [COMMON, &["Error", "ErrorPath", "Cause", "CausePath"]].concat(),
            "Parallel" => [
                COMMON,
                IO,
                FLOW,
                &[
                    "Branches",
                    "Parameters",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                ],
            ]
            .concat(),
            "Map" => [
                COMMON,
                IO,
                FLOW,
                &[
                    "ItemProcessor",
                    "Iterator",
                    "ItemsPath",
                    "ItemSelector",
                    "Parameters",
                    "MaxConcurrency",
                    "MaxConcurrencyPath",
                    "ResultSelector",
                    "ResultPath",
                    "Retry",
                    "Catch",
                ],
            ]
            .concat(),
            other => {
                self.problem(&format!("{loc}/Type"), format!("'{other}' is not a state type (Task, Pass, Choice, Wait, Succeed, Fail, Parallel, Map)"));
                return None;
            }
        };
        let what = format!("a {ty} state");
        for k in ["Retry", "Catch"] {
            if obj.contains_key(k) && !matches!(ty, "Task" | "Parallel" | "Map") {
                self.problem(
                    &format!("{loc}/{k}"),
                    format!(
                        "'{k}' is only allowed on Task, Parallel and Map states, not on {what}"
                    ),
                );
            }
        }
        let filtered: Map<String, Value> = obj
            .iter()
            .filter(|(k, _)| {
                !matches!(k.as_str(), "Retry" | "Catch")
                    || matches!(ty, "Task" | "Parallel" | "Map")
            })
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        self.check_fields(loc, &filtered, &allowed, &what);

        let input_path = self.io_path(loc, obj, "InputPath");
        let output_path = self.io_path(loc, obj, "OutputPath");
        // States that cannot transition had 'Next'/'End' reported as invalid fields.
        let next = if allowed.contains(&"Next") {
            self.flow(loc, obj)
        } else {
            None
        };
        let kind = match ty {
            "Task" => Kind::Task(self.task(loc, obj)?),
            "Pass" => Kind::Pass(Pass {
                result: obj.get("Result").cloned(),
                parameters: self.template(loc, obj, "Parameters"),
                result_path: self.result_path(loc, obj.get("ResultPath"), "ResultPath"),
            }),
            "Choice" => Kind::Choice(self.choice(loc, obj)?),
            "Wait" => Kind::Wait(self.wait(loc, obj)?),
            "Succeed" => Kind::Succeed,
            "Fail" => Kind::Fail(Fail {
                error: self.text(loc, obj, "Error", "ErrorPath"),
                cause: self.text(loc, obj, "Cause", "CausePath"),
            }),
            "Parallel" => Kind::Parallel(self.parallel(loc, obj)?),
            "Map" => Kind::Map(self.map(loc, obj)?),
            _ => unreachable!("unknown types returned above"),
        };
        Some(State {
            name: name.to_string(),
            kind,
            input_path,
            output_path,
            next,
            reads_context: mentions_context(obj),
        })
    }

    /// `Next` xor `End: true`, for states that transition.
    fn flow(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<String> {
        let end = match obj.get("End") {
            None => false,
            Some(Value::Bool(b)) => *b,
            Some(_) => {
                self.problem(&format!("{loc}/End"), "'End' must be true or false");
                false
            }
        };
        match (obj.get("Next"), end) {
            (Some(Value::String(n)), false) => Some(n.clone()),
            (Some(Value::String(_)), true) => {
                self.problem(loc, "a state cannot have both 'Next' and 'End: true'");
                None
            }
            (Some(_), _) => {
                self.problem(&format!("{loc}/Next"), "'Next' must be a state name");
                None
            }
            (None, true) => None,
            (None, false) => {
                self.problem(
                    loc,
                    "the state neither ends ('End': true) nor transitions ('Next')",
                );
                None
            }
        }
    }

    fn io_path(&mut self, loc: &str, obj: &Map<String, Value>, key: &str) -> IoPath {
        match obj.get(key) {
            None => IoPath::Whole,
            Some(Value::Null) => IoPath::Null,
            Some(Value::String(s)) => {
                let path = self.checked(&format!("{loc}/{key}"), Path::parse(s));
                path.map_or(IoPath::Whole, IoPath::Path)
            }
            Some(_) => {
                self.problem(
                    &format!("{loc}/{key}"),
                    format!("'{key}' must be a path string or null"),
                );
                IoPath::Whole
            }
        }
    }

    fn result_path(&mut self, loc: &str, v: Option<&Value>, key: &str) -> ResultPathSpec {
        match v {
            None => ResultPathSpec::Whole,
            Some(Value::Null) => ResultPathSpec::Discard,
            Some(Value::String(s)) => {
                match self.checked(&format!("{loc}/{key}"), ReferencePath::parse(s)) {
                    Some(p) if !p.is_root() => ResultPathSpec::Path(p),
                    _ => ResultPathSpec::Whole,
                }
            }
            Some(_) => {
                self.problem(
                    &format!("{loc}/{key}"),
                    "'ResultPath' must be a reference path string or null",
                );
                ResultPathSpec::Whole
            }
        }
    }

    fn template(&mut self, loc: &str, obj: &Map<String, Value>, key: &str) -> Option<Template> {
        let v = obj.get(key)?;
        self.checked(&format!("{loc}/{key}"), Template::compile(v))
    }

    fn seconds(&mut self, loc: &str, obj: &Map<String, Value>, key: &str) -> Option<Seconds> {
        let path_key = format!("{key}Path");
        match self.one_of(loc, obj, key, &path_key)? {
            Given::Value(_) => self.opt_positive_int(loc, obj, key).map(Seconds::Fixed),
            Given::Path(Value::String(s)) => {
                let path = self.checked(&format!("{loc}/{path_key}"), Path::parse(s));
                path.map(Seconds::Path)
            }
            Given::Path(_) => {
                let rule = format!("'{path_key}' must be a path string");
                self.problem(&format!("{loc}/{path_key}"), rule);
                None
            }
        }
    }

    /// Which of `key` and `path_key` (`Seconds`/`SecondsPath`, `Error`/`ErrorPath`)
    /// `obj` gives: none, one, or both (a problem, and neither is read).
    fn one_of<'a>(
        &mut self,
        loc: &str,
        obj: &'a Map<String, Value>,
        key: &str,
        path_key: &str,
    ) -> Option<Given<'a>> {
        match (obj.get(key), obj.get(path_key)) {
            (Some(_), Some(_)) => {
                let rule = format!("only one of '{key}' and '{path_key}' may be given");
                self.problem(loc, rule);
                None
            }
            (Some(v), None) => Some(Given::Value(v)),
            (None, Some(p)) => Some(Given::Path(p)),
            (None, None) => None,
        }
    }

    fn task(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<Task> {
        let resource = match obj.get("Resource") {
            Some(Value::String(s)) => self.checked(&format!("{loc}/Resource"), Resource::parse(s)),
            _ => {
                self.problem(loc, "a Task state needs a 'Resource' string");
                None
            }
        };
        let parameters = self.template(loc, obj, "Parameters");
        let timeout = self.seconds(loc, obj, "TimeoutSeconds");
        let heartbeat = self.seconds(loc, obj, "HeartbeatSeconds");
        if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat) {
            if h >= t {
                self.problem(
                    &format!("{loc}/HeartbeatSeconds"),
                    format!("'HeartbeatSeconds' ({h}) must be smaller than 'TimeoutSeconds' ({t})"),
                );
            }
        }
        let resource = resource?;
        if resource.pattern() == Pattern::WaitForTaskToken
            && !parameters
                .as_ref()
                .is_some_and(Template::references_task_token)
        {
            self.problem(
                &format!("{loc}/Parameters"),
                "a .waitForTaskToken task must pass '$$.Task.Token' in its 'Parameters'",
            );
        }
        if heartbeat.is_some() && resource.pattern() != Pattern::WaitForTaskToken {
            self.problem(
                &format!("{loc}/HeartbeatSeconds"),
                "heartbeats are only supported on .waitForTaskToken tasks by the local engine",
            );
        }
        self.tasks.push(resource.clone());
        Some(Task {
            resource,
            parameters,
            result_selector: self.template(loc, obj, "ResultSelector"),
            result_path: self.result_path(loc, obj.get("ResultPath"), "ResultPath"),
            retry: self.retriers(loc, obj),
            catch: self.catchers(loc, obj),
            timeout,
            heartbeat,
        })
    }

    fn error_equals(&mut self, loc: &str, obj: &Map<String, Value>, last: bool) -> Vec<String> {
        let Some(arr) = obj
            .get("ErrorEquals")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        else {
            self.problem(
                loc,
                "'ErrorEquals' must be a non-empty array of error names",
            );
            return Vec::new();
        };
        let names: Vec<String> = arr
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        if names.len() != arr.len() {
            self.problem(&format!("{loc}/ErrorEquals"), "error names must be strings");
        }
        if names.iter().any(|n| n == names::ALL) && (names.len() > 1 || !last) {
            self.problem(
                &format!("{loc}/ErrorEquals"),
                "'States.ALL' must appear alone, in the last retrier or catcher",
            );
        }
        names
    }

    /// The objects of array `field` (`Retry`, `Catch`) with their location and
    /// whether each is the last; what is not an array, or not an object, is a problem.
    fn entries<'a>(
        &mut self,
        loc: &str,
        obj: &'a Map<String, Value>,
        (field, what): (&str, &str),
    ) -> Vec<(String, bool, &'a Map<String, Value>)> {
        let Some(v) = obj.get(field) else {
            return Vec::new();
        };
        let Some(arr) = v.as_array() else {
            let message = format!("'{field}' must be an array of {what}s");
            self.problem(&format!("{loc}/{field}"), message);
            return Vec::new();
        };
        let mut out = Vec::new();
        for (i, entry) in arr.iter().enumerate() {
            let at = format!("{loc}/{field}/{i}");
            match entry.as_object() {
                Some(entry) => out.push((at, i + 1 == arr.len(), entry)),
                None => self.problem(&at, format!("a {what} must be an object")),
            }
        }
        out
    }

    /// Field `field` of `obj` as `read` reads it, `default` when absent; a value
    /// `read` refuses is the problem `rule` (and the default).
    fn field<T>(
        &mut self,
        (loc, obj): (&str, &Map<String, Value>),
        field: &str,
        default: T,
        read: impl Fn(&Value) -> Option<T>,
        rule: &str,
    ) -> T {
        match obj.get(field) {
            None => default,
            Some(v) => read(v).unwrap_or_else(|| {
                self.problem(
                    &format!("{loc}/{field}"),
                    format!("'{field}' must be {rule}"),
                );
                default
            }),
        }
    }

    fn retriers(&mut self, loc: &str, obj: &Map<String, Value>) -> Vec<Retrier> {
        let mut out = Vec::new();
        for (rloc, last, r) in self.entries(loc, obj, ("Retry", "retrier")) {
            self.check_fields(
                &rloc,
                r,
                &[
                    "ErrorEquals",
                    "IntervalSeconds",
                    "MaxAttempts",
                    "BackoffRate",
                    "MaxDelaySeconds",
                    "JitterStrategy",
                    "Comment",
                ],
                "a retrier",
            );
            let at = (rloc.as_str(), r);
            let error_equals = self.error_equals(&rloc, r, last);
            let interval_seconds = self.field(
                at,
                "IntervalSeconds",
                1,
                |v| v.as_u64().filter(|n| (1..=99_999_999).contains(n)),
                "an integer from 1 to 99999999",
            );
            let max_attempts = self.field(
                at,
                "MaxAttempts",
                3,
                |v| v.as_u64().filter(|n| *n <= 99_999_999).map(|n| n as u32),
                "a non-negative integer",
            );
            let backoff_rate = self.field(
                at,
                "BackoffRate",
                2.0,
                |v| v.as_f64().filter(|n| *n >= 1.0),
                "a number >= 1.0",
            );
            let max_delay_seconds = self.field(
                at,
                "MaxDelaySeconds",
                None,
                |v| v.as_u64().filter(|n| *n >= 1).map(Some),
                "a positive integer",
            );
            let jitter = self.field(
                at,
                "JitterStrategy",
                Jitter::None,
                |v| match v.as_str() {
                    Some("NONE") => Some(Jitter::None),
                    Some("FULL") => Some(Jitter::Full),
                    _ => None,
                },
                "\"FULL\" or \"NONE\"",
            );
            out.push(Retrier {
                error_equals,
                interval_seconds,
                max_attempts,
                backoff_rate,
                max_delay_seconds,
                jitter,
            });
        }
        out
    }

    fn catchers(&mut self, loc: &str, obj: &Map<String, Value>) -> Vec<Catcher> {
        let mut out = Vec::new();
        for (cloc, last, c) in self.entries(loc, obj, ("Catch", "catcher")) {
            self.check_fields(
                &cloc,
                c,
                &["ErrorEquals", "Next", "ResultPath", "Comment"],
                "a catcher",
            );
            let error_equals = self.error_equals(&cloc, c, last);
            let Some(next) = c.get("Next").and_then(Value::as_str) else {
                self.problem(&cloc, "a catcher needs 'Next'");
                continue;
            };
            out.push(Catcher {
                error_equals,
                next: next.to_string(),
                result_path: self.result_path(&cloc, c.get("ResultPath"), "ResultPath"),
            });
        }
        out
    }

    fn choice(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<Choice> {
        let Some(arr) = obj
            .get("Choices")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        else {
            self.problem(loc, "a Choice state needs a non-empty 'Choices' array");
            return None;
        };
        let mut choices = Vec::new();
        for (i, c) in arr.iter().enumerate() {
            let cloc = format!("{loc}/Choices/{i}");
            let Some(c) = c.as_object() else {
                self.problem(&cloc, "a Choice rule must be an object");
                continue;
            };
            let Some(next) = c.get("Next").and_then(Value::as_str) else {
                self.problem(&cloc, "a top-level Choice rule needs 'Next'");
                continue;
            };
            match Rule::parse(c, true) {
                Ok(r) => choices.push((r, next.to_string())),
                Err(e) => self.problem(&cloc, e),
            }
        }
        let default = match obj.get("Default") {
            None => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => {
                self.problem(&format!("{loc}/Default"), "'Default' must be a state name");
                None
            }
        };
        Some(Choice { choices, default })
    }

    fn wait(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<Wait> {
        let given: Vec<&str> = ["Seconds", "SecondsPath", "Timestamp", "TimestampPath"]
            .into_iter()
            .filter(|k| obj.contains_key(*k))
            .collect();
        if given.len() != 1 {
            self.problem(loc, "a Wait state needs exactly one of 'Seconds', 'SecondsPath', 'Timestamp', 'TimestampPath'");
            return None;
        }
        let key = given[0];
        let v = &obj[key];
        let bad = |s: &mut Self, m: &str| {
            s.problem(&format!("{loc}/{key}"), m.to_string());
            None
        };
        match key {
            "Seconds" => match v.as_u64() {
                Some(n) if n <= 99_999_999 => Some(Wait::Seconds(n)),
                _ => bad(self, "'Seconds' must be a non-negative integer"),
            },
            "Timestamp" => match v.as_str().and_then(crate::clock::parse_timestamp) {
                Some(t) => Some(Wait::Timestamp(t)),
                None => bad(
                    self,
                    "'Timestamp' must be an RFC 3339 timestamp such as 2016-03-14T01:59:00Z",
                ),
            },
            _ => match v.as_str().map(Path::parse) {
                Some(Ok(p)) => Some(if key == "SecondsPath" {
                    Wait::SecondsPath(p)
                } else {
                    Wait::TimestampPath(p)
                }),
                Some(Err(e)) => bad(self, &e),
                None => bad(self, "must be a path string"),
            },
        }
    }

    fn text(
        &mut self,
        loc: &str,
        obj: &Map<String, Value>,
        key: &str,
        path_key: &str,
    ) -> Option<Text> {
        match self.one_of(loc, obj, key, path_key)? {
            Given::Value(Value::String(s)) => Some(Text::Literal(s.clone())),
            Given::Value(_) => {
                self.problem(&format!("{loc}/{key}"), format!("'{key}' must be a string"));
                None
            }
            Given::Path(Value::String(s)) => {
                let parsed = if looks_like_intrinsic(s) {
                    Intrinsic::parse(s).map(Text::Intrinsic)
                } else {
                    Path::parse(s).map(Text::Path)
                };
                self.checked(&format!("{loc}/{path_key}"), parsed)
            }
            Given::Path(_) => {
                let rule = format!("'{path_key}' must be a path or intrinsic function");
                self.problem(&format!("{loc}/{path_key}"), rule);
                None
            }
        }
    }

    fn parallel(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<Parallel> {
        let Some(arr) = obj
            .get("Branches")
            .and_then(Value::as_array)
            .filter(|a| !a.is_empty())
        else {
            self.problem(loc, "a Parallel state needs a non-empty 'Branches' array");
            return None;
        };
        let mut branches = Vec::new();
        for (i, b) in arr.iter().enumerate() {
            let bloc = format!("{loc}/Branches/{i}");
            match b.as_object() {
                Some(b) => {
                    self.check_fields(
                        &bloc,
                        b,
                        &["StartAt", "States", "Comment", "QueryLanguage"],
                        "a branch",
                    );
                    if let Some(s) = self.scope(&bloc, b) {
                        branches.push(s);
                    }
                }
                None => self.problem(
                    &bloc,
                    "a branch must be an object with 'StartAt' and 'States'",
                ),
            }
        }
        Some(Parallel {
            branches,
            parameters: self.template(loc, obj, "Parameters"),
            result_selector: self.template(loc, obj, "ResultSelector"),
            result_path: self.result_path(loc, obj.get("ResultPath"), "ResultPath"),
            retry: self.retriers(loc, obj),
            catch: self.catchers(loc, obj),
        })
    }

    fn map(&mut self, loc: &str, obj: &Map<String, Value>) -> Option<MapState> {
        let (key, proc) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
            (Some(_), Some(_)) => {
                self.problem(
                    loc,
                    "give 'ItemProcessor' or the older 'Iterator', not both",
                );
                return None;
            }
            (Some(p), None) => ("ItemProcessor", p),
            (None, Some(p)) => ("Iterator", p),
            (None, None) => {
                self.problem(loc, "a Map state needs 'ItemProcessor'");
                return None;
            }
        };
        if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
            self.problem(
                loc,
                "give 'ItemSelector' or the older 'Parameters', not both",
            );
        }
        let ploc = format!("{loc}/{key}");
        let Some(proc) = proc.as_object() else {
            self.problem(&ploc, "must be an object with 'StartAt' and 'States'");
            return None;
        };
        self.check_fields(
            &ploc,
            proc,
            &[
                "StartAt",
                "States",
                "Comment",
                "ProcessorConfig",
                "QueryLanguage",
            ],
            "an item processor",
        );
        if let Some(cfg) = proc.get("ProcessorConfig") {
            let mode = cfg.get("Mode").and_then(Value::as_str).unwrap_or("INLINE");
            if mode != "INLINE" {
                self.problem(
                    &format!("{ploc}/ProcessorConfig/Mode"),
                    format!("'{mode}' Map mode is not supported by the local engine: only INLINE"),
                );
            }
        }
        let processor = self.scope(&ploc, proc)?;
        let items_path = self.io_path(loc, obj, "ItemsPath");
        if matches!(items_path, IoPath::Null) {
            self.problem(&format!("{loc}/ItemsPath"), "'ItemsPath' cannot be null");
        }
        let selector_key = if obj.contains_key("ItemSelector") {
            "ItemSelector"
        } else {
            "Parameters"
        };
        let max_concurrency = match (obj.get("MaxConcurrency"), obj.get("MaxConcurrencyPath")) {
            (Some(_), Some(_)) => {
                self.problem(
                    loc,
                    "only one of 'MaxConcurrency' and 'MaxConcurrencyPath' may be given",
                );
                Seconds::Fixed(0)
            }
            (Some(v), None) => match v.as_u64() {
                Some(n) => Seconds::Fixed(n),
                None => {
                    self.problem(
                        &format!("{loc}/MaxConcurrency"),
                        "'MaxConcurrency' must be a non-negative integer",
                    );
                    Seconds::Fixed(0)
                }
            },
            (None, Some(v)) => match v.as_str().map(Path::parse) {
                Some(Ok(p)) => Seconds::Path(p),
                _ => {
                    self.problem(
                        &format!("{loc}/MaxConcurrencyPath"),
                        "'MaxConcurrencyPath' must be a valid path",
                    );
                    Seconds::Fixed(0)
                }
            },
            (None, None) => Seconds::Fixed(0),
        };
        Some(MapState {
            processor,
            items_path,
            item_selector: self.template(loc, obj, selector_key),
            max_concurrency,
            result_selector: self.template(loc, obj, "ResultSelector"),
            result_path: self.result_path(loc, obj.get("ResultPath"), "ResultPath"),
            retry: self.retriers(loc, obj),
            catch: self.catchers(loc, obj),
        })
    }
}

/// True when any string (key or value) inside `obj` contains `$$`.
fn mentions_context(obj: &Map<String, Value>) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains("$$"),
            Value::Array(a) => a.iter().any(walk),
            Value::Object(o) => o.iter().any(|(k, v)| k.contains("$$") || walk(v)),
            _ => false,
        }
    }
    obj.iter().any(|(k, v)| k.contains("$$") || walk(v))
}

impl State {
    /// (field, target) for every transition out of this state.
    fn transitions(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(n) = &self.next {
            out.push(("Next".to_string(), n.clone()));
        }
        let catch = match &self.kind {
            Kind::Task(t) => &t.catch[..],
            Kind::Parallel(p) => &p.catch[..],
            Kind::Map(m) => &m.catch[..],
            Kind::Choice(c) => {
                for (i, (_, n)) in c.choices.iter().enumerate() {
                    out.push((format!("Choices/{i}/Next"), n.clone()));
                }
                if let Some(d) = &c.default {
                    out.push(("Default".to_string(), d.clone()));
                }
                &[]
            }
            _ => &[],
        };
        for (i, c) in catch.iter().enumerate() {
            out.push((format!("Catch/{i}/Next"), c.next.clone()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// Only states that mention `$$` (in a path, a template key or value, an
    /// intrinsic's argument, or a nested branch) get the context object built.
    #[test]
    fn states_that_read_the_context_object_are_known_at_load() {
        let m = StateMachine::from_value(&json!({
            "StartAt": "Plain",
            "States": {
                "Plain": {"Type": "Pass", "Parameters": {"a.$": "$.x"}, "Next": "Id"},
                "Id": {"Type": "Pass", "Parameters": {"id.$": "$$.Execution.Id"}, "Next": "Fmt"},
                "Fmt": {"Type": "Pass",
                        "Parameters": {"s.$": "States.Format('{}', $$.State.Name)"}, "Next": "Par"},
                "Par": {"Type": "Parallel", "Next": "Done", "Branches": [{
                    "StartAt": "Inner",
                    "States": {"Inner": {"Type": "Pass", "InputPath": "$$.Execution.Input", "End": true}}
                }]},
                "Done": {"Type": "Succeed"}
            }
        }))
        .expect("a valid machine");
        let reads = |name: &str| m.root.states[name].reads_context;
        assert!(!reads("Plain"));
        assert!(reads("Id"));
        assert!(reads("Fmt"));
        assert!(
            reads("Par"),
            "a branch that reads it makes its Parallel build it"
        );
        assert!(!reads("Done"));
    }

    fn problems(def: Value) -> Vec<String> {
        match StateMachine::from_value(&def) {
            Ok(_) => vec![],
            Err(e) => e.problems.iter().map(|p| p.to_string()).collect(),
        }
    }

    fn has(def: Value, needle: &str) {
        let ps = problems(def);
        assert!(
            ps.iter().any(|p| p.contains(needle)),
            "expected a problem containing {needle:?}, got {ps:#?}"
        );
    }

    #[test]
    fn loads_a_minimal_machine() {
        let sm = StateMachine::from_value(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
        )
        .unwrap();
        assert_eq!(sm.state_names(), vec!["A"]);
    }

    #[test]
    fn unknown_type_and_field_name_the_state() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Sleep", "End": true}}}),
            "/States/A/Type: 'Sleep' is not a state type",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Resutl": 1}}}),
            "/States/A/Resutl: 'Resutl' is not a valid field for a Pass state",
        );
    }

    #[test]
    fn missing_targets_and_unreachable_states() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}}}),
            "/States/A/Next: 'B' is not a state in this scope",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsPresent": true, "Next": "A"}], "Default": "Z"}}}),
            "/States/A/Default: 'Z' is not a state",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed"}, "B": {"Type": "Succeed"}}}),
            "state 'B' is not reachable from 'A'",
        );
        has(
            json!({"StartAt": "X", "States": {"A": {"Type": "Succeed"}}}),
            "'StartAt' names 'X'",
        );
    }

    #[test]
    fn a_state_must_end_or_transition() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}}),
            "neither ends",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "A", "End": true}}}),
            "both 'Next' and 'End",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Succeed", "End": true}}}),
            "'End' is not a valid field for a Succeed state",
        );
    }

    #[test]
    fn retry_and_catch_only_where_allowed() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Retry": []}}}),
            "'Retry' is only allowed on Task, Parallel and Map states, not on a Pass state",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "End": true, "Catch": []}}}),
            "'Catch' is only allowed",
        );
    }

    #[test]
    fn states_all_must_be_alone_and_last() {
        let task = |retry: Value| json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:1:function:f", "End": true, "Retry": retry}}});
        has(
            task(json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}])),
            "'States.ALL' must appear alone",
        );
        has(
            task(json!([{"ErrorEquals": ["States.ALL", "X"]}])),
            "'States.ALL' must appear alone",
        );
        assert!(problems(task(
            json!([{"ErrorEquals": ["X"]}, {"ErrorEquals": ["States.ALL"]}])
        ))
        .is_empty());
    }

    #[test]
    fn unsupported_features_are_load_errors() {
        has(
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}),
            "JSONata is not supported",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Assign": {"x": 1}}}}),
            "workflow variables are not supported",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemReader": {}, "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED"}, "StartAt": "B", "States": {"B": {"Type": "Succeed"}}}}}}),
            "distributed Map is not supported",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:us-east-1:1:activity:x", "End": true}}}),
            "activities are not supported",
        );
    }

    #[test]
    fn wait_for_task_token_must_pass_the_token() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Parameters": {"FunctionName": "f"}, "End": true}}}),
            "must pass '$$.Task.Token'",
        );
    }

    #[test]
    fn transitions_cannot_leave_a_branch() {
        has(
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B1", "States": {"B1": {"Type": "Pass", "Next": "Done"}}}]},
                "Done": {"Type": "Succeed"}
            }}),
            "/States/P/Branches/0/States/B1/Next: 'Done' is not a state in this scope",
        );
    }

    #[test]
    fn state_names_are_unique_across_branches() {
        has(
            json!({"StartAt": "P", "States": {
                "P": {"Type": "Parallel", "Next": "A", "Branches": [{"StartAt": "A", "States": {"A": {"Type": "Succeed"}}}]},
                "A": {"Type": "Succeed"}
            }}),
            "already used",
        );
    }

    #[test]
    fn bad_paths_are_reported_where_they_are() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "InputPath": "x"}}}),
            "/States/A/InputPath: 'x' is not a JSONPath",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}}),
            "/States/A/ResultPath: '$.a[*]' is not a reference path",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Nope()"}}}}),
            "unknown function",
        );
    }

    #[test]
    fn wait_needs_exactly_one_duration() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": true}}}),
            "exactly one of 'Seconds'",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 1, "SecondsPath": "$.s", "End": true}}}),
            "exactly one of",
        );
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Timestamp": "tomorrow", "End": true}}}),
            "RFC 3339",
        );
    }

    #[test]
    fn heartbeat_must_be_below_timeout() {
        has(
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken", "Parameters": {"t.$": "$$.Task.Token"}, "TimeoutSeconds": 10, "HeartbeatSeconds": 10, "End": true}}}),
            "must be smaller than 'TimeoutSeconds'",
        );
    }

    #[test]
    fn reports_every_problem_at_once() {
        let ps = problems(
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B", "Bogus": 1}, "C": {"Type": "Fail", "Error": 3}}}),
        );
        assert!(ps.len() >= 3, "{ps:#?}");
    }

    #[test]
    fn substitutions_replace_placeholders_and_report_missing_ones() {
        let subs = BTreeMap::from([(
            "Fn".to_string(),
            "arn:aws:lambda:us-east-1:1:function:f".to_string(),
        )]);
        assert_eq!(
            substitute("a ${Fn} b", &subs).unwrap(),
            "a arn:aws:lambda:us-east-1:1:function:f b"
        );
        let e = substitute("${Fn} ${Missing} ${Missing}", &subs).unwrap_err();
        assert_eq!(e.problems.len(), 1);
        assert!(e.to_string().contains("'Missing'"));
        assert_eq!(placeholders("${A} x ${B} ${A}"), vec!["A", "B"]);
    }

    #[test]
    fn not_json_is_a_clear_error() {
        let e = StateMachine::from_json("{ nope").unwrap_err();
        assert!(e.to_string().contains("not valid JSON"));
    }
}

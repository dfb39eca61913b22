//! The integration-test suite format: `suites/<name>.json`, described by the JSON
//! Schema in `schemas/suite.schema.json` (generated from these types; a test keeps
//! the two equal).
//!
//! ```json
//! {
//!   "variables": {"email": "qa@example.test"},
//!   "cases": [
//!     {"name": "log in",
//!      "request": {"method": "POST", "url": "${outputs.ApiUrl}/login",
//!                  "json": {"email": "${email}"}, "timeoutMs": 5000},
//!      "expect": {"status": 200, "headers": {"content-type": "application/json"},
//!                 "jsonPresent": ["$.token"], "maxLatencyMs": 800},
//!      "capture": {"token": "$.token"}},
//!     {"name": "profile, once the login has propagated",
//!      "request": {"url": "${outputs.ApiUrl}/me",
//!                  "headers": {"authorization": "Bearer ${token}"}},
//!      "expect": {"json": {"$.email": "${email}"}},
//!      "retry": {"attempts": 5, "delayMs": 1000}}
//!   ]
//! }
//! ```
//!
//! Placeholders: `${frontendUrl}`, `${outputs.<Name>}` (a stack output), and
//! `${<name>}` (a `variables` entry, or a value captured by an earlier case). JSON
//! paths are `$` followed by `.name`, `["name"]` or `[index]` steps. A malformed file
//! is refused with its name, the line and column, and the field (`cases[1].expect`).

use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The longest a request may take (`timeoutMs`), and the default.
pub const MAX_TIMEOUT_MS: u64 = 60_000;
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Bounds of `retry`.
pub const MAX_ATTEMPTS: u32 = 10;
pub const MAX_DELAY_MS: u64 = 60_000;

/// A suite: named variables and the cases, run in order.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(title = "stagegate integration-test suite")]
pub struct SuiteSpec {
    /// Values for `${name}` placeholders (they may use `${frontendUrl}` and
    /// `${outputs.Name}` themselves).
    #[serde(default)]
    pub variables: BTreeMap<String, String>,
    pub cases: Vec<CaseSpec>,
}

/// One request and what its response must be.
#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseSpec {
    pub name: String,
    pub request: RequestSpec,
    #[serde(default)]
    pub expect: Expect,
    /// Values to keep for later cases: `"name": "$.json.path"` from the response body,
    /// or `"name": "header:<name>"`.
    #[serde(default)]
    pub capture: BTreeMap<String, String>,
    /// Send again until the expectations hold (eventual consistency), up to a bound.
    pub retry: Option<Retry>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "get")]
    #[schemars(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// A text body.
    pub body: Option<String>,
    /// A JSON body (sent as `application/json`; placeholders in its strings expand).
    pub json: Option<Value>,
    /// Give up on the response after this long (default 10 000, at most 60 000).
    #[schemars(range(min = 1, max = 60_000))]
    pub timeout_ms: Option<u64>,
}

fn get() -> String {
    "GET".into()
}

/// What the response must be. Nothing stated: any 2xx status.
#[derive(Clone, Debug, Default, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    /// The status; absent: any 2xx.
    #[schemars(range(min = 100, max = 599))]
    pub status: Option<u16>,
    /// Response headers (name case-insensitive) and the value each must contain.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    pub body_contains: Option<String>,
    /// JSON paths into the body and the value each must equal.
    #[serde(default)]
    pub json: BTreeMap<String, Value>,
    /// JSON paths into the body that must exist.
    #[serde(default)]
    pub json_present: Vec<String>,
    /// The response must arrive within this many milliseconds.
    pub max_latency_ms: Option<u64>,
}

#[derive(Clone, Debug, PartialEq, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Retry {
    /// Attempts in all, the first included (2 to 10).
    #[schemars(range(min = 2, max = 10))]
    pub attempts: u32,
    /// Pause between attempts (at most 60 000).
    #[serde(default)]
    #[schemars(range(max = 60_000))]
    pub delay_ms: u64,
}

/// The JSON Schema of a suite file, as shipped in `schemas/suite.schema.json`.
pub fn schema() -> String {
    let schema = schemars::schema_for!(SuiteSpec);
    let mut text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    text.push('\n');
    text
}

/// Reads JSON file `file` into `T`: a problem names the file, the line and column,
/// and the field (`cases[1].expect`).
pub fn read_json<T: serde::de::DeserializeOwned>(file: &str, bytes: &[u8]) -> Result<T, String> {
    let de = &mut serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = if path == "." {
            String::new()
        } else {
            format!(", at {path}")
        };
        format!(
            "{file}, line {}, column {}{field}: {inner}",
            inner.line(),
            inner.column()
        )
    })
}

/// Reads suite file `file`: every problem names the file, where, and the field.
pub fn parse(file: &str, bytes: &[u8]) -> Result<SuiteSpec, String> {
    let spec: SuiteSpec = read_json(file, bytes)?;
    check(&spec).map_err(|(at, problem)| format!("{file}, at {at}: {problem}"))?;
    Ok(spec)
}

/// What serde cannot say: bounds, capture and path syntax, names.
fn check(spec: &SuiteSpec) -> Result<(), (String, String)> {
    if spec.cases.is_empty() {
        return Err(("cases".into(), "a suite needs at least one case".into()));
    }
    for name in spec.variables.keys() {
        check_name(name).map_err(|p| (format!("variables.{name}"), p))?;
    }
    for (i, c) in spec.cases.iter().enumerate() {
        let at = |field: &str| format!("cases[{i}].{field}");
        if c.name.trim().is_empty() {
            return Err((at("name"), "a case needs a name".into()));
        }
        if c.request.body.is_some() && c.request.json.is_some() {
            return Err((at("request"), "give `body` or `json`, not both".into()));
        }
        if let Some(t) = c.request.timeout_ms {
            if t == 0 || t > MAX_TIMEOUT_MS {
                return Err((
                    at("request.timeoutMs"),
                    format!("{t} is not between 1 and {MAX_TIMEOUT_MS}"),
                ));
            }
        }
        if let Some(s) = c.expect.status {
            if !(100..=599).contains(&s) {
                return Err((at("expect.status"), format!("{s} is not an HTTP status")));
            }
        }
        for path in c.expect.json.keys().chain(&c.expect.json_present) {
            steps(path).map_err(|p| (at("expect"), p))?;
        }
        for (name, from) in &c.capture {
            check_name(name).map_err(|p| (at(&format!("capture.{name}")), p))?;
            if from.strip_prefix("header:").is_none_or(str::is_empty) {
                steps(from).map_err(|p| {
                    (
                        at(&format!("capture.{name}")),
                        format!("{p} (or \"header:<name>\")"),
                    )
                })?;
            }
        }
        if let Some(r) = &c.retry {
            if !(2..=MAX_ATTEMPTS).contains(&r.attempts) {
                return Err((
                    at("retry.attempts"),
                    format!("{} is not between 2 and {MAX_ATTEMPTS}", r.attempts),
                ));
            }
            if r.delay_ms > MAX_DELAY_MS {
                return Err((
                    at("retry.delayMs"),
                    format!("{} is over {MAX_DELAY_MS}", r.delay_ms),
                ));
            }
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name != "frontendUrl"
        && name != "outputs"
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "'{name}' is not a usable name (letters, digits, '_', '-'; not frontendUrl or outputs)"
        ))
    }
}

/// One step of a JSON path.
#[derive(Clone, Debug, PartialEq, Eq)]
enum PathStep {
    Key(String),
    Index(usize),
}

/// The steps of `path` (`$`, `.name`, `["name"]`, `[index]`).
fn steps(path: &str) -> Result<Vec<PathStep>, String> {
    let bad = |why: &str| format!("'{path}' is not a JSON path: {why}");
    let mut rest = path
        .strip_prefix('$')
        .ok_or_else(|| bad("it must start with $"))?;
    let mut out = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            if end == 0 {
                return Err(bad("an empty name after '.'"));
            }
            out.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("[\"") {
            let end = r.find("\"]").ok_or_else(|| bad("an unclosed [\""))?;
            out.push(PathStep::Key(r[..end].to_string()));
            rest = &r[end + 2..];
        } else if let Some(r) = rest.strip_prefix('[') {
            let end = r.find(']').ok_or_else(|| bad("an unclosed ["))?;
            let i = r[..end]
                .parse::<usize>()
                .map_err(|_| bad("an index must be a number"))?;
            out.push(PathStep::Index(i));
            rest = &r[end + 1..];
        } else {
            return Err(bad("expected '.', '[' after a step"));
        }
    }
    Ok(out)
}

/// The value at `path` in `doc`, if there is one (`path` was checked at load).
pub fn at<'a>(doc: &'a Value, path: &str) -> Option<&'a Value> {
    let mut v = doc;
    for s in steps(path).ok()? {
        v = match s {
            PathStep::Key(k) => v.get(&k)?,
            PathStep::Index(i) => v.get(i)?,
        };
    }
    Some(v)
}

/// A request's URL once expanded: absolute, `http://` or `https://` (a relative one
/// would be sent and refused by the HTTP client with a less plain error).
pub fn absolute_http(url: &str) -> Result<(), String> {
    match url.starts_with("http://") || url.starts_with("https://") {
        true => Ok(()),
        false => Err(format!(
            "'{url}' is not an absolute http:// or https:// URL"
        )),
    }
}

/// What placeholders expand to: the frontend URL, the stack outputs, the variables
/// and captures so far.
pub struct Scope<'a> {
    pub frontend_url: &'a str,
    pub outputs: &'a BTreeMap<String, String>,
    pub values: &'a BTreeMap<String, String>,
}

impl Scope<'_> {
    /// `text` with every `${…}` expanded; an unknown name is an error naming it.
    pub fn expand(&self, text: &str) -> Result<String, String> {
        let mut out = String::new();
        let mut rest = text;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| format!("unclosed '${{' in '{text}'"))?;
            let key = &after[..end];
            let value = if key == "frontendUrl" {
                self.frontend_url.trim_end_matches('/').to_string()
            } else if let Some(name) = key.strip_prefix("outputs.") {
                self.outputs
                    .get(name)
                    .cloned()
                    .ok_or_else(|| format!("the stack has no output '{name}'"))?
            } else if let Some(v) = self.values.get(key) {
                v.clone()
            } else {
                return Err(format!(
                    "unknown placeholder '${{{key}}}': not ${{frontendUrl}}, ${{outputs.Name}}, a variable, or a value an earlier case captured"
                ));
            };
            out.push_str(&value);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    /// `v` with placeholders in every string expanded.
    pub fn expand_json(&self, v: &Value) -> Result<Value, String> {
        Ok(match v {
            Value::String(s) => Value::String(self.expand(s)?),
            Value::Array(a) => Value::Array(
                a.iter()
                    .map(|x| self.expand_json(x))
                    .collect::<Result<_, _>>()?,
            ),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, x)| Ok((k.clone(), self.expand_json(x)?)))
                    .collect::<Result<_, String>>()?,
            ),
            other => other.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_shipped_schema_is_the_one_the_types_make() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../schemas/suite.schema.json");
        if let Err(diff) = crate::testing::golden(&path, &schema()) {
            panic!("schemas/suite.schema.json is stale: {diff}");
        }
    }

    #[test]
    fn a_version_one_suite_still_reads() {
        let s = parse(
            "suites/auth.json",
            br#"{"cases": [{"name": "x", "request": {"url": "${frontendUrl}/"}, "expect": {"status": 200, "bodyContains": "ok"}}]}"#,
        )
        .unwrap();
        assert_eq!(s.cases[0].request.method, "GET");
        assert_eq!(s.cases[0].expect.status, Some(200));
    }

    #[test]
    fn a_malformed_file_names_the_file_the_line_and_the_field() {
        let text = "{\"cases\": [\n  {\"name\": \"a\", \"request\": {\"url\": \"x\"}},\n  {\"name\": \"b\", \"request\": {\"url\": \"x\"},\n   \"expect\": {\"stauts\": 200}}\n]}";
        let e = parse("suites/auth.json", text.as_bytes()).unwrap_err();
        assert!(e.starts_with("suites/auth.json, line 4,"), "{e}");
        assert!(e.contains("cases[1].expect"), "{e}");
        assert!(e.contains("unknown field `stauts`"), "{e}");
        let e = parse(
            "suites/auth.json",
            b"{\"cases\": [{\"name\": \"a\", \"request\": {\"url\": 7}}]}",
        )
        .unwrap_err();
        assert!(e.contains("cases[0].request.url"), "{e}");
        let e = parse("suites/auth.json", b"{\"cases\": [").unwrap_err();
        assert!(e.starts_with("suites/auth.json, line 1, column 11"), "{e}");
    }

    #[test]
    fn bounds_and_syntax_are_checked_at_load_by_field() {
        for (case, field) in [
            (
                json!({"name": "a", "request": {"url": "x"}, "retry": {"attempts": 50}}),
                "cases[0].retry.attempts",
            ),
            (
                json!({"name": "a", "request": {"url": "x"}, "retry": {"attempts": 3, "delayMs": 3600000}}),
                "cases[0].retry.delayMs",
            ),
            (
                json!({"name": "a", "request": {"url": "x", "timeoutMs": 0}}),
                "cases[0].request.timeoutMs",
            ),
            (
                json!({"name": "a", "request": {"url": "x"}, "capture": {"t": "token"}}),
                "cases[0].capture.t",
            ),
            (
                json!({"name": "a", "request": {"url": "x"}, "capture": {"frontendUrl": "$.x"}}),
                "cases[0].capture.frontendUrl",
            ),
            (
                json!({"name": "a", "request": {"url": "x"}, "expect": {"json": {"$.a[x]": 1}}}),
                "cases[0].expect",
            ),
            (
                json!({"name": "a", "request": {"url": "x", "body": "b", "json": {}}}),
                "cases[0].request",
            ),
            (
                json!({"name": " ", "request": {"url": "x"}}),
                "cases[0].name",
            ),
        ] {
            let text = json!({"cases": [case]}).to_string();
            let e = parse("suites/s.json", text.as_bytes()).unwrap_err();
            assert!(e.starts_with(&format!("suites/s.json, at {field}:")), "{e}");
        }
        assert!(parse("suites/s.json", br#"{"cases": []}"#)
            .unwrap_err()
            .contains("at least one case"));
    }

    #[test]
    fn json_paths_find_values() {
        let doc = json!({"user": {"emails": ["a@x", "b@x"], "odd key": true}});
        assert_eq!(at(&doc, "$.user.emails[1]"), Some(&json!("b@x")));
        assert_eq!(at(&doc, "$.user[\"odd key\"]"), Some(&json!(true)));
        assert_eq!(at(&doc, "$"), Some(&doc));
        assert_eq!(at(&doc, "$.user.missing"), None);
        assert_eq!(at(&doc, "$.user.emails[9]"), None);
    }

    #[test]
    fn placeholders_expand_from_every_source_and_unknown_ones_are_named() {
        let outputs = BTreeMap::from([("ApiUrl".to_string(), "http://api".to_string())]);
        let values = BTreeMap::from([("token".to_string(), "t0k".to_string())]);
        let scope = Scope {
            frontend_url: "http://web/",
            outputs: &outputs,
            values: &values,
        };
        assert_eq!(
            scope
                .expand("${frontendUrl}/a ${outputs.ApiUrl} ${token}")
                .unwrap(),
            "http://web/a http://api t0k"
        );
        assert_eq!(
            scope
                .expand_json(&json!({"auth": ["Bearer ${token}", 1]}))
                .unwrap(),
            json!({"auth": ["Bearer t0k", 1]})
        );
        assert!(scope.expand("${nope}").unwrap_err().contains("'${nope}'"));
        assert!(scope
            .expand("${outputs.Nope}")
            .unwrap_err()
            .contains("no output 'Nope'"));
    }
}

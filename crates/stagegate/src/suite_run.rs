//! Running one HTTP suite against a deployed release: Integration Tests
//! (`run-test-suite`, one Map iteration per suite) and the bake's smoke runs
//! (`bake`) both run suites this way.
//!
//! A suite is `suites/<name>.json` in the run's artifacts (the app's package step
//! publishes its `stagegate/suites/*.json` there), in the format of
//! [`crate::suite_spec`] (JSON Schema: `schemas/suite.schema.json`): requests with
//! placeholders, assertions on status, headers, body, JSON paths and latency, values
//! captured for later cases, bounded retries, per-request timeouts.

use crate::error::StepError;
use crate::flow::{CaseResult, SuiteResult};
use crate::ports::{Artifacts, Http, HttpRequest, HttpResponse};
use crate::suite_spec::{self, CaseSpec, Scope, DEFAULT_TIMEOUT_MS};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

/// Which suite, and the deployment it runs against.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Target {
    pub suite: String,
    pub artifacts_prefix: String,
    pub frontend_url: String,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

/// Runs one suite. Test failures are results, not errors; only a broken port is.
pub async fn run_suite(
    http: &impl Http,
    artifacts: &impl Artifacts,
    input: Target,
) -> Result<SuiteResult, StepError> {
    let file = format!("suites/{}.json", input.suite);
    let key = format!("{}{file}", input.artifacts_prefix);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(SuiteResult::broken(
            &input.suite,
            format!(
                "no suite definition at {key}: the app must declare stagegate/suites/{}.json",
                input.suite
            ),
        ));
    };
    let spec = match suite_spec::parse(&file, &bytes) {
        Ok(s) => s,
        Err(problem) => return Ok(SuiteResult::broken(&input.suite, problem)),
    };
    let mut values = BTreeMap::new();
    for (name, text) in &spec.variables {
        let scope = Scope {
            frontend_url: &input.frontend_url,
            outputs: &input.outputs,
            values: &BTreeMap::new(),
        };
        match scope.expand(text) {
            Ok(v) => values.insert(name.clone(), v),
            Err(m) => {
                return Ok(SuiteResult::broken(
                    &input.suite,
                    format!("{file}, at variables.{name}: {m}"),
                ))
            }
        };
    }
    let mut cases = Vec::new();
    for case in &spec.cases {
        cases.push(run_case(http, &input, case, &mut values).await);
    }
    Ok(SuiteResult::of(input.suite, cases))
}

/// One attempt at a case.
enum Attempt {
    /// The expectations held; the values it captured.
    Passed(String, u64, BTreeMap<String, String>),
    /// They did not (or no response): worth another attempt.
    Failed(String, u64),
    /// The case cannot be sent (an unknown placeholder): no attempt will do better.
    Broken(String),
}

/// Runs `case` up to its retry bound; on success its captures join `values`.
async fn run_case(
    http: &impl Http,
    input: &Target,
    case: &CaseSpec,
    values: &mut BTreeMap<String, String>,
) -> CaseResult {
    let (attempts, delay) = case
        .retry
        .as_ref()
        .map_or((1, 0), |r| (r.attempts, r.delay_ms));
    let result = |passed: bool, message: String, elapsed_ms: u64| CaseResult {
        name: case.name.clone(),
        passed,
        message,
        elapsed_ms,
    };
    let mut last = (String::new(), 0);
    for n in 1..=attempts {
        let scope = Scope {
            frontend_url: &input.frontend_url,
            outputs: &input.outputs,
            values,
        };
        match attempt(http, &scope, case).await {
            Attempt::Passed(summary, elapsed, captured) => {
                values.extend(captured);
                let summary = if n > 1 {
                    format!("{summary} (attempt {n} of {attempts})")
                } else {
                    summary
                };
                return result(true, summary, elapsed);
            }
            Attempt::Broken(m) => return result(false, m, 0),
            Attempt::Failed(m, elapsed) => last = (m, elapsed),
        }
        if n < attempts {
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
    }
    let (message, elapsed) = last;
    let message = if attempts > 1 {
        format!("{message} (after {attempts} attempts)")
    } else {
        message
    };
    result(false, message, elapsed)
}

async fn attempt(http: &impl Http, scope: &Scope<'_>, case: &CaseSpec) -> Attempt {
    let request = match build_request(scope, case) {
        Ok(r) => r,
        Err(m) => return Attempt::Broken(m),
    };
    let what = format!("{} {}", request.method, request.url);
    let timeout = case.request.timeout_ms.unwrap_or(DEFAULT_TIMEOUT_MS);
    let resp = match tokio::time::timeout(Duration::from_millis(timeout), http.send(&request)).await
    {
        Err(_) => {
            return Attempt::Failed(format!("{what}: no response within {timeout} ms"), timeout)
        }
        // The port's error names the request too: its message alone follows `what`.
        Ok(Err(e)) => return Attempt::Failed(format!("{what}: {}", e.message), 0),
        Ok(Ok(r)) => r,
    };
    let problems = match check(scope, case, &resp) {
        Ok(p) => p,
        Err(m) => return Attempt::Broken(m),
    };
    if !problems.is_empty() {
        return Attempt::Failed(
            format!("{what} → {}: {}", resp.status, problems.join("; ")),
            resp.elapsed_ms,
        );
    }
    match capture(case, &resp) {
        Ok(captured) => Attempt::Passed(
            format!("{what} → {}", resp.status),
            resp.elapsed_ms,
            captured,
        ),
        Err(m) => Attempt::Failed(format!("{what} → {}: {m}", resp.status), resp.elapsed_ms),
    }
}

fn build_request(scope: &Scope<'_>, case: &CaseSpec) -> Result<HttpRequest, String> {
    let r = &case.request;
    let mut headers: Vec<(String, String)> = r
        .headers
        .iter()
        .map(|(k, v)| Ok((k.clone(), scope.expand(v)?)))
        .collect::<Result<_, String>>()?;
    let body = match (&r.body, &r.json) {
        (Some(b), _) => Some(scope.expand(b)?),
        (None, Some(j)) => {
            if !headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
            {
                headers.push(("content-type".into(), "application/json".into()));
            }
            Some(scope.expand_json(j)?.to_string())
        }
        (None, None) => None,
    };
    let url = scope.expand(&r.url)?;
    if !(url.starts_with("http://") || url.starts_with("https://")) {
        return Err(format!(
            "'{url}' is not an absolute http:// or https:// URL"
        ));
    }
    Ok(HttpRequest {
        method: r.method.to_uppercase(),
        url,
        headers,
        body,
    })
}

fn header<'a>(resp: &'a HttpResponse, name: &str) -> Option<&'a str> {
    resp.headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// What the response gets wrong; `Err` when an expectation cannot be expanded.
fn check(scope: &Scope<'_>, case: &CaseSpec, resp: &HttpResponse) -> Result<Vec<String>, String> {
    let e = &case.expect;
    let mut problems = Vec::new();
    match e.status {
        Some(want) if resp.status != want => problems.push(format!("expected status {want}")),
        None if !(200..300).contains(&resp.status) => problems.push("expected a 2xx status".into()),
        _ => {}
    }
    for (name, want) in &e.headers {
        let want = scope.expand(want)?;
        match header(resp, name) {
            None => problems.push(format!("no {name} header")),
            Some(v) if !v.contains(want.as_str()) => problems.push(format!(
                "header {name} is {v:?}, expected it to contain {want:?}"
            )),
            Some(_) => {}
        }
    }
    if let Some(needle) = &e.body_contains {
        let needle = scope.expand(needle)?;
        if !resp.body.contains(needle.as_str()) {
            problems.push(format!("body does not contain {needle:?}"));
        }
    }
    if !e.json.is_empty() || !e.json_present.is_empty() {
        match serde_json::from_str::<Value>(&resp.body) {
            Err(err) => problems.push(format!("the body is not JSON ({err})")),
            Ok(doc) => {
                for (path, want) in &e.json {
                    let want = scope.expand_json(want)?;
                    match suite_spec::at(&doc, path) {
                        None => problems.push(format!("{path} is missing")),
                        Some(v) if *v != want => {
                            problems.push(format!("{path} is {v}, expected {want}"))
                        }
                        Some(_) => {}
                    }
                }
                for path in &e.json_present {
                    if suite_spec::at(&doc, path).is_none() {
                        problems.push(format!("{path} is missing"));
                    }
                }
            }
        }
    }
    if let Some(max) = e.max_latency_ms {
        if resp.elapsed_ms > max {
            problems.push(format!(
                "took {} ms, over the {max} ms allowed",
                resp.elapsed_ms
            ));
        }
    }
    Ok(problems)
}

/// The values `case` captures from `resp`.
fn capture(case: &CaseSpec, resp: &HttpResponse) -> Result<BTreeMap<String, String>, String> {
    let mut doc = None;
    let mut out = BTreeMap::new();
    for (name, from) in &case.capture {
        let value = if let Some(h) = from.strip_prefix("header:") {
            header(resp, h)
                .map(str::to_string)
                .ok_or_else(|| format!("cannot capture {name}: no {h} header"))?
        } else {
            if doc.is_none() {
                doc =
                    Some(serde_json::from_str::<Value>(&resp.body).map_err(|e| {
                        format!("cannot capture {name}: the body is not JSON ({e})")
                    })?);
            }
            let v = doc
                .as_ref()
                .and_then(|d| suite_spec::at(d, from))
                .ok_or_else(|| format!("cannot capture {name}: {from} is missing"))?;
            match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            }
        };
        out.insert(name.clone(), value);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryHttp};

    fn input(suite: &str) -> Target {
        Target {
            suite: suite.into(),
            artifacts_prefix: "runs/r/".into(),
            frontend_url: "http://web/".into(),
            outputs: BTreeMap::from([("ApiUrl".into(), "http://api".into())]),
        }
    }

    async fn with_suite(body: &str) -> MemoryArtifacts {
        MemoryArtifacts::holding("runs/r/suites/auth.json", "application/json", body)
    }

    #[tokio::test]
    async fn runs_cases_against_expanded_urls() {
        let arts = with_suite(r#"{"cases": [
            {"name": "login page", "request": {"url": "${frontendUrl}/login"}, "expect": {"status": 200, "bodyContains": "Sign in"}},
            {"name": "api health", "request": {"url": "${outputs.ApiUrl}/health"}, "expect": {"status": 200}}
        ]}"#).await;
        let http = MemoryHttp::default();
        http.route("http://web/login", 200, "<h1>Sign in</h1>");
        http.route("http://api/health", 503, "down");
        let r = run_suite(&http, &arts, input("auth")).await.unwrap();
        assert_eq!((r.passed, r.failed), (1, 1));
        assert!(
            r.cases[1].message.contains("→ 503: expected status 200"),
            "{}",
            r.cases[1].message
        );
    }

    #[tokio::test]
    async fn a_missing_or_broken_suite_is_a_failed_result_naming_the_file() {
        let r = run_suite(
            &MemoryHttp::default(),
            &MemoryArtifacts::default(),
            input("auth"),
        )
        .await
        .unwrap();
        assert_eq!(r.failed, 1);
        assert!(r.cases[0].message.contains("stagegate/suites/auth.json"));
        let arts = with_suite(r#"{"cases": [{"name": "x"}]}"#).await;
        let r = run_suite(&MemoryHttp::default(), &arts, input("auth"))
            .await
            .unwrap();
        let m = &r.cases[0].message;
        assert!(m.starts_with("suites/auth.json, line 1,"), "{m}");
        assert!(m.contains("missing field `request`"), "{m}");
    }

    #[tokio::test]
    async fn a_url_that_is_not_absolute_or_not_answered_says_so_once() {
        let arts = with_suite(r#"{"cases": [
            {"name": "relative", "request": {"url": "health"}, "expect": {"status": 200}},
            {"name": "refused", "request": {"url": "${outputs.ApiUrl}/x"}, "expect": {"status": 200}}
        ]}"#).await;
        let r = run_suite(&MemoryHttp::default(), &arts, input("auth"))
            .await
            .unwrap();
        let messages: Vec<&str> = r.cases.iter().map(|c| c.message.as_str()).collect();
        assert_eq!(
            messages,
            [
                "'health' is not an absolute http:// or https:// URL",
                "GET http://api/x: connection refused"
            ]
        );
    }

    #[tokio::test]
    async fn unknown_placeholders_fail_the_case() {
        let arts = with_suite(r#"{"cases": [{"name": "x", "request": {"url": "${outputs.Nope}/x"}, "expect": {"status": 200}}]}"#).await;
        let r = run_suite(&MemoryHttp::default(), &arts, input("auth"))
            .await
            .unwrap();
        assert!(r.cases[0].message.contains("no output 'Nope'"));
    }
}

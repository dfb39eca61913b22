//! Integration Tests: HTTP suites run against the deployed URLs, one suite per Map
//! iteration, then one report (JSON + JUnit XML) that decides pass or fail.
//!
//! A suite is `suites/<name>.json` in the run's artifacts (the app's package step
//! publishes its `stagegate/suites/*.json` there), in the format of
//! [`super::suite_spec`] (JSON Schema: `schemas/suite.schema.json`): requests with
//! placeholders, assertions on status, headers, body, JSON paths and latency, values
//! captured for later cases, bounded retries, per-request timeouts.

use super::suite_spec::{self, CaseSpec, Scope, DEFAULT_TIMEOUT_MS};
use crate::error::{names, StepError};
use crate::ports::{Artifacts, Http, HttpRequest, HttpResponse};
use crate::step::Step;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteInput {
    pub suite: String,
    pub artifacts_prefix: String,
    pub frontend_url: String,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CaseResult {
    pub name: String,
    pub passed: bool,
    pub message: String,
    pub elapsed_ms: u64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SuiteResult {
    pub suite: String,
    pub passed: usize,
    pub failed: usize,
    pub cases: Vec<CaseResult>,
}

fn failed_suite(suite: &str, message: String) -> SuiteResult {
    SuiteResult {
        suite: suite.into(),
        passed: 0,
        failed: 1,
        cases: vec![CaseResult {
            name: "suite definition".into(),
            passed: false,
            message,
            elapsed_ms: 0,
        }],
    }
}

/// Runs one suite. Test failures are results, not errors; only a broken port is.
async fn run_suite(
    http: &impl Http,
    artifacts: &impl Artifacts,
    input: SuiteInput,
) -> Result<SuiteResult, StepError> {
    let file = format!("suites/{}.json", input.suite);
    let key = format!("{}{file}", input.artifacts_prefix);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(failed_suite(
            &input.suite,
            format!(
                "no suite definition at {key}: the app must declare stagegate/suites/{}.json",
                input.suite
            ),
        ));
    };
    let spec = match suite_spec::parse(&file, &bytes) {
        Ok(s) => s,
        Err(problem) => return Ok(failed_suite(&input.suite, problem)),
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
                return Ok(failed_suite(
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
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(SuiteResult {
        suite: input.suite,
        passed,
        failed: cases.len() - passed,
        cases,
    })
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
    input: &SuiteInput,
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
        Ok(Err(e)) => return Attempt::Failed(format!("{what}: {e}"), 0),
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
    Ok(HttpRequest {
        method: r.method.to_uppercase(),
        url: scope.expand(&r.url)?,
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

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInput {
    pub artifacts_prefix: String,
    pub suites: Vec<SuiteResult>,
    /// The command suites' results, after the HTTP suites'.
    #[serde(default)]
    pub commands: Vec<SuiteResult>,
}

/// The cases of a JUnit XML report (`<testcase>` elements; a `<failure>` or `<error>`
/// inside fails one, a `<skipped>` one passes and says so). Not a general XML
/// parser: what JUnit reporters (Playwright, pytest, hurl, Jest, Maven) write.
pub fn junit_cases(xml: &str) -> Result<Vec<CaseResult>, String> {
    fn attr(tag: &str, name: &str) -> Option<String> {
        let at = tag.find(&format!(" {name}=\""))? + name.len() + 3;
        let end = tag[at..].find('"')?;
        Some(unescape(&tag[at..at + end]))
    }
    fn unescape(s: &str) -> String {
        s.replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
            .replace("&apos;", "'")
            .replace("&#10;", " ")
            .replace("&amp;", "&")
    }
    if !xml.contains("<testsuite") {
        return Err("not a JUnit report (no <testsuite> element)".into());
    }
    let mut cases = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find("<testcase") {
        let after = &rest[start..];
        let open_end = after
            .find('>')
            .ok_or("a <testcase> element is not closed")?;
        let open = &after[..open_end];
        let self_closing = open.ends_with('/');
        let (body, next) = if self_closing {
            ("", &after[open_end + 1..])
        } else {
            let close = after
                .find("</testcase>")
                .ok_or("a <testcase> element has no </testcase>")?;
            (
                &after[open_end + 1..close],
                &after[close + "</testcase>".len()..],
            )
        };
        let name = attr(open, "name").ok_or("a <testcase> has no name")?;
        let name = match attr(open, "classname").filter(|c| !c.is_empty()) {
            Some(class) => format!("{class} › {name}"),
            None => name,
        };
        let elapsed_ms = attr(open, "time")
            .and_then(|t| t.parse::<f64>().ok())
            .map(|t| (t * 1000.0).round() as u64)
            .unwrap_or(0);
        let failure = ["<failure", "<error"]
            .iter()
            .find_map(|t| body.find(t).map(|i| &body[i..]));
        let (passed, message) = match failure {
            Some(f) => {
                let tag = &f[..f.find('>').unwrap_or(f.len())];
                let kind = if f.starts_with("<error") {
                    "error"
                } else {
                    "failed"
                };
                let why = attr(tag, "message").unwrap_or_else(|| "no message".into());
                (false, format!("{kind}: {why}"))
            }
            None if body.contains("<skipped") => (true, "skipped".into()),
            None => (true, "passed".into()),
        };
        cases.push(CaseResult {
            name,
            passed,
            message,
            elapsed_ms,
        });
        rest = next;
    }
    Ok(cases)
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CommandReportInput {
    pub suite: String,
    pub artifacts_prefix: String,
    /// How the build ended: `{"status": "SUCCEEDED", "log": …}`, or the error the
    /// state machine caught (`{"Error", "Cause"}`) when it did not.
    #[serde(default)]
    pub build: Value,
}

/// A command suite's result: its JUnit report's cases, plus a failed case when the
/// command failed without a failed test to say why (it crashed, or wrote no report).
async fn command_report(
    artifacts: &impl Artifacts,
    input: CommandReportInput,
) -> Result<SuiteResult, StepError> {
    let key = format!("{}suites/{}.junit.xml", input.artifacts_prefix, input.suite);
    let build_ok = input.build.get("status").and_then(Value::as_str) == Some("SUCCEEDED");
    let why = input
        .build
        .get("Cause")
        .or_else(|| input.build.get("Error"))
        .or_else(|| input.build.get("status"))
        .map(|v| match v {
            Value::String(s) => s.chars().take(500).collect(),
            other => other.to_string(),
        })
        .unwrap_or_else(|| "no build result".into());
    let log = input
        .build
        .get("log")
        .and_then(Value::as_str)
        .map(|l| format!(" Log: {l}"))
        .unwrap_or_default();
    let mut cases = match artifacts.get(&key).await? {
        None => vec![],
        Some(bytes) => match junit_cases(&String::from_utf8_lossy(&bytes)) {
            Ok(c) => c,
            Err(m) => vec![CaseResult {
                name: "JUnit report".into(),
                passed: false,
                message: format!("{key}: {m}"),
                elapsed_ms: 0,
            }],
        },
    };
    if cases.is_empty() {
        cases.push(CaseResult {
            name: "command".into(),
            passed: false,
            message: format!(
                "the command wrote no JUnit report to $STAGEGATE_JUNIT (build: {why}).{log}"
            ),
            elapsed_ms: 0,
        });
    } else if !build_ok && cases.iter().all(|c| c.passed) {
        cases.push(CaseResult {
            name: "command".into(),
            passed: false,
            message: format!(
                "the command failed although its report shows no failure (build: {why}).{log}"
            ),
            elapsed_ms: 0,
        });
    }
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(SuiteResult {
        suite: input.suite,
        passed,
        failed: cases.len() - passed,
        cases,
    })
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    pub total: usize,
    pub passed: usize,
    pub failed: usize,
    pub report_uri: String,
    pub junit_uri: String,
}

async fn report(artifacts: &impl Artifacts, mut input: ReportInput) -> Result<Report, StepError> {
    input.suites.append(&mut input.commands);
    let total: usize = input.suites.iter().map(|s| s.cases.len()).sum();
    let failed: usize = input.suites.iter().map(|s| s.failed).sum();
    let json = serde_json::to_vec_pretty(&input.suites)
        .map_err(|e| crate::error::invalid_input(e.to_string()))?;
    let report_uri = artifacts
        .put(
            &format!("{}test-report.json", input.artifacts_prefix),
            "application/json",
            json,
        )
        .await?;
    let junit_uri = artifacts
        .put(
            &format!("{}junit.xml", input.artifacts_prefix),
            "application/xml",
            junit(&input.suites).into_bytes(),
        )
        .await?;
    if failed > 0 {
        let names: Vec<String> = input
            .suites
            .iter()
            .flat_map(|s| {
                s.cases
                    .iter()
                    .filter(|c| !c.passed)
                    .map(move |c| format!("{}/{}: {}", s.suite, c.name, c.message))
            })
            .collect();
        return Err(StepError::new(
            names::INTEGRATION_TESTS_FAILED,
            format!(
                "{failed} of {total} test(s) failed — {}. Report: {report_uri}",
                names.join("; ")
            ),
        ));
    }
    Ok(Report {
        total,
        passed: total,
        failed: 0,
        report_uri,
        junit_uri,
    })
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// JUnit XML, one `<testsuite>` per suite.
pub fn junit(suites: &[SuiteResult]) -> String {
    let total: usize = suites.iter().map(|s| s.cases.len()).sum();
    let failed: usize = suites.iter().map(|s| s.failed).sum();
    let mut x = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"stagegate\" tests=\"{total}\" failures=\"{failed}\">\n");
    for s in suites {
        let _ = writeln!(
            x,
            "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\">",
            xml(&s.suite),
            s.cases.len(),
            s.failed
        );
        for c in &s.cases {
            let secs = c.elapsed_ms as f64 / 1000.0;
            if c.passed {
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{secs:.3}\"/>",
                    xml(&s.suite),
                    xml(&c.name)
                );
            } else {
                let _ = writeln!(
                    x,
                    "    <testcase classname=\"{}\" name=\"{}\" time=\"{secs:.3}\"><failure message=\"{}\"/></testcase>",
                    xml(&s.suite),
                    xml(&c.name),
                    xml(&c.message)
                );
            }
        }
        let _ = writeln!(x, "  </testsuite>");
    }
    x.push_str("</testsuites>\n");
    x
}

/// The `run-test-suite` function's name.
pub const RUN_TEST_SUITE: &str = "run-test-suite";

/// Integration Tests: one HTTP suite against the deployed URLs.
pub struct RunTestSuite<H, A> {
    http: H,
    artifacts: A,
}

impl<H: Http, A: Artifacts> RunTestSuite<H, A> {
    pub fn new(http: H, artifacts: A) -> Self {
        RunTestSuite { http, artifacts }
    }
}

impl<H: Http, A: Artifacts> Step for RunTestSuite<H, A> {
    const NAME: &'static str = RUN_TEST_SUITE;
    type Input = SuiteInput;
    type Output = SuiteResult;

    async fn run(&self, input: SuiteInput) -> Result<SuiteResult, StepError> {
        run_suite(&self.http, &self.artifacts, input).await
    }
}

/// The `read-suite-report` function's name.
pub const READ_SUITE_REPORT: &str = "read-suite-report";

/// Command Suites: a command suite's JUnit report, as a suite result.
pub struct ReadSuiteReport<A> {
    artifacts: A,
}

impl<A: Artifacts> ReadSuiteReport<A> {
    pub fn new(artifacts: A) -> Self {
        ReadSuiteReport { artifacts }
    }
}

impl<A: Artifacts> Step for ReadSuiteReport<A> {
    const NAME: &'static str = READ_SUITE_REPORT;
    type Input = CommandReportInput;
    type Output = SuiteResult;

    async fn run(&self, input: CommandReportInput) -> Result<SuiteResult, StepError> {
        command_report(&self.artifacts, input).await
    }
}

/// The `test-report` function's name.
pub const TEST_REPORT: &str = "test-report";

/// Test Results: the JSON and JUnit report.
pub struct TestReport<A> {
    artifacts: A,
}

impl<A: Artifacts> TestReport<A> {
    pub fn new(artifacts: A) -> Self {
        TestReport { artifacts }
    }
}

impl<A: Artifacts> Step for TestReport<A> {
    const NAME: &'static str = TEST_REPORT;
    type Input = ReportInput;
    type Output = Report;

    async fn run(&self, input: ReportInput) -> Result<Report, StepError> {
        report(&self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryHttp};

    fn input(suite: &str) -> SuiteInput {
        SuiteInput {
            suite: suite.into(),
            artifacts_prefix: "runs/r/".into(),
            frontend_url: "http://web/".into(),
            outputs: BTreeMap::from([("ApiUrl".into(), "http://api".into())]),
        }
    }

    async fn with_suite(body: &str) -> MemoryArtifacts {
        let arts = MemoryArtifacts::default();
        arts.put(
            "runs/r/suites/auth.json",
            "application/json",
            body.as_bytes().to_vec(),
        )
        .await
        .unwrap();
        arts
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
    async fn unknown_placeholders_fail_the_case() {
        let arts = with_suite(r#"{"cases": [{"name": "x", "request": {"url": "${outputs.Nope}/x"}, "expect": {"status": 200}}]}"#).await;
        let r = run_suite(&MemoryHttp::default(), &arts, input("auth"))
            .await
            .unwrap();
        assert!(r.cases[0].message.contains("no output 'Nope'"));
    }

    fn suite(name: &str, failed: bool) -> SuiteResult {
        SuiteResult {
            suite: name.into(),
            passed: usize::from(!failed),
            failed: usize::from(failed),
            cases: vec![CaseResult {
                name: "c<1>".into(),
                passed: !failed,
                message: "m & m".into(),
                elapsed_ms: 1500,
            }],
        }
    }

    #[tokio::test]
    async fn report_passes_when_all_pass_and_writes_json_and_junit() {
        let arts = MemoryArtifacts::default();
        let r = report(
            &arts,
            ReportInput {
                artifacts_prefix: "runs/r/".into(),
                suites: vec![suite("auth", false)],
                commands: vec![],
            },
        )
        .await
        .unwrap();
        assert_eq!((r.total, r.failed), (1, 0));
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(
            xml.contains("<testcase classname=\"auth\" name=\"c&lt;1&gt;\" time=\"1.500\"/>"),
            "{xml}"
        );
    }

    #[tokio::test]
    async fn report_fails_with_integration_tests_failed_listing_the_cases() {
        let arts = MemoryArtifacts::default();
        let e = report(
            &arts,
            ReportInput {
                artifacts_prefix: "runs/r/".into(),
                suites: vec![suite("auth", false), suite("oauth", true)],
                commands: vec![],
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "IntegrationTestsFailed");
        assert!(e.message.contains("oauth/c<1>: m & m"), "{}", e.message);
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(xml.contains("<failure message=\"m &amp; m\"/>"));
    }

    const PLAYWRIGHT: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<testsuites id="" name="" tests="3" failures="1" skipped="1" errors="0" time="4.2">
<testsuite name="checkout.spec.ts" tests="3" failures="1" skipped="1">
<testcase name="pays with a saved card" classname="checkout.spec.ts" time="1.5">
</testcase>
<testcase name="shows the total &amp; tax" classname="checkout.spec.ts" time="0.25">
<failure message="expect(received).toBe(expected) &quot;12.00&quot;" type="FAILURE">
<![CDATA[Error: expect(received).toBe(expected)]]>
</failure>
</testcase>
<testcase name="refunds" classname="checkout.spec.ts" time="0"><skipped/></testcase>
</testsuite>
</testsuites>"#;

    #[test]
    fn junit_reports_are_read_into_cases() {
        let cases = junit_cases(PLAYWRIGHT).unwrap();
        assert_eq!(cases.len(), 3);
        assert_eq!(cases[0].name, "checkout.spec.ts › pays with a saved card");
        assert_eq!((cases[0].passed, cases[0].elapsed_ms), (true, 1500));
        assert_eq!(cases[1].name, "checkout.spec.ts › shows the total & tax");
        assert!(!cases[1].passed);
        assert_eq!(
            cases[1].message,
            "failed: expect(received).toBe(expected) \"12.00\""
        );
        assert_eq!(
            (cases[2].passed, cases[2].message.as_str()),
            (true, "skipped")
        );
        // pytest: self-closing cases, an <error>.
        let pytest = r#"<testsuites><testsuite name="pytest"><testcase classname="tests.test_api" name="test_health" time="0.01"/><testcase classname="tests.test_api" name="test_login" time="0.2"><error message="ConnectionError"/></testcase></testsuite></testsuites>"#;
        let cases = junit_cases(pytest).unwrap();
        assert_eq!(cases.len(), 2);
        assert!(cases[0].passed);
        assert_eq!(cases[1].message, "error: ConnectionError");
        assert!(junit_cases("<html>not junit</html>").is_err());
    }

    async fn command_with(junit: Option<&str>, build: Value) -> SuiteResult {
        let arts = MemoryArtifacts::default();
        if let Some(x) = junit {
            arts.put(
                "runs/r/suites/e2e.junit.xml",
                "application/xml",
                x.as_bytes().to_vec(),
            )
            .await
            .unwrap();
        }
        command_report(
            &arts,
            CommandReportInput {
                suite: "e2e".into(),
                artifacts_prefix: "runs/r/".into(),
                build,
            },
        )
        .await
        .unwrap()
    }

    #[tokio::test]
    async fn a_command_suite_is_its_junit_report_and_a_failed_command_is_never_a_pass() {
        let ok = r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#;
        let r = command_with(Some(ok), serde_json::json!({"status": "SUCCEEDED"})).await;
        assert_eq!((r.passed, r.failed), (2, 0));
        // Tests failed: the build failed too; the report says which.
        let r = command_with(
            Some(PLAYWRIGHT),
            serde_json::json!({"Error": "States.TaskFailed", "Cause": "build FAILED"}),
        )
        .await;
        assert_eq!((r.passed, r.failed), (2, 1));
        // The command crashed after a clean report: still a failure, with the cause.
        let r = command_with(
            Some(ok),
            serde_json::json!({"Error": "States.TaskFailed", "Cause": "exit status 137"}),
        )
        .await;
        assert_eq!(r.failed, 1);
        assert!(
            r.cases[2].message.contains("exit status 137"),
            "{:?}",
            r.cases
        );
        // No report at all.
        let r = command_with(
            None,
            serde_json::json!({"status": "SUCCEEDED", "log": "https://logs"}),
        )
        .await;
        assert_eq!(r.failed, 1);
        assert!(
            r.cases[0]
                .message
                .contains("wrote no JUnit report to $STAGEGATE_JUNIT"),
            "{:?}",
            r.cases
        );
        assert!(
            r.cases[0].message.contains("Log: https://logs"),
            "{:?}",
            r.cases
        );
        // A report that is not JUnit.
        let r = command_with(Some("{}"), serde_json::json!({"status": "SUCCEEDED"})).await;
        assert!(
            r.cases[0].message.contains("not a JUnit report"),
            "{:?}",
            r.cases
        );
    }

    #[tokio::test]
    async fn the_report_counts_command_suites_after_http_suites() {
        let arts = MemoryArtifacts::default();
        let e = report(
            &arts,
            ReportInput {
                artifacts_prefix: "runs/r/".into(),
                suites: vec![suite("auth", false)],
                commands: vec![suite("e2e", true)],
            },
        )
        .await
        .unwrap_err();
        assert!(
            e.message.starts_with("1 of 2 test(s) failed — e2e/c<1>"),
            "{}",
            e.message
        );
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(xml.contains("<testsuite name=\"e2e\""), "{xml}");
    }
}

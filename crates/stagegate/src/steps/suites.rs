//! Integration Tests: HTTP suites run against the deployed URLs, one suite per Map
//! iteration, then one report (JSON + JUnit XML) that decides pass or fail.
//!
//! A suite is `suites/<name>.json` in the run's artifacts (the app's package step
//! publishes its `stagegate/suites/*.json` there):
//! `{"cases": [{"name": "...", "request": {"method": "GET", "url": "${frontendUrl}/login"},
//!   "expect": {"status": 200, "bodyContains": "Sign in"}}]}`. URLs may use
//! `${frontendUrl}` and `${outputs.Name}` (a stack output).

use crate::error::{names, StepError};
use crate::ports::{Artifacts, Http, HttpRequest};
use crate::step::Step;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SuiteSpec {
    pub cases: Vec<CaseSpec>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CaseSpec {
    pub name: String,
    pub request: RequestSpec,
    pub expect: Expect,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RequestSpec {
    #[serde(default = "get")]
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

fn get() -> String {
    "GET".into()
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Expect {
    pub status: u16,
    #[serde(default)]
    pub body_contains: Option<String>,
}

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

/// Expands `${frontendUrl}` and `${outputs.Name}`; an unknown name is an error.
fn expand(template: &str, input: &SuiteInput) -> Result<String, String> {
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| format!("unclosed '${{' in '{template}'"))?;
        let key = &after[..end];
        let value = if key == "frontendUrl" {
            input.frontend_url.trim_end_matches('/').to_string()
        } else if let Some(name) = key.strip_prefix("outputs.") {
            input
                .outputs
                .get(name)
                .cloned()
                .ok_or_else(|| format!("the stack has no output '{name}'"))?
        } else {
            return Err(format!(
                "unknown placeholder '${{{key}}}' (use ${{frontendUrl}} or ${{outputs.Name}})"
            ));
        };
        out.push_str(&value);
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
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
    let key = format!("{}suites/{}.json", input.artifacts_prefix, input.suite);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(failed_suite(
            &input.suite,
            format!(
                "no suite definition at {key}: the app must declare stagegate/suites/{}.json",
                input.suite
            ),
        ));
    };
    let spec: SuiteSpec = match serde_json::from_slice(&bytes) {
        Ok(s) => s,
        Err(e) => {
            return Ok(failed_suite(
                &input.suite,
                format!("{key} is not a valid suite: {e}"),
            ))
        }
    };
    let mut cases = Vec::new();
    for case in spec.cases {
        let result = match expand(&case.request.url, &input) {
            Err(m) => CaseResult {
                name: case.name.clone(),
                passed: false,
                message: m,
                elapsed_ms: 0,
            },
            Ok(url) => {
                let request = HttpRequest {
                    method: case.request.method.to_uppercase(),
                    url,
                    headers: case.request.headers.clone().into_iter().collect(),
                    body: case.request.body.clone(),
                };
                match http.send(&request).await {
                    Err(e) => CaseResult {
                        name: case.name.clone(),
                        passed: false,
                        message: format!("{} {}: {e}", request.method, request.url),
                        elapsed_ms: 0,
                    },
                    Ok(resp) => {
                        let mut problems = Vec::new();
                        if resp.status != case.expect.status {
                            problems.push(format!(
                                "expected status {}, got {}",
                                case.expect.status, resp.status
                            ));
                        }
                        if let Some(needle) = &case.expect.body_contains {
                            if !resp.body.contains(needle.as_str()) {
                                problems.push(format!("body does not contain {needle:?}"));
                            }
                        }
                        CaseResult {
                            name: case.name.clone(),
                            passed: problems.is_empty(),
                            message: if problems.is_empty() {
                                format!("{} {} → {}", request.method, request.url, resp.status)
                            } else {
                                problems.join("; ")
                            },
                            elapsed_ms: resp.elapsed_ms,
                        }
                    }
                }
            }
        };
        cases.push(result);
    }
    let passed = cases.iter().filter(|c| c.passed).count();
    Ok(SuiteResult {
        suite: input.suite,
        passed,
        failed: cases.len() - passed,
        cases,
    })
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInput {
    pub artifacts_prefix: String,
    pub suites: Vec<SuiteResult>,
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

async fn report(artifacts: &impl Artifacts, input: ReportInput) -> Result<Report, StepError> {
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
        assert!(r.cases[1].message.contains("expected status 200, got 503"));
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
        assert!(r.cases[0].message.contains("not a valid suite"));
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
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "IntegrationTestsFailed");
        assert!(e.message.contains("oauth/c<1>: m & m"), "{}", e.message);
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(xml.contains("<failure message=\"m &amp; m\"/>"));
    }
}

//! Test Results (`test-report`): every suite's results, HTTP and command, in one
//! report (JSON and JUnit XML); any failed case fails the run with
//! `IntegrationTestsFailed`, naming each.

use crate::error::{names, StepError};
use crate::flow::{Report, SuiteResult};
use crate::ports::Artifacts;
use crate::results;
use crate::step::Step;
use serde::Deserialize;
use std::fmt::Write as _;

/// The `test-report` function's name.
pub const NAME: &str = "test-report";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub artifacts_prefix: String,
    pub suites: Vec<SuiteResult>,
    /// The command suites' results, after the HTTP suites'.
    #[serde(default)]
    pub commands: Vec<SuiteResult>,
}

/// Test Report: the JSON and JUnit report, and the verdict.
pub struct TestReport<A> {
    pub artifacts: A,
}

impl<A: Artifacts> Step<Input, Report> for TestReport<A> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Report, StepError> {
        report(&self.artifacts, input).await
    }
}

async fn report(artifacts: &impl Artifacts, mut input: Input) -> Result<Report, StepError> {
    input.suites.append(&mut input.commands);
    // The state carries each suite's counts and first failures; the report is whole.
    let mut wholes = Vec::with_capacity(input.suites.len());
    for s in std::mem::take(&mut input.suites) {
        wholes.push(results::whole(artifacts, s).await?);
    }
    input.suites = wholes;
    let total: usize = input.suites.iter().map(|s| s.cases.len()).sum();
    let failed: usize = input.suites.iter().map(|s| s.failed).sum();
    let report_uri = artifacts
        .put_json(
            &format!("{}test-report.json", input.artifacts_prefix),
            &input.suites,
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
        let mut names: Vec<String> = input
            .suites
            .iter()
            .flat_map(|s| {
                s.cases
                    .iter()
                    .filter(|c| !c.passed)
                    .map(move |c| format!("{}/{}: {}", s.suite, c.name, c.message))
            })
            .take(results::MAX_CASES)
            .collect();
        if failed > names.len() {
            names.push(format!("and {} more", failed - names.len()));
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::flow::CaseResult;
    use crate::testing::MemoryArtifacts;

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
            more: 0,
            key: None,
        }
    }

    /// The report of `suites` then `commands`, and the store it wrote to.
    async fn run(
        suites: Vec<SuiteResult>,
        commands: Vec<SuiteResult>,
    ) -> (MemoryArtifacts, Result<Report, StepError>) {
        let arts = MemoryArtifacts::default();
        let input = Input {
            artifacts_prefix: "runs/r/".into(),
            suites,
            commands,
        };
        let result = report(&arts, input).await;
        (arts, result)
    }

    #[tokio::test]
    async fn report_passes_when_all_pass_and_writes_json_and_junit() {
        let (arts, r) = run(vec![suite("auth", false)], vec![]).await;
        let r = r.unwrap();
        assert_eq!((r.total, r.failed), (1, 0));
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(
            xml.contains("<testcase classname=\"auth\" name=\"c&lt;1&gt;\" time=\"1.500\"/>"),
            "{xml}"
        );
    }

    #[tokio::test]
    async fn report_fails_with_integration_tests_failed_listing_the_cases() {
        let (arts, e) = run(vec![suite("auth", false), suite("oauth", true)], vec![]).await;
        let e = e.unwrap_err();
        assert_eq!(e.name, "IntegrationTestsFailed");
        assert!(e.message.contains("oauth/c<1>: m & m"), "{}", e.message);
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(xml.contains("<failure message=\"m &amp; m\"/>"));
    }

    #[tokio::test]
    async fn the_report_counts_command_suites_after_http_suites() {
        let (arts, e) = run(vec![suite("auth", false)], vec![suite("e2e", true)]).await;
        let e = e.unwrap_err();
        assert!(
            e.message.starts_with("1 of 2 test(s) failed — e2e/c<1>"),
            "{}",
            e.message
        );
        let xml = String::from_utf8(arts.get_sync("runs/r/junit.xml").unwrap()).unwrap();
        assert!(xml.contains("<testsuite name=\"e2e\""), "{xml}");
    }
}

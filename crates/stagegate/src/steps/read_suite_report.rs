//! Command Suites, second half (`read-suite-report`): a command suite's JUnit XML
//! report, uploaded by its CodeBuild build to that build's own scratch prefix (the
//! only place its role may write: [`crate::manifest::scratch_prefix`]), read into a
//! suite result. A command that failed without a failed test to say why is a failed
//! case, never a pass.

use crate::error::StepError;
use crate::flow::{CaseResult, SuiteResult};
use crate::manifest::scratch_prefix;
use crate::ports::Artifacts;
use crate::results;
use crate::settings::Settings;
use crate::step::Step;
use serde::Deserialize;
use serde_json::Value;

/// The `read-suite-report` function's name.
pub const NAME: &str = "read-suite-report";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub suite: String,
    /// Where the whole result goes.
    pub artifacts_prefix: String,
    /// How the build ended: `{"status": "SUCCEEDED", "log": …}`, or the error the
    /// state machine caught (`{"Error", "Cause"}`) when it did not.
    #[serde(default)]
    pub build: Value,
}

/// Read Suite Report: a command suite's JUnit report, as a suite result.
pub struct ReadSuiteReport<A> {
    pub settings: Settings,
    pub artifacts: A,
}

impl<A: Artifacts> Step<Input, SuiteResult> for ReadSuiteReport<A> {
    const NAME: &'static str = NAME;

    /// The whole result goes to the run's prefix; the state carries its counts and
    /// first failures (`crate::results`).
    async fn run(&self, input: Input) -> Result<SuiteResult, StepError> {
        let prefix = input.artifacts_prefix.clone();
        let whole = self.read(input).await?;
        results::store(&self.artifacts, &prefix, whole).await
    }
}

impl<A: Artifacts> ReadSuiteReport<A> {
    /// The suite's whole result, from its own build's report.
    async fn read(&self, input: Input) -> Result<SuiteResult, StepError> {
        let key = build_id(&input.build)
            .and_then(|id| scratch_prefix(&self.settings.checks_role_id, &id).ok())
            .map(|scratch| format!("{scratch}suites/{}.junit.xml", input.suite));
        command_report(&self.artifacts, key, input).await
    }
}

/// The build's id: the task's result (`build`), or, for a failed build, the build
/// the error's cause holds (a failed `.sync` build fails with the build as its cause).
fn build_id(build: &Value) -> Option<String> {
    if let Some(id) = build.get("build").and_then(Value::as_str) {
        return Some(id.to_string());
    }
    let cause: Value = serde_json::from_str(build.get("Cause")?.as_str()?).ok()?;
    Some(cause.get("Build")?.get("Id")?.as_str()?.to_string())
}

/// A command suite's result: its JUnit report's cases, plus a failed case when the
/// command failed without a failed test to say why (it crashed, or wrote no report).
async fn command_report(
    artifacts: &impl Artifacts,
    key: Option<String>,
    input: Input,
) -> Result<SuiteResult, StepError> {
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
    let report = match &key {
        Some(key) => artifacts.get(key).await?,
        None => None,
    };
    let mut cases = match report {
        None => vec![],
        Some(bytes) => match junit_cases(&String::from_utf8_lossy(&bytes)) {
            Ok(c) => c,
            Err(m) => vec![CaseResult {
                name: "JUnit report".into(),
                passed: false,
                message: format!("{}: {m}", key.as_deref().unwrap_or_default()),
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
    Ok(SuiteResult::of(input.suite, cases))
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryArtifacts;

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

    /// Where build `checks:b1`'s report is (its own scratch, role id "local").
    const REPORT: &str = "scratch/local:AWSCodeBuild-b1/suites/e2e.junit.xml";

    async fn command_at(key: &str, junit: Option<&str>, build: Value) -> SuiteResult {
        let artifacts = MemoryArtifacts::default();
        if let Some(x) = junit {
            artifacts.put_sync(key, "application/xml", x);
        }
        let step = ReadSuiteReport {
            settings: Settings::default(),
            artifacts,
        };
        let input = Input {
            suite: "e2e".into(),
            artifacts_prefix: "runs/r/".into(),
            build,
        };
        step.read(input).await.unwrap()
    }

    async fn command_with(junit: Option<&str>, build: Value) -> SuiteResult {
        command_at(REPORT, junit, build).await
    }

    /// A failed build as the state machine catches it: the build is the cause.
    fn failed(why: &str) -> Value {
        let cause =
            serde_json::json!({"Build": {"Id": "checks:b1", "BuildStatus": "FAILED", "Why": why}});
        serde_json::json!({"Error": "States.TaskFailed", "Cause": cause.to_string()})
    }

    #[tokio::test]
    async fn a_command_suite_is_its_junit_report_and_a_failed_command_is_never_a_pass() {
        let ok = r#"<testsuite><testcase name="a"/><testcase name="b"/></testsuite>"#;
        let succeeded = serde_json::json!({"status": "SUCCEEDED", "build": "checks:b1"});
        let r = command_with(Some(ok), succeeded.clone()).await;
        assert_eq!((r.passed, r.failed), (2, 0));
        // Tests failed: the build failed too; the report says which.
        let r = command_with(Some(PLAYWRIGHT), failed("build FAILED")).await;
        assert_eq!((r.passed, r.failed), (2, 1));
        // The command crashed after a clean report: still a failure, with the cause.
        let r = command_with(Some(ok), failed("exit status 137")).await;
        assert_eq!(r.failed, 1);
        assert!(
            r.cases[2].message.contains("exit status 137"),
            "{:?}",
            r.cases
        );
        // No report at all.
        let r = command_with(
            None,
            serde_json::json!({"status": "SUCCEEDED", "build": "checks:b1", "log": "https://logs"}),
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
        let r = command_with(Some("{}"), succeeded).await;
        assert!(
            r.cases[0].message.contains("not a JUnit report"),
            "{:?}",
            r.cases
        );
    }

    #[tokio::test]
    async fn only_the_builds_own_report_counts() {
        let ok = r#"<testsuite><testcase name="a"/></testsuite>"#;
        // Another build (another run's code) wrote a passing report for this suite
        // in its own scratch, or in the run's prefix: neither is read.
        for elsewhere in [
            "scratch/local:AWSCodeBuild-other/suites/e2e.junit.xml",
            "runs/r/suites/e2e.junit.xml",
        ] {
            let build = serde_json::json!({"status": "SUCCEEDED", "build": "checks:b1"});
            let r = command_at(elsewhere, Some(ok), build).await;
            assert_eq!((r.passed, r.failed), (0, 1), "{elsewhere}");
        }
        // A build that never started has no report to read.
        let never =
            serde_json::json!({"Error": "CodeBuild.AccessDeniedException", "Cause": "denied"});
        let r = command_with(Some(ok), never).await;
        assert_eq!((r.passed, r.failed), (0, 1));
    }
}

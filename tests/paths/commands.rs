//! Command suites: a command in the app's own toolchain, run in CodeBuild after the
//! HTTP suites, its JUnit report read into the same test report.

use crate::*;
use asl_engine::ExecutionStatus;

const PASSING: &str = r#"<testsuite name="e2e"><testcase classname="checkout" name="pays" time="1.2"/><testcase classname="checkout" name="refunds" time="0.4"/></testsuite>"#;
const FAILING: &str = r#"<testsuite name="e2e"><testcase classname="checkout" name="pays" time="1.2"><failure message="expected 200, got 500"/></testcase><testcase classname="checkout" name="refunds" time="0.4"/></testsuite>"#;

pub(crate) fn with_e2e() -> Flow {
    let flow = Flow::new();
    let settings = Settings {
        command_suites: BTreeMap::from([(
            "e2e".to_string(),
            "npx playwright test --reporter=junit".to_string(),
        )]),
        ..flow.settings.clone()
    };
    Flow::with_settings(settings)
}

pub async fn a_command_suite_runs_in_codebuild_and_its_report_joins_the_tests() {
    let flow = with_e2e();
    flow.builds.report("e2e", PASSING);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_passes_through(
        &route(&h),
        &[
            "Integration Tests",
            "Command Suites",
            "Run Command Suite",
            "Read Suite Report",
            "Test Results",
        ],
    );
    let out = output(&done);
    assert_eq!(
        out["tests"]["report"]["total"], 6,
        "4 HTTP cases and 2 from the JUnit report"
    );
    // The state carries the suite's counts and where its whole result is; the
    // report holds every case.
    let e2e = &out["tests"]["commands"][0];
    assert_eq!(
        (e2e["passed"].clone(), e2e["failed"].clone()),
        (json!(2), json!(0))
    );
    assert_eq!(e2e["key"], json!(format!("{RUN}results/e2e.json")));
    let report = run_artifact(&flow, "test-report.json");
    assert!(report.contains("checkout › pays"), "{report}");
    let build = flow
        .builds
        .requests()
        .into_iter()
        .find(|b| {
            b.environment
                .iter()
                .any(|(k, v)| k == "STAGEGATE_SUITE" && v == "e2e")
        })
        .expect("a build ran the e2e suite");
    let var = |name: &str| {
        build
            .environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(
        var("STAGEGATE_COMMAND"),
        "npx playwright test --reporter=junit"
    );
    assert_eq!(
        var("STAGEGATE_FRONTEND_URL"),
        "https://staging.example.test"
    );
    let outputs: Value = serde_json::from_str(&var("STAGEGATE_OUTPUTS")).unwrap_or_default();
    assert_eq!(outputs["ApiUrl"], "https://api.example.test");
    assert_eq!(build.source_version.as_deref(), Some(SHA));
    let junit = String::from_utf8(
        flow.artifacts
            .get_sync(&format!("{RUN}junit.xml"))
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(
        junit.contains("<testsuite name=\"e2e\" tests=\"2\" failures=\"0\">"),
        "{junit}"
    );
}

pub async fn a_failing_command_suite_fails_the_run_naming_its_tests() {
    let flow = with_e2e();
    flow.builds.report("e2e", FAILING);
    flow.builds.fail("suite:e2e");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("IntegrationTestsFailed"));
    assert_passes_through(
        &route(&h),
        &[
            "Run Command Suite",
            "Read Suite Report",
            "Test Results",
            "Integration Tests Failed",
            "Notify Failure",
        ],
    );
    let m = only_outcome(&flow);
    assert_eq!(m.attributes["stage"], "Integration Tests");
    assert!(
        m.body
            .contains("e2e/checkout › pays: failed: expected 200, got 500"),
        "{}",
        m.body
    );
}

pub async fn a_command_suite_report_that_cannot_be_read_fails_the_integration_tests() {
    let flow = with_e2e();
    flow.builds.report("e2e", PASSING);
    flow.artifacts.break_keys_containing("junit.xml");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let r = route(&h);
    assert_passes_through(&r, &["Command Suites", "Integration Tests Failed"]);
    assert_never_enters(&r, &["Test Results"]);
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Integration Tests", "DependencyRefused")
    );
}

//! `stagegate test-case` end to end: the binary, the engine's mock-config fixtures,
//! and the errors a user sees for bad input.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../asl-engine/tests/fixtures")
}

fn stagegate(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn run_case(dir: &str, case: &str, extra: &[&str]) -> (i32, Value, String) {
    let d = fixtures().join(dir);
    let expected: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("expected.json")).unwrap()).unwrap();
    let input = expected[case]["input"].to_string();
    let subs = d.join("substitutions.json");
    let subs_s = subs.to_str().unwrap().to_string();
    let mut args = vec!["--input", &input, "--start-time", "2026-03-01T09:00:00Z"];
    if subs.exists() {
        args.extend(["--substitutions", &subs_s]);
    }
    args.extend(extra);
    let out = bare(dir, case, &args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or(Value::Null);
    (
        out.status.code().unwrap_or(-1),
        report,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn route(report: &Value) -> Vec<String> {
    report["history"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with("StateEntered"))
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

#[test]
fn every_fixture_case_matches_its_expectation() {
    let mut ran = 0;
    for entry in std::fs::read_dir(fixtures()).unwrap() {
        let dir = entry.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let name = dir.file_name().unwrap().to_str().unwrap().to_string();
        let expected: Value =
            serde_json::from_str(&std::fs::read_to_string(dir.join("expected.json")).unwrap())
                .unwrap();
        for (case, want) in expected.as_object().unwrap() {
            let (code, report, stderr) = run_case(
                &name,
                case,
                &["--expect-status", want["status"].as_str().unwrap()],
            );
            assert_eq!(code, 0, "{name}#{case}: {stderr}");
            assert_eq!(report["status"], want["status"], "{name}#{case}");
            if let Some(o) = want.get("output") {
                assert_eq!(&report["output"], o, "{name}#{case}");
            }
            if let Some(e) = want.get("error") {
                assert_eq!(&report["error"], e, "{name}#{case}");
            }
            assert_eq!(
                serde_json::to_value(route(&report)).unwrap(),
                want["route"],
                "{name}#{case}"
            );
            ran += 1;
        }
    }
    assert!(ran >= 7, "only {ran} fixture cases ran");
}

#[test]
fn prints_history_with_virtual_timestamps() {
    let (code, report, _) = run_case("lambda-sqs", "RetryPath", &[]);
    assert_eq!(code, 0);
    assert_eq!(report["startDate"], "2026-03-01T09:00:00.000Z");
    // Three retries at 2, 4 and 8 seconds: 14 s of virtual time, no real waiting.
    assert_eq!(report["stopDate"], "2026-03-01T09:00:14.000Z");
    assert_eq!(report["history"][0]["type"], "ExecutionStarted");
    assert_eq!(report["stateMachine"], "LambdaSQSIntegration");
}

#[test]
fn expect_status_mismatch_exits_1() {
    let (code, report, stderr) = run_case(
        "lambda-sqs",
        "HybridPath",
        &["--expect-status", "SUCCEEDED"],
    );
    assert_eq!(code, 1);
    assert_eq!(report["status"], "FAILED");
    assert!(stderr.contains("expected status SUCCEEDED"), "{stderr}");
}

#[test]
fn unknown_test_case_is_a_clear_error() {
    let (code, _, stderr) = run_case("lambda-sqs", "NoSuchCase", &[]);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("no state machine") && stderr.contains("NoSuchCase"),
        "{stderr}"
    );
}

/// Runs `stagegate test-case` on a fixture with only the given extra arguments.
fn bare(dir: &str, case: &str, extra: &[&str]) -> Output {
    let d = fixtures().join(dir);
    let (def, mock) = (d.join("definition.asl.json"), d.join("mock-config.json"));
    let mut args = vec![
        "test-case",
        def.to_str().unwrap(),
        "--mock-config",
        mock.to_str().unwrap(),
        "--test-case",
        case,
    ];
    args.extend(extra);
    stagegate(&args)
}

#[test]
fn bad_input_json_is_a_clear_error() {
    let out = bare("lambda-sqs", "HappyPath", &["--input", "{nope"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--input is not valid JSON"));
}

#[test]
fn missing_substitutions_name_the_placeholder_and_the_flag() {
    let out = bare("retry-precedence", "GuideScenario", &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("'WorkFunctionArn'") && err.contains("--substitutions"),
        "{err}"
    );
}

#[test]
fn a_missing_definition_file_is_a_clear_error() {
    let out = stagegate(&[
        "test-case",
        "/nonexistent.asl.json",
        "--mock-config",
        "/nonexistent.json",
        "--test-case",
        "x",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("cannot read the definition '/nonexistent.asl.json'"));
}

//! `stagegate rehearse` end to end: the real binary, the bundled example app, real
//! processes on 127.0.0.1. Each test works in its own scratch directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn example_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

fn scratch(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("stagegate-rehearse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    dir
}

fn rehearse(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let app = example_app();
    let mut all = vec!["rehearse", "--app", app.to_str().unwrap_or_default()];
    all.extend(args);
    let out: Output = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(&all)
        .current_dir(dir)
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The run directory of the only run in `dir`.
fn run_dir(dir: &Path) -> PathBuf {
    let runs = dir.join(".stagegate/runs");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap_or_else(|e| panic!("{}: {e}", runs.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

fn outcome_message(run: &Path) -> String {
    let outbox = run.join("outbox");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&outbox)
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-notifications.txt"))
        .collect();
    assert_eq!(files.len(), 1, "one outcome notification: {files:?}");
    std::fs::read_to_string(files.remove(0)).unwrap_or_default()
}

#[test]
fn the_readme_rehearsal_ends_ready_for_production() {
    let dir = scratch("approve");
    let (code, out, err) = rehearse(&dir, &["--approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("Result: acme/shop rc-0.1.0 is ready for production"),
        "{out}"
    );
    for phase in [
        "▶ Preflight",
        "▶ Pre-Deployment Checks",
        "▶ Wait for Approval",
        "▶ Deploy Infrastructure",
        "▶ Deploy Frontend",
        "▶ Integration Tests",
        "▶ User Acceptance Testing",
        "▶ Mark Release Ready",
        "Timeline",
    ] {
        assert!(out.contains(phase), "missing {phase:?} in\n{out}");
    }
    let run = run_dir(&dir);
    for artifact in [
        "checklist.md",
        "checklist.json",
        "stack-outputs.json",
        "test-report.json",
        "junit.xml",
        "release-notes.md",
        "history.json",
        "outbox/001-approvals.txt",
    ] {
        assert!(
            run.join(artifact).exists(),
            "{artifact} missing in {}",
            run.display()
        );
    }
    let report = std::fs::read_to_string(run.join("test-report.json")).unwrap_or_default();
    for suite in ["auth", "content", "oauth", "ai"] {
        assert!(
            report.contains(&format!("\"suite\": \"{suite}\"")),
            "{suite} did not run: {report}"
        );
    }
    let m = outcome_message(&run);
    assert!(
        m.contains("outcome: success") && m.contains("stage: Ready for Production"),
        "{m}"
    );
    // The five checks really ran in the app directory.
    for check in [
        "eslint",
        "typescript",
        "unit-tests",
        "security-scan",
        "package",
    ] {
        let log =
            std::fs::read_to_string(run.join(format!("logs/{check}.log"))).unwrap_or_default();
        assert!(log.contains("exit: exit status: 0"), "{check}: {log}");
    }
}

#[test]
fn reject_ends_cancelled_and_notified() {
    let dir = scratch("reject");
    let (code, out, _) = rehearse(&dir, &["--reject", "not this week"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("Result: cancelled: rejected"), "{out}");
    assert!(!out.contains("▶ Deploy Infrastructure"), "{out}");
    let m = outcome_message(&run_dir(&dir));
    assert!(
        m.contains("outcome: cancelled") && m.contains("not this week"),
        "{m}"
    );
}

#[test]
fn timeout_ends_cancelled_when_nobody_decides() {
    let dir = scratch("timeout");
    let (code, out, _) = rehearse(&dir, &["--timeout"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Result: cancelled: no decision before the approval timed out"),
        "{out}"
    );
    assert!(outcome_message(&run_dir(&dir)).contains("outcome: cancelled"));
}

#[test]
fn fail_deploy_frontend_fails_at_that_stage() {
    let dir = scratch("frontend");
    let (code, out, _) = rehearse(&dir, &["--approve", "--fail", "deploy-frontend"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Result: failed at Deploy Frontend: AmplifyJobFailed"),
        "{out}"
    );
    let m = outcome_message(&run_dir(&dir));
    assert!(
        m.contains("outcome: failure") && m.contains("stage: Deploy Frontend"),
        "{m}"
    );
}

#[test]
fn fail_integration_tests_reports_the_failing_suite() {
    let dir = scratch("tests");
    let (code, out, _) = rehearse(&dir, &["--approve", "--fail", "integration-tests"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("failed at Integration Tests: IntegrationTestsFailed")
            && out.contains("ai/completion answers"),
        "{out}"
    );
    let junit = std::fs::read_to_string(run_dir(&dir).join("junit.xml")).unwrap_or_default();
    assert!(junit.contains("<failure"), "{junit}");
}

#[test]
fn bad_app_dir_tag_and_stage_are_clear_errors() {
    let dir = scratch("bad");
    let out = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(["rehearse", "--app", "/nonexistent", "--approve"])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("'/nonexistent' is not a directory"));
    let (code, _, err) = rehearse(&dir, &["--tag", "v1.4.0", "--approve"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("tag 'v1.4.0' does not start with 'rc-'"),
        "{err}"
    );
    let (code, _, err) = rehearse(&dir, &["--fail", "deploy", "--approve"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown stage 'deploy'") && err.contains("deploy-frontend"),
        "{err}"
    );
    let (code, _, err) = rehearse(&dir, &["--approve", "--timeout"]);
    assert_eq!(code, 2, "{err}");
    let empty = scratch("not-an-app");
    let out = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args([
            "rehearse",
            "--app",
            empty.to_str().unwrap_or_default(),
            "--approve",
        ])
        .current_dir(&dir)
        .output()
        .expect("runs");
    assert!(String::from_utf8_lossy(&out.stderr).contains("is not a stagegate app"));
}

/// The terminal decides by the page's rules, as the next approver asked: a refused
/// line (approving over a failed check without a reason) is answered, and the next
/// line is read, not lost.
#[test]
fn the_terminal_prompt_follows_the_page_rules_and_keeps_the_next_line() {
    use std::io::Write as _;
    use std::process::Stdio;
    let dir = scratch("prompt");
    let app = example_app();
    let mut child = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args([
            "rehearse",
            "--app",
            app.to_str().unwrap_or_default(),
            "--fail",
            "eslint",
        ])
        .current_dir(&dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // Typed ahead: refused (no reason), then the lead's approval, then the pm's
    // sign-off; and a stray word, refused, on the way.
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(b"approve\nmaybe\napprove lint warnings only, fixed in rc-0.1.1\napprove\n")
        .expect("typed");
    let out = child.wait_with_output().expect("it ends");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    assert!(stdout.contains("! A reason is required"), "{stdout}");
    assert!(
        stdout.contains("? 'maybe' is neither approve nor reject"),
        "{stdout}"
    );
    assert!(
        stdout.contains("✔ lead approves: lint warnings only, fixed in rc-0.1.1"),
        "{stdout}"
    );
    assert!(stdout.contains("✔ pm approves"), "{stdout}");
    assert!(
        stdout.contains("Result: acme/shop rc-0.1.0 is ready for production"),
        "{stdout}"
    );
    // Who decided, how, and why are in the run's output.
    let execution =
        std::fs::read_to_string(run_dir(&dir).join("execution.json")).unwrap_or_default();
    let execution: serde_json::Value = serde_json::from_str(&execution).unwrap_or_default();
    let vote = &execution["output"]["approval"]["votes"][0];
    assert_eq!(vote["approver"], "lead", "{execution}");
    assert_eq!(vote["via"], "terminal");
    assert_eq!(vote["reason"], "lint warnings only, fixed in rc-0.1.1");
    assert_eq!(
        execution["output"]["acceptance"]["votes"][0]["approver"],
        "pm"
    );
}

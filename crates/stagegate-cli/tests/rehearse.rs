//! `stagegate rehearse` end to end: the real binary, the bundled example app, real
//! processes on 127.0.0.1. Each test works in its own scratch directory.

use std::path::{Path, PathBuf};
use std::process::Command;

mod support;
use support::*;

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
        "metrics.jsonl",
        "outbox/001-approvals.txt",
    ] {
        assert!(
            run.join(artifact).exists(),
            "{artifact} missing in {}",
            run.display()
        );
    }
    // What holds links or task tokens is the owner's only.
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    };
    assert_eq!(mode(&run), 0o700, "{}", run.display());
    for secret in ["history.json", "execution.json", "outbox/001-approvals.txt"] {
        assert_eq!(mode(&run.join(secret)), 0o600, "{secret}");
    }
    counted_once(&run, "success");
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
    let run = run_dir(&dir);
    let m = outcome_message(&run);
    assert!(
        m.contains("outcome: cancelled") && m.contains("not this week"),
        "{m}"
    );
    // The run itself ended on the rejection, not merely printed it.
    let execution: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("execution.json")).expect("execution.json"))
            .expect("execution.json is JSON");
    assert_eq!(execution["status"], "FAILED", "{execution}");
    assert_eq!(execution["error"], "Rejected", "{execution}");
}

/// `--slack`: the approval and the sign-off are asked in Slack's stand-in and
/// decided there as Slack sends decisions (button, then the signed form); the run
/// records the votes as from Slack, and the messages end saying so.
#[test]
fn slack_asks_and_decides_through_the_stand_in() {
    let dir = scratch("slack");
    let (code, out, err) = rehearse(&dir, &["--approve", "--slack"]);
    assert_eq!(code, 0, "{out}\n{err}");
    for line in [
        "--slack: approvers are asked in Slack",
        "💬 lead pressed approve in Slack: the decision form opened",
        "✔ lead approves in Slack",
        "💬 lead's message now says: :white_check_mark: Approved by lead (slack).",
        "✔ pm approves in Slack",
        "Result: acme/shop rc-0.1.0 is ready for production",
    ] {
        assert!(out.contains(line), "missing {line:?} in\n{out}");
    }
    let history =
        std::fs::read_to_string(run_dir(&dir).join("history.json")).expect("history.json");
    assert!(
        history.contains(r#"\"via\":\"slack\""#),
        "the votes came from Slack"
    );
    let (code, out, _) = rehearse(&dir, &["--reject", "not this week", "--slack"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Rejected by lead (slack): “not this week”"),
        "{out}"
    );
    assert!(out.contains("Result: cancelled: rejected"), "{out}");
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

/// A stack an earlier rehearsal deployed whose backend no longer starts (here the
/// app's command changed to one that exits) is deployed afresh, and the run fails
/// there naming why; before, a candidate without changes skipped the deploy and
/// failed at Deploy Frontend for want of outputs. Put right, the next run resumes.
#[test]
fn a_deployed_stack_that_no_longer_starts_is_deployed_afresh_and_says_why() {
    let dir = scratch("resume");
    let app = own_app(&dir);
    let (code, out) = rehearse_marked_of(&app, &dir, "resume-0", &["--approve"]);
    assert_eq!(code, 0, "{out}");
    let config = std::fs::read_to_string(app.join("stagegate.json")).expect("the app's file");
    let broken = config.replace("python3 backend/server.py", "false");
    assert_ne!(broken, config, "the example's backend command");
    std::fs::write(app.join("stagegate.json"), broken).expect("written");
    let (code, out) = rehearse_marked_of(&app, &dir, "resume-1", &["--approve"]);
    assert_eq!(code, 1, "{out}");
    for line in [
        "· stack shop-staging, as an earlier rehearsal deployed it, does not start again (the backend exited (exit status: 1)): this run deploys it afresh",
        "Result: failed at Deploy Infrastructure: StackDeployFailed: stack shop-staging ended ROLLBACK_COMPLETE: the backend exited (exit status: 1)",
    ] {
        assert!(out.contains(line), "no {line:?} in\n{out}");
    }
    assert!(!out.contains("no changes: deploy skipped"), "{out}");
    std::fs::write(app.join("stagegate.json"), config).expect("written");
    let (code, out) = rehearse_marked_of(&app, &dir, "resume-2", &["--approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(!out.contains("does not start again"), "{out}");
}

/// Tracked files that differ from the commit run too, and the rehearsal says so
/// rather than name the commit alone; a clean tree is named as its commit.
#[test]
fn uncommitted_changes_are_said_to_run_under_the_commits_name() {
    let dir = scratch("changed");
    let app = own_app(&dir);
    let readme = app.join("README.md");
    let text = std::fs::read_to_string(&readme).expect("the example's README");
    std::fs::write(&readme, format!("{text}\nA local change.\n")).expect("written");
    let (code, out) = rehearse_marked_of(&app, &dir, "changed-1", &["--approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(uncommitted changes on git HEAD "), "{out}");
    assert!(
        out.contains("· tracked files of the app differ from "),
        "{out}"
    );
    git(&app, &["commit", "-q", "-am", "the change"]);
    let (code, out) = rehearse_marked_of(&app, &dir, "changed-2", &["--approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("(git HEAD "), "{out}");
    assert!(!out.contains("uncommitted"), "{out}");
}

/// A backend that writes a lot to stderr (here a megabyte before it starts serving;
/// a backend that logs each request gets there during a suite) is read all along:
/// a pipe nobody read filled at 64 KiB and stopped the backend mid-write.
#[test]
fn a_backend_that_writes_much_to_stderr_keeps_running() {
    let dir = scratch("chatty");
    let app = own_app(&dir);
    let config = std::fs::read_to_string(app.join("stagegate.json")).expect("the app's file");
    let chatty = config.replace(
        "\"python3 backend/server.py\"",
        "\"head -c 1000000 /dev/zero | tr '\\\\0' x >&2; exec python3 backend/server.py\"",
    );
    assert_ne!(chatty, config, "the example's backend command");
    std::fs::write(app.join("stagegate.json"), chatty).expect("written");
    git(&app, &["commit", "-q", "-am", "a chatty backend"]);
    let (code, out) = rehearse_marked_of(&app, &dir, "chatty", &["--approve"]);
    assert_eq!(code, 0, "{out}");
}

/// A rehearsal run again in the same directory, with each stage forced to fail on
/// the later runs: every forced failure fails, whatever the earlier runs left (the
/// second run has no infrastructure change), and each run keeps its own files.
#[test]
fn forced_failures_fail_every_time_in_the_same_directory() {
    let dir = scratch("again");
    let (code, out, _) = rehearse(&dir, &["--approve"]);
    assert_eq!(code, 0, "{out}");
    let (code, out, _) = rehearse(&dir, &["--approve"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("· no changes: deploy skipped"), "{out}");
    for (stage, expect) in [
        (
            "package",
            "Result: failed at Package & Preview: PackageFailed",
        ),
        (
            "validate-infrastructure",
            "Result: failed at Validate Infrastructure: ValidationFailed",
        ),
        (
            "tamper",
            "Result: failed at Validate Infrastructure: ArtifactChanged",
        ),
        (
            "deploy-infrastructure",
            "Result: failed at Deploy Infrastructure: StackDeployFailed",
        ),
        (
            "deploy-frontend",
            "Result: failed at Deploy Frontend: AmplifyJobFailed",
        ),
        (
            "integration-tests",
            "Result: failed at Integration Tests: IntegrationTestsFailed",
        ),
        (
            "performance-tests",
            "Result: failed at Performance Tests: PerformanceBudgetExceeded",
        ),
    ] {
        let (code, out, err) = rehearse(&dir, &["--approve", "--fail", stage]);
        assert_eq!(code, 1, "--fail {stage}:\n{out}\n{err}");
        assert!(out.contains(expect), "--fail {stage}:\n{out}");
    }
    for (stage, check) in [
        ("eslint", "ESLint"),
        ("typescript", "TypeScript"),
        ("unit-tests", "Unit Tests"),
        ("security-scan", "Security Scan"),
    ] {
        // A failed check is recorded and shown; approving over it needs (and has) a
        // reason, and the run goes on.
        let (code, out, _) = rehearse(&dir, &["--approve", "--fail", stage]);
        assert_eq!(code, 0, "--fail {stage}:\n{out}");
        assert!(
            out.contains(&format!("✗ {check} (FAILED)")),
            "--fail {stage}:\n{out}"
        );
        assert!(out.contains("over failed checks"), "{out}");
    }
    let runs = std::fs::read_dir(dir.join(".stagegate/runs"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(runs, 13, "every run keeps its own directory");
}

/// `--fail` may be repeated, and each named stage fails.
#[test]
fn every_repeated_fail_stage_fails() {
    let dir = scratch("twice");
    let (code, out, _) = rehearse(
        &dir,
        &[
            "--approve",
            "--fail",
            "eslint",
            "--fail",
            "typescript",
            "--fail",
            "integration-tests",
        ],
    );
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("✗ ESLint (FAILED)") && out.contains("✗ TypeScript (FAILED)"),
        "{out}"
    );
    assert!(out.contains("Result: failed at Integration Tests"), "{out}");
}

/// However a rehearsal ends, nothing it started is left running.
#[test]
fn no_process_outlives_a_rehearsal() {
    let dir = scratch("orphans");
    for (i, args) in [
        vec!["--approve"],
        vec!["--approve", "--fail", "deploy-frontend"],
        vec!["--reject", "no"],
    ]
    .iter()
    .enumerate()
    {
        let marker = format!("orphans-{}-{i}", std::process::id());
        let out = marked_rehearsal(&dir, &marker, args)
            .output()
            .expect("runs");
        assert!(out.status.code().is_some(), "{args:?}");
        let left = processes_marked(&marker);
        assert!(left.is_empty(), "{args:?} left {left:#?}");
    }
}

/// Ctrl-C stops the run (ABORTED, exit 130), everyone is told, and no process of the
/// rehearsal is left.
#[test]
fn ctrl_c_stops_the_run_notifies_and_leaves_nothing_running() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = scratch("ctrl-c");
    let marker = format!("ctrl-c-{}", std::process::id());
    // A first run deploys, so the second one has a backend running while it waits.
    let out = marked_rehearsal(&dir, &marker, &["--approve"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let mut child = marked_rehearsal(&dir, &marker, &[])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut seen = String::new();
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("or type here") {
            break;
        }
    }
    assert!(
        !processes_marked(&marker).is_empty(),
        "the backend runs while it waits"
    );
    let kill = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    for line in lines {
        seen.push_str(&line.unwrap_or_default());
        seen.push('\n');
    }
    let status = child.wait().expect("it ends");
    assert_eq!(status.code(), Some(130), "{seen}");
    assert!(seen.contains("interrupted (Ctrl-C"), "{seen}");
    assert!(seen.contains("Result: stopped"), "{seen}");
    let runs: Vec<PathBuf> = std::fs::read_dir(dir.join(".stagegate/runs"))
        .expect("runs")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.to_string_lossy().ends_with("-2"))
        .collect();
    let message = outcome_message(&runs[0]);
    assert!(
        message.contains("was stopped before it finished"),
        "{message}"
    );
    let left = processes_marked(&marker);
    assert!(left.is_empty(), "left {left:#?}");
}

/// `--serve` keeps the staged frontend up after the run, until Ctrl-C.
#[test]
fn serve_keeps_staging_up_until_ctrl_c() {
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let dir = scratch("serve");
    let marker = format!("serve-{}", std::process::id());
    let mut child = marked_rehearsal(&dir, &marker, &["--approve", "--serve"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut url = None;
    for line in lines.by_ref() {
        let line = line.unwrap_or_default();
        if let Some(rest) = line.strip_prefix("Serving ") {
            url = rest.split_whitespace().next().map(str::to_string);
            break;
        }
    }
    let url = url.expect("the rehearsal says where it serves");
    let host = url.trim_start_matches("http://").to_string();
    let mut stream = std::net::TcpStream::connect(&host).expect("the site answers");
    use std::io::{Read, Write};
    write!(
        stream,
        "GET /env.json HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_default();
    let mut body = String::new();
    let _ = stream.read_to_string(&mut body);
    assert!(
        body.starts_with("HTTP/1.1 200") && body.contains("API_URL"),
        "{body}"
    );
    Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill");
    for _ in lines {}
    let status = child.wait().expect("it ends");
    assert_eq!(status.code(), Some(0));
    assert!(processes_marked(&marker).is_empty());
}

/// The run counted once in stagegate's metrics (`metrics.jsonl`, the EMF lines the
/// notify function writes on AWS), with `outcome`.
fn counted_once(run: &Path, outcome: &str) {
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap_or_default();
    let runs: Vec<&str> = metrics
        .lines()
        .filter(|l| l.contains("\"Runs\":"))
        .collect();
    assert_eq!(runs.len(), 1, "{metrics}");
    let said = format!("\"Outcome\":\"{outcome}\"");
    assert!(runs[0].contains(&said), "{metrics}");
}

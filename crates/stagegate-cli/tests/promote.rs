//! `stagegate rehearse --promote` end to end: staging, then production through
//! `statemachine/production.asl.json`, on the example app's second local backend and
//! site, decided by its production approvers (sre and cto).

use std::path::{Path, PathBuf};

mod support;
use support::*;

const PROMOTED: &str = "Result: acme/shop v0.1.0 (rc-0.1.0) is promoted to production";

/// The production runs in `dir`, oldest first.
fn production_runs(dir: &Path) -> Vec<PathBuf> {
    let mut runs: Vec<PathBuf> = std::fs::read_dir(dir.join(".stagegate/runs"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("v0.1.0--"))
        })
        .collect();
    runs.sort_by_key(|p| p.to_string_lossy().len());
    runs
}

/// A marked rehearsal of the example app; nothing it started may be left.
fn rehearse_marked(dir: &Path, name: &str, args: &[&str]) -> (i32, String) {
    rehearse_marked_of(&example_app(), dir, name, args)
}

#[test]
fn a_promotion_rehearsed_twice_in_one_directory_promotes_each_time() {
    let dir = scratch("promote");
    for n in 1..=2 {
        let (code, out) =
            rehearse_marked(&dir, &format!("promote-{n}"), &["--approve", "--promote"]);
        assert_eq!(code, 0, "run {n}:\n{out}");
        assert!(out.contains(PROMOTED), "run {n}:\n{out}");
        for line in [
            "▶ Verify Staged Release",
            "(evidence verified)",
            "▶ Wait for Production Approval",
            "sre approves; 1 more approval(s) needed",
            "▶ Check Deployment Window",
            "▶ Smoke Tests",
            "✓ suite auth",
            "▶ Mark Promoted",
            "Production: http://127.0.0.1:",
        ] {
            assert!(out.contains(line), "run {n}: no {line:?} in\n{out}");
        }
        // The soak counts from the first time the commit was ready: only the first
        // run waits for it.
        assert_eq!(out.contains("▶ Wait for Soak"), n == 1, "run {n}:\n{out}");
    }
    let runs = production_runs(&dir);
    assert_eq!(runs.len(), 2, "{runs:?}");
    for run in &runs {
        let execution: serde_json::Value = serde_json::from_slice(
            &std::fs::read(run.join("execution.json")).expect("execution.json"),
        )
        .expect("JSON");
        assert_eq!(execution["status"], "SUCCEEDED", "{execution}");
    }
    // Production's evidence, signed with the rehearsal's key, verifies.
    let name = runs[1]
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(["verify", &name])
        .current_dir(&dir)
        .output()
        .expect("verify runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_freeze_cancels_a_rehearsed_promotion_unless_two_break_the_glass() {
    let dir = scratch("freeze");
    let (code, out) = rehearse_marked(&dir, "freeze", &["--approve", "--promote", "--freeze"]);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("Result: cancelled: deployment frozen"),
        "{out}"
    );
    let production = out.split("Promoting").nth(1).unwrap_or_default();
    assert!(production.contains("▶ Check Deployment Window"), "{out}");
    assert!(
        !production.contains("▶ Deploy Infrastructure"),
        "nothing deployed:\n{out}"
    );
    let (code, out) = rehearse_marked(
        &dir,
        "glass",
        &["--approve", "--promote", "--freeze", "--break-glass"],
    );
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("sre breaks the glass and approves"), "{out}");
    assert!(
        out.contains("· break-glass by sre and cto: frozen"),
        "{out}"
    );
    assert!(out.contains(PROMOTED), "{out}");
}

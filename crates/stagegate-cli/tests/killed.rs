//! A rehearsal killed outright (SIGKILL: no Ctrl-C handler, no drop runs) at a phase,
//! then run again in the same directory: nothing the killed one recorded is lost, and
//! nothing it started is left running once the next one has run.

mod support;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use support::*;

/// Every file under `dir`, with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if let Ok(bytes) = std::fs::read(&p) {
                out.insert(p, bytes);
            }
        }
    }
    out
}

/// Starts a rehearsal with `args`, reads its output until a line holds `at`, and
/// kills it with SIGKILL there. What it printed.
fn kill_at(dir: &Path, marker: &str, args: &[&str], at: &str) -> String {
    let mut child = marked_rehearsal(dir, marker, args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("runs");
    let stdout = child.stdout.take().expect("stdout");
    let mut seen = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.unwrap_or_default();
        seen.push_str(&line);
        seen.push('\n');
        if line.contains(at) {
            let _ = Command::new("kill")
                .args(["-KILL", &child.id().to_string()])
                .status();
            break;
        }
    }
    let _ = child.wait();
    assert!(seen.contains(at), "never reached {at:?}:\n{seen}");
    seen
}

/// The approval records a run kept, as JSON.
fn kept_approvals(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_dir(run.join("approvals"))
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with(".json"))
        .filter_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .collect()
}

#[test]
fn a_rehearsal_killed_at_any_phase_loses_nothing_and_the_next_one_ends_what_it_left() {
    let dir = scratch("killed");
    let marker = format!("killed-{}", std::process::id());
    let runs = dir.join(".stagegate/runs");
    // A first run deploys: from then on a backend runs while a rehearsal does.
    let out = marked_rehearsal(&dir, &marker, &["--approve"])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    for (args, at) in [
        (&["--approve"][..], "▶ Pre-Deployment Checks"),
        (&[][..], "or type here"),
        (&["--approve"][..], "▶ Integration Tests"),
    ] {
        let seen = kill_at(&dir, &marker, args, at);
        let before = files(&runs);
        if at == "▶ Integration Tests" {
            // The decision was recorded before the deploy: it is on disk.
            let run = seen
                .lines()
                .find_map(|l| l.trim().strip_prefix("run: "))
                .map(PathBuf::from)
                .expect("the run's directory is printed");
            let kept = kept_approvals(&run);
            assert!(
                kept.iter().any(|r| r["state"] == "APPROVED"
                    && r["votes"][0]["approver"] == "lead"
                    && r["taskToken"] == ""),
                "{kept:#?}"
            );
        }
        let again = marked_rehearsal(&dir, &marker, &["--approve"])
            .output()
            .expect("runs");
        let said = String::from_utf8_lossy(&again.stdout);
        assert_eq!(
            again.status.code(),
            Some(0),
            "after a kill at {at}:\n{said}"
        );
        if at == "or type here" {
            assert!(said.contains("a killed rehearsal left running"), "{said}");
        }
        let after = files(&runs);
        for (path, bytes) in &before {
            assert_eq!(after.get(path), Some(bytes), "{} changed", path.display());
        }
        let left = processes_marked(&marker);
        assert!(left.is_empty(), "after a kill at {at}, left {left:#?}");
    }
}

//! `stagegate verify` end to end: a rehearsal's signed evidence holds; one byte of
//! one artifact changed is named. (Another key's signature: `LocalSigner`'s and the
//! evidence module's unit tests.)

use std::process::Command;

mod support;
use support::*;

fn verify(dir: &std::path::Path, run: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(["verify", run])
        .current_dir(dir)
        .env_remove("STAGEGATE_ARTIFACTS_BUCKET")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn a_rehearsals_evidence_verifies_until_one_byte_changes() {
    let dir = scratch("verify");
    let (code, out, err) = rehearse(&dir, &["--approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let run = run_dir(&dir);
    let id = run
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        outcome_message(&run).contains(&format!("check it with `stagegate verify {id}`")),
        "the notice names the evidence"
    );
    let (code, text) = verify(&dir, &id);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains(&format!("✔ the evidence of {id} holds")),
        "{text}"
    );
    assert!(text.contains("deployment approved by lead"), "{text}");

    // One byte of the approved package changes after the run.
    let packaged = run.join("packaged.yaml");
    let mut bytes = std::fs::read(&packaged).unwrap_or_default();
    bytes[0] ^= 0x20;
    std::fs::write(&packaged, bytes).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = verify(&dir, &id);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains(&format!("✗ runs/{id}/packaged.yaml: sha256 ")),
        "{text}"
    );

    // Without the rehearsal's key nothing is checked (a new key is never made here),
    // and a run id cannot leave the runs' directory: errors, exit status 2.
    std::fs::remove_file(dir.join(".stagegate/evidence-key.p8")).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = verify(&dir, &id);
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("no evidence key"), "{text}");
    assert!(!dir.join(".stagegate/evidence-key.p8").exists());

    let (code, text) = verify(&dir, "../elsewhere");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a run id"), "{text}");
}

/// What a promotion checks first, from the command line: the commit a ready
/// rehearsal staged verifies; another commit is not staged; evidence changed after
/// the run makes the commit unpromotable, naming the file.
#[test]
fn a_commit_is_promotable_once_staged_and_not_once_its_evidence_changes() {
    let dir = scratch("verify-commit");
    let (code, out, err) = rehearse(&dir, &["--approve"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let run = run_dir(&dir);
    let staged: serde_json::Value = std::fs::read_dir(dir.join(".stagegate/staged"))
        .into_iter()
        .flatten()
        .flatten()
        .find_map(|e| serde_json::from_slice(&std::fs::read(e.path()).ok()?).ok())
        .expect("the ready run recorded its commit as staged");
    let commit = staged["commit"].as_str().unwrap_or_default().to_string();
    assert!(
        outcome_message(&run).contains(&format!("`stagegate verify --commit {commit}`")),
        "the notice says how to check it"
    );
    let (code, text) = verify(&dir, &format!("--commit={commit}"));
    assert_eq!(code, 0, "{text}");
    assert!(text.contains(&format!("✔ {commit} is staged")), "{text}");

    let other = "f".repeat(40);
    let (code, text) = verify(&dir, &format!("--commit={other}"));
    assert_eq!(code, 1, "{text}");
    assert!(text.contains("cannot be promoted (NotStaged)"), "{text}");

    let evidence = run.join("evidence.json");
    let mut bytes = std::fs::read(&evidence).unwrap_or_default();
    bytes.push(b'\n');
    std::fs::write(&evidence, bytes).unwrap_or_else(|e| panic!("{e}"));
    let (code, text) = verify(&dir, &format!("--commit={commit}"));
    assert_eq!(code, 1, "{text}");
    assert!(
        text.contains("cannot be promoted (EvidenceInvalid)"),
        "{text}"
    );
    assert!(text.contains("evidence.json: sha256"), "{text}");

    let (code, text) = verify(&dir, "--commit=not-a-commit");
    assert_eq!(code, 2, "{text}");
    assert!(text.contains("is not a commit id"), "{text}");
}

/// Two rehearsals started together in one fresh directory take turns: the second
/// waits for the first (and says so), so both sign with the one evidence key the
/// first made. (Before, each made a key and the later overwrote the earlier: one of
/// the two runs' evidence no longer verified.)
#[test]
fn two_rehearsals_at_once_in_one_directory_take_turns_and_both_verify() {
    let dir = scratch("together");
    let first = marked_rehearsal(
        &dir,
        &format!("together-1-{}", std::process::id()),
        &["--approve"],
    )
    .stdout(std::process::Stdio::piped())
    .spawn()
    .expect("the binary runs");
    // The first holds the directory once its run directory exists.
    let runs = dir.join(".stagegate/runs");
    for _ in 0..200 {
        if std::fs::read_dir(&runs).is_ok_and(|mut d| d.next().is_some()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let second = marked_rehearsal(
        &dir,
        &format!("together-2-{}", std::process::id()),
        &["--approve"],
    )
    .output()
    .expect("the binary runs");
    let first = first.wait_with_output().expect("the first ends");
    for (out, waited) in [(&first, false), (&second, true)] {
        let text = String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(0), "{text}");
        assert_eq!(
            text.contains("Another rehearsal is running in this directory: waiting for it to end"),
            waited,
            "{text}"
        );
    }
    let mut ids: Vec<String> = std::fs::read_dir(&runs)
        .expect("runs")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    ids.sort();
    assert_eq!(ids.len(), 2, "{ids:?}");
    for id in &ids {
        let (code, text) = verify(&dir, id);
        assert_eq!(code, 0, "{id}: {text}");
    }
}

//! What the end-to-end tests of the binary share: the example app, a scratch
//! directory per test, a rehearsal run, and where its run landed. (Each test crate
//! uses some of these.)
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn example_app() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop")
}

/// A test's scratch directory: removed when the test passes, kept (and named in the
/// panic output) when it fails, for a look at the run it holds.
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for Scratch {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("kept for inspection: {}", self.0.display());
        } else {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

pub fn scratch(name: &str) -> Scratch {
    let dir =
        std::env::temp_dir().join(format!("stagegate-rehearse-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    Scratch(dir)
}

pub fn rehearse(dir: &Path, args: &[&str]) -> (i32, String, String) {
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
pub fn run_dir(dir: &Path) -> PathBuf {
    let runs = dir.join(".stagegate/runs");
    let mut entries: Vec<PathBuf> = std::fs::read_dir(&runs)
        .unwrap_or_else(|e| panic!("{}: {e}", runs.display()))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    entries.remove(0)
}

pub fn outcome_message(run: &Path) -> String {
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

/// Processes whose environment carries `marker` (every child of a rehearsal inherits
/// it): what a rehearsal left running.
pub fn processes_marked(marker: &str) -> Vec<String> {
    let needle = format!("STAGEGATE_TEST_MARK={marker}");
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .chars()
                .all(|c| c.is_ascii_digit())
        })
        .filter_map(|e| {
            let env = std::fs::read(e.path().join("environ")).ok()?;
            let env = String::from_utf8_lossy(&env);
            env.split('\0').any(|v| v == needle).then(|| {
                std::fs::read_to_string(e.path().join("cmdline"))
                    .unwrap_or_default()
                    .replace('\0', " ")
            })
        })
        .collect()
}

pub fn marked_rehearsal(dir: &Path, marker: &str, args: &[&str]) -> Command {
    marked_rehearsal_of(&example_app(), dir, marker, args)
}

/// A marked rehearsal of `app`'s exit code and output (stdout, then stderr);
/// nothing it started may be left.
pub fn rehearse_marked_of(app: &Path, dir: &Path, name: &str, args: &[&str]) -> (i32, String) {
    let marker = format!("{name}-{}", std::process::id());
    let out = marked_rehearsal_of(app, dir, &marker, args)
        .output()
        .expect("runs");
    let left = processes_marked(&marker);
    assert!(left.is_empty(), "{args:?} left {left:#?}");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        text + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `stagegate rehearse --app app ARGS` in `dir`, its processes marked `marker`.
pub fn marked_rehearsal_of(app: &Path, dir: &Path, marker: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagegate"));
    cmd.args(["rehearse", "--app", app.to_str().unwrap_or_default()])
        .args(args)
        .current_dir(dir)
        .env("STAGEGATE_TEST_MARK", marker);
    cmd
}

/// `git ARGS` in `app`, as ana; it must succeed.
pub fn git(app: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(args)
        .current_dir(app)
        .env("GIT_AUTHOR_NAME", "ana")
        .env("GIT_AUTHOR_EMAIL", "ana@example.test")
        .env("GIT_COMMITTER_NAME", "ana")
        .env("GIT_COMMITTER_EMAIL", "ana@example.test")
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The example app copied into `dir/app`, as a git repository of its own with one
/// commit.
pub fn own_app(dir: &Path) -> PathBuf {
    let app = dir.join("app");
    let copied = Command::new("cp")
        .arg("-r")
        .arg(example_app())
        .arg(&app)
        .status()
        .expect("cp runs");
    assert!(copied.success());
    let _ = std::fs::remove_dir_all(app.join(".stagegate"));
    git(&app, &["init", "-q"]);
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-q", "-m", "first release"]);
    app
}

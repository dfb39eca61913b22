//! `cargo xtask test [ARGS]`: the README's test command. On a fresh machine with the
//! Rust toolchain, `python3` and `git` (and root for Debian's packages, as CI has),
//! it sets up what the end-to-end tests run against, then runs every test:
//!
//! 1. moto's server (a real implementation of the AWS APIs) in a virtualenv under
//!    `target/tools/python`, at the version the tests are written against;
//! 2. Debian's `chromium` and `chromium-driver` for the browser test, if missing;
//!    and axe-core (npm, at [`AXE_VERSION`]) under `target/tools/node`, the
//!    accessibility check the browser test runs in the review page;
//! 3. `cargo test --workspace --locked --all-features ARGS`, with the virtualenv first
//!    on `PATH`.
//!
//! A tool that cannot be set up stops it with what to do: no test is ever skipped for
//! a missing tool. Dependency-free, so it builds in seconds.

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// The moto version the tests are written against (`crates/testkit`'s `MOTO_VERSION`
/// must say the same; a test checks).
const MOTO_VERSION: &str = "5.2.6";

/// The axe-core version the browser test runs (its rules decide what is serious).
const AXE_VERSION: &str = "4.14.1";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args.first().map(String::as_str) {
        Some("test") => test(&args[1..]),
        Some("setup") => setup().map(|_| ()),
        _ => Err("usage: cargo xtask test [cargo test args]   (or: cargo xtask setup)".to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The workspace root (this crate's parent).
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// Sets up the tools, then runs every test with them on `PATH`.
fn test(extra: &[String]) -> Result<(), String> {
    let tools = setup()?;
    let path = std::env::var_os("PATH").unwrap_or_default();
    let mut paths = vec![tools];
    paths.extend(std::env::split_paths(&path));
    let path = std::env::join_paths(paths).map_err(|e| format!("PATH: {e}"))?;
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["test", "--workspace", "--locked", "--all-features"])
        .args(extra)
        .current_dir(root())
        .env("PATH", path);
    run(&mut cmd, "the tests")
}

/// moto in the virtualenv, Chromium from Debian: the directory holding moto's server.
fn setup() -> Result<PathBuf, String> {
    let bin = moto()?;
    chromium()?;
    axe()?;
    Ok(bin)
}

/// moto's server at [`MOTO_VERSION`] in `target/tools/python`; its `bin` directory.
fn moto() -> Result<PathBuf, String> {
    let venv = root().join("target/tools/python");
    let bin = venv.join("bin");
    let stamp = venv.join(format!("moto-{MOTO_VERSION}"));
    if stamp.exists() && bin.join("moto_server").exists() {
        return Ok(bin);
    }
    eprintln!(
        "xtask: installing moto[server]=={MOTO_VERSION} in {}",
        venv.display()
    );
    let python = ["python3", "python"]
        .into_iter()
        .find(|p| works(Command::new(p).arg("--version")))
        .ok_or("no python3 on PATH: install Python 3 (moto's server runs on it)")?;
    run(
        Command::new(python).args(["-m", "venv"]).arg(&venv),
        "creating the virtualenv (on Debian: apt-get install python3-venv)",
    )?;
    run(
        Command::new(bin.join("python")).args([
            "-m",
            "pip",
            "install",
            "--quiet",
            "--disable-pip-version-check",
            &format!("moto[server]=={MOTO_VERSION}"),
        ]),
        "installing moto",
    )?;
    std::fs::write(&stamp, MOTO_VERSION).map_err(|e| format!("{}: {e}", stamp.display()))?;
    Ok(bin)
}

/// Debian's `chromium` and `chromium-driver`, installed when either is missing.
fn chromium() -> Result<(), String> {
    let present = |tool: &str| works(Command::new(tool).arg("--version"));
    if present("chromium") && present("chromedriver") {
        return Ok(());
    }
    eprintln!("xtask: installing Debian's chromium and chromium-driver (the browser test)");
    let apt = |args: &[&str]| {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        cmd
    };
    run(&mut apt(&["update", "-qq"]), "apt-get update (needs root)")?;
    run(
        &mut apt(&["install", "-y", "-qq", "chromium", "chromium-driver"]),
        "installing chromium and chromium-driver (needs root)",
    )?;
    if present("chromium") && present("chromedriver") {
        Ok(())
    } else {
        Err("chromium or chromedriver is still missing after installing them".into())
    }
}

/// axe-core at [`AXE_VERSION`] in `target/tools/node/node_modules/axe-core`.
fn axe() -> Result<(), String> {
    let dir = root().join("target/tools/node");
    let stamp = dir.join(format!("axe-core-{AXE_VERSION}"));
    if stamp.exists() && dir.join("node_modules/axe-core/axe.min.js").exists() {
        return Ok(());
    }
    eprintln!(
        "xtask: installing axe-core@{AXE_VERSION} in {}",
        dir.display()
    );
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    run(
        Command::new("npm")
            .args(["install", "--silent", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .arg(format!("axe-core@{AXE_VERSION}")),
        "installing axe-core with npm (install Node.js and npm)",
    )?;
    std::fs::write(&stamp, AXE_VERSION).map_err(|e| format!("{}: {e}", stamp.display()))
}

/// Whether `cmd` runs and succeeds (its output unshown).
fn works(cmd: &mut Command) -> bool {
    cmd.stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn run(cmd: &mut Command, what: &str) -> Result<(), String> {
    let status = cmd.status().map_err(|e| format!("{what}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{what} failed ({status})"))
    }
}

#[cfg(test)]
mod tests {
    /// The moto the tests are written against is the moto this installs.
    #[test]
    fn installs_the_moto_version_the_tests_expect() {
        let testkit = include_str!("../../crates/testkit/src/lib.rs");
        let expected = format!(
            "pub const MOTO_VERSION: &str = \"{}\";",
            super::MOTO_VERSION
        );
        assert!(
            testkit.contains(&expected),
            "testkit does not say {expected}"
        );
    }
}

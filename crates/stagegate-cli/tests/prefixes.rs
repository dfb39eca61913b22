//! `start`, `promote` and `rollback` read the deployment's tag prefixes one way: the
//! flag, else the operator's `STAGEGATE_TAG_PREFIX` / `STAGEGATE_PRODUCTION_TAG_PREFIX`,
//! else the defaults (`rc-`, `v`). Each is refused or let through before any AWS call
//! (nothing listens where the SDK would go), in Cargo's scratch folder for tests
//! (no `samconfig.toml` there).

use std::process::Command;

const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

/// `stagegate args…` with `env` set and neither prefix inherited: its exit code and
/// standard error.
fn stagegate(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stagegate"));
    cmd.args(args)
        .current_dir(env!("CARGO_TARGET_TMPDIR"))
        .env_remove("STAGEGATE_TAG_PREFIX")
        .env_remove("STAGEGATE_PRODUCTION_TAG_PREFIX")
        .env_remove("STAGEGATE_STATE_MACHINE_ARN")
        .env_remove("STAGEGATE_PRODUCTION_STATE_MACHINE_ARN")
        .env_remove("STAGEGATE_ARTIFACTS_BUCKET")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn start_and_promote_take_the_candidates_prefix_from_the_environment() {
    let start = [
        "start",
        "--tag",
        "release-1.4.0",
        "--sha",
        SHA,
        "--repository",
        "acme/shop",
    ];
    let promote = [
        "promote",
        "release-1.4.0",
        "--as",
        "v1.4.0",
        "--sha",
        SHA,
        "--repository",
        "acme/shop",
    ];
    // start takes its tag as promote does, too.
    let positional = [
        "start",
        "release-1.4.0",
        "--sha",
        SHA,
        "--repository",
        "acme/shop",
    ];
    for args in [&start[..], &positional[..], &promote[..]] {
        let (code, err) = stagegate(args, &[]);
        assert_eq!(code, 2, "{err}");
        assert!(
            err.contains("tag 'release-1.4.0' does not start with 'rc-'"),
            "{err}"
        );
        // With the deployment's prefix named, the tag passes; what stops it next is
        // that no state machine is named.
        let (code, err) = stagegate(args, &[("STAGEGATE_TAG_PREFIX", "release-")]);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("StateMachineArn"), "{err}");
        assert!(!err.contains("does not start with"), "{err}");
    }
    // The flag wins over the environment.
    let mut flagged = promote.to_vec();
    flagged.extend(["--tag-prefix", "rc-"]);
    let (_, err) = stagegate(&flagged, &[("STAGEGATE_TAG_PREFIX", "release-")]);
    assert!(err.contains("does not start with 'rc-'"), "{err}");
}

#[test]
fn promote_and_rollback_take_the_production_prefix_from_the_environment() {
    let production = [("STAGEGATE_PRODUCTION_TAG_PREFIX", "prod-")];
    let promote = [
        "promote",
        "rc-1.4.0",
        "--as",
        "prod-1.4.0",
        "--sha",
        SHA,
        "--repository",
        "acme/shop",
    ];
    let (_, err) = stagegate(&promote, &[]);
    assert!(
        err.contains("tag 'prod-1.4.0' does not start with 'v'"),
        "{err}"
    );
    let (_, err) = stagegate(&promote, &production);
    assert!(err.contains("ProductionStateMachineArn"), "{err}");
    let rollback = [
        "rollback",
        "production",
        "--to",
        "v1.3.0",
        "--production-state-machine",
        "arn:p",
    ];
    let (code, err) = stagegate(&rollback, &production);
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("production's releases are tagged prod-"),
        "{err}"
    );
    // Under the default prefix the tag is production's: what stops it is the bucket.
    let (_, err) = stagegate(&rollback, &[]);
    assert!(err.contains("ArtifactsBucketName"), "{err}");
}

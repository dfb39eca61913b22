//! `stagegate rehearse --fail bake` end to end: a release whose backend stops
//! answering while it bakes trips its local health alarm and is rolled back to the
//! release that went live before it (the previous commit of the app's own git
//! repository), twice in one directory, leaving no process behind; and a bake that
//! cannot be rolled back leaves a release `--fail bake` still breaks the next time.

mod support;
use support::*;

#[test]
fn a_release_that_fails_its_bake_is_rolled_back_to_the_previous_one_twice_in_a_row() {
    let dir = scratch("bake");
    let app = own_app(&dir);
    let (code, out) = rehearse_marked_of(&app, &dir, "bake-0", &["--approve", "--tag", "rc-0.1.0"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("▶ Bake"), "{out}");
    std::fs::write(app.join("CHANGELOG.md"), "0.2.0: a change\n").expect("a change");
    git(&app, &["add", "-A"]);
    git(&app, &["commit", "-q", "-m", "second release"]);
    for n in 1..=2 {
        let args = ["--approve", "--tag", "rc-0.2.0", "--fail", "bake"];
        let (code, out) = rehearse_marked_of(&app, &dir, &format!("bake-{n}"), &args);
        assert_eq!(code, 1, "run {n}:\n{out}");
        for line in [
            "--fail bake: the backend stops answering while it bakes",
            "▶ Roll Back",
            "Result: rolled back (BakeFailed: ",
            "alarm shop-staging-health",
            "rc-0.1.0 is live again",
        ] {
            assert!(out.contains(line), "run {n}: no {line:?} in\n{out}");
        }
        // The stack is the previous release's again (without the candidate's fault
        // resource), and its backend was started again to get there.
        let stack = dir.join(".stagegate/stacks/shop-staging/template.json");
        let template = std::fs::read_to_string(&stack).unwrap_or_default();
        assert!(
            !template.is_empty() && !template.contains("RehearsalBakeFault"),
            "{template}"
        );
    }
}

#[test]
fn fail_bake_breaks_the_bake_again_where_an_earlier_one_could_not_be_rolled_back() {
    let dir = scratch("bake-stuck");
    let app = own_app(&dir);
    // Nothing was live before: each bake fails and its rollback is refused, so the
    // faulty release stays deployed; the next run's candidate must still deploy (and
    // break) rather than find "no changes" and skip to a bake that passes.
    for n in 1..=2 {
        let args = ["--approve", "--tag", "rc-0.1.0", "--fail", "bake"];
        let (code, out) = rehearse_marked_of(&app, &dir, &format!("stuck-{n}"), &args);
        assert_eq!(code, 1, "run {n}:\n{out}");
        assert!(
            !out.contains("no changes: deploy skipped"),
            "run {n}:\n{out}"
        );
        for line in [
            "▶ Roll Back",
            "RollbackFailed: BakeFailed: ",
            "alarm shop-staging-health",
        ] {
            assert!(out.contains(line), "run {n}: no {line:?} in\n{out}");
        }
    }
}

//! Each kind of approval email, word for word: golden files in
//! `tests/golden/approval-email/` (`STAGEGATE_BLESS=1 cargo test -p stagegate emails`
//! rewrites them, to be reviewed in the diff like code). The personal link id is
//! random: it shows as `<link>`.

use super::*;
use crate::flow::ChangeSummary;

/// A preview of a computed change set (the counts are the checklist's).
fn preview() -> Option<crate::flow::Preview> {
    let p = json!({"changeSetId": "cs-1", "stackName": "shop-staging", "status": "READY", "attempt": 1});
    Some(serde_json::from_value(p).unwrap_or_else(|e| panic!("{e}")))
}

/// The cases: name, the request, how many approvals it needs.
fn cases() -> Vec<(&'static str, Input, u32)> {
    let world = World::new(Settings::default());
    let mut deployment = world.input(&[]);
    if let Some(cl) = deployment.checklist.as_mut() {
        cl.preview = preview();
        cl.changes = ChangeSummary {
            adds: 2,
            modifies: 1,
            ..Default::default()
        };
    }
    let mut failed = world.input(&["eslint", "typescript"]);
    if let Some(cl) = failed.checklist.as_mut() {
        cl.preview = preview();
        cl.changes = ChangeSummary {
            modifies: 1,
            removes: 1,
            replacements: 1,
            ..Default::default()
        };
    }
    let mut production = deployment.clone();
    production.kind = ApprovalKind::Production;
    production.preflight.candidate.tag = "v1.4.0".into();
    let mut rollback = deployment.clone();
    rollback.preflight.candidate.tag = "rc-1.3.0".into();
    rollback.preflight.candidate.rollback = true;
    let mut acceptance = world.input(&[]);
    acceptance.kind = ApprovalKind::Acceptance;
    acceptance.checklist = None;
    acceptance.frontend_url = Some("https://staging.example.test".into());
    vec![
        ("deployment", deployment, 1),
        ("deployment-failed-checks", failed, 1),
        ("production", production, 2),
        ("rollback", rollback, 1),
        ("acceptance", acceptance, 1),
    ]
}

/// bob's email of `input`, its link id masked.
async fn email_to_bob(input: Input, required: u32) -> Message {
    let mut bob = approver("bob", Some("bob-gh"));
    bob.decides.push(ApprovalKind::Production);
    let mut erin = approver("erin", None);
    erin.decides.push(ApprovalKind::Production);
    let settings = Settings {
        required_approvals: required,
        ..Settings::default()
    };
    let world = World::with(settings, vec![bob, erin]);
    world
        .step()
        .run(input)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let (_, mut m) = world
        .notifier
        .messages()
        .into_iter()
        .find(|(_, m)| m.attributes.get("approver").map(String::as_str) == Some("bob"))
        .unwrap_or_else(|| panic!("no email to bob"));
    if let Some(at) = m.body.find("/approvals/").map(|i| i + "/approvals/".len()) {
        m.body
            .replace_range(at..(at + 43).min(m.body.len()), "<link>");
    }
    m
}

#[tokio::test]
async fn every_approval_email_matches_its_golden_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/approval-email");
    for (name, input, required) in cases() {
        let m = email_to_bob(input, required).await;
        let got = format!("subject: {}\n\n{}", m.subject, m.body);
        if let Err(e) = crate::testing::golden(&dir.join(format!("{name}.txt")), &got) {
            panic!("{name}: the email changed: {e}");
        }
    }
}

#[tokio::test]
async fn the_email_says_enough_to_decide_whether_to_open_it() {
    let (_, input, required) = cases().remove(1);
    let m = email_to_bob(input, required).await;
    for part in [
        "ana wants to deploy rc-1.4.0 of acme/shop to staging.",
        "Checks:  FAILED: eslint, typescript (approving needs a written reason)",
        "Changes: 0 to add, 1 to modify, 1 to remove; 1 replacement",
        "Expires: in 24 h — ",
        "(1 approval needed)",
    ] {
        assert!(m.body.contains(part), "{part:?} not in\n{}", m.body);
    }
    // The summary comes before the link: enough to decide whether to open it.
    let link = m.body.find("Review and decide:").unwrap_or_default();
    assert!(
        m.body.find("Changes:").is_some_and(|c| c < link),
        "{}",
        m.body
    );
}

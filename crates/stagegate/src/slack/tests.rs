//! Every Slack message and modal stagegate sends, block for block: golden files in
//! `tests/golden/slack/` (`STAGEGATE_BLESS=1 cargo test -p stagegate --lib slack`
//! rewrites them, to be reviewed in the diff like code).

use super::blocks::{decision_modal, message, refusal_modal};
use super::*;
use crate::desk::Refusal;
use crate::ports::{ApprovalKind, ApprovalState, Vote};
use crate::testing::*;
use chrono::Duration;
use serde_json::Value;

fn summarised(mut r: ApprovalRecord) -> ApprovalRecord {
    r.summary = vec![
        (
            "Request".into(),
            "ana wants to deploy rc-1.4.0 of acme/shop to staging".into(),
        ),
        ("Commit".into(), SHA.into()),
        (
            "Checks".into(),
            "FAILED: eslint (approving needs a written reason)".into(),
        ),
        (
            "Changes".into(),
            "2 to add, 1 to modify, 0 to remove; 1 replacement".into(),
        ),
        (
            "Expires".into(),
            "in 24 h — Fri 2 Jan, 09:00 UTC (2 approvals needed)".into(),
        ),
    ];
    r.failed_checks = vec!["eslint".into()];
    r.required_approvals = 2;
    r
}

fn vote(approver: &str, via: &str, approve: bool, reason: Option<&str>) -> Vote {
    Vote {
        via: via.into(),
        reason: reason.map(str::to_string),
        ..crate::testing::vote(approver, approve)
    }
}

/// name → what is sent.
fn cases() -> Vec<(&'static str, Value)> {
    let pending = summarised(pending_record("a1", "rc-1.4.0", "t"));
    let mut one_vote = pending.clone();
    one_vote.votes.push(vote(
        "carol",
        "email link",
        true,
        Some("checked the lint by hand"),
    ));
    let mut approved = one_vote.clone();
    approved
        .votes
        .push(vote("bob", "slack", true, Some("fine")));
    approved.state = ApprovalState::Approved;
    let mut rejected = pending.clone();
    rejected.votes.push(vote(
        "bob",
        "slack",
        false,
        Some("the replacement drops the <!channel> table"),
    ));
    rejected.state = ApprovalState::Rejected;
    let mut superseded = pending.clone();
    superseded.state = ApprovalState::Superseded;
    let mut production = pending.clone();
    production.kind = ApprovalKind::Production;
    let bob = pending.approvers[0].clone();
    let later = now() + Duration::hours(25);
    vec![
        ("pending", message(&pending, "bob", now()).1),
        ("pending-one-of-two", message(&one_vote, "bob", now()).1),
        ("approved", message(&approved, "bob", now()).1),
        ("rejected", message(&rejected, "bob", now()).1),
        ("superseded", message(&superseded, "bob", now()).1),
        ("expired", message(&pending, "bob", later).1),
        ("production-pending", message(&production, "bob", now()).1),
        (
            "modal-approve-over-failed-checks",
            decision_modal(&pending, &bob, true),
        ),
        ("modal-reject", decision_modal(&pending, &bob, false)),
        ("modal-refused-pusher", {
            let r = Refusal::PusherMayNotApprove {
                pusher: "bob".into(),
            };
            refusal_modal(r.title(), &r.detail())
        }),
    ]
}

#[test]
fn every_slack_message_and_modal_matches_its_golden_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/slack");
    for (name, blocks) in cases() {
        let got = serde_json::to_string_pretty(&blocks).unwrap_or_default() + "\n";
        if let Err(e) = golden(&dir.join(format!("{name}.json")), &got) {
            panic!("{name}: changed: {e}");
        }
    }
}

#[test]
fn the_message_says_what_the_email_says_and_text_cannot_mention_or_link() {
    let r = summarised(pending_record("a1", "rc-1.4.0", "t"));
    let (text, blocks) = message(&r, "bob", now());
    assert!(text.starts_with("Approve rc-1.4.0 of acme/shop for staging?"));
    let all = blocks.to_string();
    for fact in [
        "ana wants to deploy",
        "FAILED: eslint",
        "1 replacement",
        "in 24 h",
    ] {
        assert!(all.contains(fact), "{fact}: {all}");
    }
    let mut rejected = r.clone();
    rejected.state = ApprovalState::Rejected;
    rejected.votes.push(vote(
        "bob",
        "slack",
        false,
        Some("<!channel> see <https://evil.example|here>"),
    ));
    let all = message(&rejected, "bob", now()).1.to_string();
    assert!(
        !all.contains("<!channel>") && !all.contains("<https://"),
        "{all}"
    );
    assert!(all.contains("&lt;!channel&gt;"));
}

#[test]
fn long_text_is_cut_to_slacks_limits() {
    let mut r = pending_record("a1", "rc-1.4.0", "t");
    r.repository = "acme/".to_string() + &"x".repeat(300);
    r.summary = vec![("Request".into(), "y".repeat(5000))];
    let (_, blocks) = message(&r, "bob", now());
    assert!(blocks[0]["text"]["text"].as_str().unwrap().chars().count() <= 150);
    assert!(
        blocks[1]["fields"][0]["text"]
            .as_str()
            .unwrap()
            .chars()
            .count()
            <= 2000
    );
}

#[tokio::test]
async fn sync_updates_only_messages_that_show_something_else_and_records_it() {
    let table = MemoryTable::default();
    let chat = MemoryChat::new(SIGNING_SECRET);
    let mut r = summarised(pending_record("a1", "rc-1.4.0", "t"));
    r.chat = ["bob", "carol"]
        .iter()
        .map(|a| crate::ports::ChatMessage {
            approver: a.to_string(),
            channel: format!("D{a}"),
            ts: "1.0".into(),
            shows: "pending".into(),
        })
        .collect();
    table.create(&r, &[]).await.unwrap();
    assert_eq!(
        sync(&table, &chat, &r, now()).await.unwrap(),
        Synced::default()
    );
    let mut decided = r.clone();
    decided.revision = 1;
    decided.state = ApprovalState::Approved;
    decided.votes.push(vote("bob", "email link", true, None));
    decided.chat[1].shows = "approved".into();
    assert_eq!(
        table.update(&r, &decided).await.unwrap(),
        crate::ports::Update::Done
    );
    let done = sync(&table, &chat, &decided, now()).await.unwrap();
    assert_eq!(
        done,
        Synced {
            updated: 1,
            failed: 0
        }
    );
    let stored = table.records().pop().unwrap();
    assert!(stored.chat.iter().all(|m| m.shows == "approved"));
    assert!(!stored.chat_due());
}

/// A message Slack refuses to update (deleted, the member gone) is given up, not
/// asked about every five minutes forever; the others are updated.
#[tokio::test]
async fn a_message_slack_refuses_to_update_is_given_up() {
    let table = MemoryTable::default();
    let chat = MemoryChat::new(SIGNING_SECRET);
    chat.unreachable("U0BOB");
    let mut r = summarised(pending_record("a1", "rc-1.4.0", "t"));
    r.chat = ["U0BOB", "U0CAROL"]
        .iter()
        .map(|m| crate::ports::ChatMessage {
            approver: m.to_lowercase(),
            channel: format!("D{m}"),
            ts: "1.0".into(),
            shows: "pending".into(),
        })
        .collect();
    r.state = ApprovalState::Rejected;
    r.votes.push(vote("carol", "email link", false, Some("no")));
    table.create(&r, &[]).await.unwrap();
    let done = sync(&table, &chat, &r, now()).await.unwrap();
    assert_eq!(
        done,
        Synced {
            updated: 1,
            failed: 1
        }
    );
    let stored = table.records().pop().unwrap();
    assert!(!stored.chat_due(), "{:?}", stored.chat);
}

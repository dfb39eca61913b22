//! Asking in Slack as well as by email: only with Slack configured, only approvers
//! with a Slack id, and a message that cannot be posted never fails the request (the
//! email went out; retrying would ask everyone twice).

use super::*;
use crate::testing::{slack_approvers, slack_settings, ChatCall};

fn posts(w: &World) -> Vec<String> {
    w.chat
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            ChatCall::Post { channel, .. } => Some(channel),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn without_slack_configured_nobody_is_asked_there_even_with_an_id() {
    let w = World::with(Settings::default(), slack_approvers());
    let out = w.step().run(w.input(&[])).await.unwrap();
    assert!(posts(&w).is_empty());
    assert!(out.slack.is_empty() && w.record().chat.is_empty());
    assert_eq!(w.notifier.messages().len(), 3, "everyone is emailed");
}

#[tokio::test]
async fn a_message_that_cannot_be_posted_is_reported_and_the_rest_go_out() {
    let w = World::with(slack_settings("https://slack.test/api"), slack_approvers());
    w.chat.unreachable("U0BOB");
    let out = w.step().run(w.input(&[])).await.unwrap();
    assert_eq!(posts(&w), ["U0CAROL"]);
    assert_eq!(out.slack, ["carol"]);
    assert_eq!(out.slack_failures.len(), 1);
    assert!(
        out.slack_failures[0].starts_with("bob: ")
            && out.slack_failures[0].contains("channel_not_found")
    );
    assert_eq!(w.notifier.messages().len(), 3, "bob still has his email");
    let record = w.record();
    assert_eq!(record.chat.len(), 1);
    assert_eq!(record.summary[0].0, "Request");
    assert!(record
        .summary
        .iter()
        .any(|(l, v)| l == "Expires" && v.starts_with("in 24 h")));
}

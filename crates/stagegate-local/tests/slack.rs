//! The Slack route over real HTTP on 127.0.0.1: stagegate's Web API client against
//! the stand-in (request shapes as Slack documents them), and the interactivity
//! endpoint served as on a Function URL, receiving what the stand-in sends as Slack.

use serde_json::Value;
use stagegate::desk::{Decider, Desk, Form};
use stagegate::ports::SystemClock;
use stagegate::ports::{ApprovalKind, ApprovalRecord, ApprovalState};
use stagegate::step::Step;
use stagegate::steps::reconcile_approvals::{ReconcileApprovals, Tick};
use stagegate::steps::request_approval::{Input, RequestApproval};
use stagegate::steps::slack_interactivity::SlackInteractivity;
use stagegate::testing::*;
use stagegate_local::server;
use stagegate_local::slack::SlackStandIn;
use stagegate_local::world::LocalSlack;
use std::sync::Arc;

const TOKEN: &str = "xoxb-local-standin";

struct Route {
    slack: SlackStandIn,
    table: MemoryTable,
    runs: MemoryRuns,
    url: String,
    approval: String,
    _endpoint: tokio::task::JoinHandle<()>,
}

impl Route {
    /// An approval of rc-1.4.0 pushed by `pusher`, asked in Slack of bob and carol.
    async fn asked(pusher: &str) -> Route {
        let slack = SlackStandIn::start(0, TEAM, TOKEN, SIGNING_SECRET)
            .await
            .unwrap();
        let settings = slack_settings(&slack.api_url());
        let chat: LocalSlack = stagegate_https::Slack::new(
            stagegate_https::HttpsClient::new(),
            &slack.api_url(),
            slack.app_secret(),
        );
        let table = MemoryTable::with_approvers(slack_approvers());
        let runs = MemoryRuns::default();
        let mut run = run_info();
        run.candidate.pusher = Some(github_pusher(pusher));
        let out = RequestApproval {
            settings: settings.clone(),
            store: table.clone(),
            notifier: MemoryNotifier::default(),
            chat: Some(chat.clone()),
            clock: SystemClock,
        }
        .run(Input {
            token: "tok-1".into(),
            kind: ApprovalKind::Deployment,
            preflight: run,
            checklist: Some(checklist_output()),
            frontend_url: None,
        })
        .await
        .unwrap();
        let endpoint = SlackInteractivity {
            settings,
            store: table.clone(),
            runs: runs.clone(),
            chat: Some(chat),
            clock: SystemClock,
        };
        let (addr, task) = server::serve(0, server::endpoint(Arc::new(endpoint)))
            .await
            .unwrap();
        Route {
            slack,
            table,
            runs,
            url: format!("http://{addr}/"),
            approval: out.approval_id,
            _endpoint: task,
        }
    }

    fn record(&self) -> ApprovalRecord {
        self.table.records().pop().unwrap()
    }

    fn last_view(&self) -> String {
        self.slack
            .calls_of("views.open")
            .pop()
            .map(|v| v["view"].to_string())
            .unwrap_or_default()
    }

    fn nothing_decided(&self) {
        assert!(self.record().votes.is_empty());
        assert!(self.runs.successes().is_empty() && self.runs.failures().is_empty());
    }
}

#[tokio::test]
async fn one_direct_message_per_mapped_approver_with_the_summary_and_two_buttons() {
    let r = Route::asked("ana").await;
    let posts = r.slack.calls_of("chat.postMessage");
    let to: Vec<&str> = posts.iter().filter_map(|p| p["channel"].as_str()).collect();
    assert_eq!(to, ["U0BOB", "U0CAROL"], "dave has no Slack id: email only");
    let blocks = posts[0]["blocks"].to_string();
    for fact in [
        "Approve rc-1.4.0 of acme/shop for staging?",
        "ana wants to deploy",
        "all passed",
        "Expires",
    ] {
        assert!(blocks.contains(fact), "{fact}: {blocks}");
    }
    assert!(posts[0]["text"].as_str().is_some_and(|t| !t.is_empty()));
    assert_eq!(posts[0]["unfurl_links"], false);
    let record = r.record();
    assert_eq!(record.chat[1].channel, "DU0CAROL");
}

#[tokio::test]
async fn missing_wrong_stale_and_replayed_signatures_are_401_over_http() {
    let r = Route::asked("ana").await;
    let body = form_body(&submission(TEAM, "U0BOB", &r.approval, true, Some("ok")));
    let now = chrono::Utc::now().timestamp();
    let good =
        stagegate::slack::signature::sign(SIGNING_SECRET.as_bytes(), &now.to_string(), &body);
    let stale_ts = (now - 600).to_string();
    let stale = stagegate::slack::signature::sign(SIGNING_SECRET.as_bytes(), &stale_ts, &body);
    let wrong = stagegate::slack::signature::sign(b"guess", &now.to_string(), &body);
    for (ts, sig) in [
        (now.to_string(), String::new()),
        (now.to_string(), wrong),
        (stale_ts, stale),
    ] {
        let (status, text) = r.slack.send_signed(&r.url, &ts, &sig, body.clone()).await;
        assert_eq!(status, 401, "{text}");
    }
    r.nothing_decided();
    let (status, _) = r
        .slack
        .send_signed(&r.url, &now.to_string(), &good, body.clone())
        .await;
    assert_eq!(status, 200);
    let (status, text) = r
        .slack
        .send_signed(&r.url, &now.to_string(), &good, body)
        .await;
    assert_eq!((status, text.contains("replay")), (401, true), "{text}");
    assert_eq!(r.record().votes.len(), 1);
}

#[tokio::test]
async fn unmapped_member_other_workspace_and_pusher_are_refused_saying_why() {
    let r = Route::asked("carol-gh").await;
    let (status, _) = r
        .slack
        .press(&r.url, "U0MALLORY", &r.approval, "approve")
        .await;
    assert_eq!(status, 200);
    assert!(r
        .last_view()
        .contains("U0MALLORY is not the Slack account of any approver"));
    let foreign = form_body(&button("T0OTHER", "U0BOB", &r.approval, "approve"));
    let (status, text) = r.slack.send(&r.url, foreign).await;
    assert_eq!(status, 403);
    assert!(text.contains("T0OTHER"), "{text}");
    let (_, answer) = r
        .slack
        .submit(&r.url, "U0CAROL", &r.approval, true, None)
        .await;
    assert!(answer.contains("You pushed this tag"), "{answer}");
    r.nothing_decided();
}

#[tokio::test]
async fn approve_with_a_reason_decides_once_and_every_message_says_so() {
    let r = Route::asked("ana").await;
    let (status, _) = r.slack.press(&r.url, "U0BOB", &r.approval, "approve").await;
    assert_eq!(status, 200);
    assert!(r.last_view().contains("stagegate-decision"));
    r.nothing_decided();
    let (status, answer) = r
        .slack
        .submit(&r.url, "U0BOB", &r.approval, true, Some("read the diff"))
        .await;
    assert_eq!(
        (status, answer.as_str()),
        (200, r#"{"response_action":"clear"}"#)
    );
    assert_eq!(r.record().state, ApprovalState::Approved);
    assert_eq!(r.runs.successes().len(), 1);
    let output: &Value = &r.runs.successes()[0].1;
    assert_eq!(output["votes"][0]["via"], "slack");
    assert_eq!(output["votes"][0]["reason"], "read the diff");
    for channel in ["DU0BOB", "DU0CAROL"] {
        let m = r.slack.message_in(channel).unwrap().to_string();
        assert!(
            m.contains("*Approved* by bob (slack)") && !m.contains("\"approve\""),
            "{m}"
        );
    }
    // The same person again, from the other channel: one vote per person.
    let (_, again) = r
        .slack
        .submit(&r.url, "U0BOB", &r.approval, true, Some("twice"))
        .await;
    assert!(again.contains("already been decided"), "{again}");
    assert_eq!(r.runs.successes().len(), 1);
}

#[tokio::test]
async fn decided_by_link_first_slack_is_updated_and_a_late_press_is_told() {
    let r = Route::asked("ana").await;
    let carol = r.record().approvers[1].clone();
    let desk = Desk {
        pusher_may_approve: false,
        approvals: &r.table,
        runs: &r.runs,
        clock: SystemClock,
    };
    let form = Form {
        approve: false,
        reason: Some("not today".into()),
        from: "203.0.113.9".into(),
        break_glass: false,
    };
    desk.decide_as(&r.approval, Decider::Approver(carol), "email link", form)
        .await
        .unwrap()
        .unwrap();
    let reconcile = ReconcileApprovals {
        settings: slack_settings(&r.slack.api_url()),
        store: r.table.clone(),
        runs: r.runs.clone(),
        chat: Some(stagegate_https::Slack::new(
            stagegate_https::HttpsClient::new(),
            &r.slack.api_url(),
            r.slack.app_secret(),
        )),
        clock: SystemClock,
    };
    assert_eq!(reconcile.run(Tick {}).await.unwrap().chat_updated, 2);
    let m = r.slack.message_in("DU0BOB").unwrap().to_string();
    assert!(
        m.contains("*Rejected* by carol (email link)") && m.contains("not today"),
        "{m}"
    );
    r.slack.press(&r.url, "U0BOB", &r.approval, "approve").await;
    assert!(
        r.last_view().contains("already been decided"),
        "{}",
        r.last_view()
    );
    assert_eq!(r.runs.failures().len(), 1);
}

#[tokio::test]
async fn the_stand_in_answers_as_slack_does_when_the_token_is_wrong() {
    let slack = SlackStandIn::start(0, TEAM, TOKEN, SIGNING_SECRET)
        .await
        .unwrap();
    let wrong = serde_json::json!({"botToken": "xoxb-wrong", "signingSecret": "s"}).to_string();
    let chat: LocalSlack =
        stagegate_https::Slack::new(stagegate_https::HttpsClient::new(), &slack.api_url(), wrong);
    use stagegate::ports::Chat;
    let e = chat
        .post("U0BOB", "t", &serde_json::json!([{"type": "divider"}]))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("invalid_auth"), "{e}");
    assert!(!e.transient, "a wrong token is an answer, not a hiccup");
    assert!(
        !e.to_string().contains("xoxb-wrong"),
        "the token is never in an error"
    );
}

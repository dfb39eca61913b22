//! The interactivity endpoint against Slack's stand-in in memory: who may decide,
//! what is refused and how it is answered, one decision per person across channels.
//! (`crates/stagegate-local/tests/slack.rs` repeats the route over real HTTP against
//! the Web API stand-in.)

use super::*;
use crate::ports::{ApprovalKind, ApprovalRecord, ApprovalState};
use crate::step::Step;
use crate::steps::request_approval::{self, RequestApproval};
use crate::testing::*;

struct Slack {
    table: MemoryTable,
    chat: MemoryChat,
    runs: MemoryRuns,
    settings: Settings,
}

impl Slack {
    /// An approval asked of bob and carol on Slack (and dave by email).
    async fn asked(pusher: &str) -> (Slack, String) {
        let settings = slack_settings("https://slack.test/api");
        let s = Slack {
            table: MemoryTable::with_approvers(slack_approvers()),
            chat: MemoryChat::new(SIGNING_SECRET),
            runs: MemoryRuns::default(),
            settings,
        };
        let mut run = run_info();
        run.candidate.pusher = Some(github_pusher(pusher));
        let input = request_approval::Input {
            token: "tok-1".into(),
            kind: ApprovalKind::Deployment,
            preflight: run,
            checklist: Some(checklist_output()),
            frontend_url: None,
        };
        let out = RequestApproval {
            settings: s.settings.clone(),
            store: s.table.clone(),
            notifier: MemoryNotifier::default(),
            chat: Some(s.chat.clone()),
            clock: FixedClock(now()),
        }
        .run(input)
        .await
        .unwrap();
        (s, out.approval_id)
    }

    fn endpoint(
        &self,
        minutes: i64,
    ) -> SlackInteractivity<MemoryTable, MemoryRuns, MemoryChat, FixedClock> {
        SlackInteractivity {
            settings: self.settings.clone(),
            store: self.table.clone(),
            runs: self.runs.clone(),
            chat: Some(self.chat.clone()),
            clock: FixedClock(now() + Duration::minutes(minutes)),
        }
    }

    /// `payload`, signed now, through the endpoint.
    async fn send(&self, payload: &Value) -> WebResponse {
        let request = signed(SIGNING_SECRET, now().timestamp(), form_body(payload));
        self.endpoint(0).handle(request).await
    }

    /// One run of the reconcile (every five minutes on AWS), `minutes` after the
    /// request: the Slack messages it brought up to date.
    async fn reconcile(&self, minutes: i64) -> u32 {
        crate::steps::reconcile_approvals::ReconcileApprovals {
            settings: self.settings.clone(),
            store: self.table.clone(),
            runs: self.runs.clone(),
            chat: Some(self.chat.clone()),
            clock: FixedClock(now() + Duration::minutes(minutes)),
        }
        .run(crate::steps::reconcile_approvals::Tick {})
        .await
        .unwrap()
        .chat_updated
    }

    fn record(&self) -> ApprovalRecord {
        self.table.records().pop().unwrap()
    }

    fn views(&self) -> Vec<Value> {
        self.chat
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                ChatCall::OpenView { view, .. } => Some(view),
                _ => None,
            })
            .collect()
    }

    /// The last view opened, as text.
    fn last_view(&self) -> String {
        self.views().pop().unwrap().to_string()
    }

    fn updates(&self) -> Vec<(String, Value)> {
        self.chat
            .calls()
            .into_iter()
            .filter_map(|c| match c {
                ChatCall::Update {
                    channel, blocks, ..
                } => Some((channel, blocks)),
                _ => None,
            })
            .collect()
    }
}

fn nothing_decided(s: &Slack) {
    assert!(s.record().votes.is_empty(), "{:?}", s.record().votes);
    assert!(s.runs.successes().is_empty() && s.runs.failures().is_empty());
}

#[tokio::test]
async fn each_approver_with_a_slack_id_gets_one_message_and_nobody_else() {
    let (s, id) = Slack::asked("ana").await;
    let posts: Vec<String> = s
        .chat
        .calls()
        .into_iter()
        .filter_map(|c| match c {
            ChatCall::Post {
                channel, blocks, ..
            } => {
                assert!(
                    blocks.to_string().contains(&id),
                    "the buttons carry the approval"
                );
                Some(channel)
            }
            _ => None,
        })
        .collect();
    assert_eq!(posts, ["U0BOB", "U0CAROL"]);
    let r = s.record();
    assert_eq!(r.chat.len(), 2);
    assert_eq!(r.chat[0].channel, "DU0BOB");
    assert!(r.chat.iter().all(|m| m.shows == "pending"));
}

#[tokio::test]
async fn unsigned_wrong_stale_and_replayed_requests_are_401_and_decide_nothing() {
    let (s, id) = Slack::asked("ana").await;
    let body = form_body(&submission(TEAM, "U0BOB", &id, true, Some("fine")));
    let t = now().timestamp();
    let mut unsigned = signed(SIGNING_SECRET, t, body.clone());
    unsigned.headers_mut().remove("x-slack-signature");
    let cases = [
        ("missing", unsigned),
        ("wrong", signed("not the secret", t, body.clone())),
        ("stale", signed(SIGNING_SECRET, t - 301, body.clone())),
    ];
    for (what, request) in cases {
        let r = s.endpoint(0).handle(request).await;
        assert_eq!(r.status(), 401, "{what}: {}", r.body());
    }
    nothing_decided(&s);
    // A valid one is replayed: the first decides, the copy is refused.
    let first = signed(SIGNING_SECRET, t, body.clone());
    let copy = signed(SIGNING_SECRET, t, body);
    assert_eq!(s.endpoint(0).handle(first).await.status(), 200);
    let again = s.endpoint(0).handle(copy).await;
    assert_eq!(again.status(), 401);
    assert!(again.body().contains("replay"), "{}", again.body());
    assert_eq!(s.record().votes.len(), 1);
    assert_eq!(s.runs.successes().len(), 1);
}

#[tokio::test]
async fn another_workspace_an_unmapped_member_and_the_pusher_are_refused_saying_why() {
    let (s, id) = Slack::asked("bob-gh").await;
    let r = s.send(&button("T0OTHER", "U0BOB", &id, APPROVE)).await;
    assert_eq!(r.status(), 403);
    assert!(
        r.body().contains("T0ACME only") && r.body().contains("T0OTHER"),
        "{}",
        r.body()
    );
    // Someone on Slack who is nobody's Slack account: the form is not offered.
    let r = s.send(&button(TEAM, "U0EVE", &id, APPROVE)).await;
    assert_eq!(r.status(), 200);
    let view = s.last_view();
    assert!(
        view.contains("U0EVE is not the Slack account of any approver"),
        "{view}"
    );
    assert!(!view.contains(CALLBACK_ID));
    // A forged submission of the same member decides nothing either.
    let r = s
        .send(&submission(TEAM, "U0EVE", &id, true, Some("x")))
        .await;
    assert!(r.body().contains("response_action") && r.body().contains("not the Slack account"));
    // bob pushed the tag: he may reject, not approve.
    let r = s.send(&submission(TEAM, "U0BOB", &id, true, None)).await;
    assert!(r.body().contains("You pushed this tag"), "{}", r.body());
    nothing_decided(&s);
}

#[tokio::test]
async fn approving_with_a_reason_decides_once_and_updates_every_message() {
    let (s, id) = Slack::asked("ana").await;
    assert_eq!(
        s.send(&button(TEAM, "U0BOB", &id, APPROVE)).await.status(),
        200
    );
    let form = s.views().pop().unwrap();
    assert_eq!(form["callback_id"], CALLBACK_ID);
    assert!(form.to_string().contains("as *bob*"), "{form}");
    // Only the submission decides.
    nothing_decided(&s);
    let r = s
        .send(&submission(TEAM, "U0BOB", &id, true, Some("looks right")))
        .await;
    assert_eq!(r.body(), r#"{"response_action":"clear"}"#);
    let record = s.record();
    assert_eq!(record.state, ApprovalState::Approved);
    assert_eq!(record.votes.len(), 1);
    assert_eq!(record.votes[0].via, "slack");
    assert_eq!(record.votes[0].reason.as_deref(), Some("looks right"));
    assert_eq!(s.runs.successes().len(), 1);
    let updated: Vec<String> = s.updates().into_iter().map(|(c, _)| c).collect();
    assert_eq!(updated, ["DU0BOB", "DU0CAROL"]);
    assert!(s.updates()[1]
        .1
        .to_string()
        .contains("*Approved* by bob (slack)"));
    assert!(record.chat.iter().all(|m| m.shows == "approved"));
    // carol, late: the form is not offered, her message is already true.
    s.send(&button(TEAM, "U0CAROL", &id, APPROVE)).await;
    assert!(s.last_view().contains("already been decided"));
    assert_eq!(s.updates().len(), 2);
}

#[tokio::test]
async fn rejecting_needs_a_reason_under_the_reason_field() {
    let (s, id) = Slack::asked("ana").await;
    let r = s
        .send(&submission(TEAM, "U0CAROL", &id, false, Some("  ")))
        .await;
    let answer: Value = serde_json::from_str(r.body()).unwrap();
    assert_eq!(answer["response_action"], "errors");
    assert!(answer["errors"][REASON]
        .as_str()
        .unwrap()
        .contains("reason"));
    nothing_decided(&s);
}

#[tokio::test]
async fn decided_by_link_first_the_reconcile_updates_slack_and_a_late_press_hears_so() {
    let (s, id) = Slack::asked("ana").await;
    let desk = Desk {
        pusher_may_approve: false,
        approvals: &s.table,
        runs: &s.runs,
        clock: FixedClock(now()),
    };
    let carol = s.record().approvers[1].clone();
    let form = Form {
        approve: true,
        reason: None,
        from: "203.0.113.9".into(),
        break_glass: false,
    };
    desk.decide_as(
        &id,
        crate::desk::Decider::Approver(carol),
        "email link",
        form,
    )
    .await
    .unwrap()
    .unwrap();
    assert!(s.updates().is_empty());
    // The reconcile (every five minutes) brings both messages up to date, once.
    assert_eq!(s.reconcile(5).await, 2);
    assert!(s.updates()[0]
        .1
        .to_string()
        .contains("*Approved* by carol (email link)"));
    assert_eq!(s.reconcile(5).await, 0);
    // bob presses Approve on his (now updated) message from a stale screen.
    s.send(&button(TEAM, "U0BOB", &id, APPROVE)).await;
    let view = s.last_view();
    assert!(
        view.contains("already been decided") && view.contains("approved by carol"),
        "{view}"
    );
    assert_eq!(s.record().votes.len(), 1);
    assert_eq!(s.runs.successes().len(), 1);
}

#[tokio::test]
async fn an_expired_or_superseded_approval_is_shown_as_such_by_the_reconcile() {
    let (s, _) = Slack::asked("ana").await;
    assert_eq!(s.reconcile(60).await, 0);
    assert_eq!(s.reconcile(24 * 60).await, 2);
    assert!(s.updates()[0].1.to_string().contains("*Expired*"));
    assert!(
        !s.updates()[0].1.to_string().contains(APPROVE),
        "no buttons on an expired request"
    );
    assert!(s.record().chat.iter().all(|m| m.shows == "expired"));
    // Expired is final: nothing more, ever.
    assert_eq!(s.reconcile(48 * 60).await, 0);
}

#[tokio::test]
async fn a_superseded_approval_is_shown_as_such_and_its_buttons_answer_so() {
    let (s, id) = Slack::asked("ana").await;
    // A newer candidate's Preflight supersedes it (a write the desk does not make).
    let before = s.record();
    let mut replaced = before.clone();
    replaced.revision += 1;
    replaced.state = ApprovalState::Superseded;
    s.table.update(&before, &replaced).await.unwrap();
    assert!(s.record().chat_due(), "the reconcile's work list has it");
    assert_eq!(s.reconcile(5).await, 2);
    let shown = s.updates()[1].1.to_string();
    assert!(
        shown.contains("*Superseded*") && !shown.contains(APPROVE),
        "{shown}"
    );
    assert!(!s.record().chat_due());
    assert_eq!(s.reconcile(5).await, 0);
    s.send(&button(TEAM, "U0CAROL", &id, APPROVE)).await;
    assert!(s
        .last_view()
        .contains("A newer release candidate replaced this one"));
    nothing_decided(&s);
}

#[tokio::test]
async fn without_slack_configured_or_for_other_methods_nothing_is_read() {
    let (s, id) = Slack::asked("ana").await;
    let mut off = s.endpoint(0);
    off.settings.slack = None;
    let body = form_body(&submission(TEAM, "U0BOB", &id, true, None));
    let r = off
        .handle(signed(SIGNING_SECRET, now().timestamp(), body))
        .await;
    assert_eq!(r.status(), 404);
    let get = http::Request::builder()
        .method("GET")
        .uri("/")
        .body(Vec::new())
        .unwrap();
    let r = s.endpoint(0).handle(get).await;
    assert_eq!(r.status(), 405);
    nothing_decided(&s);
}

/// Anything larger than a Slack interaction is refused before its signature is
/// computed, however well it is signed: nothing read, nothing decided.
#[tokio::test]
async fn an_oversized_request_is_413_and_decides_nothing() {
    let (s, id) = Slack::asked("ana").await;
    let mut body = form_body(&submission(TEAM, "U0BOB", &id, true, Some("fine")));
    body.extend(std::iter::repeat_n(b'x', MAX_BODY_BYTES));
    let r = s
        .endpoint(0)
        .handle(signed(SIGNING_SECRET, now().timestamp(), body))
        .await;
    assert_eq!(r.status(), 413);
    nothing_decided(&s);
    assert!(s.views().is_empty());
}

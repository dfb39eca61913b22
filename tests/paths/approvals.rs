//! Routes where the approval itself is the story: decided through the page, decided
//! while the Step Functions API is down, decided by two people at once, and runs
//! that end without their own notification (stopped, timed out, notify failed).

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::desk::DELIVERY_ATTEMPTS;
use stagegate::ports::Delivery;
use stagegate::step::{Endpoint, Peer, WebRequest};
use stagegate::steps::approval_page::ApprovalPage;
use stagegate::steps::reconcile_approvals;

const ORIGIN: &str = "http://127.0.0.1:8787";

fn request(method: &str, id: &str, body: &str) -> WebRequest {
    let mut request = http::Request::builder()
        .method(method)
        .uri(format!("/approvals/{id}"))
        .header("origin", ORIGIN)
        .body(body.as_bytes().to_vec())
        .expect("a request");
    request.extensions_mut().insert(Peer {
        source_ip: "203.0.113.9".into(),
        origin: ORIGIN.into(),
    });
    request
}

pub async fn an_approval_through_the_review_page_continues_the_run() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.link("rc-1.4.0", "approval-request", "carol").await;
    let page = ApprovalPage {
        settings: flow.settings.clone(),
        store: flow.table.clone(),
        runs: flow.sfn.clone(),
        artifacts: flow.artifacts.clone(),
        clock: flow.sfn.clone(),
    };
    let review = page.handle(request("GET", &id, "")).await;
    assert_eq!(review.status(), 200);
    let body = review.body();
    assert!(body.contains("You are deciding as <strong>carol</strong>"));
    let start = body.find("name=\"csrf\" value=\"").unwrap() + 19;
    let token = &body[start..start + 64];
    let posted = page
        .handle(request(
            "POST",
            &id,
            &format!("csrf={token}&decision=approve"),
        ))
        .await;
    assert_eq!(posted.status(), 200, "{}", posted.body());
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(output(&done)["approval"]["approvers"], json!(["carol"]));
    assert_eq!(output(&done)["approval"]["votes"][0]["via"], "email link");
}

pub async fn a_decision_recorded_while_step_functions_is_down_is_delivered_by_the_reconcile() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    let flaky = Flaky::new(flow.sfn.clone());
    flaky.fail_next(DELIVERY_ATTEMPTS);
    let form = Form {
        approve: true,
        reason: None,
        from: "203.0.113.9".into(),
        break_glass: false,
    };
    let desk = Desk {
        pusher_may_approve: false,
        approvals: &flow.table,
        runs: &flaky,
        clock: flow.sfn.clone(),
    };
    let outcome = desk
        .decide_by_link(&id, &flow.form_token(&id), form)
        .await
        .unwrap();
    assert_eq!(outcome, Ok(Decided::Undelivered { approve: true }));
    assert!(matches!(
        flow.table.records()[0].delivery,
        Delivery::Failed { .. }
    ));
    // The run is still waiting; the reconcile (every five minutes on AWS) delivers.
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(
        flow.engine.describe_execution(&arn).unwrap().status,
        ExecutionStatus::Running
    );
    let report = flow
        .world
        .invoke(reconcile_approvals::NAME, json!({}))
        .await
        .unwrap();
    assert_eq!(report["delivered"], 1);
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_eq!(output(&done)["approval"]["approvers"], json!(["bob"]));
}

pub async fn two_approvers_at_once_continue_the_run_once() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let bob = flow.link("rc-1.4.0", "approval-request", "bob").await;
    let carol = flow.link("rc-1.4.0", "approval-request", "carol").await;
    let (a, b) = tokio::join!(
        flow.decide(&bob, true, None),
        flow.decide(&carol, true, None)
    );
    assert_eq!(
        [&a, &b]
            .iter()
            .filter(|o| ***o == Ok(Decided::Approved))
            .count(),
        1,
        "{a:?} {b:?}"
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_eq!(
        route(&h)
            .iter()
            .filter(|s| *s == "Validate Infrastructure")
            .count(),
        1
    );
    assert_eq!(
        output(&done)["approval"]["approvers"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

pub async fn a_run_stopped_while_waiting_for_approval_is_notified() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let _ = flow.approval_link("rc-1.4.0").await;
    flow.engine
        .stop_execution(&arn, Some("Operator"), Some("release freeze"))
        .unwrap();
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Aborted);
    let msgs = flow.outcome_messages();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(
        msgs[0].subject,
        "🛑 acme/shop rc-1.4.0 was stopped before it finished"
    );
    assert_eq!(outcome_at(&msgs[0]), ("cancelled", "ABORTED"));
    assert!(msgs[0].body.contains("release freeze"), "{}", msgs[0].body);
}

pub async fn a_run_that_exceeds_the_execution_timeout_is_notified() {
    // An approval window longer than the run itself (the template refuses this;
    // the rule is the safety net): the execution times out first.
    let flow = Flow::with_settings(Settings {
        approval_timeout_seconds: 8 * 86_400,
        suites: SUITES.iter().map(|s| s.to_string()).collect(),
        ..Settings::default()
    });
    let arn = flow.start("rc-1.4.0", SHA).await;
    let (done, _) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::TimedOut);
    let msgs = flow.outcome_messages();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(
        msgs[0].subject,
        "⏱ acme/shop rc-1.4.0 timed out before it finished"
    );
    assert_eq!(msgs[0].attributes["stage"], "TIMED_OUT");
}

pub async fn a_run_whose_own_notification_failed_is_notified_by_the_end_of_run_rule() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    // The next publish is Notify Success: SNS is down for it and its three retries,
    // and back for the rule.
    let before = flow.notifier.messages().len();
    flow.notifier.fail_next(4);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("NotificationFailed"));
    assert_passes_through(&route(&h), &["Notify Success", "Notification Failed"]);
    let msgs: Vec<_> = flow.notifier.messages()[before..].to_vec();
    assert_eq!(msgs.len(), 1, "{msgs:#?}");
    assert_eq!(
        msgs[0].1.subject,
        "❌ acme/shop rc-1.4.0 failed, and its own notification did not go out"
    );
    assert!(
        msgs[0].1.body.contains("NotificationFailed"),
        "{}",
        msgs[0].1.body
    );
}

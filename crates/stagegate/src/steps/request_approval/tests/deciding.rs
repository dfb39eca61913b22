//! Deciding: a link decides as its own approver only, distinct approvers count, the
//! pusher rule, reasons, one decision, and decisions that always reach the task.

use super::*;
use crate::ports::Pusher;
use crate::testing::{github_id, github_pusher, vote, Interleaving};

#[tokio::test]
async fn a_link_of_approver_a_decides_as_a_and_cannot_record_a_decision_as_b() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    assert_eq!(
        w.click(&links["bob"], true, None).await,
        Ok(Decided::Approved)
    );
    let record = w.record();
    assert_eq!(record.votes.len(), 1);
    assert_eq!(record.votes[0].approver, "bob");
    assert_eq!(record.votes[0].via, "email link");
    // The form has no field that names anyone: whatever else is posted, bob's link
    // is bob. (The page test posts `approver=carol` and checks the same.)
    let (_, output) = w.callbacks.inner.successes().pop().unwrap();
    assert_eq!(output["approvers"], json!(["bob"]));
}

#[tokio::test]
async fn n_of_m_counts_distinct_approvers_only() {
    let w = World::two_of(approvers());
    let links = w.request(&[]).await;
    assert_eq!(
        w.click(&links["bob"], true, None).await,
        Ok(Decided::Recorded { remaining: 1 })
    );
    // Bob again, fifty times: still one approver.
    for _ in 0..50 {
        assert_eq!(
            w.click(&links["bob"], true, None).await,
            Err(Refusal::AlreadyVoted {
                approver: "bob".into()
            })
        );
    }
    assert!(w.callbacks.inner.successes().is_empty());
    assert_eq!(
        w.click(&links["carol"], true, None).await,
        Ok(Decided::Approved)
    );
    assert_eq!(
        w.callbacks.inner.successes()[0].1["approvers"],
        json!(["bob", "carol"])
    );
}

#[tokio::test]
async fn any_rejection_rejects_and_needs_a_reason() {
    let w = World::two_of(approvers());
    let links = w.request(&[]).await;
    w.click(&links["bob"], true, None).await.unwrap();
    assert_eq!(
        w.click(&links["carol"], false, None).await,
        Err(Refusal::ReasonRequired {
            failed_checks: vec![]
        })
    );
    assert_eq!(
        w.click(&links["carol"], false, Some("   ")).await,
        Err(Refusal::ReasonRequired {
            failed_checks: vec![]
        })
    );
    assert_eq!(
        w.click(&links["carol"], false, Some("flaky tests")).await,
        Ok(Decided::Rejected)
    );
    let (_, error, cause) = w.callbacks.inner.failures().pop().unwrap();
    assert_eq!(error, "Rejected");
    assert!(
        cause.contains("flaky tests") && cause.contains("carol"),
        "{cause}"
    );
}

#[tokio::test]
async fn approving_over_failed_checks_needs_a_reason() {
    let w = World::new(Settings::default());
    let links = w.request(&["ESLint"]).await;
    assert!(matches!(
        w.click(&links["bob"], true, None).await,
        Err(Refusal::ReasonRequired { failed_checks }) if failed_checks == ["ESLint"]
    ));
    assert_eq!(
        w.click(&links["bob"], true, Some("lint only, fixed in rc-1.4.1"))
            .await,
        Ok(Decided::Approved)
    );
    let (_, output) = w.callbacks.inner.successes().pop().unwrap();
    assert_eq!(output["failedChecks"], json!(["ESLint"]));
    assert_eq!(output["votes"][0]["reason"], "lint only, fixed in rc-1.4.1");
}

/// The pusher rule compares the GitHub account id the push came with: a login renamed
/// since the approver was configured, or spelt in another case, changes nothing.
#[tokio::test]
async fn the_pusher_may_not_approve_their_own_tag_by_their_github_id() {
    for (configured, pushed_as) in [("ana", "ana"), ("ana", "ANA"), ("ana-old", "ana-new")] {
        let mut ana = approver("ana", Some(configured));
        ana.github_id = Some(github_id("ana"));
        let w = World::with(Settings::default(), vec![ana]);
        let link = w
            .request_pushed_by(Some(Pusher::GitHub {
                id: github_id("ana"),
                login: pushed_as.into(),
            }))
            .await["ana"]
            .clone();
        assert!(
            matches!(
                w.click(&link, true, None).await,
                Err(Refusal::PusherMayNotApprove { .. })
            ),
            "{configured} pushing as {pushed_as}"
        );
        // Rejecting their own candidate is allowed.
        assert_eq!(
            w.click(&link, false, Some("found a bug")).await,
            Ok(Decided::Rejected)
        );
    }
}

/// Where the approver's identity of the pusher's kind is not configured, or the
/// pusher is unknown, nobody can be shown not to be the pusher: the approval is
/// refused, naming what is missing (rejecting stays allowed).
#[tokio::test]
async fn the_pusher_rule_fails_closed() {
    let principal = "arn:aws:iam::123456789012:user/ana";
    let cases: [(Approver, Option<Pusher>, &str); 3] = [
        (
            approver("ana", None),
            Some(github_pusher("ana")),
            "has no GitHub id",
        ),
        (
            approver("ana", Some("ana")),
            None,
            "no identity came with the push",
        ),
        (
            approver("bob", Some("bob-gh")),
            Some(Pusher::Aws {
                principal: principal.into(),
            }),
            "has no AWS principal",
        ),
    ];
    for (who, pusher, missing) in cases {
        let w = World::with(Settings::default(), vec![who.clone()]);
        let link = w.request_pushed_by(pusher.clone()).await[&who.id].clone();
        match w.click(&link, true, None).await {
            Err(Refusal::PusherNotComparable { why }) => assert!(why.contains(missing), "{why}"),
            other => panic!("{} vs {pusher:?}: {other:?}", who.id),
        }
        assert_eq!(
            w.click(&link, false, Some("not mine to judge")).await,
            Ok(Decided::Rejected)
        );
    }
    // A git email (the rehearsal's pusher) compares with the approver's email.
    let w = World::with(Settings::default(), vec![approver("ana", None)]);
    let link = w
        .request_pushed_by(Some(Pusher::Email {
            email: "ANA@example.com".into(),
        }))
        .await["ana"]
        .clone();
    assert!(matches!(
        w.click(&link, true, None).await,
        Err(Refusal::PusherMayNotApprove { .. })
    ));
}

#[tokio::test]
async fn the_pusher_may_approve_when_configured() {
    let w = World::with(
        Settings {
            pusher_may_approve: true,
            ..Settings::default()
        },
        vec![approver("ana", Some("ana"))],
    );
    let links = w.request(&[]).await;
    assert_eq!(
        w.click(&links["ana"], true, None).await,
        Ok(Decided::Approved)
    );
}

#[tokio::test]
async fn a_form_without_its_token_or_with_another_links_token_is_forbidden() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    let desk = w.desk(5);
    for token in ["", "00", &w.token(&links["carol"]), &"a".repeat(64)] {
        let r = desk
            .decide_by_link(&links["bob"], token, form(true, None))
            .await
            .unwrap();
        assert!(matches!(r, Err(Refusal::Forbidden(_))), "{token:?}: {r:?}");
    }
    assert!(w.record().votes.is_empty());
    assert_eq!(w.callbacks.calls(), 0);
}

#[tokio::test]
async fn two_concurrent_approvals_send_exactly_one_task_success() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    let (bob_token, carol_token) = (w.token(&links["bob"]), w.token(&links["carol"]));
    // Both deciders read the record before either writes: the table yields between.
    let table = Interleaving::new(w.table.clone());
    let desk = |table| Desk {
        pusher_may_approve: false,
        approvals: table,
        runs: &w.callbacks,
        clock: FixedClock(now() + Duration::minutes(5)),
    };
    let (d1, d2) = (desk(&table), desk(&table));
    let (a, b) = tokio::join!(
        d1.decide_by_link(&links["bob"], &bob_token, form(true, None)),
        d2.decide_by_link(&links["carol"], &carol_token, form(true, None)),
    );
    assert!(
        table.conflicts() >= 1,
        "the compare-and-set conflict path ran"
    );
    let outcomes = [a.unwrap(), b.unwrap()];
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| **o == Ok(Decided::Approved))
            .count(),
        1,
        "{outcomes:?}"
    );
    assert!(outcomes
        .iter()
        .any(|o| matches!(o, Err(Refusal::AlreadyDecided { .. }))));
    assert_eq!(w.callbacks.calls(), 1);
    assert_eq!(w.callbacks.inner.successes().len(), 1);
}

#[tokio::test]
async fn a_decision_whose_callback_fails_is_recorded_and_delivered_on_the_next_click() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    w.callbacks.fail_next(DELIVERY_ATTEMPTS);
    assert_eq!(
        w.click(&links["bob"], true, None).await,
        Ok(Decided::Undelivered { approve: true })
    );
    let record = w.record();
    assert_eq!(record.state, ApprovalState::Approved);
    assert!(matches!(
        record.delivery,
        Delivery::Failed { attempts: 3, .. }
    ));
    assert!(w.callbacks.inner.successes().is_empty());
    // The next click (anyone's) delivers the recorded decision, then says it is decided.
    assert!(matches!(
        w.click(&links["carol"], false, Some("too late")).await,
        Err(Refusal::AlreadyDecided {
            state: ApprovalState::Approved,
            ..
        })
    ));
    assert_eq!(w.callbacks.inner.successes().len(), 1);
    assert!(matches!(w.record().delivery, Delivery::Delivered { .. }));
}

#[tokio::test]
async fn the_reconcile_delivers_failed_and_stale_decisions_only() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    w.callbacks.fail_next(DELIVERY_ATTEMPTS);
    w.click(&links["bob"], false, Some("no")).await.unwrap();
    let report = w.desk(6).reconcile(RECONCILE_LIMIT).await.unwrap();
    assert_eq!(
        report,
        Reconciled {
            delivered: 1,
            ..Reconciled::default()
        }
    );
    assert_eq!(w.callbacks.inner.failures()[0].1, "Rejected");
    // Nothing left: a second run sends nothing.
    assert_eq!(
        w.desk(7).reconcile(RECONCILE_LIMIT).await.unwrap(),
        Reconciled::default()
    );
    assert_eq!(w.callbacks.calls(), DELIVERY_ATTEMPTS + 1);
}

#[tokio::test]
async fn the_reconcile_takes_over_a_pending_delivery_only_once_it_is_stale() {
    let w = World::new(Settings::default());
    w.request(&[]).await;
    // A function wrote the decision, then stopped before sending it.
    let r = w.record();
    let mut decided = r.clone();
    decided.revision += 1;
    decided.state = ApprovalState::Approved;
    decided.votes.push(vote("bob", true));
    decided.delivery = Delivery::Pending {
        since: now(),
        attempts: 0,
    };
    assert_eq!(w.table.update(&r, &decided).await.unwrap(), Update::Done);
    let at = |seconds| Desk {
        pusher_may_approve: false,
        approvals: &w.table,
        runs: &w.callbacks,
        clock: FixedClock(now() + Duration::seconds(seconds)),
    };
    assert_eq!(
        at(10).reconcile(RECONCILE_LIMIT).await.unwrap(),
        Reconciled::default()
    );
    assert_eq!(
        at(61).reconcile(RECONCILE_LIMIT).await.unwrap().delivered,
        1
    );
    assert_eq!(w.callbacks.inner.successes().len(), 1);
}

#[tokio::test]
async fn a_late_decision_after_the_task_closed_says_expired() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    w.callbacks.inner.close("tok-1");
    assert!(matches!(
        w.click(&links["bob"], true, None).await,
        Err(Refusal::Expired { .. })
    ));
    assert!(matches!(w.record().delivery, Delivery::Closed { .. }));
}

#[tokio::test]
async fn expired_superseded_unknown_and_altered_links_are_refused() {
    let w = World::new(Settings {
        approval_timeout_seconds: 60,
        ..Settings::default()
    });
    let links = w.request(&[]).await;
    assert!(matches!(
        w.click(&links["bob"], true, None).await,
        Err(Refusal::Expired { .. })
    ));
    let desk = w.desk(0);
    let id = &links["bob"];
    let mut altered = id.clone();
    altered.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
    for bad in ["x".repeat(43), "short".to_string(), altered] {
        assert_eq!(
            desk.decide_by_link(&bad, "", form(true, None))
                .await
                .unwrap(),
            Err(Refusal::NotFound),
            "{bad}"
        );
    }
    let w2 = World::new(Settings::default());
    let links2 = w2.request(&[]).await;
    let rec = w2.record();
    let mut sup = rec.clone();
    sup.revision += 1;
    sup.state = ApprovalState::Superseded;
    w2.table.update(&rec, &sup).await.unwrap();
    assert_eq!(
        w2.click(&links2["bob"], true, None).await,
        Err(Refusal::Superseded)
    );
}

#[tokio::test]
async fn review_changes_nothing_and_names_the_approver() {
    let w = World::new(Settings::default());
    let links = w.request(&[]).await;
    let before = w.table.records();
    let (record, approver, _) = w.desk(1).review(&links["carol"]).await.unwrap().unwrap();
    assert_eq!(
        (record.tag.as_str(), approver.id.as_str()),
        ("rc-1.4.0", "carol")
    );
    assert_eq!(w.table.records(), before);
    assert_eq!(w.callbacks.calls(), 0);
}

const BOB_USER: &str = "arn:aws:iam::123456789012:user/bob";
const BOB_SSO: &str =
    "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/bob@example.com";

/// bob, deciding through his link and, from the CLI, through either of his AWS
/// principals; carol, through her link.
fn bob_with_principals() -> Vec<Approver> {
    let mut bob = approver("bob", Some("bob-gh"));
    bob.principals = vec![BOB_USER.into(), BOB_SSO.into()];
    vec![bob, approver("carol", Some("carol-gh"))]
}

/// The CLI decides as the approver whose principal the caller is, under the same
/// rules: a vote recorded under their approver id, one per person whatever the
/// channel; a caller who is nobody's principal is refused, named.
#[tokio::test]
async fn an_operator_decides_as_the_approver_their_principal_belongs_to() {
    let w = World::two_of(bob_with_principals());
    w.request(&["Unit Tests"]).await;
    let desk = w.desk(5);
    let id = w.record().id;
    assert!(matches!(
        desk.decide_by_principal(&id, BOB_USER, form(true, None))
            .await
            .unwrap(),
        Err(Refusal::ReasonRequired { .. })
    ));
    assert_eq!(
        desk.decide_by_principal(&id, BOB_USER, form(true, Some("known flaky test")))
            .await
            .unwrap(),
        Ok(Decided::Recorded { remaining: 1 })
    );
    let vote = &w.record().votes[0];
    assert_eq!((vote.approver.as_str(), vote.via.as_str()), ("bob", "cli"));
    // bob's other principal is still bob: no second vote.
    assert!(matches!(
        desk.decide_by_principal(&id, BOB_SSO, form(true, Some("again")))
            .await
            .unwrap(),
        Err(Refusal::AlreadyVoted { .. })
    ));
    // An unmapped caller (an assumed role of anyone's choosing) is refused, named.
    let stranger = "arn:aws:sts::123456789012:assumed-role/Admin/bob";
    match desk
        .decide_by_principal(&id, stranger, form(true, Some("me too")))
        .await
        .unwrap()
    {
        Err(Refusal::Forbidden(why)) => assert!(why.contains(stranger), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(w.record().votes.len(), 1);
}

/// A link vote then a CLI vote of the same person count once.
#[tokio::test]
async fn a_link_vote_and_a_cli_vote_of_one_person_count_once() {
    let w = World::two_of(bob_with_principals());
    let links = w.request(&[]).await;
    assert_eq!(
        w.click(&links["bob"], true, None).await,
        Ok(Decided::Recorded { remaining: 1 })
    );
    let id = w.record().id;
    assert!(matches!(
        w.desk(5)
            .decide_by_principal(&id, BOB_SSO, form(true, None))
            .await
            .unwrap(),
        Err(Refusal::AlreadyVoted { .. })
    ));
    assert_eq!(w.record().state, ApprovalState::Pending);
}

/// The pusher may not approve through any channel: bob started the run with his
/// principal (`stagegate start`), so neither his link nor the CLI approves it.
#[tokio::test]
async fn the_pusher_cannot_approve_through_any_channel() {
    let w = World::with(Settings::default(), bob_with_principals());
    let links = w
        .request_pushed_by(Some(Pusher::Aws {
            principal: BOB_SSO.into(),
        }))
        .await;
    assert!(matches!(
        w.click(&links["bob"], true, None).await,
        Err(Refusal::PusherMayNotApprove { .. })
    ));
    let id = w.record().id;
    assert!(matches!(
        w.desk(5)
            .decide_by_principal(&id, BOB_USER, form(true, None))
            .await
            .unwrap(),
        Err(Refusal::PusherMayNotApprove { .. })
    ));
    // carol has no AWS principal: whether she pushed cannot be told, so she may not
    // approve either (fail closed).
    assert!(matches!(
        w.click(&links["carol"], true, None).await,
        Err(Refusal::PusherNotComparable { .. })
    ));
}

#[tokio::test]
async fn an_approver_not_asked_cannot_decide_through_the_desk() {
    let w = World::new(Settings::default());
    w.request(&[]).await;
    let r = w
        .desk(5)
        .decide_as(
            &w.record().id,
            Decider::Approver(approver("mallory", None)),
            "terminal",
            form(true, None),
        )
        .await
        .unwrap();
    assert!(matches!(r, Err(Refusal::Forbidden(_))), "{r:?}");
}

/// Removing an approver revokes their links: the page and the desk answer `Revoked`
/// (410), and nothing is recorded; the others' links still work.
#[tokio::test]
async fn a_removed_approvers_links_are_revoked() {
    let w = World::with(Settings::default(), bob_with_principals());
    let links = w.request(&[]).await;
    w.table.remove_approver("bob");
    let refused = w.click(&links["bob"], true, None).await;
    assert_eq!(
        refused,
        Err(Refusal::Revoked {
            approver: "bob".into()
        })
    );
    assert_eq!(
        crate::steps::approval_page::status_of(&refused.clone().unwrap_err()),
        410
    );
    assert!(matches!(
        w.desk(5).review(&links["bob"]).await.unwrap(),
        Err(Refusal::Revoked { .. })
    ));
    let id = w.record().id;
    assert!(matches!(
        w.desk(5)
            .decide_by_principal(&id, BOB_SSO, form(true, None))
            .await
            .unwrap(),
        Err(Refusal::Revoked { .. })
    ));
    assert!(w.record().votes.is_empty());
    assert_eq!(
        w.click(&links["carol"], true, None).await,
        Ok(Decided::Approved)
    );
}

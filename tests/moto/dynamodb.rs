//! DynamoDB: one decision per approval under concurrency, the claims, TTL, the sparse
//! indexes, the approvers and the newest candidates.

use crate::moto_with_table;
use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::links::{form_token, hash_id, new_link_id};
use stagegate::ports::*;
use stagegate::testing::{approvers, now, pending_record, FixedClock, MemoryRuns};

fn link(id: &str, record: &ApprovalRecord, who: &str) -> Link {
    Link {
        id_hash: hash_id(id),
        approval_id: record.id.clone(),
        approver_id: who.into(),
        expires_at: record.expires_at,
    }
}

/// The guarantee the whole approval rests on: two approvers racing through the real
/// conditional write, one decision recorded and one task answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_approvers_racing_through_the_conditional_write_record_one_decision() {
    let (_moto, table) = moto_with_table().await;
    let table = table.clone();
    // bob and carol are configured approvers (their links are not revoked).
    let mut directory = table.directory().await.unwrap();
    directory.approvers = stagegate::testing::approvers();
    assert!(table.save_directory(&directory).await.unwrap());
    for round in 0..5 {
        let record = pending_record(
            &format!("race-{round}"),
            "rc-1.4.0",
            &format!("tok-{round}"),
        );
        let (bob, carol) = (new_link_id(), new_link_id());
        let links = [link(&bob, &record, "bob"), link(&carol, &record, "carol")];
        table.create(&record, &links).await.unwrap();
        let callbacks = MemoryRuns::default();
        let decide = |id: String, l: Link| {
            let (table, callbacks, record) = (table.clone(), callbacks.clone(), record.clone());
            tokio::spawn(async move {
                let desk = Desk {
                    pusher_may_approve: false,
                    approvals: &table,
                    runs: &callbacks,
                    clock: FixedClock(now()),
                };
                let form = Form {
                    approve: true,
                    reason: None,
                    from: "198.51.100.1".into(),
                    break_glass: false,
                };
                desk.decide_by_link(&id, &form_token(&record, &l), form)
                    .await
                    .unwrap()
            })
        };
        let (a, b) = tokio::join!(
            decide(bob, links[0].clone()),
            decide(carol, links[1].clone())
        );
        let outcomes = [a.unwrap(), b.unwrap()];
        assert_eq!(
            outcomes
                .iter()
                .filter(|o| **o == Ok(Decided::Approved))
                .count(),
            1,
            "round {round}: {outcomes:?}"
        );
        assert!(
            outcomes
                .iter()
                .any(|o| matches!(o, Err(Refusal::AlreadyDecided { .. }))),
            "round {round}: {outcomes:?}"
        );
        let stored = table.get(&record.id).await.unwrap().unwrap();
        assert_eq!(stored.votes.len(), 1, "one decision recorded");
        assert_eq!(callbacks.successes().len(), 1, "one task answer");
    }
}

#[tokio::test]
async fn an_approval_and_its_links_round_trip_and_only_hashes_are_stored() {
    let (_moto, table) = moto_with_table().await;
    let record = pending_record("a1", "rc-1.4.0", "tok");
    let id = new_link_id();
    table
        .create(&record, &[link(&id, &record, "bob")])
        .await
        .unwrap();
    assert_eq!(table.get("a1").await.unwrap(), Some(record.clone()));
    let l = table.link(&hash_id(&id)).await.unwrap().unwrap();
    assert_eq!(
        (l.approval_id.as_str(), l.approver_id.as_str()),
        ("a1", "bob")
    );
    assert_eq!(table.link(&hash_id("nope")).await.unwrap(), None);
    // Creating it again is refused, links and all (one transaction).
    let e = table
        .create(&record, &[link(&new_link_id(), &record, "carol")])
        .await;
    assert!(e.is_err());
}

#[tokio::test]
async fn an_update_over_a_stale_revision_is_a_conflict_with_the_current_record() {
    let (_moto, table) = moto_with_table().await;
    let record = pending_record("a1", "rc-1.4.0", "tok");
    table.create(&record, &[]).await.unwrap();
    let mut first = record.clone();
    first.revision = 1;
    first.state = ApprovalState::Approved;
    assert_eq!(table.update(&record, &first).await.unwrap(), Update::Done);
    let mut second = record.clone();
    second.revision = 1;
    second.state = ApprovalState::Rejected;
    match table.update(&record, &second).await.unwrap() {
        Update::Conflict(current) => assert_eq!(current.state, ApprovalState::Approved),
        Update::Done => panic!("a stale write landed"),
    }
}

#[tokio::test]
async fn the_pending_and_undelivered_indexes_hold_only_what_they_should() {
    let (_moto, table) = moto_with_table().await;
    let pending = pending_record("p1", "rc-1.4.0", "t1");
    let decided = pending_record("d1", "rc-1.3.0", "t2");
    table.create(&pending, &[]).await.unwrap();
    table.create(&decided, &[]).await.unwrap();
    let mut next = decided.clone();
    next.revision = 1;
    next.state = ApprovalState::Approved;
    next.delivery = Delivery::Failed {
        at: now(),
        attempts: 3,
        error: "down".into(),
    };
    table.update(&decided, &next).await.unwrap();
    let ids = |rs: Vec<ApprovalRecord>| rs.into_iter().map(|r| r.id).collect::<Vec<_>>();
    assert_eq!(ids(table.pending("acme/shop").await.unwrap()), ["p1"]);
    assert!(table.pending("other/repo").await.unwrap().is_empty());
    assert_eq!(ids(table.undelivered(10).await.unwrap()), ["d1"]);
}

#[tokio::test]
async fn items_carry_the_ttl_attribute_the_table_expires_on() {
    let (moto, table) = moto_with_table().await;
    let record = pending_record("t1", "rc-1.4.0", "tok");
    table.create(&record, &[]).await.unwrap();
    let raw = aws_sdk_dynamodb::Client::new(&moto.sdk_config().await);
    let ttl = raw
        .describe_time_to_live()
        .table_name("approvals")
        .send()
        .await
        .unwrap();
    let spec = ttl.time_to_live_description().unwrap();
    assert_eq!(spec.attribute_name(), Some("expiresAt"));
    let item = raw
        .get_item()
        .table_name("approvals")
        .key(
            "pk",
            aws_sdk_dynamodb::types::AttributeValue::S("approval#t1".into()),
        )
        .send()
        .await
        .unwrap();
    let expires: i64 = item.item().unwrap()["expiresAt"]
        .as_n()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        expires,
        (record.expires_at + chrono::Duration::days(aws_dynamodb_port::RETENTION_DAYS)).timestamp()
    );
}

/// The run claim `run#k` for `owner` until `expires_at`.
fn hold(owner: &str, expires_at: chrono::DateTime<chrono::Utc>) -> Hold<'_> {
    Hold {
        key: "run#k",
        owner,
        expires_at,
    }
}

#[tokio::test]
async fn claims_are_made_once_held_by_their_owner_and_taken_over_only_from_the_holder() {
    let (_moto, table) = moto_with_table().await;
    let later = now() + chrono::Duration::days(30);
    assert!(table.claim("webhook#x", later).await.unwrap());
    assert!(!table.claim("webhook#x", later).await.unwrap());
    table.release("webhook#x").await.unwrap();
    assert!(table.claim("webhook#x", later).await.unwrap());
    let (a, b) = (hold("arn:a", later), hold("arn:b", later));
    assert_eq!(table.claim_for(&a).await.unwrap(), Claim::Mine);
    assert_eq!(
        table.claim_for(&a).await.unwrap(),
        Claim::Mine,
        "a retried claim"
    );
    assert_eq!(
        table.claim_for(&b).await.unwrap(),
        Claim::HeldBy("arn:a".into())
    );
    assert!(!table.take_over(&b, "arn:z").await.unwrap());
    assert!(table.take_over(&b, "arn:a").await.unwrap());
    assert_eq!(
        table.claim_for(&a).await.unwrap(),
        Claim::HeldBy("arn:b".into())
    );
}

#[tokio::test]
async fn the_approvers_are_written_only_over_the_version_read() {
    let (_moto, table) = moto_with_table().await;
    let empty = table.directory().await.unwrap();
    assert_eq!(empty.version, 0);
    let mut d = empty.clone();
    d.approvers = approvers();
    assert!(table.save_directory(&d).await.unwrap());
    assert!(
        !table.save_directory(&d).await.unwrap(),
        "a stale version is refused"
    );
    let now_stored = table.directory().await.unwrap();
    assert_eq!((now_stored.version, now_stored.approvers.len()), (1, 2));
    assert_eq!(
        table
            .deciding(ApprovalKind::Acceptance)
            .await
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn the_newest_candidate_is_written_only_over_the_revision_read() {
    let (_moto, table) = moto_with_table().await;
    let newest = |tag: &str| Newest {
        tag: tag.into(),
        version: tag.trim_start_matches("rc-").into(),
        execution_id: format!("arn:{tag}"),
    };
    assert_eq!(table.newest("acme/shop").await.unwrap(), None);
    assert!(table
        .set_newest("acme/shop", &newest("rc-1.4.0"), None)
        .await
        .unwrap());
    assert!(!table
        .set_newest("acme/shop", &newest("rc-1.5.0"), None)
        .await
        .unwrap());
    let (n, rev) = table.newest("acme/shop").await.unwrap().unwrap();
    assert_eq!((n.tag.as_str(), rev), ("rc-1.4.0", 1));
    assert!(table
        .set_newest("acme/shop", &newest("rc-1.5.0"), Some(1))
        .await
        .unwrap());
}

/// The waiter of a deploy task through the real conditional writes: one run per
/// resource, its own re-registration, a long-gone run's leftover replaced, and a
/// removal that only ever removes the token it names.
#[tokio::test]
async fn a_resource_has_one_waiting_run_and_only_its_token_is_removed() {
    let (_moto, table) = moto_with_table().await;
    let key = "wait#stack#shop-staging";
    let waiter = |token: &str, execution: &str, reads: u32, expires_in_hours: i64| Waiter {
        token: token.into(),
        execution_id: execution.into(),
        subject: "shop-staging".into(),
        reads,
        expires_at: now() + chrono::Duration::hours(expires_in_hours),
    };
    assert_eq!(table.waiter(key).await.unwrap(), None);
    let first = waiter("t1", "arn:exec:1", 0, 48);
    assert_eq!(table.wait(key, &first, now()).await.unwrap(), None);
    assert_eq!(table.waiter(key).await.unwrap(), Some(first.clone()));
    // Another run is refused, and told who waits.
    let refused = table
        .wait(key, &waiter("t9", "arn:exec:2", 0, 48), now())
        .await
        .unwrap();
    assert_eq!(refused, Some(first.clone()));
    // The same run re-registers with a new token (a status read after a missed event).
    let again = waiter("t2", "arn:exec:1", 1, 48);
    assert_eq!(table.wait(key, &again, now()).await.unwrap(), None);
    // Removing a stale token leaves the current one.
    table.done(key, "t1").await.unwrap();
    assert_eq!(table.waiter(key).await.unwrap(), Some(again.clone()));
    table.done(key, "t2").await.unwrap();
    assert_eq!(table.waiter(key).await.unwrap(), None);
    table.done(key, "t2").await.unwrap();
    // A run long gone left its waiter: the next run's registration replaces it.
    let stale = waiter("t3", "arn:exec:3", 4, -1);
    assert_eq!(
        table
            .wait(key, &stale, now() - chrono::Duration::days(3))
            .await
            .unwrap(),
        None
    );
    let next = waiter("t4", "arn:exec:4", 0, 48);
    assert_eq!(table.wait(key, &next, now()).await.unwrap(), None);
    assert_eq!(table.waiter(key).await.unwrap(), Some(next));
}

//! The table adapter against the SDK's mocks: conditional writes, the sparse pending
//! index with pagination, claims, and errors including throttling.

use super::approvals::{link_item, to_item};
use super::*;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use stagegate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approvers, Candidates, Claim, Claims,
    Link, Newest, Update,
};
use stagegate::ports::{Delivery, Hold};
use stagegate::testing::{approver, now, pending_record, vote};
use std::collections::BTreeMap;

fn table(rules: &[&Rule]) -> DynamoTable {
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_common::fast_retries()));
    DynamoTable::new(client, "approvals")
}

fn json_error(ty: &str) -> Option<String> {
    Some(format!(
        "{{\"__type\":\"com.amazonaws.dynamodb.v20120810#{ty}\",\"message\":\"m\"}}"
    ))
}

fn conditional_failed(item: Option<Item>) -> PutItemError {
    PutItemError::ConditionalCheckFailedException(
        ConditionalCheckFailedException::builder()
            .message("The conditional request failed")
            .set_item(item)
            .build(),
    )
}

fn voted(mut r: ApprovalRecord, approve: bool) -> ApprovalRecord {
    r.revision += 1;
    r.delivery = Delivery::Pending {
        since: now(),
        attempts: 0,
    };
    r.votes.push(vote("bob", approve));
    r.state = if approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Rejected
    };
    r
}

fn link(hash: &str, approval: &ApprovalRecord) -> Link {
    Link {
        id_hash: hash.into(),
        approval_id: approval.id.clone(),
        approver_id: "bob".into(),
        expires_at: approval.expires_at,
    }
}

#[tokio::test]
async fn create_writes_the_approval_and_its_links_in_one_transaction_only_if_new() {
    let record = pending_record("h1", "rc-1.4.0", "token");
    let expected_ttl = (record.expires_at + Duration::days(RETENTION_DAYS)).timestamp();
    let links = [link("aa", &record), link("bb", &record)];
    let tx = mock!(Client::transact_write_items)
        .match_requests(move |r| {
            let items = r.transact_items();
            let puts: Vec<&Item> = items
                .iter()
                .filter_map(|i| i.put())
                .map(|p| p.item())
                .collect();
            items.len() == 3
                && items.iter().all(|i| {
                    i.put().and_then(|p| p.condition_expression())
                        == Some("attribute_not_exists(pk)")
                })
                && puts[0]["pk"].as_s().unwrap() == "approval#h1"
                && puts[0]["state"].as_s().unwrap() == "PENDING"
                && puts[0]["revision"].as_n().unwrap() == "0"
                && puts[0]["pendingRepository"].as_s().unwrap() == "acme/shop"
                && !puts[0].contains_key("undelivered")
                && puts[0]["expiresAt"].as_n().unwrap() == &expected_ttl.to_string()
                && puts[1]["pk"].as_s().unwrap() == "link#aa"
                && puts[2]["pk"].as_s().unwrap() == "link#bb"
                && puts[2]["expiresAt"].as_n().unwrap() == &expected_ttl.to_string()
        })
        .then_output(|| TransactWriteItemsOutput::builder().build());
    table(&[&tx]).create(&record, &links).await.unwrap();
    assert_eq!(tx.num_calls(), 1);

    let exists = mock!(Client::transact_write_items).then_error(|| {
        TransactWriteItemsError::TransactionCanceledException(
            TransactionCanceledException::builder()
                .message("Transaction cancelled: ConditionalCheckFailed")
                .build(),
        )
    });
    let e = table(&[&exists]).create(&record, &links).await.unwrap_err();
    assert!(e.message.contains("already exists"), "{e}");
}

#[tokio::test]
async fn a_link_reads_back_what_was_written() {
    let record = pending_record("h1", "rc-1.4.0", "token");
    let l = link("aa", &record);
    let item = link_item(&l).unwrap();
    let get = mock!(Client::get_item)
        .match_requests(|r| {
            r.consistent_read() == Some(true) && r.key().unwrap()["pk"].as_s().unwrap() == "link#aa"
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
    assert_eq!(table(&[&get]).link("aa").await.unwrap(), Some(l));
}

#[tokio::test]
async fn get_reads_consistently_and_round_trips_the_record() {
    let record = pending_record("h1", "rc-1.4.0", "token");
    let item = to_item(&record).unwrap();
    let get = mock!(Client::get_item)
        .match_requests(|r| {
            r.consistent_read() == Some(true)
                && r.key().unwrap()["pk"].as_s().unwrap() == "approval#h1"
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(Some(item.clone()))
                .build()
        });
    assert_eq!(table(&[&get]).get("h1").await.unwrap(), Some(record));

    let none = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    assert_eq!(table(&[&none]).get("h2").await.unwrap(), None);
}

#[tokio::test]
async fn a_corrupt_item_is_an_error_not_a_panic() {
    let get = mock!(Client::get_item).then_output(|| {
        GetItemOutput::builder()
            .item("pk", s("approval#h1"))
            .item("record", s("{not json"))
            .build()
    });
    let e = table(&[&get]).get("h1").await.unwrap_err();
    assert!(e.message.contains("malformed approval record"), "{e}");
}

#[tokio::test]
async fn update_is_conditioned_on_the_revision_that_was_read() {
    let before = pending_record("h1", "rc-1.4.0", "token");
    let after = voted(before.clone(), true);
    let put = mock!(Client::put_item)
        .match_requests(|r| {
            let item = r.item().unwrap();
            r.condition_expression() == Some("revision = :revision")
                && r.expression_attribute_values().unwrap()[":revision"].as_n().unwrap() == "0"
                && item["state"].as_s().unwrap() == "APPROVED"
                && item["revision"].as_n().unwrap() == "1"
                && item["deliveryStatus"].as_s().unwrap() == "PENDING"
                // no longer pending: out of the pending index, into the undelivered one
                && !item.contains_key("pendingRepository")
                && item["undelivered"].as_s().unwrap() == "outstanding"
        })
        .then_output(|| PutItemOutput::builder().build());
    assert_eq!(
        table(&[&put]).update(&before, &after).await.unwrap(),
        Update::Done
    );
}

#[tokio::test]
async fn undelivered_reads_the_sparse_index_up_to_the_limit() {
    let records: Vec<ApprovalRecord> = (0..3)
        .map(|i| voted(pending_record(&format!("r{i}"), "rc-1", "t"), true))
        .collect();
    let items: Vec<Item> = records.iter().map(|r| to_item(r).unwrap()).collect();
    let query = mock!(Client::query)
        .match_requests(|r| {
            r.index_name() == Some(UNDELIVERED_INDEX)
                && r.expression_attribute_names().unwrap()["#k"] == "undelivered"
        })
        .then_output(move || {
            QueryOutput::builder()
                .set_items(Some(items.clone()))
                .build()
        });
    let got = table(&[&query]).undelivered(2).await.unwrap();
    assert_eq!(got, records[..2]);
}

#[tokio::test]
async fn the_approvers_item_round_trips_and_is_written_over_its_version() {
    let dir = Directory {
        approvers: vec![approver("bob", Some("bob-gh"))],
        subscriptions: BTreeMap::from([("bob".to_string(), "arn:sub:1".to_string())]),
        version: 3,
    };
    let put = mock!(Client::put_item)
        .match_requests(|r| {
            let item = r.item().unwrap();
            r.condition_expression() == Some("version = :v")
                && r.expression_attribute_values().unwrap()[":v"]
                    .as_n()
                    .unwrap()
                    == "3"
                && item["pk"].as_s().unwrap() == "approvers"
                && item["version"].as_n().unwrap() == "4"
        })
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .error(|| conditional_failed(None))
        .build();
    let t = table(&[&put]);
    assert!(t.save_directory(&dir).await.unwrap());
    assert!(
        !t.save_directory(&dir).await.unwrap(),
        "a lost race says so"
    );

    let mut item = Item::new();
    item.insert("pk".into(), s("approvers"));
    item.insert(
        "approvers".into(),
        s(serde_json::to_string(&dir.approvers).unwrap()),
    );
    item.insert(
        "subscriptions".into(),
        s(serde_json::to_string(&dir.subscriptions).unwrap()),
    );
    item.insert("version".into(), n(3));
    let get = mock!(Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(item.clone()))
            .build()
    });
    let t = table(&[&get]);
    assert_eq!(t.directory().await.unwrap(), dir);
    assert_eq!(
        t.deciding(ApprovalKind::Deployment).await.unwrap(),
        dir.approvers
    );
    let none = mock!(Client::get_item).then_output(|| GetItemOutput::builder().build());
    assert_eq!(
        table(&[&none]).directory().await.unwrap(),
        Directory::default()
    );
}

#[tokio::test]
async fn a_lost_race_returns_the_winning_record() {
    let before = pending_record("h1", "rc-1.4.0", "token");
    let winner = voted(before.clone(), false);
    let winner_item = to_item(&winner).unwrap();
    let put =
        mock!(Client::put_item).then_error(move || conditional_failed(Some(winner_item.clone())));
    let mine = voted(before.clone(), true);
    assert_eq!(
        table(&[&put]).update(&before, &mine).await.unwrap(),
        Update::Conflict(Box::new(winner))
    );
}

#[tokio::test]
async fn a_lost_race_without_the_old_item_reads_it() {
    let before = pending_record("h1", "rc-1.4.0", "token");
    let winner = voted(before.clone(), false);
    let item = to_item(&winner).unwrap();
    let put = mock!(Client::put_item).then_error(|| conditional_failed(None));
    let get = mock!(Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(item.clone()))
            .build()
    });
    let mine = voted(before.clone(), true);
    assert_eq!(
        table(&[&put, &get]).update(&before, &mine).await.unwrap(),
        Update::Conflict(Box::new(winner))
    );
}

#[tokio::test]
async fn pending_pages_through_the_sparse_index() {
    let a = pending_record("a", "rc-1.3.0", "t1");
    let b = pending_record("b", "rc-1.3.1", "t2");
    let stale = voted(pending_record("c", "rc-1.2.0", "t3"), true);
    let (ia, ib, ic) = (
        to_item(&a).unwrap(),
        to_item(&b).unwrap(),
        to_item(&stale).unwrap(),
    );
    let query = mock!(Client::query)
        .match_requests(|r| {
            r.index_name() == Some(PENDING_INDEX)
                && r.expression_attribute_values().unwrap()[":v"]
                    .as_s()
                    .unwrap()
                    == "acme/shop"
        })
        .sequence()
        .output(move || {
            QueryOutput::builder()
                .items(ia.clone())
                .last_evaluated_key("pk", s("approval#a"))
                .build()
        })
        .output(move || {
            QueryOutput::builder()
                .items(ib.clone())
                .items(ic.clone())
                .build()
        })
        .build();
    let got = table(&[&query]).pending("acme/shop").await.unwrap();
    assert_eq!(
        got,
        [a, b],
        "a decided record seen through a lagging index is skipped"
    );
    assert_eq!(query.num_calls(), 2);
}

#[tokio::test]
async fn throttling_is_retried_then_reported() {
    let flaky = mock!(Client::get_item)
        .sequence()
        .http_status(400, json_error("ProvisionedThroughputExceededException"))
        .output(|| GetItemOutput::builder().build())
        .build();
    assert_eq!(table(&[&flaky]).get("h").await.unwrap(), None);
    assert_eq!(flaky.num_calls(), 2);

    let throttled = mock!(Client::query)
        .sequence()
        .http_status(400, json_error("ThrottlingException"))
        .repeatedly()
        .build();
    let e = table(&[&throttled]).pending("acme/shop").await.unwrap_err();
    assert!(
        e.message.contains("ThrottlingException") && e.message.contains("throttled"),
        "{e}"
    );
}

#[tokio::test]
async fn a_missing_table_is_a_named_error() {
    let tx = mock!(Client::transact_write_items)
        .sequence()
        .http_status(400, json_error("ResourceNotFoundException"))
        .build();
    let e = table(&[&tx])
        .create(&pending_record("h", "rc-1", "t"), &[])
        .await
        .unwrap_err();
    assert!(e.message.starts_with("ResourceNotFoundException"), "{e}");
}

#[tokio::test]
async fn a_claim_is_made_once() {
    let first = mock!(Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(pk)")
                && r.item().unwrap()["pk"].as_s().unwrap() == "webhook#acme/shop#rc-1#abc"
        })
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .error(|| conditional_failed(None))
        .build();
    let t = table(&[&first]);
    assert!(t.claim("webhook#acme/shop#rc-1#abc", now()).await.unwrap());
    assert!(!t.claim("webhook#acme/shop#rc-1#abc", now()).await.unwrap());
}

#[tokio::test]
async fn a_claim_can_be_released() {
    let del = mock!(Client::delete_item)
        .match_requests(|r| r.key().unwrap()["pk"].as_s().unwrap() == "k")
        .then_output(|| DeleteItemOutput::builder().build());
    table(&[&del]).release("k").await.unwrap();
    assert_eq!(del.num_calls(), 1);
}

#[tokio::test]
async fn an_update_that_fails_for_another_reason_is_an_error_not_a_conflict() {
    let before = pending_record("h1", "rc-1.4.0", "token");
    let put = mock!(Client::put_item)
        .sequence()
        .http_status(400, json_error("ValidationException"))
        .build();
    let e = table(&[&put])
        .update(&before, &voted(before.clone(), true))
        .await
        .unwrap_err();
    assert!(e.message.starts_with("ValidationException"), "{e}");
}

#[tokio::test]
async fn claim_and_release_errors_are_errors() {
    let put = mock!(Client::put_item)
        .sequence()
        .http_status(400, json_error("ResourceNotFoundException"))
        .build();
    let e = table(&[&put]).claim("k", now()).await.unwrap_err();
    assert_eq!(e.operation, "claim k");
    let del = mock!(Client::delete_item)
        .sequence()
        .http_status(400, json_error("ResourceNotFoundException"))
        .build();
    let e = table(&[&del]).release("k").await.unwrap_err();
    assert_eq!(e.operation, "release k");
}

#[tokio::test]
async fn a_run_claim_is_its_owners_and_says_who_holds_it_otherwise() {
    let mut holder = Item::new();
    holder.insert("pk".into(), s("run#k"));
    holder.insert("owner".into(), s("arn:exec:first"));
    let put = mock!(Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(pk) OR #owner = :owner")
                && r.expression_attribute_values().unwrap()[":owner"]
                    .as_s()
                    .unwrap()
                    == "arn:exec:second"
                && r.item().unwrap()["owner"].as_s().unwrap() == "arn:exec:second"
        })
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .error(move || conditional_failed(Some(holder.clone())))
        .build();
    let t = table(&[&put]);
    let second = Hold {
        key: "run#k",
        owner: "arn:exec:second",
        expires_at: now(),
    };
    assert_eq!(t.claim_for(&second).await.unwrap(), Claim::Mine);
    assert_eq!(
        t.claim_for(&second).await.unwrap(),
        Claim::HeldBy("arn:exec:first".into())
    );
}

#[tokio::test]
async fn a_take_over_happens_only_from_the_holder_read() {
    let put = mock!(Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("#owner = :from")
                && r.expression_attribute_values().unwrap()[":from"]
                    .as_s()
                    .unwrap()
                    == "arn:old"
                && r.item().unwrap()["owner"].as_s().unwrap() == "arn:new"
        })
        .sequence()
        .output(|| PutItemOutput::builder().build())
        .error(|| conditional_failed(None))
        .build();
    let t = table(&[&put]);
    let new = Hold {
        key: "run#k",
        owner: "arn:new",
        expires_at: now(),
    };
    assert!(t.take_over(&new, "arn:old").await.unwrap());
    assert!(!t.take_over(&new, "arn:old").await.unwrap());
}

#[tokio::test]
async fn the_newest_candidate_is_written_over_the_revision_read() {
    let newest = Newest {
        tag: "rc-1.5.0".into(),
        version: "1.5.0".into(),
        execution_id: "arn:e".into(),
    };
    let first = mock!(Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("attribute_not_exists(pk)")
                && r.item().unwrap()["pk"].as_s().unwrap() == "newest#acme/shop"
                && r.item().unwrap()["revision"].as_n().unwrap() == "1"
        })
        .then_output(|| PutItemOutput::builder().build());
    assert!(table(&[&first])
        .set_newest("acme/shop", &newest, None)
        .await
        .unwrap());
    let lost = mock!(Client::put_item)
        .match_requests(|r| {
            r.condition_expression() == Some("revision = :r")
                && r.expression_attribute_values().unwrap()[":r"]
                    .as_n()
                    .unwrap()
                    == "1"
        })
        .then_error(|| conditional_failed(None));
    assert!(!table(&[&lost])
        .set_newest("acme/shop", &newest, Some(1))
        .await
        .unwrap());
    let mut item = Item::new();
    item.insert("pk".into(), s("newest#acme/shop"));
    item.insert("newest".into(), s(serde_json::to_string(&newest).unwrap()));
    item.insert("revision".into(), n(2));
    let get = mock!(Client::get_item).then_output(move || {
        GetItemOutput::builder()
            .set_item(Some(item.clone()))
            .build()
    });
    assert_eq!(
        table(&[&get]).newest("acme/shop").await.unwrap(),
        Some((newest, 2))
    );
}

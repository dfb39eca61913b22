//! The table adapter against the SDK's mocks: conditional writes, the sparse pending
//! index with pagination, claims, and errors including throttling.

use super::*;
use aws_sdk_dynamodb::operation::delete_item::DeleteItemOutput;
use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::{PutItemError, PutItemOutput};
use aws_sdk_dynamodb::operation::query::QueryOutput;
use aws_sdk_dynamodb::types::error::ConditionalCheckFailedException;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::retry::RetryConfig;
use stagegate::ports::Vote;
use stagegate::testing::{now, pending_record};
use std::time::Duration as StdDuration;

fn table(rules: &[&Rule]) -> DynamoTable {
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, rules, |c| c
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(3)
                .with_initial_backoff(StdDuration::from_millis(1))
        ));
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
    r.votes.push(Vote {
        approver: "ana".into(),
        approve,
        reason: None,
        at: now(),
        from: "198.51.100.7".into(),
    });
    r.state = if approve {
        ApprovalState::Approved
    } else {
        ApprovalState::Rejected
    };
    r
}

#[tokio::test]
async fn create_writes_a_pending_item_only_if_it_is_new() {
    let record = pending_record("h1", "rc-1.4.0", "token");
    let expected_ttl = (record.expires_at + Duration::days(RETENTION_DAYS)).timestamp();
    let put = mock!(Client::put_item)
        .match_requests(move |r| {
            let item = r.item().unwrap();
            r.condition_expression() == Some("attribute_not_exists(pk)")
                && item["pk"].as_s().unwrap() == "approval#h1"
                && item["state"].as_s().unwrap() == "PENDING"
                && item["voteCount"].as_n().unwrap() == "0"
                && item["pendingRepository"].as_s().unwrap() == "acme/shop"
                && item["expiresAt"].as_n().unwrap() == &expected_ttl.to_string()
        })
        .then_output(|| PutItemOutput::builder().build());
    table(&[&put]).create(&record).await.unwrap();
    assert_eq!(put.num_calls(), 1);

    let exists = mock!(Client::put_item).then_error(|| conditional_failed(None));
    let e = table(&[&exists]).create(&record).await.unwrap_err();
    assert!(e.message.contains("already exists"), "{e}");
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
    assert!(e.message.contains("malformed record"), "{e}");
}

#[tokio::test]
async fn update_is_conditioned_on_the_state_and_votes_that_were_read() {
    let before = pending_record("h1", "rc-1.4.0", "token");
    let after = voted(before.clone(), true);
    let put = mock!(Client::put_item)
        .match_requests(|r| {
            let item = r.item().unwrap();
            r.condition_expression() == Some("#state = :state AND voteCount = :votes")
                && r.expression_attribute_values().unwrap()[":state"].as_s().unwrap() == "PENDING"
                && r.expression_attribute_values().unwrap()[":votes"].as_n().unwrap() == "0"
                && item["state"].as_s().unwrap() == "APPROVED"
                && item["voteCount"].as_n().unwrap() == "1"
                // no longer pending: out of the sparse index
                && !item.contains_key("pendingRepository")
        })
        .then_output(|| PutItemOutput::builder().build());
    assert_eq!(
        table(&[&put]).update(&before, &after).await.unwrap(),
        Update::Done
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
                && r.expression_attribute_values().unwrap()[":r"]
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
    let put = mock!(Client::put_item)
        .sequence()
        .http_status(400, json_error("ResourceNotFoundException"))
        .build();
    let e = table(&[&put])
        .create(&pending_record("h", "rc-1", "t"))
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
    assert_eq!(e.operation, "claim the delivery");
    let del = mock!(Client::delete_item)
        .sequence()
        .http_status(400, json_error("ResourceNotFoundException"))
        .build();
    let e = table(&[&del]).release("k").await.unwrap_err();
    assert_eq!(e.operation, "release the delivery claim");
}

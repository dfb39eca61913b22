//! The table drills against DynamoDB's conditional writes (moto), at a small size:
//! the load harness (`bench/load`) runs them at full size and writes the figures.

use crate::moto_with_table;
use stagegate_paths::table::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tables_once_only_writes_hold_under_concurrency_on_dynamodb() {
    let (_moto, table) = moto_with_table().await;
    let people = voters(5);
    let mut directory = table.directory().await.unwrap();
    directory.approvers = people
        .iter()
        .cloned()
        .chain(stagegate::testing::approvers())
        .collect();
    assert!(table.save_directory(&directory).await.unwrap());
    let mut r = TableReport::default();
    claim_storm(&table, 20, &mut r).await;
    approvals_at_once(&table, 10, &mut r).await;
    votes_at_once(&table, &people, &mut r).await;
    assert_eq!((r.claimers, r.claims_won), (20, 1), "{r:#?}");
    assert_eq!((r.approvals, r.approved), (10, 10), "{r:#?}");
    assert_eq!(
        (r.voters, r.votes_counted, r.vote_answers),
        (5, 5, 1),
        "{r:#?}"
    );
    assert_eq!(r.decisions_lost, 0, "{r:#?}");
}

/// Whole runs with their artifacts in S3 and their notices through SNS (moto; the
/// engine stands in for Step Functions, memory for the table, scripts for CodeBuild,
/// CloudFormation and Amplify): three candidates at once, each deployed and told;
/// every object the steps wrote reads back the same from the bucket, and every notice
/// reached the topics' subscriber. `bench/load` runs it at full size.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn whole_runs_keep_their_artifacts_in_s3_and_send_their_notices_through_sns() {
    use std::time::Duration;
    let moto = crate::Moto::start();
    let (flow, artifacts, notices, remote) = stagegate_paths::remote::on_moto(&moto).await;
    let r = stagegate_paths::load::many_candidates(&flow, 3, Duration::from_millis(2)).await;
    assert_eq!(
        (r.runs, r.succeeded, r.unfinished, r.decisions_lost),
        (3, 3, 0, 0),
        "{r:#?}"
    );
    assert_eq!((r.notices_missing, r.notices_doubled), (0, 0), "{r:#?}");
    let v = artifacts.verify().await;
    assert!(v.objects >= 3 * 10 && v.lost.is_empty(), "{v:?}");
    let received = moto.drain(&remote.queue_url, Duration::from_secs(2)).await;
    assert!(notices.published() >= 6, "{}", notices.published());
    assert_eq!(received, notices.published());
}

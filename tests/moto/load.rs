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

//! The load drills at a small size on virtual time: what the load harness measures
//! at full size (`cargo bench -p stagegate-paths --bench load`) holds here, without
//! a wall-clock figure.

use crate::*;
use stagegate_paths::load::{duplicate_deliveries, many_candidates, tag_storm, Report};

const TICK: Duration = Duration::from_secs(1);

fn nothing_lost(r: &Report) {
    assert_eq!(
        (
            r.unfinished,
            r.decisions_lost,
            r.notices_missing,
            r.notices_doubled
        ),
        (0, 0, 0, 0),
        "{r:#?}"
    );
    assert!(r.other.is_empty(), "{r:#?}");
}

pub async fn ten_candidates_at_once_all_deploy_one_at_a_time_and_are_each_told() {
    let r = many_candidates(&Flow::new(), 10, TICK).await;
    nothing_lost(&r);
    assert_eq!((r.runs, r.succeeded, r.approval_requests), (10, 10, 10));
    for phase in [
        "Preflight",
        "Wait for Approval",
        "Deploy Frontend",
        "Mark Release Ready",
    ] {
        assert_eq!(r.phases[phase].len(), 10, "{phase}");
    }
    // Bob approves one candidate at a time: the last waited for the nine before.
    let waits = r.phases["Wait for Approval"].clone();
    assert!(waits.iter().max() > waits.iter().min(), "{waits:?}");
}

pub async fn a_storm_of_tags_leaves_the_newest_and_tells_the_rest_once() {
    let r = tag_storm(&Flow::new(), 6, Duration::from_secs(10), TICK).await;
    nothing_lost(&r);
    assert_eq!((r.runs, r.succeeded, r.superseded), (6, 1, 5), "{r:#?}");
}

pub async fn a_burst_of_duplicate_deliveries_starts_one_run() {
    let r = duplicate_deliveries(&Flow::new(), 20, TICK).await;
    nothing_lost(&r);
    assert_eq!((r.starts, r.runs, r.succeeded), (20, 1, 1));
    assert_eq!(r.approval_requests, 1);
}

/// The table drills on the in-memory table (the moto test runs them on DynamoDB). Not
/// a route: it runs no definition.
#[tokio::test]
async fn the_tables_once_only_writes_hold_under_concurrency() {
    use stagegate_paths::table::*;
    let people = voters(8);
    let table = stagegate::testing::MemoryTable::with_approvers(
        people.iter().cloned().chain(approvers()).collect(),
    );
    let mut r = TableReport::default();
    claim_storm(&table, 50, &mut r).await;
    approvals_at_once(&table, 20, &mut r).await;
    votes_at_once(&table, &people, &mut r).await;
    assert_eq!((r.claimers, r.claims_won), (50, 1), "{r:#?}");
    assert_eq!((r.approvals, r.approved), (20, 20), "{r:#?}");
    assert_eq!(
        (r.voters, r.votes_counted, r.vote_answers),
        (8, 8, 1),
        "{r:#?}"
    );
    assert_eq!(r.decisions_lost, 0, "{r:#?}");
}

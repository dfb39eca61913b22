//! Table drills: the approvals table's once-only writes under concurrency, through the
//! ports every function uses — a push's delivery claimed by many callers at once,
//! many approvals decided at once, one approval voted on by everyone at once. Generic
//! over the table: a path test runs them on [`stagegate::testing::MemoryTable`], a
//! moto test and the load harness on the DynamoDB adapter against moto (a real
//! implementation of DynamoDB's conditional writes).

use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::links::{form_token, hash_id, new_link_id};
use stagegate::ports::{Approvals, Approver, Approvers, Claims, Link};
use stagegate::testing::{now, pending_record, FixedClock, MemoryRuns};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

/// What the drills saw. Every `lost` figure must be 0.
#[derive(Debug, Default)]
pub struct TableReport {
    /// Callers claiming one delivery, and how many were told they made the claim.
    pub claimers: usize,
    pub claims_won: usize,
    /// Approvals decided at once, and how many ended approved with one task answer.
    pub approvals: usize,
    pub approved: usize,
    /// People voting on one approval, votes counted, conflicts they were told to
    /// retry, and the task answers sent (must be 1).
    pub voters: usize,
    pub votes_counted: usize,
    pub conflicts: usize,
    pub vote_answers: usize,
    /// Decisions accepted by the desk but not in the record, or answered twice.
    pub decisions_lost: usize,
    /// Each call's latencies, by name.
    pub latencies: BTreeMap<&'static str, Vec<Duration>>,
}

impl TableReport {
    fn time(&mut self, call: &'static str, took: Duration) {
        self.latencies.entry(call).or_default().push(took);
    }
}

/// One delivery key claimed by `n` callers at once.
pub async fn claim_storm<T>(table: &T, n: usize, report: &mut TableReport)
where
    T: Claims + Clone + 'static,
{
    let expires = now() + chrono::Duration::days(1);
    let key = format!("delivery#{}", new_link_id());
    let claims = (0..n).map(|_| {
        let (table, key) = (table.clone(), key.clone());
        async move {
            let began = Instant::now();
            let won = table.claim(&key, expires).await;
            (won, began.elapsed())
        }
    });
    for (won, took) in futures::future::join_all(claims).await {
        report.claimers += 1;
        report.claims_won += usize::from(won.unwrap_or(false));
        report.time("claim (conditional put)", took);
    }
}

fn link(id: &str, approval: &str, who: &str) -> Link {
    Link {
        id_hash: hash_id(id),
        approval_id: approval.into(),
        approver_id: who.into(),
        expires_at: now() + chrono::Duration::hours(24),
    }
}

/// Decides through link `id` as the review page would, retrying while the desk says
/// another decision landed at the same moment (as the page tells a person to). The
/// answer, and how many conflicts it met.
async fn decide<T: Approvals + Approvers>(
    table: &T,
    runs: &MemoryRuns,
    id: &str,
    report: &mut TableReport,
) -> (Option<Decided>, usize) {
    let desk = Desk {
        pusher_may_approve: true,
        approvals: table,
        runs,
        clock: FixedClock(now()),
    };
    let mut conflicts = 0;
    for _ in 0..100 {
        let began = Instant::now();
        // The token the review page would carry (the page reads link and record).
        let Some(l) = table.link(&hash_id(id)).await.ok().flatten() else {
            return (None, conflicts);
        };
        let token = match table.get(&l.approval_id).await {
            Ok(Some(r)) => form_token(&r, &l),
            _ => return (None, conflicts),
        };
        let form = Form {
            approve: true,
            reason: None,
            from: "198.51.100.7".into(),
            break_glass: false,
        };
        let answer = desk.decide_by_link(id, &token, form).await;
        report.time("decide (read, conditional write, answer)", began.elapsed());
        match answer {
            Ok(Ok(d)) => return (Some(d), conflicts),
            Ok(Err(Refusal::Conflict)) => conflicts += 1,
            _ => return (None, conflicts),
        }
    }
    (None, conflicts)
}

/// `n` approvals created at once, then each approved by bob at once: each must end
/// approved with one task answer.
pub async fn approvals_at_once<T>(table: &T, n: usize, report: &mut TableReport)
where
    T: Approvals + Approvers + Clone + 'static,
{
    let runs = MemoryRuns::default();
    let creates = (0..n).map(|i| {
        let table = table.clone();
        async move {
            let record = pending_record(
                &format!("many-{}", new_link_id()),
                "rc-1.4.0",
                &format!("tok-{i}"),
            );
            let id = new_link_id();
            let began = Instant::now();
            let made = table.create(&record, &[link(&id, &record.id, "bob")]).await;
            (made.ok().map(|()| (record.id, id)), began.elapsed())
        }
    });
    let mut made = Vec::new();
    for (m, took) in futures::future::join_all(creates).await {
        report.time("create approval (transaction)", took);
        made.extend(m);
    }
    let decisions = made.iter().map(|(record, id)| {
        let (table, runs) = (table.clone(), runs.clone());
        async move {
            let mut own = TableReport::default();
            let (d, _) = decide(&table, &runs, id, &mut own).await;
            let stored = table.get(record).await.ok().flatten();
            (d, stored, own)
        }
    });
    for (d, stored, own) in futures::future::join_all(decisions).await {
        report.approvals += 1;
        merge(report, own);
        let recorded = stored.is_some_and(|r| r.votes.len() == 1);
        match (d, recorded) {
            (Some(Decided::Approved), true) => report.approved += 1,
            _ => report.decisions_lost += 1,
        }
    }
    if runs.successes().len() != report.approved {
        report.decisions_lost += runs.successes().len().abs_diff(report.approved);
    }
}

/// One approval that needs every one of `people` (already configured approvers);
/// they all vote at once. Every vote must be counted, and the task answered once.
pub async fn votes_at_once<T>(table: &T, people: &[Approver], report: &mut TableReport)
where
    T: Approvals + Approvers + Clone + 'static,
{
    let runs = MemoryRuns::default();
    let mut record = pending_record(&format!("votes-{}", new_link_id()), "rc-1.4.0", "tok-votes");
    record.approvers = people.to_vec();
    record.required_approvals = u32::try_from(people.len()).unwrap_or(u32::MAX);
    let ids: Vec<(String, Link)> = people
        .iter()
        .map(|p| {
            let id = new_link_id();
            let l = link(&id, &record.id, &p.id);
            (id, l)
        })
        .collect();
    let links: Vec<Link> = ids.iter().map(|(_, l)| l.clone()).collect();
    if table.create(&record, &links).await.is_err() {
        report.decisions_lost += people.len();
        return;
    }
    let votes = ids.iter().map(|(id, _)| {
        let (table, runs, id) = (table.clone(), runs.clone(), id.clone());
        async move {
            let mut own = TableReport::default();
            let (d, conflicts) = decide(&table, &runs, &id, &mut own).await;
            (d, conflicts, own)
        }
    });
    for (d, conflicts, own) in futures::future::join_all(votes).await {
        report.voters += 1;
        report.conflicts += conflicts;
        merge(report, own);
        if !matches!(d, Some(Decided::Approved | Decided::Recorded { .. })) {
            report.decisions_lost += 1;
        }
    }
    let stored = table.get(&record.id).await.ok().flatten();
    report.votes_counted += stored.map_or(0, |r| r.votes.len());
    report.decisions_lost += report.voters.saturating_sub(report.votes_counted);
    report.vote_answers += runs.successes().len();
}

fn merge(into: &mut TableReport, from: TableReport) {
    for (call, took) in from.latencies {
        into.latencies.entry(call).or_default().extend(took);
    }
}

/// `n` approvers, `voter-00` … (to configure before [`votes_at_once`]).
pub fn voters(n: usize) -> Vec<Approver> {
    (0..n)
        .map(|i| stagegate::testing::approver(&format!("voter-{i:02}"), None))
        .collect()
}

//! Load drills on one world ([`Flow`]): many candidates at once, a storm of tags of
//! one repository, a burst of duplicate deliveries of one push. Each returns a
//! [`Report`] — runs started and how they ended, decisions lost, notices missing or
//! doubled, each phase's durations — that the load harness (`load/main.rs`: the
//! system clock, full size) writes into docs/performance.md and a path test
//! (`paths/load.rs`: virtual time, small) holds. The approver is a robot: bob, who
//! approves each candidate as soon as he is asked.

use crate::flow::Flow;
use asl_engine::ExecutionStatus;
use stagegate::desk::Decided;
use stagegate::flow::PHASES;
use stagegate::ports::{Timelines, Topic};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;
use tokio::time::Instant;

/// What a drill saw.
#[derive(Debug, Default)]
pub struct Report {
    /// Start requests made, and the distinct executions they started.
    pub starts: usize,
    pub runs: usize,
    /// How the runs ended: ready, superseded, anything else (`tag: status error`).
    pub succeeded: usize,
    pub superseded: usize,
    pub other: Vec<String>,
    /// Still running when the drill gave up waiting (must be 0).
    pub unfinished: usize,
    /// Approvals the desk accepted whose run did not go on to deploy (must be 0).
    pub decisions_lost: usize,
    /// Runs that ended with no outcome notice, or with more than one (must be 0).
    pub notices_missing: usize,
    pub notices_doubled: usize,
    /// Approval requests sent to bob.
    pub approval_requests: usize,
    /// Each phase's durations over the runs that entered it (first entry).
    pub phases: BTreeMap<&'static str, Vec<Duration>>,
    /// From the first start to the last run's end.
    pub wall: Duration,
}

impl Report {
    /// The `q`th percentile of `phase`'s durations.
    pub fn percentile(&self, phase: &str, q: f64) -> Option<Duration> {
        let mut d = self.phases.get(phase)?.clone();
        d.sort();
        percentile(&d, q)
    }
}

/// The nearest-rank percentile of `sorted` (ascending): the smallest value with at
/// least `q` % of the values at or below it.
pub fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    let n = sorted.len();
    if n == 0 {
        return None;
    }
    let rank = ((q / 100.0) * n as f64).ceil() as usize;
    sorted.get(rank.clamp(1, n) - 1).copied()
}

/// A run the drill started: its repository, tag and execution.
#[derive(Clone, Debug)]
struct Run {
    repository: String,
    tag: String,
    arn: String,
}

/// `n` candidates of `n` repositories started at once. Everything up to the
/// approval runs for all of them together; bob approves the next one as soon as the
/// one before has ended, because one stagegate deploys one candidate at a time to its
/// stack (a second deploy is refused, `deploy one candidate at a time`).
pub async fn many_candidates(flow: &Flow, n: usize, tick: Duration) -> Report {
    let begun = Instant::now();
    let starts = (0..n).map(|i| async move {
        let (repository, tag) = (format!("acme/app-{i:03}"), format!("rc-1.{i}.0"));
        let arn = flow
            .start_in(&repository, &tag, &format!("{:040x}", i + 1))
            .await;
        Run {
            repository,
            tag,
            arn,
        }
    });
    let runs = futures::future::join_all(starts).await;
    let mut approved = BTreeSet::new();
    let mut deploying: Option<String> = None;
    let deadline = begun + tick * 100_000;
    while Instant::now() < deadline && runs.iter().any(|r| running(flow, &r.arn)) {
        if deploying.as_ref().is_none_or(|arn| !running(flow, arn)) {
            let links = flow.sent_links("approval-request", "bob");
            let next = runs.iter().find(|r| {
                !approved.contains(&r.arn) && running(flow, &r.arn) && links.contains_key(&r.tag)
            });
            if let Some(r) = next {
                if approve(flow, &links[&r.tag]).await {
                    approved.insert(r.arn.clone());
                }
                deploying = Some(r.arn.clone());
            }
        }
        tokio::time::sleep(tick).await;
    }
    report(flow, n, &runs, &approved, begun, tick).await
}

/// `n` tags of one repository, `spacing` apart: each newer candidate supersedes the
/// older ones; bob approves the last once every other run has ended.
pub async fn tag_storm(flow: &Flow, n: usize, spacing: Duration, tick: Duration) -> Report {
    let begun = Instant::now();
    let mut runs = Vec::new();
    for i in 0..n {
        let tag = format!("rc-2.0.{i}");
        let arn = flow.start(&tag, &format!("{:040x}", i + 1)).await;
        runs.push(Run {
            repository: "acme/shop".into(),
            tag,
            arn,
        });
        if i + 1 < n {
            tokio::time::sleep(spacing).await;
        }
    }
    let approved = approve_last_when_alone(flow, &runs, begun, tick).await;
    report(flow, n, &runs, &approved, begun, tick).await
}

/// The same push delivered `n` times at once: one run, one approval request, one
/// notice.
pub async fn duplicate_deliveries(flow: &Flow, n: usize, tick: Duration) -> Report {
    let begun = Instant::now();
    let sha = "0123456789abcdef0123456789abcdef01234567";
    let starts = (0..n).map(|_| flow.start("rc-3.0.0", sha));
    let arns: BTreeSet<String> = futures::future::join_all(starts)
        .await
        .into_iter()
        .collect();
    let runs: Vec<Run> = arns
        .into_iter()
        .map(|arn| Run {
            repository: "acme/shop".into(),
            tag: "rc-3.0.0".into(),
            arn,
        })
        .collect();
    let approved = approve_last_when_alone(flow, &runs, begun, tick).await;
    report(flow, n, &runs, &approved, begun, tick).await
}

/// Waits until only the last run is running and bob was asked about it, approves
/// it, and waits for it to end. The runs bob approved.
async fn approve_last_when_alone(
    flow: &Flow,
    runs: &[Run],
    begun: Instant,
    tick: Duration,
) -> BTreeSet<String> {
    let mut approved = BTreeSet::new();
    let Some(last) = runs.last() else {
        return approved;
    };
    let deadline = begun + tick * 100_000;
    while Instant::now() < deadline && runs.iter().any(|r| running(flow, &r.arn)) {
        let others = runs[..runs.len() - 1].iter().any(|r| running(flow, &r.arn));
        if !others && approved.is_empty() {
            if let Some(link) = flow.sent_link(&last.tag, "approval-request", "bob") {
                if approve(flow, &link).await {
                    approved.insert(last.arn.clone());
                }
            }
        }
        tokio::time::sleep(tick).await;
    }
    approved
}

fn running(flow: &Flow, arn: &str) -> bool {
    flow.engine
        .describe_execution(arn)
        .is_ok_and(|d| d.status.is_running())
}

/// Bob approves through link `id`, as the review page would have him.
async fn approve(flow: &Flow, id: &str) -> bool {
    flow.decide(id, true, None).await == Ok(Decided::Approved)
}

/// What became of `runs`.
async fn report(
    flow: &Flow,
    starts: usize,
    runs: &[Run],
    approved: &BTreeSet<String>,
    begun: Instant,
    tick: Duration,
) -> Report {
    let wall = begun.elapsed();
    // The end-of-run rule notifies runs that ended abnormally: let it.
    tokio::time::sleep(tick * 10).await;
    let messages = flow.notifier.messages();
    let told = |r: &Run, topic: Topic, kind: Option<&str>| {
        messages
            .iter()
            .filter(|(t, m)| {
                let attr = |k: &str| m.attributes.get(k).map(String::as_str);
                *t == topic
                    && attr("tag") == Some(r.tag.as_str())
                    && attr("repository").is_none_or(|repo| repo == r.repository)
                    && (kind.is_none() || (attr("kind") == kind && attr("approver") == Some("bob")))
            })
            .count()
    };
    let mut out = Report {
        starts,
        runs: runs.len(),
        wall,
        ..Report::default()
    };
    for r in runs {
        out.approval_requests += told(r, Topic::Approvals, Some("approval-request"));
        let Ok(d) = flow.engine.describe_execution(&r.arn) else {
            out.other.push(format!("{}: not found", r.tag));
            continue;
        };
        match (d.status, d.error.as_deref()) {
            (s, _) if s.is_running() => out.unfinished += 1,
            (ExecutionStatus::Succeeded, _) => out.succeeded += 1,
            (_, Some("Superseded")) => out.superseded += 1,
            (s, e) => out
                .other
                .push(format!("{}: {s:?} {}", r.tag, e.unwrap_or(""))),
        }
        match told(r, Topic::Notifications, None) {
            0 if !d.status.is_running() => out.notices_missing += 1,
            0 | 1 => {}
            _ => out.notices_doubled += 1,
        }
        let phases = flow.sfn.phases(&r.arn).await.unwrap_or_default();
        let deployed = phases.iter().any(|p| p.state == "Validate Infrastructure");
        if approved.contains(&r.arn) && !deployed {
            out.decisions_lost += 1;
        }
        for name in PHASES {
            let first = phases.iter().find(|p| p.state == *name);
            if let Some(took) = first.and_then(|p| (p.exited? - p.entered).to_std().ok()) {
                out.phases.entry(name).or_default().push(took);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|m| Duration::from_millis(*m)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred = ms(&(1..=100).collect::<Vec<_>>());
        assert_eq!(percentile(&hundred, 50.0), Some(Duration::from_millis(50)));
        assert_eq!(percentile(&hundred, 99.0), Some(Duration::from_millis(99)));
        assert_eq!(
            percentile(&hundred, 100.0),
            Some(Duration::from_millis(100))
        );
        let three = ms(&[10, 20, 30]);
        assert_eq!(percentile(&three, 50.0), Some(Duration::from_millis(20)));
        assert_eq!(percentile(&three, 99.0), Some(Duration::from_millis(30)));
        assert_eq!(percentile(&three, 0.0), Some(Duration::from_millis(10)));
        assert_eq!(percentile(&[], 50.0), None);
    }
}

//! `stagegate status --recent N`: the figures stagegate's metrics carry (runs by
//! outcome, phase durations, approval waits), read from the state machine's recent
//! executions themselves, so they hold from the first run and need no dashboard.

use aws_sfn_port::ExecutionView;
use chrono::{DateTime, Utc};
use stagegate::metrics::APPROVAL_PHASES;
use stagegate::timeline::phase_times;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How a run ended, as the `Runs` metric's outcome and people read it.
pub fn outcome(v: &ExecutionView) -> &'static str {
    let entered = |s: &str| v.phases.iter().any(|p| p.state == s);
    match v.status.as_str() {
        "RUNNING" => "running",
        "SUCCEEDED" if entered("Duplicate Ignored") => "duplicate",
        "SUCCEEDED" => "success",
        "FAILED" if entered("Workflow Cancelled") => "cancelled",
        "TIMED_OUT" => "timed out",
        "ABORTED" => "stopped",
        _ => "failure",
    }
}

pub fn seconds(s: f64) -> String {
    let s = s.round() as i64;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The run's phases as its timeline charts them, and its approval wait.
fn charted(v: &ExecutionView, now: DateTime<Utc>) -> (Vec<(String, f64)>, Option<f64>) {
    let times = phase_times(&v.phases, v.stopped.unwrap_or(now));
    let wait = times
        .iter()
        .find(|t| APPROVAL_PHASES.contains(&t.phase.as_str()))
        .map(|t| t.seconds);
    (
        times.into_iter().map(|t| (t.phase, t.seconds)).collect(),
        wait,
    )
}

/// One line per run, then the outcomes counted, the approval waits and each phase's
/// average and longest duration, in flow order.
pub fn render(machine: &str, views: &[ExecutionView], now: DateTime<Utc>) -> String {
    let mut out = format!("Recent runs of {machine}: {}\n\n", views.len());
    let _ = writeln!(
        out,
        "  {:<40} {:<10} {:>8} {:>14}",
        "run", "outcome", "took", "approval wait"
    );
    let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
    let (mut waits, mut phases) = (Vec::new(), Vec::<(String, Vec<f64>)>::new());
    for v in views {
        let name = v.arn.rsplit(':').next().unwrap_or(&v.arn);
        let took = (v.stopped.unwrap_or(now) - v.started).num_milliseconds() as f64 / 1000.0;
        let (times, wait) = charted(v, now);
        let shown_wait = wait.map_or_else(|| "-".to_string(), seconds);
        let _ = writeln!(
            out,
            "  {name:<40} {:<10} {:>8} {shown_wait:>14}",
            outcome(v),
            seconds(took)
        );
        *outcomes.entry(outcome(v)).or_default() += 1;
        waits.extend(wait);
        for (phase, s) in times {
            match phases.iter_mut().find(|p| p.0 == phase) {
                Some(p) => p.1.push(s),
                None => phases.push((phase, vec![s])),
            }
        }
    }
    let counted: Vec<String> = outcomes.iter().map(|(o, n)| format!("{n} {o}")).collect();
    let _ = writeln!(out, "\nOutcomes: {}", counted.join(", "));
    match stats(&waits) {
        Some((avg, max)) => {
            let n = waits.len();
            let _ = writeln!(
                out,
                "Approval wait: average {}, longest {} ({n} runs)",
                seconds(avg),
                seconds(max)
            );
        }
        None => out.push_str("Approval wait: no run reached its approval\n"),
    }
    if !phases.is_empty() {
        let _ = writeln!(out, "\n  {:<34} {:>8} {:>8}", "phase", "average", "longest");
    }
    for (phase, values) in &phases {
        if let Some((avg, max)) = stats(values) {
            let _ = writeln!(out, "  {phase:<34} {:>8} {:>8}", seconds(avg), seconds(max));
        }
    }
    out
}

fn stats(values: &[f64]) -> Option<(f64, f64)> {
    let max = values.iter().copied().reduce(f64::max)?;
    Some((values.iter().sum::<f64>() / values.len() as f64, max))
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sfn_port::Phase;
    use chrono::Duration;
    use serde_json::Value;

    fn at(s: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(1_796_637_600 + s, 0).unwrap()
    }

    fn run(name: &str, status: &str, states: &[(&str, i64, i64)]) -> ExecutionView {
        let phases = states
            .iter()
            .map(|(s, from, to)| Phase {
                state: s.to_string(),
                entered: at(*from),
                exited: Some(at(*to)),
            })
            .collect();
        let end = states.last().map_or(0, |s| s.2);
        ExecutionView {
            arn: format!("arn:aws:states:eu-west-1:1:execution:stagegate-staging:{name}"),
            status: status.into(),
            input: Value::Null,
            started: at(0),
            stopped: (status != "RUNNING").then(|| at(end)),
            error: None,
            cause: None,
            phases,
        }
    }

    #[test]
    fn recent_runs_are_counted_by_outcome_with_their_approval_waits_and_phases() {
        let ready = run(
            "rc-1.4.0--aaaaaaaaaaaa",
            "SUCCEEDED",
            &[
                ("Preflight", 0, 2),
                ("Wait for Approval", 2, 602),
                ("Deploy Infrastructure", 602, 662),
                ("Ready for Production", 662, 662),
            ],
        );
        let rejected = run(
            "rc-1.4.1--bbbbbbbbbbbb",
            "FAILED",
            &[
                ("Preflight", 0, 4),
                ("Wait for Approval", 4, 3604),
                ("Workflow Cancelled", 3604, 3604),
            ],
        );
        let broken = run(
            "rc-1.4.2--cccccccccccc",
            "FAILED",
            &[("Preflight", 0, 1), ("Deployment Failed", 1, 1)],
        );
        let text = render("stagegate-staging", &[ready, rejected, broken], at(4000));
        assert!(
            text.contains("Outcomes: 1 cancelled, 1 failure, 1 success"),
            "{text}"
        );
        assert!(
            text.contains("Approval wait: average 35m00s, longest 1h00m (2 runs)"),
            "{text}"
        );
        let preflight = text
            .lines()
            .find(|l| l.trim_start().starts_with("Preflight"))
            .unwrap();
        assert!(preflight.ends_with("       2s       4s"), "{preflight:?}");
        let line = text.lines().find(|l| l.contains("rc-1.4.1")).unwrap();
        assert!(
            line.contains("cancelled") && line.ends_with("1h00m"),
            "{line:?}"
        );
        let order: Vec<usize> = ["Preflight", "Wait for Approval", "Deploy Infrastructure"]
            .iter()
            .map(|p| text.find(&format!("  {p} ")).unwrap())
            .collect();
        assert!(order.windows(2).all(|w| w[0] < w[1]), "flow order: {text}");
    }

    #[test]
    fn a_running_run_counts_up_to_now_and_no_approval_says_so() {
        let mut running = run("rc-2.0.0--dddddddddddd", "RUNNING", &[("Preflight", 0, 5)]);
        running.phases.push(Phase {
            state: "Pre-Deployment Checks".into(),
            entered: at(5),
            exited: None,
        });
        let text = render("m", &[running], at(5) + Duration::seconds(55));
        assert!(text.contains("running"), "{text}");
        assert!(
            text.contains("Approval wait: no run reached its approval"),
            "{text}"
        );
        assert!(text.contains("1m00s"), "{text}");
        assert_eq!(
            render("m", &[], at(0)).lines().next(),
            Some("Recent runs of m: 0")
        );
    }
}

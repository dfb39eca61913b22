//! stagegate's own metrics as CloudWatch Embedded Metric Format (EMF) lines: a
//! function writes each as one JSON line to standard output and CloudWatch Logs
//! extracts the metric from it, so a metric costs no API call and no permission
//! beyond the function's logs. (Lambda passes a custom runtime's JSON lines through
//! as they are, `LogFormat: JSON` included.)
//!
//! [`METRICS`] is the one list of them: the template's dashboard may name only
//! these (a template test holds it to that), and each has a golden line
//! (`tests/golden/metrics/`).

use crate::flow::PhaseTime;
use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

/// The CloudWatch namespace of every stagegate metric.
pub const NAMESPACE: &str = "stagegate";

/// One metric: its name, unit (as CloudWatch spells it) and dimensions, in order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Metric {
    pub name: &'static str,
    pub unit: &'static str,
    pub dimensions: &'static [&'static str],
}

impl Metric {
    /// A count (CloudWatch unit `Count`).
    const fn counted(name: &'static str, dimensions: &'static [&'static str]) -> Self {
        Metric {
            name,
            unit: "Count",
            dimensions,
        }
    }

    /// A duration in seconds (CloudWatch unit `Seconds`).
    const fn timed(name: &'static str, dimensions: &'static [&'static str]) -> Self {
        Metric {
            name,
            unit: "Seconds",
            dimensions,
        }
    }
}

/// A run ended: 1, by repository, stage (`staging`, `production`) and outcome
/// (`success`, `failure`, `cancelled`).
pub const RUNS: Metric = Metric::counted("Runs", &["Repository", "Stage", "Outcome"]);

/// How long a phase of a run took (the run's timeline: [`crate::flow::PHASES`]).
pub const PHASE_DURATION: Metric =
    Metric::timed("PhaseDuration", &["Repository", "Stage", "Phase"]);

/// How long a run waited for its approval (the approval phase of its timeline).
pub const APPROVAL_WAIT: Metric = Metric::timed("ApprovalWait", &["Repository", "Stage"]);

/// A bake ended: 1, by result (`passed`, `failed`).
pub const BAKES: Metric = Metric::counted("Bakes", &["Repository", "Stage", "Result"]);

/// A release was rolled back: 1, by how (`automatic`: its bake failed).
pub const ROLLBACKS: Metric = Metric::counted("Rollbacks", &["Repository", "Stage", "Trigger"]);

/// Every metric stagegate emits.
pub const METRICS: &[Metric] = &[RUNS, PHASE_DURATION, APPROVAL_WAIT, BAKES, ROLLBACKS];

/// The phases whose duration is an approval wait.
pub const APPROVAL_PHASES: &[&str] = &["Wait for Approval", "Wait for Production Approval"];

/// One value of one metric, with its dimensions' values in the metric's order.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub metric: Metric,
    pub value: f64,
    pub dimensions: Vec<String>,
}

impl Sample {
    /// The sample's EMF line at `at` (one JSON object, no newline). Dimension values
    /// are strangers' text in places (a repository name): JSON-encoded, never spliced.
    pub fn emf(&self, at: DateTime<Utc>) -> String {
        let m = self.metric;
        let mut line = Map::new();
        line.insert(
            "_aws".into(),
            json!({
                "Timestamp": at.timestamp_millis(),
                "CloudWatchMetrics": [{
                    "Namespace": NAMESPACE,
                    "Dimensions": [m.dimensions],
                    "Metrics": [{"Name": m.name, "Unit": m.unit}],
                }],
            }),
        );
        for (name, value) in m.dimensions.iter().zip(&self.dimensions) {
            line.insert((*name).into(), Value::String(value.clone()));
        }
        line.insert(m.name.into(), json!(self.value));
        Value::Object(line).to_string()
    }
}

/// One count of `metric` with these dimension values (its order).
pub fn count(metric: Metric, dimensions: &[&str]) -> Sample {
    sample(metric, 1.0, dimensions)
}

fn sample(metric: Metric, value: f64, dimensions: &[&str]) -> Sample {
    Sample {
        metric,
        value,
        dimensions: dimensions.iter().map(|d| d.to_string()).collect(),
    }
}

/// What a run that ended says about itself: its outcome, each phase's duration and
/// its approval wait (the last two only when the run charted its timeline, which a
/// run that failed before its release was marked did not).
pub fn run_ended(
    repository: &str,
    stage: &str,
    outcome: &str,
    timeline: &[PhaseTime],
) -> Vec<Sample> {
    let mut out = vec![sample(RUNS, 1.0, &[repository, stage, outcome])];
    for phase in timeline {
        let dims = [repository, stage, phase.phase.as_str()];
        out.push(sample(PHASE_DURATION, phase.seconds, &dims));
        if APPROVAL_PHASES.contains(&phase.phase.as_str()) {
            out.push(sample(APPROVAL_WAIT, phase.seconds, &[repository, stage]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at() -> DateTime<Utc> {
        "2026-12-07T10:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_line_names_its_metric_dimensions_and_value_as_emf_specifies() {
        let s = sample(RUNS, 1.0, &["acme/shop", "staging", "success"]);
        let v: Value = serde_json::from_str(&s.emf(at())).unwrap();
        let directive = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(v["_aws"]["Timestamp"], 1_796_637_600_000_i64);
        assert_eq!(directive["Namespace"], "stagegate");
        assert_eq!(
            directive["Dimensions"],
            json!([["Repository", "Stage", "Outcome"]])
        );
        assert_eq!(
            directive["Metrics"],
            json!([{"Name": "Runs", "Unit": "Count"}])
        );
        assert_eq!(
            (v["Repository"].clone(), v["Outcome"].clone()),
            (json!("acme/shop"), json!("success"))
        );
        assert_eq!(v["Runs"], 1.0);
        assert!(!s.emf(at()).contains('\n'), "one line");
    }

    #[test]
    fn a_stranger_cannot_add_a_member_through_a_dimension_value() {
        let s = sample(
            RUNS,
            1.0,
            &["a\",\"Runs\":99,\"x\":\"", "staging", "failure"],
        );
        let v: Value = serde_json::from_str(&s.emf(at())).unwrap();
        assert_eq!(v["Runs"], 1.0);
        assert_eq!(v.as_object().unwrap().len(), 5);
    }

    #[test]
    fn a_run_with_a_timeline_reports_each_phase_and_its_approval_wait() {
        let phase = |p: &str, s: f64| PhaseTime {
            phase: p.into(),
            offset_seconds: 0.0,
            seconds: s,
        };
        let timeline = [phase("Preflight", 2.0), phase("Wait for Approval", 600.0)];
        let samples = run_ended("acme/shop", "staging", "success", &timeline);
        let names: Vec<&str> = samples.iter().map(|s| s.metric.name).collect();
        assert_eq!(
            names,
            ["Runs", "PhaseDuration", "PhaseDuration", "ApprovalWait"]
        );
        assert_eq!(samples[3].value, 600.0);
        assert_eq!(
            samples[2].dimensions,
            ["acme/shop", "staging", "Wait for Approval"]
        );
        let failed = run_ended("acme/shop", "production", "failure", &[]);
        assert_eq!(failed.len(), 1);
        for s in samples.iter().chain(&failed) {
            assert_eq!(s.dimensions.len(), s.metric.dimensions.len(), "{s:?}");
        }
    }

    /// One golden line per metric (`tests/golden/metrics/<Name>.json`): what a
    /// dashboard, a metric filter or an alarm on it reads.
    #[test]
    fn each_metric_has_its_golden_line() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/metrics");
        let example = |m: &Metric| match m.name {
            "Runs" => sample(RUNS, 1.0, &["acme/shop", "production", "success"]),
            "PhaseDuration" => sample(
                PHASE_DURATION,
                42.5,
                &["acme/shop", "staging", "Deploy Infrastructure"],
            ),
            "ApprovalWait" => sample(APPROVAL_WAIT, 900.0, &["acme/shop", "production"]),
            "Bakes" => count(BAKES, &["acme/shop", "staging", "failed"]),
            "Rollbacks" => count(ROLLBACKS, &["acme/shop", "production", "automatic"]),
            other => panic!("{other} has no golden example: add one"),
        };
        for m in METRICS {
            let s = example(m);
            let text = format!("{}\n", s.emf(at()));
            crate::testing::golden(&dir.join(format!("{}.json", m.name)), &text).unwrap();
        }
        let files = std::fs::read_dir(&dir).unwrap().count();
        assert_eq!(
            files,
            METRICS.len(),
            "a golden line for a metric that is gone"
        );
    }
}

//! Performance Tests: response-time budgets against the deployed URLs. The app
//! declares them in `performance.json` in the run's artifacts:
//! `{"budgets": [{"name": "home", "url": "${frontendUrl}/", "requests": 20, "p95Ms": 800}]}`.
//! No file means no budgets: the step records SKIPPED rather than pretending.

use crate::error::{names, StepError};
use crate::ports::{Artifacts, Http, HttpRequest};
use crate::step::Step;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Spec {
    budgets: Vec<Budget>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Budget {
    name: String,
    url: String,
    #[serde(default = "twenty")]
    requests: u32,
    p95_ms: u64,
}

fn twenty() -> u32 {
    20
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub artifacts_prefix: String,
    pub frontend_url: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Measurement {
    pub name: String,
    pub requests: u32,
    pub errors: u32,
    pub p95_ms: u64,
    pub budget_ms: u64,
    pub passed: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// `PASSED` or `SKIPPED` (no budgets declared).
    pub status: String,
    pub measurements: Vec<Measurement>,
    pub report_uri: Option<String>,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

async fn run(
    http: &impl Http,
    artifacts: &impl Artifacts,
    input: Input,
) -> Result<Output, StepError> {
    let key = format!("{}performance.json", input.artifacts_prefix);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(Output {
            status: "SKIPPED".into(),
            measurements: vec![],
            report_uri: None,
        });
    };
    let spec: Spec = serde_json::from_slice(&bytes).map_err(|e| {
        crate::error::invalid_input(format!("{key} is not a valid performance spec: {e}"))
    })?;
    let mut measurements = Vec::new();
    for b in spec.budgets {
        let url = b
            .url
            .replace("${frontendUrl}", input.frontend_url.trim_end_matches('/'));
        let mut samples = Vec::new();
        let mut errors = 0;
        for _ in 0..b.requests.clamp(1, 1000) {
            match http
                .send(&HttpRequest {
                    method: "GET".into(),
                    url: url.clone(),
                    headers: vec![],
                    body: None,
                })
                .await
            {
                Ok(r) if (200..400).contains(&r.status) => samples.push(r.elapsed_ms),
                _ => errors += 1,
            }
        }
        samples.sort_unstable();
        let p95 = percentile(&samples, 95.0);
        measurements.push(Measurement {
            name: b.name,
            requests: b.requests,
            errors,
            p95_ms: p95,
            budget_ms: b.p95_ms,
            passed: errors == 0 && p95 <= b.p95_ms,
        });
    }
    let body = serde_json::to_vec_pretty(&measurements)
        .map_err(|e| crate::error::invalid_input(e.to_string()))?;
    let report_uri = artifacts
        .put(
            &format!("{}performance-report.json", input.artifacts_prefix),
            "application/json",
            body,
        )
        .await?;
    let over: Vec<String> = measurements
        .iter()
        .filter(|m| !m.passed)
        .map(|m| {
            format!(
                "{}: p95 {} ms over a {} ms budget ({} error(s))",
                m.name, m.p95_ms, m.budget_ms, m.errors
            )
        })
        .collect();
    if !over.is_empty() {
        return Err(StepError::new(
            names::PERFORMANCE_BUDGET_EXCEEDED,
            format!("{}. Report: {report_uri}", over.join("; ")),
        ));
    }
    Ok(Output {
        status: "PASSED".into(),
        measurements,
        report_uri: Some(report_uri),
    })
}

/// The `performance-tests` function's name.
pub const NAME: &str = "performance-tests";

/// Performance Tests: latency budgets against the deployed URLs.
pub struct PerformanceTests<H, A> {
    http: H,
    artifacts: A,
}

impl<H: Http, A: Artifacts> PerformanceTests<H, A> {
    pub fn new(http: H, artifacts: A) -> Self {
        PerformanceTests { http, artifacts }
    }
}

impl<H: Http, A: Artifacts> Step for PerformanceTests<H, A> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        run(&self.http, &self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryHttp};

    #[test]
    fn nearest_rank_p95() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 95.0), 19);
        assert_eq!(percentile(&[7], 95.0), 7);
        assert_eq!(percentile(&[], 95.0), 0);
    }

    #[tokio::test]
    async fn no_spec_is_skipped_not_passed() {
        let out = run(
            &MemoryHttp::default(),
            &MemoryArtifacts::default(),
            Input {
                artifacts_prefix: "runs/r/".into(),
                frontend_url: "http://web".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(out.status, "SKIPPED");
    }

    #[tokio::test]
    async fn a_budget_over_p95_fails() {
        let arts = MemoryArtifacts::default();
        arts.put("runs/r/performance.json", "application/json", br#"{"budgets": [{"name": "home", "url": "${frontendUrl}/", "requests": 5, "p95Ms": 100}]}"#.to_vec()).await.unwrap();
        let http = MemoryHttp::default();
        http.route_timed("http://web/", 200, "ok", 250);
        let e = run(
            &http,
            &arts,
            Input {
                artifacts_prefix: "runs/r/".into(),
                frontend_url: "http://web".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "PerformanceBudgetExceeded");
        assert!(e.message.contains("p95 250 ms over a 100 ms budget"));
        http.route_timed("http://web/", 200, "ok", 50);
        let ok = run(
            &http,
            &arts,
            Input {
                artifacts_prefix: "runs/r/".into(),
                frontend_url: "http://web".into(),
            },
        )
        .await
        .unwrap();
        assert_eq!(ok.status, "PASSED");
    }
}

//! Performance Tests (`performance-tests`): load tests with budgets against the deployed URLs (seed: "load
//! testing with simulated users"). The app declares them in `performance.json` in
//! the run's artifacts:
//!
//! ```json
//! {"budgets": [
//!   {"name": "home page", "url": "${frontendUrl}/", "users": 10, "requests": 200,
//!    "p50Ms": 200, "p95Ms": 500, "p99Ms": 1000, "maxErrorRate": 0.01},
//!   {"name": "article list", "url": "${outputs.ApiUrl}/content", "users": 5,
//!    "durationSeconds": 30, "p95Ms": 300}
//! ]}
//! ```
//!
//! Each budget runs `users` concurrent virtual users, each sending one request after
//! another, until `requests` have been sent in all or `durationSeconds` have passed
//! (one of the two; `requests` 20 when neither is given). A response is an error
//! when it has no 2xx/3xx status or takes longer than `timeoutMs` (10 000 by
//! default). Percentiles are nearest-rank over the answered requests. No file means
//! no budgets: the step records SKIPPED rather than pretending.

use crate::error::{invalid_input, names, StepError};
use crate::flow::{LoadResults, Measurement};
use crate::ports::{Artifacts, Http, HttpRequest};
use crate::step::Step;
use crate::suite_spec::{self, Scope};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Bounds of a budget's load.
pub const MAX_USERS: u32 = 200;
pub const MAX_REQUESTS: u32 = 100_000;
pub const MAX_DURATION_SECONDS: u64 = 600;

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
    #[serde(default = "get")]
    method: String,
    #[serde(default)]
    headers: BTreeMap<String, String>,
    body: Option<String>,
    #[serde(default = "one")]
    users: u32,
    requests: Option<u32>,
    duration_seconds: Option<u64>,
    timeout_ms: Option<u64>,
    p50_ms: Option<u64>,
    p95_ms: Option<u64>,
    p99_ms: Option<u64>,
    max_error_rate: Option<f64>,
}

fn get() -> String {
    "GET".into()
}

fn one() -> u32 {
    1
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub artifacts_prefix: String,
    pub frontend_url: String,
    /// The stack outputs, for `${outputs.Name}` in URLs.
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
}

/// Nearest-rank percentile of sorted samples.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// What is wrong with a budget that JSON cannot say, by field.
fn check(i: usize, b: &Budget) -> Result<(), String> {
    let at = |f: &str| format!("budgets[{i}].{f}");
    if !(1..=MAX_USERS).contains(&b.users) {
        return Err(format!(
            "{}: {} is not between 1 and {MAX_USERS}",
            at("users"),
            b.users
        ));
    }
    match (b.requests, b.duration_seconds) {
        (Some(_), Some(_)) => {
            return Err(format!(
                "budgets[{i}]: give `requests` or `durationSeconds`, not both"
            ))
        }
        (Some(n), None) if !(1..=MAX_REQUESTS).contains(&n) => {
            return Err(format!(
                "{}: {n} is not between 1 and {MAX_REQUESTS}",
                at("requests")
            ))
        }
        (None, Some(d)) if !(1..=MAX_DURATION_SECONDS).contains(&d) => {
            return Err(format!(
                "{}: {d} is not between 1 and {MAX_DURATION_SECONDS}",
                at("durationSeconds")
            ))
        }
        _ => {}
    }
    if let Some(r) = b.max_error_rate {
        if !(0.0..=1.0).contains(&r) {
            return Err(format!(
                "{}: {r} is not between 0 and 1",
                at("maxErrorRate")
            ));
        }
    }
    if b.timeout_ms.is_some_and(|t| t == 0 || t > 60_000) {
        return Err(format!("{}: not between 1 and 60000", at("timeoutMs")));
    }
    if b.p50_ms.is_none() && b.p95_ms.is_none() && b.p99_ms.is_none() && b.max_error_rate.is_none()
    {
        return Err(format!(
            "budgets[{i}] ({}): no budget (p50Ms, p95Ms, p99Ms or maxErrorRate)",
            b.name
        ));
    }
    Ok(())
}

/// Runs one budget's load: `users` workers sharing the request count or deadline.
async fn load(http: &impl Http, b: &Budget, request: &HttpRequest) -> (Vec<u64>, u32, u32) {
    let remaining = AtomicU32::new(b.requests.unwrap_or(if b.duration_seconds.is_some() {
        u32::MAX
    } else {
        20
    }));
    let deadline = b
        .duration_seconds
        .map(|d| tokio::time::Instant::now() + Duration::from_secs(d));
    let timeout = Duration::from_millis(b.timeout_ms.unwrap_or(10_000));
    let samples = Mutex::new(Vec::new());
    let errors = AtomicU32::new(0);
    let user = || async {
        loop {
            if deadline.is_some_and(|d| tokio::time::Instant::now() >= d) {
                return;
            }
            if remaining
                .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
                .is_err()
            {
                return;
            }
            match tokio::time::timeout(timeout, http.send(request)).await {
                Ok(Ok(r)) if (200..400).contains(&r.status) => samples
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(r.elapsed_ms),
                _ => {
                    errors.fetch_add(1, Ordering::SeqCst);
                }
            }
        }
    };
    futures::future::join_all((0..b.users).map(|_| user())).await;
    let mut samples = samples.into_inner().unwrap_or_else(|p| p.into_inner());
    samples.sort_unstable();
    let errors = errors.into_inner();
    let sent = samples.len() as u32 + errors;
    (samples, errors, sent)
}

/// One budget's load, measured against its budget.
async fn measure(
    http: &impl Http,
    scope: &Scope<'_>,
    i: usize,
    b: &Budget,
) -> Result<Measurement, StepError> {
    let invalid = |m: String| invalid_input(format!("performance.json: {m}"));
    check(i, b).map_err(invalid)?;
    let expand = |t: &str| {
        scope
            .expand(t)
            .map_err(|m| invalid(format!("budgets[{i}]: {m}")))
    };
    let url = expand(&b.url)?;
    suite_spec::absolute_http(&url).map_err(|m| invalid(format!("budgets[{i}].url: {m}")))?;
    let request = HttpRequest {
        method: b.method.to_uppercase(),
        url,
        headers: b
            .headers
            .iter()
            .map(|(k, v)| Ok((k.clone(), expand(v)?)))
            .collect::<Result<_, StepError>>()?,
        body: b.body.as_deref().map(expand).transpose()?,
    };
    let (samples, errors, sent) = load(http, b, &request).await;
    let error_rate = if sent == 0 {
        0.0
    } else {
        f64::from(errors) / f64::from(sent)
    };
    let (p50, p95, p99) = (
        percentile(&samples, 50.0),
        percentile(&samples, 95.0),
        percentile(&samples, 99.0),
    );
    let mut over = Vec::new();
    for (label, got, want) in [
        ("p50", p50, b.p50_ms),
        ("p95", p95, b.p95_ms),
        ("p99", p99, b.p99_ms),
    ] {
        if let Some(want) = want {
            if samples.is_empty() {
                over.push(format!("{label}: no request answered"));
            } else if got > want {
                over.push(format!("{label} {got} ms over a {want} ms budget"));
            }
        }
    }
    let allowed = b.max_error_rate.unwrap_or(0.0);
    if error_rate > allowed {
        over.push(format!(
            "{errors} of {sent} requests failed ({:.1}% > {:.1}% allowed)",
            error_rate * 100.0,
            allowed * 100.0
        ));
    }
    Ok(Measurement {
        name: b.name.clone(),
        url: request.url,
        users: b.users,
        requests: sent,
        errors,
        error_rate,
        p50_ms: p50,
        p95_ms: p95,
        p99_ms: p99,
        max_ms: samples.last().copied().unwrap_or(0),
        passed: over.is_empty(),
        over,
    })
}

async fn run(
    http: &impl Http,
    artifacts: &impl Artifacts,
    input: Input,
) -> Result<LoadResults, StepError> {
    let key = format!("{}performance.json", input.artifacts_prefix);
    let Some(bytes) = artifacts.get(&key).await? else {
        return Ok(LoadResults {
            status: "SKIPPED".into(),
            measurements: vec![],
            report_uri: None,
        });
    };
    let spec: Spec = suite_spec::read_json("performance.json", &bytes).map_err(invalid_input)?;
    let values = BTreeMap::new();
    let scope = Scope {
        frontend_url: &input.frontend_url,
        outputs: &input.outputs,
        values: &values,
    };
    let mut measurements = Vec::new();
    for (i, b) in spec.budgets.iter().enumerate() {
        measurements.push(measure(http, &scope, i, b).await?);
    }
    let body =
        serde_json::to_vec_pretty(&measurements).map_err(|e| invalid_input(e.to_string()))?;
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
        .map(|m| format!("{}: {}", m.name, m.over.join(", ")))
        .collect();
    if !over.is_empty() {
        return Err(StepError::new(
            names::PERFORMANCE_BUDGET_EXCEEDED,
            format!("{}. Report: {report_uri}", over.join("; ")),
        ));
    }
    Ok(LoadResults {
        status: "PASSED".into(),
        measurements,
        report_uri: Some(report_uri),
    })
}

/// The `performance-tests` function's name.
pub const NAME: &str = "performance-tests";

/// Performance Tests: latency and error budgets against the deployed URLs.
pub struct PerformanceTests<H, A> {
    pub http: H,
    pub artifacts: A,
}

impl<H: Http, A: Artifacts> Step<Input, LoadResults> for PerformanceTests<H, A> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<LoadResults, StepError> {
        run(&self.http, &self.artifacts, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryArtifacts, MemoryHttp};

    fn input() -> Input {
        Input {
            artifacts_prefix: "runs/r/".into(),
            frontend_url: "http://web".into(),
            outputs: BTreeMap::from([("ApiUrl".into(), "http://api".into())]),
        }
    }

    async fn with_spec(spec: serde_json::Value) -> MemoryArtifacts {
        MemoryArtifacts::holding(
            "runs/r/performance.json",
            "application/json",
            spec.to_string(),
        )
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<u64> = (1..=20).collect();
        assert_eq!(percentile(&v, 95.0), 19);
        assert_eq!(percentile(&v, 50.0), 10);
        assert_eq!(percentile(&v, 99.0), 20);
        assert_eq!(percentile(&[7], 95.0), 7);
        assert_eq!(percentile(&[], 95.0), 0);
    }

    #[tokio::test]
    async fn no_spec_is_skipped_not_passed() {
        let out = run(&MemoryHttp::default(), &MemoryArtifacts::default(), input())
            .await
            .unwrap();
        assert_eq!(out.status, "SKIPPED");
    }

    #[tokio::test]
    async fn a_budget_over_p95_fails_and_under_passes() {
        let arts = with_spec(serde_json::json!({"budgets": [{"name": "home", "url": "${frontendUrl}/", "requests": 5, "p95Ms": 100}]})).await;
        let http = MemoryHttp::default();
        http.route_timed("http://web/", 200, "ok", 250);
        let e = run(&http, &arts, input()).await.unwrap_err();
        assert_eq!(e.name, "PerformanceBudgetExceeded");
        assert!(
            e.message.contains("home: p95 250 ms over a 100 ms budget"),
            "{}",
            e.message
        );
        http.route_timed("http://web/", 200, "ok", 50);
        let ok = run(&http, &arts, input()).await.unwrap();
        assert_eq!(ok.status, "PASSED");
        assert_eq!(http.requests().len(), 10, "5 requests per run");
    }

    #[tokio::test]
    async fn users_share_the_request_count_against_any_stack_url() {
        let arts = with_spec(serde_json::json!({"budgets": [{"name": "api", "url": "${outputs.ApiUrl}/content", "users": 7, "requests": 50, "p99Ms": 100}]})).await;
        let http = MemoryHttp::default();
        http.route_timed("http://api/content", 200, "[]", 20);
        let out = run(&http, &arts, input()).await.unwrap();
        let m = &out.measurements[0];
        assert_eq!((m.users, m.requests, m.errors), (7, 50, 0));
        assert_eq!((m.p50_ms, m.p95_ms, m.p99_ms), (20, 20, 20));
        assert_eq!(http.requests().len(), 50);
    }

    #[tokio::test]
    async fn errors_count_against_the_error_rate_budget() {
        let arts = with_spec(serde_json::json!({"budgets": [{"name": "api", "url": "${outputs.ApiUrl}/boom", "requests": 4, "maxErrorRate": 0.5}]})).await;
        let http = MemoryHttp::default();
        http.route("http://api/boom", 500, "no");
        let e = run(&http, &arts, input()).await.unwrap_err();
        assert!(
            e.message
                .contains("4 of 4 requests failed (100.0% > 50.0% allowed)"),
            "{}",
            e.message
        );
    }

    #[tokio::test]
    async fn a_bad_spec_is_named_by_field() {
        for (spec, needle) in [
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "x", "p95Ms": "fast"}]}),
                "budgets[0].p95Ms",
            ),
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "x", "users": 0, "p95Ms": 1}]}),
                "budgets[0].users",
            ),
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "x", "requests": 5, "durationSeconds": 5, "p95Ms": 1}]}),
                "not both",
            ),
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "x"}]}),
                "no budget",
            ),
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "${outputs.Nope}", "p95Ms": 1}]}),
                "no output 'Nope'",
            ),
            (
                serde_json::json!({"budgets": [{"name": "a", "url": "notaurl", "p95Ms": 1}]}),
                "budgets[0].url: 'notaurl' is not an absolute http:// or https:// URL",
            ),
        ] {
            let arts = with_spec(spec).await;
            let e = run(&MemoryHttp::default(), &arts, input())
                .await
                .unwrap_err();
            assert_eq!(e.name, "InvalidInput");
            assert!(e.message.contains(needle), "{needle}: {}", e.message);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_duration_bounds_the_run_instead_of_a_count() {
        let arts = with_spec(serde_json::json!({"budgets": [{"name": "home", "url": "${frontendUrl}/", "users": 2, "durationSeconds": 1, "p95Ms": 1000}]})).await;
        let http = Slow(MemoryHttp::default());
        http.0.route_timed("http://web/", 200, "ok", 100);
        let out = run(&http, &arts, input()).await.unwrap();
        // Two users, 100 ms of virtual time per request, one second: 20 requests.
        assert_eq!(out.measurements[0].requests, 20);
    }

    /// Every second answer takes 400 ms, the others 20 ms.
    #[derive(Default)]
    struct Alternating(std::sync::atomic::AtomicU32);

    impl Http for Alternating {
        async fn send(
            &self,
            _: &HttpRequest,
        ) -> crate::ports::PortResult<crate::ports::HttpResponse> {
            let n = self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok(crate::ports::HttpResponse {
                status: 200,
                headers: Vec::new(),
                body: "ok".into(),
                elapsed_ms: if n % 2 == 1 { 400 } else { 20 },
            })
        }
    }

    /// Half the calls slow: the p95 budget breaks, the p50 one holds, and the
    /// message names only what broke, with the measured figure.
    #[tokio::test]
    async fn a_slow_half_breaks_p95_but_not_p50() {
        let arts = with_spec(serde_json::json!({"budgets": [
            {"name": "slow endpoint", "url": "${frontendUrl}/slow", "users": 2, "requests": 10, "p50Ms": 300, "p95Ms": 300}
        ]}))
        .await;
        let e = run(&Alternating::default(), &arts, input())
            .await
            .unwrap_err();
        assert_eq!(e.name, "PerformanceBudgetExceeded");
        assert!(
            e.message
                .contains("slow endpoint: p95 400 ms over a 300 ms budget"),
            "{}",
            e.message
        );
        assert!(!e.message.contains("p50"), "{}", e.message);
    }

    /// A port whose answers take their stated time (virtual in these tests).
    struct Slow(MemoryHttp);

    impl Http for Slow {
        async fn send(
            &self,
            r: &HttpRequest,
        ) -> crate::ports::PortResult<crate::ports::HttpResponse> {
            let resp = self.0.send(r).await?;
            tokio::time::sleep(Duration::from_millis(resp.elapsed_ms)).await;
            Ok(resp)
        }
    }
}

//! The load test (`performance-tests`) against a real HTTP server on 127.0.0.1:
//! virtual users run concurrently (never more than configured), and a deliberately
//! slow endpoint breaks its budget while a fast one keeps its own, with budgets far
//! from what a busy machine measures (no wall-clock figure is asserted).

use serde_json::json;
use stagegate::ports::Artifacts;
use stagegate::step::invoke;
use stagegate::steps::performance_tests::PerformanceTests;
use stagegate::testing::MemoryArtifacts;
use stagegate_https::HttpsClient;
use stagegate_local::server::{self, respond, Handler, Request};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// In-flight requests now, and the most there ever were.
#[derive(Default)]
struct Load {
    now: AtomicU32,
    most: AtomicU32,
}

/// `/fast` answers after 50 ms (long enough for users to overlap), `/slow` after
/// 400 ms.
async fn server(load: Arc<Load>) -> String {
    let handler: Handler = Arc::new(move |req: Request| {
        let load = load.clone();
        Box::pin(async move {
            let n = load.now.fetch_add(1, Ordering::SeqCst) + 1;
            load.most.fetch_max(n, Ordering::SeqCst);
            let pause = match req.uri().path() {
                "/slow" => 400,
                _ => 50,
            };
            tokio::time::sleep(Duration::from_millis(pause)).await;
            load.now.fetch_sub(1, Ordering::SeqCst);
            respond(200, "text/plain", "ok")
        })
    });
    let (addr, _task) = server::serve(0, handler).await.expect("a local port");
    format!("http://{addr}")
}

async fn run(
    base: &str,
    spec: serde_json::Value,
) -> Result<serde_json::Value, stagegate::StepError> {
    let arts = MemoryArtifacts::default();
    arts.put(
        "runs/r/performance.json",
        "application/json",
        spec.to_string().into_bytes(),
    )
    .await
    .unwrap();
    let step = PerformanceTests {
        http: HttpsClient::new(),
        artifacts: arts.clone(),
    };
    invoke(
        &step,
        json!({"artifactsPrefix": "runs/r/", "frontendUrl": base, "outputs": {"ApiUrl": base}}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn virtual_users_run_concurrently_and_never_more_than_configured() {
    let load = Arc::new(Load::default());
    let base = server(load.clone()).await;
    let out = run(&base, json!({"budgets": [
        {"name": "fast", "url": "${outputs.ApiUrl}/fast", "users": 4, "requests": 40, "p95Ms": 5000}
    ]}))
    .await
    .expect("within budget");
    assert_eq!(out["measurements"][0]["requests"], 40);
    assert_eq!(out["measurements"][0]["errors"], 0);
    let most = load.most.load(Ordering::SeqCst);
    assert!(
        (2..=4).contains(&most),
        "at most 4 users, and more than one at once: {most}"
    );
}

/// One smoke test on real sockets, with budgets no busy machine can blur: an endpoint
/// that always takes 400 ms breaks a 100 ms p95 budget, one that answers at once
/// keeps a 10 s one. (The statistics themselves are tested on a double, in virtual
/// time: `performance_tests::tests`.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_breaks_its_budget_on_real_sockets_and_a_fast_one_keeps_its_own() {
    let load = Arc::new(Load::default());
    let base = server(load).await;
    let e = run(&base, json!({"budgets": [
        {"name": "fast endpoint", "url": "${frontendUrl}/fast", "users": 2, "requests": 6, "p95Ms": 10000},
        {"name": "slow endpoint", "url": "${frontendUrl}/slow", "users": 2, "requests": 6, "p95Ms": 100}
    ]}))
    .await
    .expect_err("the slow endpoint is over budget");
    assert_eq!(e.name, "PerformanceBudgetExceeded");
    assert!(e.message.contains("slow endpoint: p95 "), "{}", e.message);
    assert!(!e.message.contains("fast endpoint"), "{}", e.message);
}

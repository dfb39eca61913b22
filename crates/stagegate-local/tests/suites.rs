//! The integration-test runner (`run-test-suite`) against a real HTTP server on
//! 127.0.0.1, through the rehearsal's HTTP client: passing and failing cases, a login
//! token captured and sent on, a flaky endpoint retried to success and a bound that
//! gives up, a slow endpoint cut off by its timeout, a malformed suite file named by
//! file, line and field.

use serde_json::{json, Value};
use stagegate::flow::SuiteResult;
use stagegate::ports::Artifacts;
use stagegate::step::invoke;
use stagegate::steps::run_test_suite::RunTestSuite;
use stagegate::testing::MemoryArtifacts;
use stagegate_https::HttpsClient;
use stagegate_local::server::{self, respond, Handler, Request};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A small API: `POST /login` gives a token for the right password, `GET /me` wants
/// it, `/flaky/a` and `/flaky/b` each fail their first two calls, `/slow` answers after two seconds.
async fn api() -> String {
    let flaky: Arc<[AtomicU32; 2]> = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    let handler: Handler = Arc::new(move |req: Request| {
        let flaky = flaky.clone();
        Box::pin(async move {
            let auth = req
                .headers()
                .get("authorization")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let json = |status: u16, v: Value| respond(status, "application/json", v.to_string());
            match (req.method().as_str(), req.uri().path()) {
                ("POST", "/login") => {
                    let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
                    if body["password"] == "hunter2" {
                        let mut r = json(200, json!({"token": "t-42", "user": {"id": 7}}));
                        r.headers_mut()
                            .insert("location", "/users/7".parse().expect("a header value"));
                        r
                    } else {
                        json(401, json!({"error": "bad password"}))
                    }
                }
                ("GET", "/me") if auth.as_deref() == Some("Bearer t-42") => {
                    json(200, json!({"id": 7, "email": "qa@example.test"}))
                }
                ("GET", "/me") => json(401, json!({"error": "no token"})),
                ("GET", p @ ("/flaky/a" | "/flaky/b")) => {
                    let n = &flaky[usize::from(p.ends_with('b'))];
                    if n.fetch_add(1, Ordering::SeqCst) < 2 {
                        respond(503, "text/plain", "warming up")
                    } else {
                        respond(200, "text/plain", "ready")
                    }
                }
                ("GET", "/slow") => {
                    tokio::time::sleep(Duration::from_secs(2)).await;
                    respond(200, "text/plain", "finally")
                }
                _ => respond(404, "text/plain", "not found"),
            }
        })
    });
    let (addr, _task) = server::serve(0, handler).await.expect("a local port");
    format!("http://{addr}")
}

async fn run(api: &str, suite: Value) -> SuiteResult {
    let arts = MemoryArtifacts::default();
    let text = serde_json::to_vec_pretty(&suite).unwrap();
    run_text(api, &arts, text).await
}

async fn run_text(api: &str, arts: &MemoryArtifacts, text: Vec<u8>) -> SuiteResult {
    arts.put("runs/r/suites/api.json", "application/json", text)
        .await
        .unwrap();
    let step = RunTestSuite {
        http: HttpsClient::new(),
        artifacts: arts.clone(),
    };
    let out = invoke(
        &step,
        json!({"suite": "api", "artifactsPrefix": "runs/r/", "frontendUrl": "http://127.0.0.1:9/",
               "outputs": {"ApiUrl": api}}),
    )
    .await
    .expect("a suite's failures are results, not errors");
    // The state carries the counts and first failures; the whole is in the bucket.
    let carried: SuiteResult = serde_json::from_value(out).unwrap();
    stagegate::results::whole(arts, carried).await.unwrap()
}

#[tokio::test]
async fn a_token_captured_at_login_is_sent_on_and_every_assertion_kind_is_checked() {
    let api = api().await;
    let r = run(&api, json!({
        "variables": {"password": "hunter2"},
        "cases": [
            {"name": "log in", "request": {"method": "POST", "url": "${outputs.ApiUrl}/login", "json": {"password": "${password}"}},
             "expect": {"status": 200, "headers": {"Content-Type": "json"}, "json": {"$.user.id": 7}, "jsonPresent": ["$.token"], "maxLatencyMs": 5000},
             "capture": {"token": "$.token", "profile": "header:location"}},
            {"name": "who am I", "request": {"url": "${outputs.ApiUrl}/me", "headers": {"Authorization": "Bearer ${token}"}},
             "expect": {"json": {"$.email": "qa@example.test"}, "bodyContains": "\"id\":7"}},
            {"name": "profile link", "request": {"url": "${outputs.ApiUrl}${profile}"}, "expect": {"status": 404}}
        ]
    })).await;
    assert_eq!((r.passed, r.failed), (3, 0), "{r:#?}");
}

#[tokio::test]
async fn failed_assertions_say_what_was_expected_and_what_came() {
    let api = api().await;
    let r = run(&api, json!({"cases": [
        {"name": "wrong password", "request": {"method": "POST", "url": "${outputs.ApiUrl}/login", "json": {"password": "nope"}},
         "expect": {"status": 200, "json": {"$.error": "none"}}, "capture": {"token": "$.token"}},
        {"name": "me without a token", "request": {"url": "${outputs.ApiUrl}/me", "headers": {"Authorization": "Bearer ${token}"}}}
    ]})).await;
    assert_eq!((r.passed, r.failed), (0, 2), "{r:#?}");
    let m = &r.cases[0].message;
    assert!(
        m.contains("→ 401") && m.contains("expected status 200"),
        "{m}"
    );
    assert!(
        m.contains("$.error is \"bad password\", expected \"none\""),
        "{m}"
    );
    // The token was never captured: the next case says so instead of sending "${token}".
    assert!(
        r.cases[1]
            .message
            .contains("unknown placeholder '${token}'"),
        "{}",
        r.cases[1].message
    );
}

#[tokio::test]
async fn a_flaky_endpoint_is_retried_until_it_answers_and_a_bound_gives_up() {
    let api = api().await;
    let r = run(&api, json!({"cases": [
        {"name": "too few", "request": {"url": "${outputs.ApiUrl}/flaky/a"}, "retry": {"attempts": 2, "delayMs": 10}},
        {"name": "enough", "request": {"url": "${outputs.ApiUrl}/flaky/b"}, "expect": {"bodyContains": "ready"}, "retry": {"attempts": 3, "delayMs": 10}}
    ]})).await;
    assert!(!r.cases[0].passed);
    assert!(
        r.cases[0].message.contains("after 2 attempts"),
        "{}",
        r.cases[0].message
    );
    assert!(r.cases[1].passed, "{:?}", r.cases[1]);
    assert!(
        r.cases[1].message.contains("(attempt 3 of 3)"),
        "{}",
        r.cases[1].message
    );
}

#[tokio::test]
async fn a_slow_endpoint_is_cut_off_by_its_timeout() {
    let api = api().await;
    let r = run(
        &api,
        json!({"cases": [
            {"name": "slow", "request": {"url": "${outputs.ApiUrl}/slow", "timeoutMs": 200}}
        ]}),
    )
    .await;
    assert!(!r.cases[0].passed);
    assert!(
        r.cases[0].message.contains("no response within 200 ms"),
        "{}",
        r.cases[0].message
    );
}

#[tokio::test]
async fn a_malformed_suite_fails_naming_the_file_line_and_field() {
    let api = api().await;
    let text = b"{\"cases\": [\n  {\"name\": \"a\",\n   \"request\": {\"url\": \"${outputs.ApiUrl}/me\"},\n   \"expect\": {\"status\": \"200\"}}\n]}".to_vec();
    let r = run_text(&api, &MemoryArtifacts::default(), text).await;
    assert_eq!(r.failed, 1);
    let m = &r.cases[0].message;
    assert!(m.starts_with("suites/api.json, line 4,"), "{m}");
    assert!(m.contains("cases[0].expect.status"), "{m}");
}

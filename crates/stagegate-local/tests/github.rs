//! Mark Release Ready against a mock GitHub REST API on 127.0.0.1, through the GitHub
//! adapter and the HTTPS client the Lambda uses: the notes from the tags and the
//! comparison, the prerelease created once and updated on a re-run (never a second
//! one), and GitHub's errors reported with GitHub's own message.

use serde_json::{json, Value};
use stagegate::step::invoke;
use stagegate::steps::mark_release_ready::MarkReleaseReady;
use stagegate::testing::{candidate, now, FixedClock, MemoryArtifacts, MemoryTimelines};
use stagegate_https::{GitHub, HttpsClient};
use stagegate_local::server::{self, respond, Handler, Request};
use std::sync::{Arc, Mutex};

/// What the mock holds: its releases, and a status to answer every write with.
#[derive(Default)]
struct Api {
    releases: Vec<Value>,
    fail_writes: Option<(u16, &'static str)>,
    calls: Vec<String>,
}

fn lock(api: &Mutex<Api>) -> std::sync::MutexGuard<'_, Api> {
    api.lock().unwrap_or_else(|p| p.into_inner())
}

async fn github(api: Arc<Mutex<Api>>) -> String {
    let handler: Handler = Arc::new(move |req: Request| {
        let api = api.clone();
        Box::pin(async move {
            let json = |status: u16, v: Value| respond(status, "application/json", v.to_string());
            let mut api = lock(&api);
            api.calls
                .push(format!("{} {}", req.method(), req.uri().path()));
            let authorized = req
                .headers()
                .get("authorization")
                .is_some_and(|v| v == "Bearer ghp_test");
            let body: Value = serde_json::from_slice(req.body()).unwrap_or(Value::Null);
            let path = req
                .uri()
                .path()
                .strip_prefix("/repos/acme/shop")
                .unwrap_or("?");
            match (req.method().as_str(), path) {
                ("GET", "/tags") => json(
                    200,
                    json!([{"name": "rc-1.4.0"}, {"name": "rc-1.3.0"}, {"name": "v0.9"}]),
                ),
                ("GET", p) if p.starts_with("/compare/rc-1.3.0...") => json(
                    200,
                    json!({"commits": [
                        {"sha": "1".repeat(40), "commit": {"message": "feat(cart): saved carts\n\nLong text.", "author": {"name": "ana"}}},
                        {"sha": "2".repeat(40), "commit": {"message": "fix: rounding", "author": {"name": "bo"}}}
                    ]}),
                ),
                _ if !authorized => json(401, json!({"message": "Bad credentials"})),
                (_, _) if req.method().as_str() != "GET" && api.fail_writes.is_some() => {
                    let (status, message) = api.fail_writes.unwrap_or((500, "?"));
                    json(status, json!({"message": message}))
                }
                ("GET", p) if p.starts_with("/releases/tags/") => {
                    let tag = &p["/releases/tags/".len()..];
                    match api.releases.iter().find(|r| r["tag_name"] == tag) {
                        Some(r) => json(200, r.clone()),
                        None => json(404, json!({"message": "Not Found"})),
                    }
                }
                ("POST", "/releases") => {
                    let id = api.releases.len() as u64 + 100;
                    let mut r = body;
                    r["id"] = json!(id);
                    r["html_url"] = json!(format!("https://github.test/acme/shop/releases/{id}"));
                    api.releases.push(r.clone());
                    json(201, r)
                }
                ("PATCH", p) if p.starts_with("/releases/") => {
                    let id: u64 = p["/releases/".len()..].parse().unwrap_or(0);
                    match api.releases.iter_mut().find(|r| r["id"] == id) {
                        Some(r) => {
                            for (k, v) in body.as_object().into_iter().flatten() {
                                r[k] = v.clone();
                            }
                            json(200, r.clone())
                        }
                        None => json(404, json!({"message": "Not Found"})),
                    }
                }
                _ => json(404, json!({"message": "Not Found"})),
            }
        })
    });
    let (addr, _task) = server::serve(0, handler).await.expect("a local port");
    format!("http://{addr}")
}

async fn mark_ready(
    api: &str,
    token: Option<&str>,
    arts: &MemoryArtifacts,
) -> Result<Value, stagegate::StepError> {
    let gh = GitHub::new(
        HttpsClient::new(),
        "acme/shop",
        "rc-",
        token.map(str::to_string),
    )
    .with_api(api);
    let step = MarkReleaseReady {
        repository: gh,
        artifacts: arts.clone(),
        runs: MemoryTimelines::default(),
        clock: FixedClock(now()),
    };
    invoke(
        &step,
        json!({"candidate": candidate(), "artifactsPrefix": "runs/r/", "frontendUrl": "https://staging.test"}),
    )
    .await
}

#[tokio::test]
async fn the_prerelease_is_created_once_and_updated_on_a_re_run() {
    let api = Arc::new(Mutex::new(Api::default()));
    let base = github(api.clone()).await;
    let arts = MemoryArtifacts::default();
    let first = mark_ready(&base, Some("ghp_test"), &arts)
        .await
        .expect("published");
    assert_eq!(first["previousCandidate"], "rc-1.3.0");
    assert_eq!(first["commits"], 2);
    assert_eq!(
        first["releaseUrl"],
        "https://github.test/acme/shop/releases/100"
    );
    let notes = String::from_utf8(arts.get_sync("runs/r/release-notes.md").unwrap()).unwrap();
    assert!(
        notes.contains("### Features\n\n- **cart:** saved carts (1111111, ana)"),
        "{notes}"
    );
    assert!(
        notes.contains("### Fixes\n\n- rounding (2222222, bo)"),
        "{notes}"
    );
    {
        let api = lock(&api);
        assert_eq!(api.releases.len(), 1);
        assert_eq!(api.releases[0]["tag_name"], "rc-1.4.0");
        assert_eq!(api.releases[0]["prerelease"], true);
        assert_eq!(api.releases[0]["name"], "rc-1.4.0 (staging)");
    }
    // The same candidate again (a retried task, a re-run): the same release, updated.
    let again = mark_ready(&base, Some("ghp_test"), &arts)
        .await
        .expect("updated");
    assert_eq!(again["releaseUrl"], first["releaseUrl"]);
    let api = lock(&api);
    assert_eq!(
        api.releases.len(),
        1,
        "no duplicate release: {:?}",
        api.calls
    );
    assert_eq!(
        api.calls.iter().filter(|c| c.starts_with("POST")).count(),
        1
    );
    assert_eq!(
        api.calls.iter().filter(|c| c.starts_with("PATCH")).count(),
        1
    );
}

#[tokio::test]
async fn githubs_errors_fail_the_step_with_githubs_message() {
    let api = Arc::new(Mutex::new(Api {
        fail_writes: Some((422, "Validation Failed")),
        ..Api::default()
    }));
    let base = github(api.clone()).await;
    let e = mark_ready(&base, Some("ghp_test"), &MemoryArtifacts::default())
        .await
        .expect_err("GitHub refused");
    assert_eq!(
        e.name, "DependencyRefused",
        "a 422 will not pass by retrying"
    );
    assert!(
        e.message.contains("POST /repos/acme/shop/releases")
            && e.message.contains("422: Validation Failed"),
        "{}",
        e.message
    );
    let e = mark_ready(&base, Some("ghp_wrong"), &MemoryArtifacts::default())
        .await
        .expect_err("a bad token");
    assert!(e.message.contains("401: Bad credentials"), "{}", e.message);
    assert!(lock(&api).releases.is_empty());
}

#[tokio::test]
async fn without_a_token_the_notes_are_written_and_no_release_is_touched() {
    let api = Arc::new(Mutex::new(Api::default()));
    let base = github(api.clone()).await;
    let arts = MemoryArtifacts::default();
    let out = mark_ready(&base, None, &arts).await.expect("notes only");
    assert_eq!(out["releaseUrl"], Value::Null);
    assert!(
        lock(&api).calls.iter().all(|c| c.starts_with("GET")),
        "{:?}",
        lock(&api).calls
    );
    assert!(arts.get_sync("runs/r/release-notes.md").is_some());
}

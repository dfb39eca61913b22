//! The built webhook binary, driven as Lambda drives it (a Runtime API host, Function
//! URL events), against moto: a signed GitHub push lands on the bus and matches the
//! template's rule once, however often GitHub delivers it; a forged one starts nothing.

use serde_json::{json, Value};
use stagegate::steps::webhook::sign;
use stagegate::testing::SHA;
use std::path::Path;
use std::time::Duration;
use testkit::lambda::{function_url_event, LambdaProcess};
use testkit::Moto;

const SECRET: &str = "It's a Secret to Everybody";

fn push(tag: &str) -> String {
    json!({
        "ref": format!("refs/tags/{tag}"),
        "before": "0000000000000000000000000000000000000000",
        "after": SHA,
        "created": true,
        "deleted": false,
        "repository": {"full_name": "acme/shop", "name": "shop",
                       "pushed_at": chrono::Utc::now().timestamp()},
        "pusher": {"name": "Dana D.", "email": "dana@example.com"},
        "sender": {"login": "dana"}
    })
    .to_string()
}

/// A GitHub delivery as the webhook's Function URL hands it to the function.
async fn deliver(f: &LambdaProcess, body: &str, signature: &str, delivery: &str) -> (i64, String) {
    let headers = json!({
        "content-type": "application/json",
        "x-github-event": "push",
        "x-github-delivery": delivery,
        "x-hub-signature-256": signature,
        "user-agent": "GitHub-Hookshot/e2e"
    });
    f.call(function_url_event("POST", "/", headers, Some(body), "140.82.115.1")).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_push_starts_one_run_and_a_forged_one_starts_nothing() {
    let moto = Moto::start();
    let secret = moto.create_secret("stagegate/webhook", SECRET).await;
    moto.create_approvals_table("approvals").await;
    let (queue, queue_arn) = moto.create_queue("started").await;
    moto.create_candidate_rule("stagegate", &queue_arn).await;
    let env = moto.function_env(&[
        ("WEBHOOK_SECRET_ARN", secret.as_str()),
        ("APPROVALS_TABLE", "approvals"),
        ("EVENT_BUS_NAME", "stagegate"),
        ("STAGEGATE_REPOSITORY", "acme/shop"),
        ("STAGEGATE_TAG_PREFIX", "rc-"),
    ]);
    let webhook = LambdaProcess::spawn(Path::new(env!("CARGO_BIN_EXE_webhook")), &env).await;

    // Forged: wrong secret. Refused, nothing on the bus.
    let body = push("rc-1.4.0");
    let forged = sign(b"guessed", body.as_bytes());
    let (status, text) = deliver(&webhook, &body, &forged, "d-0").await;
    assert_eq!(status, 401, "{text}");

    // Signed: accepted; then GitHub redelivers it (same body, new delivery id).
    let signature = sign(SECRET.as_bytes(), body.as_bytes());
    let (status, text) = deliver(&webhook, &body, &signature, "d-1").await;
    assert_eq!(status, 202, "{text}");
    let (status, text) = deliver(&webhook, &body, &signature, "d-2").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("already started"), "{text}");
    // The same delivery replayed (same id): received once, starts nothing.
    let (status, text) = deliver(&webhook, &body, &signature, "d-1").await;
    assert_eq!(status, 200, "{text}");
    assert!(text.contains("already received delivery d-1"), "{text}");

    // A tag outside the prefix, signed: ignored.
    let other = push("v1.4.0");
    let (status, text) =
        deliver(&webhook, &other, &sign(SECRET.as_bytes(), other.as_bytes()), "d-3").await;
    assert_eq!(status, 202, "{text}");
    assert!(text.starts_with("ignored"), "{text}");

    // Exactly one event reached the rule's target, and it is the candidate.
    let got = moto.receive(&queue, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let event: Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(event["detail-type"], "Release Candidate Tagged");
    assert_eq!(event["detail"]["tag"], "rc-1.4.0");
    assert_eq!(event["detail"]["sha"], SHA);
    assert_eq!(event["detail"]["pushedBy"], "dana");
    assert!(moto.receive(&queue, Duration::from_millis(500)).await.is_empty());
    assert_eq!(webhook.init_error(), None);
}

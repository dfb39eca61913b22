use super::*;
use crate::error::PortError;
use crate::ports::PortResult;
use crate::testing::MemoryTable;
use serde_json::json;
use std::sync::Mutex;

const SECRET: &str = "It's a Secret to Everybody";
const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

struct Secret(&'static str);
impl Secrets for Secret {
    async fn webhook_secret(&self) -> PortResult<String> {
        Ok(self.0.to_string())
    }
}

#[derive(Default)]
struct Bus {
    sent: Mutex<Vec<Trigger>>,
    fail: Mutex<bool>,
}
impl Events for std::sync::Arc<Bus> {
    async fn candidate_tagged(&self, t: &Trigger) -> PortResult<()> {
        if *self.fail.lock().unwrap() {
            return Err(PortError::new("put events", "ServiceUnavailable"));
        }
        self.sent.lock().unwrap().push(t.clone());
        Ok(())
    }
}

fn settings() -> Settings {
    Settings {
        tag_prefix: "rc-".into(),
        repository: Some("acme/shop".into()),
        ..Settings::default()
    }
}

fn push(reference: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ref": reference,
        "before": "0000000000000000000000000000000000000000",
        "after": SHA,
        "created": true,
        "deleted": false,
        "repository": {"full_name": "acme/shop", "name": "shop",
                       "pushed_at": crate::testing::now().timestamp()},
        "pusher": {"name": "dana", "email": "dana@example.com"},
        "sender": {"login": "dana"}
    }))
    .unwrap()
}

/// A signed delivery of `body`, with a delivery id of its own.
fn signed(event: &str, body: Vec<u8>) -> Delivery {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    Delivery {
        headers: vec![
            ("x-github-event".into(), event.into()),
            ("x-hub-signature-256".into(), sign(SECRET.as_bytes(), &body)),
            ("x-github-delivery".into(), format!("d-{id}")),
        ],
        body,
    }
}

/// The push of rc-1.4.0, as it would say it happened `hours_ago`.
fn pushed(hours_ago: i64) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    let at = crate::testing::now() - chrono::Duration::hours(hours_ago);
    v["repository"]["pushed_at"] = json!(at.timestamp());
    serde_json::to_vec(&v).unwrap()
}

struct Hook {
    claims: MemoryTable,
    bus: std::sync::Arc<Bus>,
    settings: Settings,
}

impl Hook {
    fn new() -> Self {
        Hook {
            claims: MemoryTable::default(),
            bus: Default::default(),
            settings: settings(),
        }
    }
    async fn send(&self, d: &Delivery) -> Answer {
        self.send_at(d, crate::testing::now()).await
    }
    /// `d` delivered when the clock says `at`.
    async fn send_at(&self, d: &Delivery, at: chrono::DateTime<chrono::Utc>) -> Answer {
        let hook = Webhook {
            settings: self.settings.clone(),
            secret: Secret(SECRET),
            store: self.claims.clone(),
            events: self.bus.clone(),
            clock: crate::testing::FixedClock(at),
        };
        hook.deliver(d).await
    }
    fn started(&self) -> usize {
        self.bus.sent.lock().unwrap().len()
    }
}

/// GitHub's documented example: secret "It's a Secret to Everybody", payload
/// "Hello, World!".
#[test]
fn signs_like_github_does() {
    assert_eq!(
        sign(SECRET.as_bytes(), b"Hello, World!"),
        "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17"
    );
}

#[tokio::test]
async fn a_signed_rc_tag_push_publishes_one_candidate() {
    let hook = Hook::new();
    let a = hook.send(&signed("push", push("refs/tags/rc-1.4.0"))).await;
    assert_eq!(a.status, 202, "{}", a.message);
    let t = a.started.unwrap();
    assert_eq!(
        (t.repository.as_str(), t.tag.as_str(), t.sha.as_str()),
        ("acme/shop", "rc-1.4.0", SHA)
    );
    assert_eq!(t.pushed_by.as_deref(), Some("dana"));
    assert_eq!(*hook.bus.sent.lock().unwrap(), [t]);
}

#[tokio::test]
async fn a_missing_signature_is_refused() {
    let hook = Hook::new();
    let mut d = signed("push", push("refs/tags/rc-1.4.0"));
    d.headers.retain(|(k, _)| k != "x-hub-signature-256");
    let a = hook.send(&d).await;
    assert_eq!(a.status, 401);
    assert!(a.message.contains("missing X-Hub-Signature-256"));
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_malformed_signature_is_refused() {
    let hook = Hook::new();
    for bad in ["sha1=abc", "sha256=zz", "sha256=abcd", ""] {
        let mut d = signed("push", push("refs/tags/rc-1.4.0"));
        d.headers[1].1 = bad.into();
        let a = hook.send(&d).await;
        assert_eq!(a.status, 400, "{bad}: {}", a.message);
    }
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_wrong_signature_is_refused() {
    let hook = Hook::new();
    let body = push("refs/tags/rc-1.4.0");
    let d = Delivery {
        headers: vec![
            ("x-github-event".into(), "push".into()),
            ("x-hub-signature-256".into(), sign(b"another secret", &body)),
        ],
        body,
    };
    let a = hook.send(&d).await;
    assert_eq!(a.status, 401);
    assert!(a.message.contains("does not match"));
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_body_altered_after_signing_is_refused() {
    let hook = Hook::new();
    let mut d = signed("push", push("refs/tags/rc-1.4.0"));
    d.body = push("refs/tags/rc-9.9.9");
    assert_eq!(hook.send(&d).await.status, 401);
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn an_oversized_body_is_refused_before_anything_else() {
    let hook = Hook::new();
    let d = signed("push", vec![b' '; MAX_BODY_BYTES + 1]);
    let a = hook.send(&d).await;
    assert_eq!(a.status, 413);
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_signed_body_that_is_not_a_push_payload_is_refused() {
    let hook = Hook::new();
    for body in [
        b"not json".to_vec(),
        b"{\"ref\": 1}".to_vec(),
        b"{}".to_vec(),
    ] {
        let a = hook.send(&signed("push", body)).await;
        assert_eq!(a.status, 400);
        assert!(
            a.message.starts_with("not a GitHub push payload"),
            "{}",
            a.message
        );
    }
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn branch_pushes_are_ignored() {
    let hook = Hook::new();
    let a = hook.send(&signed("push", push("refs/heads/main"))).await;
    assert_eq!(a.status, 202);
    assert!(a.message.contains("refs/heads/main is not a tag"));
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn tags_without_the_rc_prefix_are_ignored() {
    let hook = Hook::new();
    for r in ["refs/tags/v1.4.0", "refs/tags/release-rc-1"] {
        let a = hook.send(&signed("push", push(r))).await;
        assert_eq!(a.status, 202, "{r}");
        assert!(
            a.message.contains("does not start with 'rc-'"),
            "{}",
            a.message
        );
    }
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn deleting_an_rc_tag_starts_nothing() {
    let hook = Hook::new();
    let mut v: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    v["deleted"] = json!(true);
    v["after"] = json!("0000000000000000000000000000000000000000");
    let a = hook
        .send(&signed("push", serde_json::to_vec(&v).unwrap()))
        .await;
    assert_eq!(a.status, 202);
    assert!(a.message.contains("deleted"));
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn other_events_are_ignored_and_ping_answers() {
    let hook = Hook::new();
    assert_eq!(hook.send(&signed("ping", b"{}".to_vec())).await.status, 200);
    assert_eq!(
        hook.send(&signed("issues", b"{}".to_vec())).await.status,
        202
    );
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_push_from_another_repository_is_refused() {
    let hook = Hook::new();
    let mut v: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    v["repository"]["full_name"] = json!("mallory/shop");
    let a = hook
        .send(&signed("push", serde_json::to_vec(&v).unwrap()))
        .await;
    assert_eq!(a.status, 403);
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_redelivery_does_not_start_a_second_run() {
    let hook = Hook::new();
    let d = signed("push", push("refs/tags/rc-1.4.0"));
    assert_eq!(hook.send(&d).await.status, 202);
    // The same delivery again (GitHub's redelivery keeps its id).
    let again = hook.send(&d).await;
    assert_eq!(again.status, 200);
    assert!(
        again.message.contains("already received delivery"),
        "{}",
        again.message
    );
    assert_eq!(again.started, None);
    // Another delivery of the same candidate (the tag pushed again).
    let other = hook.send(&signed("push", push("refs/tags/rc-1.4.0"))).await;
    assert_eq!(other.status, 200);
    assert!(
        other.message.contains("already started"),
        "{}",
        other.message
    );
    assert_eq!(hook.started(), 1);
}

/// A captured delivery replayed later — after its claims expired — is refused by
/// its age; so is one that does not say when it was pushed, or one from the future.
#[tokio::test]
async fn stale_undated_or_future_pushes_are_refused() {
    let hook = Hook::new();
    let replay = signed("push", pushed(0));
    let later = crate::testing::now() + chrono::Duration::days(CLAIM_DAYS + 1);
    let a = hook.send_at(&replay, later).await;
    assert_eq!(a.status, 422, "{}", a.message);
    assert!(a.message.contains("a replay?"), "{}", a.message);
    let old = hook.send(&signed("push", pushed(MAX_AGE_HOURS + 1))).await;
    assert_eq!(old.status, 422, "{}", old.message);
    let future = hook.send(&signed("push", pushed(-1))).await;
    assert_eq!(future.status, 422, "{}", future.message);
    let mut v: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    v["repository"]
        .as_object_mut()
        .map(|r| r.remove("pushed_at"));
    let undated = hook
        .send(&signed("push", serde_json::to_vec(&v).unwrap()))
        .await;
    assert_eq!(undated.status, 400, "{}", undated.message);
    // Within the window (GitHub redelivers for 3 days): started.
    assert_eq!(
        hook.send(&signed("push", pushed(MAX_AGE_HOURS - 1)))
            .await
            .status,
        202
    );
    assert_eq!(hook.started(), 1);
}

#[tokio::test]
async fn a_push_without_a_delivery_id_is_refused() {
    let hook = Hook::new();
    let mut d = signed("push", push("refs/tags/rc-1.4.0"));
    d.headers.retain(|(k, _)| k != "x-github-delivery");
    let a = hook.send(&d).await;
    assert_eq!(a.status, 400);
    assert!(a.message.contains("X-GitHub-Delivery"), "{}", a.message);
    assert_eq!(hook.started(), 0);
}

#[tokio::test]
async fn a_failed_publish_releases_the_claim_so_a_redelivery_can_start_it() {
    let hook = Hook::new();
    let d = signed("push", push("refs/tags/rc-1.4.0"));
    *hook.bus.fail.lock().unwrap() = true;
    let a = hook.send(&d).await;
    assert_eq!(a.status, 502);
    assert!(a.message.contains("redeliver"), "{}", a.message);
    *hook.bus.fail.lock().unwrap() = false;
    assert_eq!(hook.send(&d).await.status, 202);
    assert_eq!(hook.started(), 1);
}

#[tokio::test]
async fn an_invalid_candidate_is_unprocessable() {
    let hook = Hook::new();
    let mut v: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    v["after"] = json!("not-a-sha");
    let a = hook
        .send(&signed("push", serde_json::to_vec(&v).unwrap()))
        .await;
    assert_eq!(a.status, 422, "{}", a.message);
    assert_eq!(hook.started(), 0);
}

/// The pusher is recorded by GitHub login (what the pusher rule compares), not by a
/// display name.
#[tokio::test]
async fn the_pusher_is_the_senders_github_login() {
    let hook = Hook::new();
    let mut body: serde_json::Value = serde_json::from_slice(&push("refs/tags/rc-1.4.0")).unwrap();
    body["pusher"]["name"] = json!("Dana Scully");
    body["sender"]["login"] = json!("dana-gh");
    let a = hook
        .send(&signed("push", serde_json::to_vec(&body).unwrap()))
        .await;
    assert_eq!(a.status, 202, "{}", a.message);
    assert_eq!(a.started.unwrap().pushed_by.as_deref(), Some("dana-gh"));
}

#[tokio::test]
async fn with_a_production_prefix_a_v_tag_is_published_for_production_and_others_are_ignored() {
    let hook = Hook {
        settings: Settings {
            production_tag_prefix: Some("v".into()),
            ..settings()
        },
        ..Hook::new()
    };
    let a = hook.send(&signed("push", push("refs/tags/v1.4.0"))).await;
    assert_eq!(a.status, 202, "{}", a.message);
    let sent = hook.bus.sent.lock().unwrap().clone();
    assert_eq!(
        sent.iter().map(|t| t.tag.as_str()).collect::<Vec<_>>(),
        ["v1.4.0"]
    );
    let a = hook.send(&signed("push", push("refs/tags/vnext"))).await;
    assert_eq!(a.status, 422, "{}", a.message);
    let a = hook
        .send(&signed("push", push("refs/tags/release-1")))
        .await;
    assert_eq!(a.status, 202);
    assert!(
        a.message.contains("does not start with 'rc-' or 'v'"),
        "{}",
        a.message
    );
    assert_eq!(hook.started(), 1);
}

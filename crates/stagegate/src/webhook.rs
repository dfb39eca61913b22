//! The GitHub push webhook: from a signed delivery to one "release candidate tagged"
//! event, or to a clear refusal.
//!
//! Order matters: the size limit and the signature come before anything reads the
//! body (an unsigned body is never parsed), and the claim comes before the event, so
//! a redelivered or re-sent push finds the claim and starts nothing. If publishing
//! fails the claim is released, so a redelivery can try again: nothing is lost and
//! nothing starts twice.

use crate::candidate::Trigger;
pub use crate::ports::Claims;
use crate::ports::{Clock, PortResult};
use crate::web::{Endpoint, WebRequest, WebResponse};
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;
use std::future::Future;

/// GitHub caps push payloads at 25 MB, but a tag push is a few kilobytes; anything
/// over 1 MiB is refused before its signature is even computed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a claim keeps a redelivery from starting a second run.
pub const CLAIM_DAYS: i64 = 30;

/// The webhook's shared secret (Secrets Manager on AWS).
pub trait Secrets: Send + Sync {
    fn webhook_secret(&self) -> impl Future<Output = PortResult<String>> + Send;
}

/// Where a "release candidate tagged" event goes (an EventBridge bus on AWS).
pub trait Events: Send + Sync {
    fn candidate_tagged(&self, trigger: &Trigger) -> impl Future<Output = PortResult<()>> + Send;
}

/// What the webhook is configured with.
#[derive(Clone, Debug)]
pub struct Config {
    pub tag_prefix: String,
    /// `owner/name`: pushes from any other repository are refused. `None` accepts
    /// any repository that knows the secret.
    pub repository: Option<String>,
}

impl From<&crate::Settings> for Config {
    /// The webhook reads the tag prefix and the repository from the settings, as
    /// every other part of stagegate does.
    fn from(settings: &crate::Settings) -> Config {
        Config {
            tag_prefix: settings.tag_prefix.clone(),
            repository: settings.repository.clone(),
        }
    }
}

/// One delivery: lower-case header names and the raw body.
#[derive(Clone, Debug, Default)]
pub struct Delivery {
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Delivery {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The answer GitHub records for the delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub message: String,
    /// The candidate, when one was started.
    pub started: Option<Trigger>,
}

fn answer(status: u16, message: impl Into<String>) -> Answer {
    Answer {
        status,
        message: message.into(),
        started: None,
    }
}

/// Why a signature was refused: the HTTP status and what to tell the sender.
pub type SignatureRefusal = (u16, &'static str);

const MALFORMED: SignatureRefusal = (400, "X-Hub-Signature-256 must be 'sha256=<64 hex digits>'");

/// Checks `X-Hub-Signature-256: sha256=<hex>` against the body, in constant time.
pub fn verify_signature(
    secret: &[u8],
    body: &[u8],
    header: Option<&str>,
) -> Result<(), SignatureRefusal> {
    let header = header.ok_or((401, "missing X-Hub-Signature-256 header"))?;
    let hex_sig = header.strip_prefix("sha256=").ok_or(MALFORMED)?;
    let sig = hex::decode(hex_sig)
        .ok()
        .filter(|s| s.len() == 32)
        .ok_or(MALFORMED)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|_| (500, "the webhook secret is unusable"))?;
    mac.update(body);
    // `verify_slice` compares in constant time.
    mac.verify_slice(&sig)
        .map_err(|_| (401, "signature does not match: check the webhook secret"))
}

/// `sha256=<hex>` for `body`: what GitHub sends (for tests and `stagegate` tooling).
pub fn sign(secret: &[u8], body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(body);
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

#[derive(Deserialize)]
struct Push {
    #[serde(rename = "ref")]
    reference: String,
    after: String,
    #[serde(default)]
    deleted: bool,
    repository: Repository,
    #[serde(default)]
    pusher: Option<Pusher>,
    #[serde(default)]
    sender: Option<Sender>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
}

#[derive(Deserialize)]
struct Pusher {
    name: String,
}

#[derive(Deserialize)]
struct Sender {
    login: String,
}

/// The claim key of a candidate: the same repository, tag and commit is the same run.
pub fn claim_key(t: &Trigger) -> String {
    format!("webhook#{}#{}#{}", t.repository, t.tag, t.sha)
}

/// The `webhook` function's name.
pub const NAME: &str = "webhook";

/// The webhook endpoint: owns its configuration, the secret, the claims, the event
/// bus and the clock.
pub struct Webhook<S, Cl, Ev, K> {
    config: Config,
    secrets: S,
    claims: Cl,
    events: Ev,
    clock: K,
}

impl<S: Secrets, Cl: Claims, Ev: Events, K: Clock> Webhook<S, Cl, Ev, K> {
    pub fn new(config: Config, secrets: S, claims: Cl, events: Ev, clock: K) -> Self {
        Webhook {
            config,
            secrets,
            claims,
            events,
            clock,
        }
    }
}

impl<S: Secrets, Cl: Claims, Ev: Events, K: Clock> Endpoint for Webhook<S, Cl, Ev, K> {
    const NAME: &'static str = NAME;

    async fn handle(&self, request: WebRequest) -> WebResponse {
        if request.method != "POST" {
            return WebResponse::text(405, "GitHub delivers webhooks with POST");
        }
        let delivery = Delivery {
            headers: request.headers,
            body: request.body,
        };
        let answer = handle(
            &self.config,
            &self.secrets,
            &self.claims,
            &self.events,
            self.clock.now(),
            &delivery,
        )
        .await;
        WebResponse::text(answer.status, answer.message)
    }
}

/// Handles one delivery.
pub async fn handle(
    config: &Config,
    secrets: &impl Secrets,
    claims: &impl Claims,
    events: &impl Events,
    now: DateTime<Utc>,
    delivery: &Delivery,
) -> Answer {
    if delivery.body.len() > MAX_BODY_BYTES {
        return answer(
            413,
            format!("payload over {MAX_BODY_BYTES} bytes; a tag push is far smaller"),
        );
    }
    let secret = match secrets.webhook_secret().await {
        Ok(s) if !s.is_empty() => s,
        Ok(_) => return answer(500, "the webhook secret is empty"),
        Err(e) => return answer(500, format!("cannot read the webhook secret: {e}")),
    };
    if let Err((status, why)) = verify_signature(
        secret.as_bytes(),
        &delivery.body,
        delivery.header("x-hub-signature-256"),
    ) {
        return answer(status, why);
    }
    match delivery.header("x-github-event") {
        Some("push") => {}
        Some("ping") => return answer(200, "pong: the webhook is set up"),
        Some(other) => return answer(202, format!("ignored: '{other}' events start nothing")),
        None => return answer(400, "missing X-GitHub-Event header"),
    }
    let push: Push = match serde_json::from_slice(&delivery.body) {
        Ok(p) => p,
        Err(e) => return answer(400, format!("not a GitHub push payload: {e}")),
    };
    let Some(tag) = push.reference.strip_prefix("refs/tags/") else {
        return answer(202, format!("ignored: {} is not a tag", push.reference));
    };
    if push.deleted {
        return answer(202, format!("ignored: tag {tag} was deleted"));
    }
    if !tag.starts_with(&config.tag_prefix) {
        return answer(
            202,
            format!(
                "ignored: tag {tag} does not start with '{}'",
                config.tag_prefix
            ),
        );
    }
    if let Some(expected) = &config.repository {
        if !push.repository.full_name.eq_ignore_ascii_case(expected) {
            return answer(
                403,
                format!(
                    "this stagegate serves {expected}, not {}",
                    push.repository.full_name
                ),
            );
        }
    }
    let trigger = Trigger {
        repository: push.repository.full_name,
        tag: tag.to_string(),
        sha: push.after,
        // The GitHub login (`sender.login`), which the pusher rule compares with the
        // approvers' logins; `pusher.name` only when a payload has no sender.
        pushed_by: push.sender.map(|s| s.login).or(push.pusher.map(|p| p.name)),
    };
    if let Err(e) = trigger.validate(&config.tag_prefix) {
        return answer(422, e.message);
    }
    let key = claim_key(&trigger);
    match claims.claim(&key, now + Duration::days(CLAIM_DAYS)).await {
        Ok(true) => {}
        Ok(false) => {
            return answer(
                200,
                format!(
                    "already started: {} at {} (a redelivery starts nothing)",
                    trigger.tag, trigger.sha
                ),
            )
        }
        Err(e) => return answer(503, format!("cannot record the delivery: {e}")),
    }
    if let Err(e) = events.candidate_tagged(&trigger).await {
        // Give the claim back so a redelivery can start the run; if even that
        // fails, say so: the operator must start it with `stagegate start`.
        let hint = match claims.release(&key).await {
            Ok(()) => "redeliver the webhook to retry".to_string(),
            Err(r) => format!(
                "and the claim could not be released ({r}): run `stagegate start --tag {}`",
                trigger.tag
            ),
        };
        return answer(502, format!("cannot publish the event: {e}; {hint}"));
    }
    Answer {
        status: 202,
        message: format!(
            "started: {} at {} pushed by {}",
            trigger.tag,
            trigger.sha,
            trigger.pushed_by.as_deref().unwrap_or("unknown")
        ),
        started: Some(trigger),
    }
}

#[cfg(test)]
mod tests;

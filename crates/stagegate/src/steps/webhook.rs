//! The GitHub push webhook (`webhook`, behind its Function URL): from a signed
//! delivery to one "release candidate tagged" event, or to a clear refusal.
//!
//! Order matters: the size limit and the signature come before anything reads the
//! body (an unsigned body is never parsed), and the claims come before the event, so
//! a redelivered or re-sent push finds them and starts nothing. If publishing fails
//! the claims are released, so a redelivery can try again: nothing is lost and
//! nothing starts twice.
//!
//! Replays: a delivery's `X-GitHub-Delivery` id (the same for every redelivery of
//! one event) is claimed, and a push older than [`MAX_AGE_HOURS`] (by its
//! `repository.pushed_at`) is refused: GitHub lets a delivery be redelivered for 3
//! days, and a captured delivery replayed after its claims expired (30 days) is
//! long past the window.

use crate::ports::{self, Claims, Clock, Events, Secrets, Trigger};
use crate::settings::Settings;
use crate::step::{text, Endpoint, WebRequest, WebResponse};
use chrono::Duration;
use hmac::{Hmac, Mac};
use serde::Deserialize;
use sha2::Sha256;

/// The `webhook` function's name.
pub const NAME: &str = "webhook";

/// GitHub caps push payloads at 25 MB, but a tag push is a few kilobytes; anything
/// over 1 MiB is refused before its signature is even computed.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// How long a claim keeps a redelivery from starting a second run.
pub const CLAIM_DAYS: i64 = 30;

/// The oldest push accepted, by its `repository.pushed_at`: GitHub's 3 days of
/// redelivery, and a day of slack. Anything older is a replay.
pub const MAX_AGE_HOURS: i64 = 96;

/// How far in the future a push may claim to be (clocks differ a little).
const MAX_SKEW_MINUTES: i64 = 5;

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

/// A delivery refused or ignored: the status and what to tell the sender.
type Refused = (u16, String);

fn refused(status: u16, message: impl Into<String>) -> Refused {
    (status, message.into())
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
    pusher: Option<Pusher>,
    sender: Option<Sender>,
}

#[derive(Deserialize)]
struct Repository {
    full_name: String,
    /// Unix seconds in push payloads (a timestamp string in some others).
    #[serde(default)]
    pushed_at: Option<serde_json::Value>,
}

/// When the push happened, as its payload says.
fn pushed_at(v: &serde_json::Value) -> Option<chrono::DateTime<chrono::Utc>> {
    match v {
        serde_json::Value::Number(n) => chrono::DateTime::from_timestamp(n.as_i64()?, 0),
        serde_json::Value::String(s) => chrono::DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc)),
        _ => None,
    }
}

#[derive(Deserialize)]
struct Pusher {
    name: String,
}

#[derive(Deserialize)]
struct Sender {
    login: String,
    /// The account's numeric id: what the pusher rule compares.
    #[serde(default)]
    id: Option<u64>,
}

/// The claim key of a candidate: the same repository, tag and commit is the same run.
pub fn claim_key(t: &Trigger) -> String {
    format!("webhook#{}#{}#{}", t.repository, t.tag, t.sha)
}

/// The claim key of a delivery id (one per event, whatever the redeliveries).
pub fn delivery_key(id: &str) -> String {
    format!("webhook#delivery#{id}")
}

/// The webhook endpoint. Reads the tag prefix and the repository it serves from the
/// settings, as every other part of stagegate does.
pub struct Webhook<S, T, E, C> {
    pub settings: Settings,
    pub secret: S,
    /// The table: one claim per candidate, so a redelivery starts nothing.
    pub store: T,
    pub events: E,
    pub clock: C,
}

impl<S: Secrets, T: Claims, E: Events, C: Clock> Endpoint for Webhook<S, T, E, C> {
    const NAME: &'static str = NAME;

    async fn handle(&self, request: WebRequest) -> WebResponse {
        if request.method() != http::Method::POST {
            return text(405, "GitHub delivers webhooks with POST");
        }
        let headers = request
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .collect();
        let delivery = Delivery {
            headers,
            body: request.into_body(),
        };
        let answer = self.deliver(&delivery).await;
        text(answer.status, answer.message)
    }
}

impl<S: Secrets, T: Claims, E: Events, C: Clock> Webhook<S, T, E, C> {
    /// Handles one delivery: checks it, then starts its candidate once.
    pub async fn deliver(&self, delivery: &Delivery) -> Answer {
        let trigger = match self.read(delivery).await {
            Ok(trigger) => trigger,
            Err((status, message)) => return answer(status, message),
        };
        let Some(id) = delivery
            .header("x-github-delivery")
            .filter(|id| !id.is_empty())
        else {
            return answer(400, "missing X-GitHub-Delivery header");
        };
        let key = delivery_key(id);
        let taken = format!("already received delivery {id}: it starts nothing");
        if let Err(answer) = self.claim(&key, taken).await {
            return answer;
        }
        let mut started = self.start(trigger).await;
        if started.status >= 500 {
            // Nothing started: a redelivery (the same id) may try again.
            if let Err(e) = self.store.release(&key).await {
                started.message.push_str(&format!(
                    "; the delivery's claim could not be released ({e}): start it with `stagegate start`"
                ));
            }
        }
        started
    }

    /// The trigger of a signed push of a candidate tag, or the answer that refuses or
    /// ignores the delivery. Nothing reads the body before its signature matches.
    async fn read(&self, delivery: &Delivery) -> Result<Trigger, Refused> {
        if delivery.body.len() > MAX_BODY_BYTES {
            return Err(refused(
                413,
                format!("payload over {MAX_BODY_BYTES} bytes; a tag push is far smaller"),
            ));
        }
        let secret = match self.secret.webhook_secret().await {
            Ok(s) if !s.is_empty() => s,
            Ok(_) => return Err(refused(500, "the webhook secret is empty")),
            Err(e) => return Err(refused(500, format!("cannot read the webhook secret: {e}"))),
        };
        let signature = delivery.header("x-hub-signature-256");
        if let Err((status, why)) = verify_signature(secret.as_bytes(), &delivery.body, signature) {
            return Err(refused(status, why));
        }
        match delivery.header("x-github-event") {
            Some("push") => {}
            Some("ping") => return Err(refused(200, "pong: the webhook is set up")),
            Some(other) => {
                return Err(refused(
                    202,
                    format!("ignored: '{other}' events start nothing"),
                ))
            }
            None => return Err(refused(400, "missing X-GitHub-Event header")),
        }
        let push: Push = serde_json::from_slice(&delivery.body)
            .map_err(|e| refused(400, format!("not a GitHub push payload: {e}")))?;
        self.fresh(&push)?;
        self.trigger(push)
    }

    /// Refuses a push older than [`MAX_AGE_HOURS`] (or from the future), or one that
    /// does not say when it happened: a replay must not start a run.
    fn fresh(&self, push: &Push) -> Result<(), Refused> {
        let Some(at) = push.repository.pushed_at.as_ref().and_then(pushed_at) else {
            return Err(refused(
                400,
                "the push has no repository.pushed_at: its age cannot be checked",
            ));
        };
        let now = self.clock.now();
        if at < now - Duration::hours(MAX_AGE_HOURS) {
            return Err(refused(
                422,
                format!("refused: pushed at {at}, over {MAX_AGE_HOURS} hours ago (a replay?)"),
            ));
        }
        if at > now + Duration::minutes(MAX_SKEW_MINUTES) {
            return Err(refused(
                422,
                format!("refused: pushed at {at}, in the future"),
            ));
        }
        Ok(())
    }

    /// The candidate a push names, if it is one this stagegate serves.
    fn trigger(&self, push: Push) -> Result<Trigger, Refused> {
        let Some(tag) = push.reference.strip_prefix("refs/tags/") else {
            return Err(refused(
                202,
                format!("ignored: {} is not a tag", push.reference),
            ));
        };
        if push.deleted {
            return Err(refused(202, format!("ignored: tag {tag} was deleted")));
        }
        // A candidate (`rc-`) for staging, or a promotion (`v`) for production.
        let prefixes = [
            Some(&self.settings.tag_prefix),
            self.settings.production_tag_prefix.as_ref(),
        ];
        let Some(prefix) = prefixes
            .into_iter()
            .flatten()
            .find(|p| tag.starts_with(p.as_str()))
        else {
            let served: Vec<String> = prefixes
                .into_iter()
                .flatten()
                .map(|p| format!("'{p}'"))
                .collect();
            return Err(refused(
                202,
                format!(
                    "ignored: tag {tag} does not start with {}",
                    served.join(" or ")
                ),
            ));
        };
        if let Some(expected) = &self.settings.repository {
            if !push.repository.full_name.eq_ignore_ascii_case(expected) {
                let from = &push.repository.full_name;
                return Err(refused(
                    403,
                    format!("this stagegate serves {expected}, not {from}"),
                ));
            }
        }
        // The GitHub account that pushed (`sender`: its id is what the pusher rule
        // compares); `pusher.name` is only shown, when a payload has no sender.
        let pusher = push.sender.as_ref().and_then(|s| {
            s.id.map(|id| ports::Pusher::GitHub {
                id,
                login: s.login.clone(),
            })
        });
        let trigger = Trigger {
            repository: push.repository.full_name,
            tag: tag.to_string(),
            sha: push.after,
            pushed_by: push.sender.map(|s| s.login).or(push.pusher.map(|p| p.name)),
            pusher,
            rollback: false,
        };
        trigger
            .validate(prefix)
            .map_err(|e| refused(422, e.message))?;
        Ok(trigger)
    }

    /// Claims `key` for [`CLAIM_DAYS`]; `Err` is the answer when it was taken already
    /// (200, `taken`) or could not be recorded (503).
    async fn claim(&self, key: &str, taken: String) -> Result<(), Answer> {
        let expires = self.clock.now() + Duration::days(CLAIM_DAYS);
        match self.store.claim(key, expires).await {
            Ok(true) => Ok(()),
            Ok(false) => Err(answer(200, taken)),
            Err(e) => Err(answer(503, format!("cannot record the delivery: {e}"))),
        }
    }

    /// Claims the candidate, then publishes its event; a failed publish gives the
    /// claim back, so a redelivery can try again.
    async fn start(&self, trigger: Trigger) -> Answer {
        let key = claim_key(&trigger);
        let taken = format!(
            "already started: {} at {} (a redelivery starts nothing)",
            trigger.tag, trigger.sha
        );
        if let Err(answer) = self.claim(&key, taken).await {
            return answer;
        }
        if let Err(e) = self.events.candidate_tagged(&trigger).await {
            // Give the claim back so a redelivery can start the run; if even that
            // fails, say so: the operator must start it with `stagegate start`.
            let hint = match self.store.release(&key).await {
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
}

#[cfg(test)]
mod tests;

//! A stand-in for Slack on 127.0.0.1, both ways:
//!
//! - **Its Web API** (`/api/chat.postMessage`, `/api/chat.update`, `/api/views.open`)
//!   answering as Slack documents: the bot token in `Authorization: Bearer`, a JSON
//!   body, `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` with HTTP 200
//!   (`invalid_auth`, `channel_not_found`, `message_not_found`, `invalid_blocks`,
//!   `unknown_method`); a direct message to member `U…` lands in channel `D…`. Every
//!   call is recorded, and the messages as they stand now are kept.
//! - **Its interactivity**: a person's button press or form submission, sent to
//!   stagegate's endpoint as Slack sends them (`payload=` form, signed `v0` with the
//!   app's signing secret, [`SlackStandIn::press`], [`SlackStandIn::submit`]).
//!
//! Block Kit limits Slack enforces are enforced here too (at most 50 blocks, a header
//! 150 characters, ten section fields of 2,000, a modal title 24), so a message Slack
//! would refuse is refused in the tests first.

use crate::server::{self, respond, Request, Response};
use serde_json::{json, Value};
use stagegate::testing::{button, form_body, submission};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use tokio::task::JoinHandle;

#[derive(Default)]
struct State {
    calls: Vec<(String, Value)>,
    /// (channel, ts) → the message's last body.
    messages: BTreeMap<(String, String), Value>,
    seq: u64,
}

/// The stand-in: its address, what it received, how to act as a person in Slack.
pub struct SlackStandIn {
    pub addr: SocketAddr,
    pub team: String,
    token: String,
    signing_secret: String,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

impl Drop for SlackStandIn {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl SlackStandIn {
    /// Serves on 127.0.0.1 (`port` 0: any free port) for workspace `team`, accepting
    /// `token`, signing interactions with `signing_secret`.
    pub async fn start(
        port: u16,
        team: &str,
        token: &str,
        signing_secret: &str,
    ) -> std::io::Result<SlackStandIn> {
        let state = Arc::new(Mutex::new(State::default()));
        let (shared, bearer) = (state.clone(), format!("Bearer {token}"));
        let handler: server::Handler = Arc::new(move |req: Request| {
            let (state, bearer) = (shared.clone(), bearer.clone());
            Box::pin(async move { web_api(&state, &bearer, req) })
        });
        let (addr, server) = server::serve(port, handler).await?;
        Ok(SlackStandIn {
            addr,
            team: team.into(),
            token: token.into(),
            signing_secret: signing_secret.into(),
            state,
            server,
        })
    }

    /// The Web API's base, for `STAGEGATE_SLACK_API_URL`.
    pub fn api_url(&self) -> String {
        format!("http://{}/api", self.addr)
    }

    /// The app's secret as Secrets Manager would hold it.
    pub fn app_secret(&self) -> String {
        json!({"botToken": self.token, "signingSecret": self.signing_secret}).to_string()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every Web API call received: the method and its JSON body.
    pub fn calls(&self) -> Vec<(String, Value)> {
        self.lock().calls.clone()
    }

    /// The calls of `method`.
    pub fn calls_of(&self, method: &str) -> Vec<Value> {
        self.calls()
            .into_iter()
            .filter(|(m, _)| m == method)
            .map(|(_, b)| b)
            .collect()
    }

    /// The message in `channel` as it stands now.
    pub fn message_in(&self, channel: &str) -> Option<Value> {
        self.lock()
            .messages
            .iter()
            .find(|((c, _), _)| c == channel)
            .map(|(_, m)| m.clone())
    }

    /// `member` presses `action` (`approve` / `reject`) on approval `approval`: the
    /// signed request stagegate's endpoint at `url` receives; its HTTP status.
    pub async fn press(
        &self,
        url: &str,
        member: &str,
        approval: &str,
        action: &str,
    ) -> (u16, String) {
        let payload = button(&self.team, member, approval, action);
        self.send(url, form_body(&payload)).await
    }

    /// `member` submits the decision form.
    pub async fn submit(
        &self,
        url: &str,
        member: &str,
        approval: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> (u16, String) {
        let payload = submission(&self.team, member, approval, approve, reason);
        self.send(url, form_body(&payload)).await
    }

    /// Posts `body` to `url` signed now, as Slack does.
    pub async fn send(&self, url: &str, body: Vec<u8>) -> (u16, String) {
        let ts = chrono::Utc::now().timestamp().to_string();
        let signature =
            stagegate::slack::signature::sign(self.signing_secret.as_bytes(), &ts, &body);
        self.send_signed(url, &ts, &signature, body).await
    }

    /// Posts `body` with the given timestamp and signature headers (a replay, a forgery).
    pub async fn send_signed(
        &self,
        url: &str,
        ts: &str,
        signature: &str,
        body: Vec<u8>,
    ) -> (u16, String) {
        use stagegate::ports::{Http, HttpRequest};
        let request = HttpRequest {
            method: "POST".into(),
            url: url.into(),
            headers: vec![
                (
                    "content-type".into(),
                    "application/x-www-form-urlencoded".into(),
                ),
                ("x-slack-request-timestamp".into(), ts.into()),
                ("x-slack-signature".into(), signature.into()),
            ],
            body: Some(String::from_utf8_lossy(&body).into_owned()),
        };
        match stagegate_https::HttpsClient::new().send(&request).await {
            Ok(r) => (r.status, r.body),
            Err(e) => (0, e.to_string()),
        }
    }
}

fn answer(body: Value) -> Response {
    respond(200, "application/json; charset=utf-8", body.to_string())
}

fn error(code: &str) -> Response {
    answer(json!({"ok": false, "error": code}))
}

/// One Web API request.
fn web_api(state: &Mutex<State>, bearer: &str, req: Request) -> Response {
    let Some(method) = req.uri().path().strip_prefix("/api/").map(str::to_string) else {
        return respond(404, "text/plain", "not the Web API");
    };
    if req.method() != http::Method::POST {
        return error("invalid_request");
    }
    let auth = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if auth != Some(bearer) {
        return error("invalid_auth");
    }
    let Ok(body) = serde_json::from_slice::<Value>(req.body()) else {
        return error("invalid_json");
    };
    let mut state = state.lock().unwrap_or_else(|p| p.into_inner());
    state.calls.push((method.clone(), body.clone()));
    match method.as_str() {
        "chat.postMessage" => post(&mut state, &body),
        "chat.update" => update(&mut state, &body),
        "views.open" => open(&body),
        _ => error("unknown_method"),
    }
}

fn post(state: &mut State, body: &Value) -> Response {
    let Some(member) = body["channel"].as_str().and_then(|c| c.strip_prefix('U')) else {
        return error("channel_not_found");
    };
    if let Err(code) = blocks_ok(&body["blocks"]) {
        return error(code);
    }
    state.seq += 1;
    let (channel, ts) = (
        format!("DU{member}"),
        format!("1700000000.{:06}", state.seq),
    );
    state
        .messages
        .insert((channel.clone(), ts.clone()), body.clone());
    answer(
        json!({"ok": true, "channel": channel, "ts": ts, "message": {"text": body["text"], "blocks": body["blocks"]}}),
    )
}

fn update(state: &mut State, body: &Value) -> Response {
    let key = (
        body["channel"].as_str().unwrap_or_default().to_string(),
        body["ts"].as_str().unwrap_or_default().to_string(),
    );
    if !state.messages.contains_key(&key) {
        return error("message_not_found");
    }
    if let Err(code) = blocks_ok(&body["blocks"]) {
        return error(code);
    }
    state.messages.insert(key.clone(), body.clone());
    answer(json!({"ok": true, "channel": key.0, "ts": key.1, "text": body["text"]}))
}

fn open(body: &Value) -> Response {
    let view = &body["view"];
    if body["trigger_id"].as_str().is_none_or(str::is_empty) {
        return error("invalid_trigger_id");
    }
    let title = view["title"]["text"].as_str().unwrap_or_default();
    if view["type"] != "modal" || title.is_empty() || title.chars().count() > 24 {
        return error("invalid_arguments");
    }
    if let Err(code) = blocks_ok(&view["blocks"]) {
        return error(code);
    }
    answer(json!({"ok": true, "view": {"id": "V0STANDIN", "type": "modal"}}))
}

/// The Block Kit limits Slack refuses a message or view for.
fn blocks_ok(blocks: &Value) -> Result<(), &'static str> {
    let Some(blocks) = blocks.as_array() else {
        return Err("invalid_blocks");
    };
    if blocks.is_empty() || blocks.len() > 50 {
        return Err("invalid_blocks");
    }
    for b in blocks {
        let text = |v: &Value| v["text"].as_str().map(|t| t.chars().count()).unwrap_or(0);
        let ok = match b["type"].as_str() {
            Some("header") => text(&b["text"]) <= 150 && b["text"]["type"] == "plain_text",
            Some("section") => {
                let fields = b["fields"].as_array().map(Vec::as_slice).unwrap_or(&[]);
                fields.len() <= 10
                    && fields.iter().all(|f| text(f) <= 2000)
                    && text(&b["text"]) <= 3000
                    && (b["text"].is_object() || !fields.is_empty())
            }
            Some("actions") => b["elements"]
                .as_array()
                .is_some_and(|e| !e.is_empty() && e.len() <= 25),
            Some("context") | Some("input") | Some("divider") => true,
            _ => false,
        };
        if !ok {
            return Err("invalid_blocks");
        }
    }
    Ok(())
}

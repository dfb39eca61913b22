//! Slack's stand-in in memory: every Web API call recorded, each post landing in a
//! direct-message channel `D<member>` at an increasing `ts`.

use super::doubles::Shared;
use crate::error::PortError;
use crate::ports::{Chat, PortResult, Posted};
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// One Web API call as it was made.
#[derive(Clone, Debug, PartialEq)]
pub enum ChatCall {
    Post {
        channel: String,
        text: String,
        blocks: Value,
    },
    Update {
        channel: String,
        ts: String,
        text: String,
        blocks: Value,
    },
    OpenView {
        trigger_id: String,
        view: Value,
    },
}

#[derive(Clone)]
pub struct MemoryChat {
    pub secret: String,
    calls: Shared<Vec<ChatCall>>,
    /// Members whose direct messages fail (`channel_not_found`).
    unreachable: Shared<Vec<String>>,
}

impl MemoryChat {
    pub fn new(secret: &str) -> Self {
        MemoryChat {
            secret: secret.into(),
            calls: Arc::new(Mutex::new(Vec::new())),
            unreachable: Arc::new(Mutex::new(Vec::new())),
        }
    }

    pub fn calls(&self) -> Vec<ChatCall> {
        self.calls.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Posts to `member`, and updates of their messages, are refused from now on (the
    /// member left; the message was deleted).
    pub fn unreachable(&self, member: &str) {
        let mut u = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        u.push(member.into());
    }

    /// Whether `member`'s messages are refused ([`MemoryChat::unreachable`]).
    fn gone(&self, member: &str) -> bool {
        let u = self.unreachable.lock().unwrap_or_else(|p| p.into_inner());
        u.iter().any(|m| m == member)
    }

    fn record(&self, call: ChatCall) -> usize {
        let mut calls = self.calls.lock().unwrap_or_else(|p| p.into_inner());
        calls.push(call);
        calls.len()
    }
}

impl Chat for MemoryChat {
    async fn post(&self, channel: &str, text: &str, blocks: &Value) -> PortResult<Posted> {
        if self.gone(channel) {
            return Err(PortError::refused("chat.postMessage", "channel_not_found"));
        }
        let n = self.record(ChatCall::Post {
            channel: channel.into(),
            text: text.into(),
            blocks: blocks.clone(),
        });
        Ok(Posted {
            channel: format!("D{channel}"),
            ts: format!("1700000000.{n:06}"),
        })
    }
    async fn update(&self, channel: &str, ts: &str, text: &str, blocks: &Value) -> PortResult<()> {
        if self.gone(channel.strip_prefix('D').unwrap_or(channel)) {
            return Err(PortError::refused("chat.update", "message_not_found"));
        }
        self.record(ChatCall::Update {
            channel: channel.into(),
            ts: ts.into(),
            text: text.into(),
            blocks: blocks.clone(),
        });
        Ok(())
    }
    async fn open_view(&self, trigger_id: &str, view: &Value) -> PortResult<()> {
        self.record(ChatCall::OpenView {
            trigger_id: trigger_id.into(),
            view: view.clone(),
        });
        Ok(())
    }
    async fn signing_secret(&self) -> PortResult<String> {
        Ok(self.secret.clone())
    }
}

/// The workspace the Slack fixtures are configured for.
pub const TEAM: &str = "T0ACME";
/// The signing secret of the Slack fixtures.
pub const SIGNING_SECRET: &str = "8f742231b10e8888abcd99yyyzzz85a5";

/// Settings with Slack on for [`TEAM`], its Web API at `api_url`.
pub fn slack_settings(api_url: &str) -> crate::settings::Settings {
    crate::settings::Settings {
        slack: Some(crate::settings::Slack {
            team_id: TEAM.into(),
            api_url: api_url.into(),
        }),
        ..crate::settings::Settings::default()
    }
}

/// bob (`U0BOB`) and carol (`U0CAROL`) on Slack, dave by email only.
pub fn slack_approvers() -> Vec<crate::ports::Approver> {
    let mut people = super::approvers();
    people[0].slack = Some("U0BOB".into());
    people[1].slack = Some("U0CAROL".into());
    people.push(super::approver("dave", Some("dave-gh")));
    people
}

/// A button press of `member` of `team` on approval `approval` (`action`:
/// `approve` or `reject`), as Slack sends `block_actions`.
pub fn button(team: &str, member: &str, approval: &str, action: &str) -> Value {
    serde_json::json!({
        "type": "block_actions",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": member, "username": member.to_lowercase(), "team_id": team},
        "api_app_id": "A0STAGEGATE",
        "trigger_id": format!("trigger-{member}-{action}"),
        "container": {"type": "message", "message_ts": "1700000000.000001", "channel_id": format!("D{member}"), "is_ephemeral": false},
        "channel": {"id": format!("D{member}")},
        "actions": [{"action_id": action, "block_id": "decide", "value": approval, "type": "button", "action_ts": "1700000001.000001"}]
    })
}

/// The decision form's submission, as Slack sends `view_submission`.
pub fn submission(
    team: &str,
    member: &str,
    approval: &str,
    approve: bool,
    reason: Option<&str>,
) -> Value {
    let meta = serde_json::json!({"approval": approval, "approve": approve}).to_string();
    serde_json::json!({
        "type": "view_submission",
        "team": {"id": team, "domain": "acme"},
        "user": {"id": member, "username": member.to_lowercase(), "team_id": team},
        "api_app_id": "A0STAGEGATE",
        "view": {
            "id": "V0FORM", "type": "modal", "callback_id": crate::slack::blocks::CALLBACK_ID,
            "private_metadata": meta,
            "state": {"values": {"reason": {"reason": {"type": "plain_text_input", "value": reason}}}}
        }
    })
}

/// `payload` as Slack posts it: `application/x-www-form-urlencoded` `payload=<JSON>`.
pub fn form_body(payload: &Value) -> Vec<u8> {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("payload", &payload.to_string())
        .finish()
        .into_bytes()
}

/// A POST of `body` signed with `secret` at Unix time `ts`, as Slack sends it.
pub fn signed(secret: &str, ts: i64, body: Vec<u8>) -> crate::step::WebRequest {
    let ts = ts.to_string();
    let signature = crate::slack::signature::sign(secret.as_bytes(), &ts, &body);
    http::Request::builder()
        .method("POST")
        .uri("/")
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-slack-request-timestamp", ts)
        .header("x-slack-signature", signature)
        .body(body)
        .unwrap_or_else(|e| unreachable!("a fixed request is valid: {e}"))
}

//! [`Chat`] on the Slack Web API, over any [`Http`]: `chat.postMessage`,
//! `chat.update` and `views.open` as Slack documents them (`POST
//! https://slack.com/api/<method>`, `Authorization: Bearer <bot token>`, a JSON body,
//! an answer `{"ok": true, …}` or `{"ok": false, "error": "<code>"}` with HTTP 200;
//! 429 with `Retry-After` when rate limited). The app needs the bot scope
//! `chat:write` (direct messages to the approvers; `views.open` needs none).
//!
//! The secret (Secrets Manager on AWS, a file locally) is one JSON object,
//! `{"botToken": "xoxb-…", "signingSecret": "…"}`, read when a call first needs it.
//! Neither value is ever part of an error or a log.

use crate::Token;
use serde::Deserialize;
use serde_json::{json, Value};
use stagegate::error::PortError;
use stagegate::ports::{Chat, Http, HttpRequest, PortResult, Posted};

/// Slack's Web API on `api` (`https://slack.com/api`, or a stand-in), with the app's
/// secret from `secret`.
#[derive(Clone, Debug)]
pub struct Slack<H, T> {
    http: H,
    api: String,
    secret: T,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AppSecret {
    bot_token: String,
    signing_secret: String,
}

impl<H: Http, T: Token> Slack<H, T> {
    pub fn new(http: H, api: &str, secret: T) -> Self {
        Slack {
            http,
            api: api.trim_end_matches('/').to_string(),
            secret,
        }
    }

    async fn app_secret(&self) -> PortResult<AppSecret> {
        let text = self.secret.token().await?;
        let secret: AppSecret = serde_json::from_str(&text).map_err(|_| {
            PortError::refused(
                "read the Slack secret",
                "it must be a JSON object {\"botToken\": \"xoxb-…\", \"signingSecret\": \"…\"}",
            )
        })?;
        if secret.bot_token.trim().is_empty() || secret.signing_secret.trim().is_empty() {
            return Err(PortError::refused(
                "read the Slack secret",
                "botToken and signingSecret must both be set",
            ));
        }
        Ok(secret)
    }

    /// Calls `method` with `body`; the answer's JSON when Slack says `ok`.
    async fn call(&self, method: &str, body: Value) -> PortResult<Value> {
        let token = self.app_secret().await?.bot_token;
        let request = HttpRequest {
            method: "POST".into(),
            url: format!("{}/{method}", self.api),
            headers: vec![
                ("authorization".into(), format!("Bearer {token}")),
                (
                    "content-type".into(),
                    "application/json; charset=utf-8".into(),
                ),
            ],
            body: Some(body.to_string()),
        };
        let response = self.http.send(&request).await?;
        if response.status == 429 {
            let after = response
                .headers
                .iter()
                .find(|(k, _)| k == "retry-after")
                .map(|(_, v)| v.as_str())
                .unwrap_or("?");
            return Err(PortError::new(
                method,
                format!("rate limited by Slack (retry after {after} s)"),
            ));
        }
        if !(200..300).contains(&response.status) {
            return Err(PortError::new(
                method,
                format!("Slack answered HTTP {}", response.status),
            ));
        }
        let answer: Value = serde_json::from_str(&response.body)
            .map_err(|_| PortError::new(method, "Slack's answer is not JSON"))?;
        if answer["ok"] == json!(true) {
            return Ok(answer);
        }
        let error = answer["error"].as_str().unwrap_or("no error code");
        let message = format!("Slack refused it: {error}");
        // Slack's own trouble may pass; every other error code is an answer.
        Err(match error {
            "internal_error"
            | "fatal_error"
            | "service_unavailable"
            | "request_timeout"
            | "ratelimited" => PortError::new(method, message),
            _ => PortError::refused(method, message),
        })
    }
}

impl<H: Http, T: Token> Chat for Slack<H, T> {
    async fn post(&self, channel: &str, text: &str, blocks: &Value) -> PortResult<Posted> {
        let body = json!({"channel": channel, "text": text, "blocks": blocks, "unfurl_links": false, "unfurl_media": false});
        let answer = self.call("chat.postMessage", body).await?;
        match (answer["channel"].as_str(), answer["ts"].as_str()) {
            (Some(channel), Some(ts)) => Ok(Posted {
                channel: channel.into(),
                ts: ts.into(),
            }),
            _ => Err(PortError::new(
                "chat.postMessage",
                "Slack's answer names no channel and ts",
            )),
        }
    }

    async fn update(&self, channel: &str, ts: &str, text: &str, blocks: &Value) -> PortResult<()> {
        let body = json!({"channel": channel, "ts": ts, "text": text, "blocks": blocks});
        self.call("chat.update", body).await.map(|_| ())
    }

    async fn open_view(&self, trigger_id: &str, view: &Value) -> PortResult<()> {
        let body = json!({"trigger_id": trigger_id, "view": view});
        self.call("views.open", body).await.map(|_| ())
    }

    async fn signing_secret(&self) -> PortResult<String> {
        Ok(self.app_secret().await?.signing_secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate::testing::MemoryHttp;

    const API: &str = "https://slack.test/api";

    fn slack(http: &MemoryHttp, secret: &str) -> Slack<MemoryHttp, String> {
        Slack::new(http.clone(), API, secret.to_string())
    }

    fn secret() -> String {
        json!({"botToken": "xoxb-1", "signingSecret": "s"}).to_string()
    }

    #[tokio::test]
    async fn slacks_own_trouble_is_tried_again_and_its_answers_are_not() {
        let http = MemoryHttp::default();
        let url = format!("{API}/chat.update");
        for (code, transient) in [
            ("internal_error", true),
            ("ratelimited", true),
            ("message_not_found", false),
            ("channel_not_found", false),
        ] {
            http.route(&url, 200, &json!({"ok": false, "error": code}).to_string());
            let e = slack(&http, &secret())
                .update("D1", "1.0", "t", &json!([]))
                .await
                .unwrap_err();
            assert_eq!(e.transient, transient, "{code}: {e}");
            assert!(e.message.contains(code), "{e}");
        }
        http.route(&url, 500, "oops");
        assert!(
            slack(&http, &secret())
                .update("D1", "1.0", "t", &json!([]))
                .await
                .unwrap_err()
                .transient
        );
    }

    #[tokio::test]
    async fn a_malformed_secret_is_named_without_showing_it() {
        let http = MemoryHttp::default();
        for bad in [
            "xoxb-plain-token",
            r#"{"botToken": "xoxb-1", "signingSecret": " "}"#,
        ] {
            let e = slack(&http, bad).signing_secret().await.unwrap_err();
            assert!(
                !e.transient
                    && !e.to_string().contains("xoxb-plain")
                    && !e.to_string().contains("xoxb-1"),
                "{e}"
            );
        }
        assert!(
            http.requests().is_empty(),
            "nothing is sent with a bad secret"
        );
        let posted = slack(&http, &secret()).post("U1", "t", &json!([])).await;
        assert!(posted.is_err());
        let sent = &http.requests()[0];
        assert!(sent
            .headers
            .contains(&("authorization".into(), "Bearer xoxb-1".into())));
        assert_eq!(sent.url, format!("{API}/chat.postMessage"));
    }
}

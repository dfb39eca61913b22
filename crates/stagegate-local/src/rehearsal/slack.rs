//! `--slack`: the approvals asked and decided in Slack, rehearsed. The Web API
//! stand-in runs on 127.0.0.1 ([`crate::slack::SlackStandIn`]), stagegate's
//! interactivity endpoint is served beside it, each approver is a Slack member of
//! the rehearsal's workspace (`U…` from their id), and each decision is made as Slack
//! sends one: the button pressed, then the form submitted, both signed with the
//! rehearsal's own signing secret. The messages are updated as on Slack.

use super::say;
use crate::slack::SlackStandIn;
use crate::world::{LocalSlack, LocalWorld};
use serde_json::Value;
use stagegate::ports::Approver;
use stagegate::slack::blocks::CALLBACK_ID;
use stagegate::steps::slack_interactivity::SlackInteractivity;
use std::sync::Arc;

/// The rehearsal's Slack workspace.
pub(super) const TEAM: &str = "T0REHEARSAL";

pub(super) struct Slack {
    standin: SlackStandIn,
    pub chat: LocalSlack,
    pub settings: stagegate::settings::Slack,
    /// The interactivity endpoint's URL and server, once served.
    endpoint: Option<(String, tokio::task::JoinHandle<()>)>,
}

impl Drop for Slack {
    fn drop(&mut self) {
        if let Some((_, server)) = &self.endpoint {
            server.abort();
        }
    }
}

impl Slack {
    /// [`Slack::start`] when `--slack` asks for it.
    pub async fn start_if(asked: bool) -> Result<Option<Slack>, String> {
        match asked {
            true => Ok(Some(Slack::start().await?)),
            false => Ok(None),
        }
    }

    /// The stand-in, with a bot token and a signing secret of this rehearsal's own.
    pub async fn start() -> Result<Slack, String> {
        let (token, secret) = (
            format!("xoxb-{}", stagegate::links::new_key()),
            stagegate::links::new_key(),
        );
        let standin = SlackStandIn::start(0, TEAM, &token, &secret)
            .await
            .map_err(|e| format!("cannot serve the Slack stand-in on 127.0.0.1: {e}"))?;
        let chat = stagegate_https::Slack::new(
            stagegate_https::HttpsClient::new(),
            &standin.api_url(),
            standin.app_secret(),
        );
        let settings = stagegate::settings::Slack {
            team_id: TEAM.into(),
            api_url: standin.api_url(),
        };
        say(&format!(
            "  --slack: approvers are asked in Slack (the Web API stand-in on {})",
            standin.addr
        ));
        Ok(Slack {
            standin,
            chat,
            settings,
            endpoint: None,
        })
    }

    /// `approvers`, each a member of the rehearsal's workspace (their own Slack id
    /// when the app gives one).
    fn members(approvers: Vec<Approver>) -> Vec<Approver> {
        approvers
            .into_iter()
            .map(|mut a| {
                if a.slack.is_none() {
                    let id: String =
                        a.id.chars()
                            .filter(char::is_ascii_alphanumeric)
                            .map(|c| c.to_ascii_uppercase())
                            .take(18)
                            .collect();
                    a.slack = Some(format!("U0{id}"));
                }
                a
            })
            .collect()
    }

    /// Serves the interactivity endpoint on the world's table and runs.
    pub async fn serve(&mut self, world: &LocalWorld) -> Result<(), String> {
        let endpoint = SlackInteractivity {
            settings: world.settings.clone(),
            store: world.table.clone(),
            runs: world.runs.clone(),
            chat: Some(self.chat.clone()),
            clock: world.runs.clone(),
        };
        let (addr, server) = crate::server::serve(0, crate::server::endpoint(Arc::new(endpoint)))
            .await
            .map_err(|e| format!("cannot serve Slack's interactivity on 127.0.0.1: {e}"))?;
        self.endpoint = Some((format!("http://{addr}/slack/interactivity"), server));
        Ok(())
    }

    /// `approver` decides `approval` in Slack: presses the button, submits the form.
    /// `false` when it was refused or failed.
    pub async fn decide(
        &self,
        approval: &str,
        approver: &Approver,
        approve: bool,
        reason: Option<&str>,
    ) -> bool {
        let (Some((url, _)), Some(member)) = (&self.endpoint, approver.slack.as_deref()) else {
            return false;
        };
        let (button, verb) = if approve {
            ("approve", "approves")
        } else {
            ("reject", "rejects")
        };
        let (status, text) = self.standin.press(url, member, approval, button).await;
        let view = self
            .standin
            .calls_of("views.open")
            .pop()
            .unwrap_or_default();
        if status != 200 || view["view"]["callback_id"] != CALLBACK_ID {
            say(&format!(
                "  ! Slack: {} ({status} {text})",
                view_text(&view["view"])
            ));
            return false;
        }
        say(&format!(
            "  💬 {} pressed {button} in Slack: the decision form opened",
            approver.id
        ));
        let (status, answer) = self
            .standin
            .submit(url, member, approval, approve, reason)
            .await;
        let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
        let done = status == 200 && answer["response_action"] == "clear";
        if done {
            let why = reason.map(|r| format!(": {r}")).unwrap_or_default();
            say(&format!("  ✔ {} {verb} in Slack{why}", approver.id));
        } else if answer["response_action"] == "update" {
            say(&format!("  💬 {}", view_text(&answer["view"])));
        } else {
            say(&format!("  ! Slack refused the form ({status}): {answer}"));
        }
        if let Some(m) = self.standin.message_in(&format!("D{member}")) {
            say(&format!(
                "  💬 {}'s message now says: {}",
                approver.id,
                status_of(&m)
            ));
        }
        done || answer["response_action"] == "update"
    }
}

/// The approvers, as members of the workspace when `--slack` runs one.
pub(super) fn members(slack: &Option<Slack>, approvers: Vec<Approver>) -> Vec<Approver> {
    match slack {
        Some(_) => Slack::members(approvers),
        None => approvers,
    }
}

/// Serves the interactivity endpoint when `--slack` runs one.
pub(super) async fn serve(slack: &mut Option<Slack>, world: &LocalWorld) -> Result<(), String> {
    match slack {
        Some(s) => s.serve(world).await,
        None => Ok(()),
    }
}

/// The words of a modal.
fn view_text(view: &Value) -> String {
    let blocks = view["blocks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    blocks
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .collect::<Vec<_>>()
        .join(" ")
        .replace('*', "")
}

/// The status line of a message as Slack shows it (the section after the summary).
fn status_of(message: &Value) -> String {
    let blocks = message["blocks"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    blocks
        .iter()
        .filter(|b| b["type"] == "section" && b["text"].is_object())
        .filter_map(|b| b["text"]["text"].as_str())
        .next_back()
        .unwrap_or_default()
        .replace('*', "")
}

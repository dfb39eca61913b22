//! Slack's interactivity requests (`slack-interactivity`, behind its Function URL):
//! a button press opens the decision form, the form's submission decides
//! ([`crate::slack`] has the whole model).
//!
//! Order matters, as for the webhook: the size limit, then Slack's signature (an
//! unsigned body is never parsed), then the signature's claim (each signed request
//! once), then the workspace, then who the member is. Every refusal before the
//! signature is a 401 with nothing read or decided; after it, the person is answered
//! in Slack (a modal that says why, or the form's error under the reason).

use crate::desk::{Decided, Desk, Form, Identity, Refusal};
use crate::ports::{Approvals, Approvers, Chat, Claims, Clock, TaskCallbacks};
use crate::settings::Settings;
use crate::slack::blocks::{self, APPROVE, CALLBACK_ID, REASON, REJECT};
use crate::slack::signature;
use crate::slack::sync;
use crate::step::{header, parse_form, respond, text, Endpoint, WebRequest, WebResponse};
use chrono::Duration;
use http::Method;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The `slack-interactivity` function's name.
pub const NAME: &str = "slack-interactivity";

/// Slack's interaction payloads are a few kilobytes; anything over 256 KiB is refused
/// before its signature is computed.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// The interactivity endpoint.
pub struct SlackInteractivity<T, R, S, C> {
    pub settings: Settings,
    /// The approval records, the approvers, and the claims of signatures seen.
    pub store: T,
    /// Step Functions: where decisions are delivered.
    pub runs: R,
    /// Slack's Web API and the signing secret (`None`: not configured, refuse all).
    pub chat: Option<S>,
    pub clock: C,
}

/// An answer Slack shows or acts on: an empty 200 (close the modal, or nothing to
/// show), or a `response_action` for the modal.
fn ok_empty() -> WebResponse {
    respond(200, "text/plain; charset=utf-8", "")
}

fn modal_action(action: Value) -> WebResponse {
    respond(200, "application/json", action.to_string())
}

impl<T, R, S, C> Endpoint for SlackInteractivity<T, R, S, C>
where
    T: Approvals + Approvers + Claims,
    R: TaskCallbacks,
    S: Chat,
    C: Clock + Clone,
{
    const NAME: &'static str = NAME;

    async fn handle(&self, request: WebRequest) -> WebResponse {
        match self.answer(request).await {
            Ok(response) => response,
            // A store or Slack failure: Slack shows the person an error and nothing
            // was decided twice (a decision is recorded once, then delivered).
            Err(e) => text(503, format!("stagegate could not answer: {}", e.name)),
        }
    }
}

impl<T, R, S, C> SlackInteractivity<T, R, S, C>
where
    T: Approvals + Approvers + Claims,
    R: TaskCallbacks,
    S: Chat,
    C: Clock + Clone,
{
    fn desk(&self) -> Desk<'_, T, R, C> {
        Desk::new(&self.store, &self.runs, self.clock.clone())
            .pusher_may_approve(self.settings.pusher_may_approve)
    }

    async fn answer(&self, request: WebRequest) -> Result<WebResponse, crate::error::StepError> {
        if request.method() != Method::POST {
            let mut r = text(405, "Slack's interactivity requests are POSTs");
            r.headers_mut()
                .insert(http::header::ALLOW, http::HeaderValue::from_static("POST"));
            return Ok(r);
        }
        let (Some(chat), Some(slack)) = (&self.chat, &self.settings.slack) else {
            return Ok(text(404, "Slack is not configured for this stagegate"));
        };
        let body = request.body();
        if body.len() > MAX_BODY_BYTES {
            return Ok(text(413, "the request is larger than a Slack interaction"));
        }
        let secret = chat.signing_secret().await?;
        let now = self.clock.now();
        let (ts, sig) = (
            header(&request, "x-slack-request-timestamp"),
            header(&request, "x-slack-signature"),
        );
        if let Err(why) = signature::verify(secret.as_bytes(), ts, sig, body, now) {
            return Ok(text(401, why.message()));
        }
        // Each signed request once: a replay within the five minutes is refused too.
        let key = format!(
            "slack-request#{}",
            hex::encode(Sha256::digest(sig.unwrap_or_default()))
        );
        if !self.store.claim(&key, now + Duration::minutes(10)).await? {
            return Ok(text(
                401,
                "this signed request was already received (a replay)",
            ));
        }
        let Some(payload) = parse_form(body)
            .into_iter()
            .find(|(k, _)| k == "payload")
            .and_then(|(_, v)| serde_json::from_str::<Value>(&v).ok())
        else {
            return Ok(text(400, "the body has no 'payload' field of JSON"));
        };
        let team = payload["team"]["id"]
            .as_str()
            .or(payload["user"]["team_id"].as_str());
        if team != Some(slack.team_id.as_str()) {
            return Ok(text(
                403,
                format!(
                    "this stagegate takes decisions from Slack workspace {} only; the request came from {}",
                    slack.team_id,
                    team.unwrap_or("no workspace")
                ),
            ));
        }
        let Some(member) = payload["user"]["id"].as_str() else {
            return Ok(text(400, "the payload names no user"));
        };
        match payload["type"].as_str() {
            Some("block_actions") => self.pressed(chat, &payload, member).await,
            Some("view_submission") => self.submitted(chat, &payload, member).await,
            // Anything else (a view closed, a shortcut): nothing to do.
            _ => Ok(ok_empty()),
        }
    }

    /// A button: the decision form for the approver this member is, or why not.
    async fn pressed(
        &self,
        chat: &S,
        payload: &Value,
        member: &str,
    ) -> Result<WebResponse, crate::error::StepError> {
        let action = &payload["actions"][0];
        let approve = match action["action_id"].as_str() {
            Some(APPROVE) => true,
            Some(REJECT) => false,
            _ => return Ok(ok_empty()),
        };
        let (Some(approval), Some(trigger)) =
            (action["value"].as_str(), payload["trigger_id"].as_str())
        else {
            return Ok(text(
                400,
                "the button names no approval or the press no trigger",
            ));
        };
        let view = match self.desk().voter(approval, Identity::Slack(member)).await? {
            Ok((record, approver)) => blocks::decision_modal(&record, &approver, approve),
            Err(refusal) => {
                self.sync_quietly(chat, approval).await;
                refused(&refusal)
            }
        };
        chat.open_view(trigger, &view).await?;
        Ok(ok_empty())
    }

    /// The form: the decision, through the desk; the messages updated.
    async fn submitted(
        &self,
        chat: &S,
        payload: &Value,
        member: &str,
    ) -> Result<WebResponse, crate::error::StepError> {
        let view = &payload["view"];
        if view["callback_id"].as_str() != Some(CALLBACK_ID) {
            return Ok(ok_empty());
        }
        let meta: Value = view["private_metadata"]
            .as_str()
            .and_then(|m| serde_json::from_str(m).ok())
            .unwrap_or_default();
        let (Some(approval), Some(approve)) =
            (meta["approval"].as_str(), meta["approve"].as_bool())
        else {
            return Ok(text(400, "the form names no approval"));
        };
        let reason = view["state"]["values"][REASON][REASON]["value"]
            .as_str()
            .map(str::to_string);
        let form = Form {
            approve,
            reason,
            from: format!("slack:{member}"),
            break_glass: false,
        };
        let outcome = self.desk().decide_by_slack(approval, member, form).await?;
        self.sync_quietly(chat, approval).await;
        Ok(match outcome {
            Ok(Decided::Undelivered { .. } | Decided::Approved | Decided::Rejected) => {
                modal_action(json!({"response_action": "clear"}))
            }
            Ok(Decided::Recorded { remaining }) => modal_action(json!({
                "response_action": "update",
                "view": blocks::refusal_modal(
                    "Your approval is recorded",
                    &format!("{remaining} more approval(s) are needed before it goes ahead."),
                ),
            })),
            Err(r @ (Refusal::ReasonRequired { .. } | Refusal::InvalidForm(_))) => {
                modal_action(json!({
                    "response_action": "errors",
                    "errors": {REASON: format!("{} {}", r.title(), r.detail())},
                }))
            }
            Err(refusal) => modal_action(json!({
                "response_action": "update",
                "view": refused(&refusal),
            })),
        })
    }

    /// Brings the approval's messages up to date; a failure is left to the reconcile.
    async fn sync_quietly(&self, chat: &S, approval: &str) {
        if let Ok(Some(record)) = self.store.get(approval).await {
            let _ = sync(&self.store, chat, &record, self.clock.now()).await;
        }
    }
}

/// The modal of a desk refusal: its title and what to do.
fn refused(refusal: &Refusal) -> Value {
    blocks::refusal_modal(refusal.title(), &refusal.detail())
}

#[cfg(test)]
mod tests;

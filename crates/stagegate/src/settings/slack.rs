//! Slack, when configured: the workspace whose members may decide from it, and where
//! its Web API is. Off unless `STAGEGATE_SLACK_TEAM_ID` is set; the bot token and
//! the signing secret are a secret of their own (`SLACK_SECRET_ARN`), never a
//! setting.

use super::{base_url, Vars};

/// Slack's Web API.
pub const SLACK_API: &str = "https://slack.com/api";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Slack {
    /// The workspace (`T0123ABCD`): an interaction from any other is refused.
    pub team_id: String,
    /// The Web API's base (`https://slack.com/api`; the rehearsal's stand-in locally).
    pub api_url: String,
}

/// A Slack workspace id: `T` and 2–20 upper-case letters or digits.
pub fn team_id(v: &str) -> Result<String, String> {
    crate::links::slack_id(v, "T", "workspace id (T0123ABCD)")
}

pub(super) fn read<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>) -> Option<Slack> {
    // Blank is unset: the template passes its empty default.
    let team = match vars.optional("STAGEGATE_SLACK_TEAM_ID") {
        Some(v) => match team_id(&v) {
            Ok(t) => Some(t),
            Err(problem) => {
                vars.fail("STAGEGATE_SLACK_TEAM_ID", problem);
                None
            }
        },
        None => None,
    };
    let mut api_url = SLACK_API.to_string();
    vars.read("STAGEGATE_SLACK_API_URL", &mut api_url, base_url);
    team.map(|team_id| Slack { team_id, api_url })
}

//! Check Deployment Window (`check-deployment-window`), after the production
//! approval: may the promotion deploy now ([`crate::windows`])? Open: on to Validate
//! Infrastructure. Closed: the definition waits until `waitUntil` and asks again (a
//! freeze may have begun meanwhile). Frozen: it waits for the freeze to end, or the
//! run ends (`DeploymentFrozen`) when the calendar says so. An opening the run cannot
//! live to see (its 7 days) ends it at once (`WindowUnreachable`), naming when it
//! opens. Break-glass: two distinct approvers who each approved with break-glass and
//! a reason open it whatever the calendar says, on the record.

use crate::error::{names, StepError};
use crate::flow::{Approval, BreakGlass, DeploymentWindow};
use crate::ports::Clock;
use crate::settings::Settings;
use crate::step::Step;
use crate::windows::{DuringFreeze, Verdict};
use chrono::{DateTime, Duration, Utc};
use serde::Deserialize;

/// The `check-deployment-window` function's name.
pub const NAME: &str = "check-deployment-window";

/// Distinct approvers needed to break the glass.
pub const BREAK_GLASS_APPROVERS: usize = 2;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    /// The production approval, as the desk sent it.
    pub approval: Approval,
    /// When the run started (`$$.Execution.StartTime`): its 7 days end a week later.
    pub started_at: DateTime<Utc>,
}

/// Check Deployment Window.
pub struct CheckDeploymentWindow<C> {
    pub settings: Settings,
    pub clock: C,
}

/// Break-glass, if two distinct approvers asked for it with a reason.
fn break_glass(approval: &Approval) -> Option<BreakGlass> {
    let mut approvers = Vec::new();
    let mut reasons = Vec::new();
    for v in approval.votes.iter().filter(|v| v.approve && v.break_glass) {
        let Some(reason) = v.reason.as_deref().filter(|r| !r.trim().is_empty()) else {
            continue;
        };
        if !approvers.contains(&v.approver) {
            approvers.push(v.approver.clone());
            reasons.push(format!("{}: {reason}", v.approver));
        }
    }
    (approvers.len() >= BREAK_GLASS_APPROVERS).then_some(BreakGlass { approvers, reasons })
}

fn open(why: String, break_glass: Option<BreakGlass>) -> DeploymentWindow {
    DeploymentWindow {
        open: true,
        wait_until: None,
        why,
        break_glass,
    }
}

impl<C: Clock> Step<Input, DeploymentWindow> for CheckDeploymentWindow<C> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<DeploymentWindow, StepError> {
        let Some(calendar) = &self.settings.calendar else {
            return Ok(open("no deployment windows are configured".into(), None));
        };
        let now = self.clock.now();
        // An hour of the run's 7 days is left for the deploy itself.
        let deadline = input.started_at + Duration::days(7) - Duration::hours(1);
        let unreachable = |at: Option<DateTime<Utc>>, why: &str| {
            let when = at.map_or("within a year".to_string(), |t| t.to_string());
            StepError::new(
                names::WINDOW_UNREACHABLE,
                format!("{why}; the next opening ({when}) is after this run's end ({deadline}): promote again then"),
            )
        };
        // Why it may not deploy now, when it may, and whether a freeze ends the run.
        let (why, opens_at, ends) = match calendar.at(now) {
            Verdict::Open => return Ok(open(format!("inside {}", calendar.describe()), None)),
            Verdict::Closed { opens_at } => (
                format!("outside {}", calendar.describe()),
                Some(opens_at),
                false,
            ),
            Verdict::Frozen { freeze, opens_at } => {
                let why = format!(
                    "frozen from {} through {}: {}",
                    freeze.from, freeze.to, freeze.reason
                );
                (why, opens_at, calendar.during_freeze == DuringFreeze::End)
            }
        };
        if let Some(glass) = break_glass(&input.approval) {
            return Ok(open(
                format!("break-glass by {}: {why}", glass.approvers.join(" and ")),
                Some(glass),
            ));
        }
        if ends {
            return Err(StepError::new(names::DEPLOYMENT_FROZEN, why));
        }
        match opens_at {
            Some(at) if at <= deadline => Ok(DeploymentWindow {
                open: false,
                wait_until: Some(at),
                why: format!("{why}: opens {at}"),
                break_glass: None,
            }),
            other => Err(unreachable(other, &why)),
        }
    }
}

#[cfg(test)]
mod tests;

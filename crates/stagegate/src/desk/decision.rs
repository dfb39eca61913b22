//! The desk's vocabulary: who decides ([`Decider`], and whether they pushed the
//! candidate: [`pushed`]), what they submit ([`Form`]), and what comes of it
//! ([`Decided`], [`Refusal`], each refusal's page text).

use crate::error::StepError;
use crate::ports::{ApprovalState, Approver, Pusher};
use chrono::{DateTime, Utc};

/// Who is deciding: always a configured approver, whatever the channel — their link,
/// their AWS principal through the CLI ([`Desk::decide_by_principal`]), the
/// rehearsal's terminal acting for them — so one person has one vote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decider {
    Approver(Approver),
}

impl Decider {
    /// The identity a vote is recorded under: the approver's id.
    pub fn identity(&self) -> String {
        match self {
            Decider::Approver(a) => a.id.clone(),
        }
    }
}

/// Whether `decider` pushed the candidate whose pusher is `pusher`, compared by the
/// identity the push came with. `Err` says what is missing to tell — and then an
/// approval is refused: the rule fails closed.
pub fn pushed(decider: &Decider, pusher: Option<&Pusher>) -> Result<bool, String> {
    let Some(pusher) = pusher else {
        return Err(
            "no identity came with the push, so nobody can be shown not to be its pusher".into(),
        );
    };
    match (decider, pusher) {
        (Decider::Approver(a), Pusher::GitHub { id, login }) => {
            a.github_id.map(|g| g == *id).ok_or_else(|| {
                format!(
                    "{} has no GitHub id configured to compare with the pusher ({login})",
                    a.id
                )
            })
        }
        (Decider::Approver(a), Pusher::Aws { principal }) if a.principals.is_empty() => {
            Err(format!(
                "{} has no AWS principal configured to compare with the pusher ({principal})",
                a.id
            ))
        }
        (Decider::Approver(a), Pusher::Aws { principal }) => Ok(a.principals.contains(principal)),
        (Decider::Approver(a), Pusher::Email { email }) => Ok(a.email.eq_ignore_ascii_case(email)),
    }
}

/// A decision as submitted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Form {
    pub approve: bool,
    pub reason: Option<String>,
    /// Where it came from (client IP, "terminal").
    pub from: String,
    /// A production approval that also overrides the deployment window or freeze.
    pub break_glass: bool,
}

/// What happened to an accepted decision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decided {
    /// The candidate is approved; the workflow continues.
    Approved,
    /// The candidate is rejected; the workflow is cancelled.
    Rejected,
    /// The vote counts; `remaining` more approvals are needed.
    Recorded { remaining: u32 },
    /// The decision is recorded but could not be sent to the workflow yet; it is sent
    /// again on the next click and by the reconcile.
    Undelivered { approve: bool },
}

/// Why a decision (or a look at a link) cannot go ahead. Each has a page of its own;
/// none is an AWS error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Refusal {
    NotFound,
    Expired {
        expires_at: DateTime<Utc>,
    },
    Superseded,
    AlreadyDecided {
        state: ApprovalState,
        by: Vec<String>,
    },
    AlreadyVoted {
        approver: String,
    },
    /// Rejecting needs a reason; so does approving over failed checks (listed).
    ReasonRequired {
        failed_checks: Vec<String>,
    },
    PusherMayNotApprove {
        pusher: String,
    },
    /// Whether the decider pushed the candidate cannot be told (see [`pushed`]).
    PusherNotComparable {
        why: String,
    },
    /// The approver was removed (or no longer decides this kind) since the link was
    /// sent: what they were sent no longer decides.
    Revoked {
        approver: String,
    },
    InvalidForm(String),
    /// The form is not from the review page (missing or wrong CSRF token, foreign
    /// origin).
    Forbidden(String),
    /// Someone else's decision landed at the same moment; reload and look again.
    Conflict,
}

impl Refusal {
    pub fn title(&self) -> &'static str {
        match self {
            Refusal::NotFound => "This approval link is not valid",
            Refusal::Expired { .. } => "This approval has expired",
            Refusal::Superseded => "A newer release candidate replaced this one",
            Refusal::Revoked { .. } => "This approval link was revoked",
            Refusal::AlreadyDecided { .. } => "This candidate has already been decided",
            Refusal::AlreadyVoted { .. } => "You have already decided",
            Refusal::ReasonRequired { .. } => "A reason is required",
            Refusal::PusherMayNotApprove { .. } => "You pushed this tag, so you cannot approve it",
            Refusal::PusherNotComparable { .. } => {
                "stagegate cannot tell whether you pushed this tag, so you cannot approve it"
            }
            Refusal::InvalidForm(_) => "The form is incomplete",
            Refusal::Forbidden(_) => "This form cannot be accepted",
            Refusal::Conflict => "Another decision arrived at the same moment",
        }
    }

    pub fn detail(&self) -> String {
        match self {
            Refusal::NotFound => "Check that you opened the whole link from the email.".into(),
            Refusal::Expired { expires_at } => format!(
                "The approval window closed at {}. Push a new candidate tag to try again.",
                expires_at.to_rfc3339()
            ),
            Refusal::Superseded => "The newer candidate has its own approval email.".into(),
            Refusal::Revoked { approver } => format!(
                "{approver} is no longer an approver of these candidates: the links they were sent decide nothing."
            ),
            Refusal::AlreadyDecided { state, by } => format!(
                "It was {} by {}.",
                match state {
                    ApprovalState::Approved => "approved",
                    ApprovalState::Rejected => "rejected",
                    _ => "closed",
                },
                by.join(", ")
            ),
            Refusal::AlreadyVoted { approver } => {
                format!("{approver} has already decided on this candidate.")
            }
            Refusal::ReasonRequired { failed_checks } if failed_checks.is_empty() => {
                "Say why you reject it: the reason goes to everyone notified.".into()
            }
            Refusal::ReasonRequired { failed_checks } => format!(
                "These checks failed: {}. Say why it is safe to deploy anyway.",
                failed_checks.join(", ")
            ),
            Refusal::PusherMayNotApprove { pusher } => format!(
                "{pusher} pushed the tag; another person has to approve it (rejecting is allowed)."
            ),
            Refusal::PusherNotComparable { why } => format!(
                "{why}. The person who pushed a candidate may not approve it; ask the operator to add the missing identity (`stagegate approvers add`). Rejecting is allowed."
            ),
            Refusal::InvalidForm(m) | Refusal::Forbidden(m) => m.clone(),
            Refusal::Conflict => "Reload the page to see the current state.".into(),
        }
    }
}

/// The answer of a decision: accepted, refused, or a port failure (`DependencyFailed`).
pub type Outcome = Result<Result<Decided, Refusal>, StepError>;

/// What the reconcile did.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Reconciled {
    /// Decisions that reached their task now.
    pub delivered: u32,
    /// Decisions whose task was gone (it timed out or was stopped meanwhile).
    pub closed: u32,
    /// Decisions that still could not be sent (tried again next time).
    pub failed: u32,
    /// Slack messages brought up to date.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chat_updated: u32,
    /// Slack messages whose update failed (tried again next time).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub chat_failed: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// An identity a channel vouches for, mapped to the approver who has it: the CLI's
/// caller (an AWS principal, by STS) or a Slack member (by Slack's signature).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Identity<'a> {
    Principal(&'a str),
    Slack(&'a str),
}

impl Identity<'_> {
    /// Whether `a` is this identity's approver.
    pub fn is(&self, a: &Approver) -> bool {
        match self {
            Identity::Principal(arn) => a.principals.iter().any(|p| p == arn),
            Identity::Slack(member) => a.slack.as_deref() == Some(*member),
        }
    }

    /// How a vote through it arrives (`Vote::via`).
    pub fn via(&self) -> &'static str {
        match self {
            Identity::Principal(_) => "cli",
            Identity::Slack(_) => "slack",
        }
    }

    /// The refusal of an identity that is no approver's, for `tag`.
    pub fn nobody(&self, tag: &str) -> String {
        match self {
            Identity::Principal(arn) => format!(
                "{arn} is not the AWS principal of any approver asked for {tag}: decide as the approver you are (`stagegate approvers add <id> --email … --principal {arn}`), or through your email link"
            ),
            Identity::Slack(member) => format!(
                "Slack member {member} is not the Slack account of any approver asked for {tag}, so it decides nothing: the operator maps it to an approver (`stagegate approvers add <id> --email … --slack {member}`), or decide through your email link"
            ),
        }
    }
}

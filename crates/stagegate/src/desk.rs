//! The approval desk: approvals that belong to people — who may decide, how a
//! decision is recorded once, and how a recorded decision always reaches the waiting
//! task. The review page, the reconcile, the CLI and the rehearsal decide through it.
//!
//! Security model (DESIGN §4):
//! - Each configured approver gets their own email with their own link. A link carries
//!   a random 256-bit id, never the task token; only the id's SHA-256 is stored, in a
//!   [`Link`] bound to one approval and one approver ([`crate::links`]). Whoever holds the link decides
//!   as that approver: the page says so, and there is no name to type.
//! - `GET` only renders; a `POST` from the page's form decides, and must carry the
//!   form's CSRF token (an HMAC over the link and its expiry, keyed per approval) and
//!   come from the page's own origin (`Origin` / `Sec-Fetch-Site`, checked by the
//!   page, `crate::steps::approval_page`).
//! - Quorum counts distinct deciders; any rejection rejects; rejecting, and approving
//!   over a failed check, need a written reason; the pusher may not approve their own
//!   candidate ([`pushed`]: by the identity the push came with — a GitHub account id,
//!   an AWS principal, a git email — and when the decider's identity of that kind is
//!   not configured, or the pusher is unknown, the approval is refused: the rule fails
//!   closed).
//! - One decision per approval: every write is a compare-and-set on the record's
//!   revision. The decision is written first (delivery `PENDING`), then sent to the
//!   task with bounded retries; if sending still fails it is marked `FAILED` and sent
//!   again on the next click and by the reconcile ([`Desk::reconcile`]), so a
//!   recorded decision is never stranded and never sent twice by two racing clicks.

use crate::error::{names, StepError};
use crate::links::{check_form_token, hash_id, is_link_id};
use crate::ports::{
    ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, CallbackError, Clock, Delivery,
    Link, TaskCallbacks, Update, Vote,
};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;

pub use crate::links::MAX_REASON;

/// Attempts to send a decision before it is left to the next click and the reconcile.
pub const DELIVERY_ATTEMPTS: u32 = 3;

/// How long a `PENDING` delivery may sit before the reconcile takes it over (the
/// function that wrote it crashed or timed out between the write and the send).
pub const STALE_PENDING_SECONDS: i64 = 60;

mod decision;
pub use decision::*;

/// The approval desk: looks links up, records decisions once, and delivers them.
/// Borrows the approval store, the runs (task callbacks) and the clock of whoever
/// decides through it: the approval page, the reconcile, the CLI, the rehearsal.
pub struct Desk<'a, A, R, C> {
    /// Whether the person who pushed the tag may approve it.
    pub pusher_may_approve: bool,
    pub approvals: &'a A,
    /// Step Functions: where a decision is delivered (`SendTaskSuccess`/`Failure`).
    pub runs: &'a R,
    /// A clock is a cheap value (the system's, or the engine's handle).
    pub clock: C,
}

impl<'a, A, R, C> Desk<'a, A, R, C> {
    /// A desk over these ports where a pusher may not approve their own candidate,
    /// unless [`Desk::pusher_may_approve`] says so.
    pub fn new(approvals: &'a A, runs: &'a R, clock: C) -> Self {
        Desk {
            pusher_may_approve: false,
            approvals,
            runs,
            clock,
        }
    }

    /// Whether the person who pushed the tag may approve it (the deployment's
    /// `STAGEGATE_PUSHER_MAY_APPROVE`).
    pub fn pusher_may_approve(self, may: bool) -> Self {
        Desk {
            pusher_may_approve: may,
            ..self
        }
    }
}

/// What a link or a principal decides goes through the approvers as configured now:
/// an approver removed (or no longer deciding this kind) since the request was sent
/// cannot decide with what they were sent — their links are revoked.
impl<A: Approvals + Approvers, R: TaskCallbacks, C: Clock> Desk<'_, A, R, C> {
    /// The link, its approval and its approver, for the review page (GET): changes
    /// nothing, except that a decided-but-undelivered approval is delivered again.
    pub async fn review(
        &self,
        link_id: &str,
    ) -> Result<Result<(ApprovalRecord, Approver, Link), Refusal>, StepError> {
        let Some((record, approver, link)) = self.find(link_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        if let Err(refusal) = self.still_deciding(&record, &approver).await? {
            return Ok(Err(refusal));
        }
        if let Err(refusal) = self.usable(&record, &link).await? {
            return Ok(Err(refusal));
        }
        Ok(Ok((record, approver, link)))
    }

    /// Decides through a personal link: the link says who decides, `token` must be
    /// the form token the review page gave out for that link.
    pub async fn decide_by_link(&self, link_id: &str, token: &str, form: Form) -> Outcome {
        let Some((record, approver, link)) = self.find(link_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        if !check_form_token(&record, &link, token) {
            return Ok(Err(Refusal::Forbidden(
                "The form's security token is missing or wrong: open the link from your email again and decide on that page.".into(),
            )));
        }
        if let Err(refusal) = self.still_deciding(&record, &approver).await? {
            return Ok(Err(refusal));
        }
        if let Err(refusal) = self.usable(&record, &link).await? {
            return Ok(Err(refusal));
        }
        self.decide(record, Decider::Approver(approver), "email link", form)
            .await
    }

    /// Decides the pending approval `approval_id` through the CLI as the approver one
    /// of whose AWS principals `caller_arn` is; a caller who is nobody's principal is
    /// refused, naming the caller. The same rules, and the same one vote, as their link.
    pub async fn decide_by_principal(
        &self,
        approval_id: &str,
        caller_arn: &str,
        form: Form,
    ) -> Outcome {
        self.decide_by(approval_id, Identity::Principal(caller_arn), form)
            .await
    }

    /// Decides the pending approval `approval_id` from Slack as the approver whose
    /// Slack member id `member` is (the workspace was checked by the endpoint); a
    /// member who is nobody's is refused, naming them. The same rules and one vote.
    pub async fn decide_by_slack(&self, approval_id: &str, member: &str, form: Form) -> Outcome {
        self.decide_by(approval_id, Identity::Slack(member), form)
            .await
    }

    async fn decide_by(&self, approval_id: &str, who: Identity<'_>, form: Form) -> Outcome {
        match self.voter(approval_id, who).await? {
            Ok((record, approver)) => {
                self.decide(record, Decider::Approver(approver), who.via(), form)
                    .await
            }
            Err(refusal) => Ok(Err(refusal)),
        }
    }

    /// The pending approval `approval_id` and the approver `who` is, if they may
    /// decide it now (before anything is asked of them: Slack's button checks this
    /// before it opens the form).
    pub async fn voter(
        &self,
        approval_id: &str,
        who: Identity<'_>,
    ) -> Result<Result<(ApprovalRecord, Approver), Refusal>, StepError> {
        let Some(record) = self.approvals.get(approval_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        let Some(approver) = record.approvers.iter().find(|a| who.is(a)).cloned() else {
            return Ok(Err(Refusal::Forbidden(who.nobody(&record.tag))));
        };
        if let Err(refusal) = self.still_deciding(&record, &approver).await? {
            return Ok(Err(refusal));
        }
        if let Err(refusal) = self.state_allows(&record).await? {
            return Ok(Err(refusal));
        }
        Ok(Ok((record, approver)))
    }

    /// `Revoked` unless `approver` still decides approvals of `record`'s kind.
    async fn still_deciding(
        &self,
        record: &ApprovalRecord,
        approver: &Approver,
    ) -> Result<Result<(), Refusal>, StepError> {
        let now = self.approvals.deciding(record.kind).await?;
        Ok(if now.iter().any(|a| a.id == approver.id) {
            Ok(())
        } else {
            Err(Refusal::Revoked {
                approver: approver.id.clone(),
            })
        })
    }
}

impl<A: Approvals, R: TaskCallbacks, C: Clock> Desk<'_, A, R, C> {
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// The approval record `id`, as it is now.
    pub async fn record(&self, id: &str) -> Result<Option<ApprovalRecord>, StepError> {
        Ok(self.approvals.get(id).await?)
    }

    /// Decides the pending approval `approval_id` as `decider` (the CLI, the
    /// rehearsal's terminal), under the same rules as a link.
    pub async fn decide_as(
        &self,
        approval_id: &str,
        decider: Decider,
        via: &str,
        form: Form,
    ) -> Outcome {
        let Some(record) = self.approvals.get(approval_id).await? else {
            return Ok(Err(Refusal::NotFound));
        };
        let Decider::Approver(a) = &decider;
        if !record.approvers.iter().any(|x| x.id == a.id) {
            return Ok(Err(Refusal::Forbidden(format!(
                "{} is not among the approvers asked for this candidate",
                a.id
            ))));
        }
        if let Err(refusal) = self.state_allows(&record).await? {
            return Ok(Err(refusal));
        }
        self.decide(record, decider, via, form).await
    }

    /// Sends every outstanding decision again (at most `limit`): `FAILED` ones, and
    /// `PENDING` ones older than [`STALE_PENDING_SECONDS`].
    pub async fn reconcile(&self, limit: usize) -> Result<Reconciled, StepError> {
        let now = self.now();
        let mut report = Reconciled::default();
        for record in self.approvals.undelivered(limit).await? {
            let due = match &record.delivery {
                Delivery::Failed { .. } => true,
                Delivery::Pending { since, .. } => {
                    now - *since >= Duration::seconds(STALE_PENDING_SECONDS)
                }
                _ => false,
            };
            if !due {
                continue;
            }
            match self.redeliver(record).await? {
                Some(Delivery::Delivered { .. }) => report.delivered += 1,
                Some(Delivery::Closed { .. }) => report.closed += 1,
                Some(_) => report.failed += 1,
                // Someone else took it over meanwhile.
                None => {}
            }
        }
        Ok(report)
    }

    async fn find(
        &self,
        link_id: &str,
    ) -> Result<Option<(ApprovalRecord, Approver, Link)>, StepError> {
        if !is_link_id(link_id) {
            return Ok(None);
        }
        let hash = hash_id(link_id);
        let Some(link) = self.approvals.link(&hash).await? else {
            return Ok(None);
        };
        // Defence in depth: compare the stored hash in constant time.
        if !bool::from(link.id_hash.as_bytes().ct_eq(hash.as_bytes())) {
            return Ok(None);
        }
        let Some(record) = self.approvals.get(&link.approval_id).await? else {
            return Ok(None);
        };
        let Some(approver) = record
            .approvers
            .iter()
            .find(|a| a.id == link.approver_id)
            .cloned()
        else {
            return Ok(None);
        };
        Ok(Some((record, approver, link)))
    }

    /// Whether a link may still be used; delivers an outstanding decision on the way.
    async fn usable(
        &self,
        record: &ApprovalRecord,
        link: &Link,
    ) -> Result<Result<(), Refusal>, StepError> {
        if record.state == ApprovalState::Pending && self.now() >= link.expires_at {
            return Ok(Err(Refusal::Expired {
                expires_at: link.expires_at,
            }));
        }
        self.state_allows(record).await
    }

    async fn state_allows(
        &self,
        record: &ApprovalRecord,
    ) -> Result<Result<(), Refusal>, StepError> {
        match record.state {
            ApprovalState::Superseded => Ok(Err(Refusal::Superseded)),
            ApprovalState::Approved | ApprovalState::Rejected => {
                if let Delivery::Failed { .. } = record.delivery {
                    // The next click delivers what was decided (see the module doc). A
                    // `PENDING` one is being sent by the click that decided it.
                    self.redeliver(record.clone()).await?;
                }
                Ok(Err(Refusal::AlreadyDecided {
                    state: record.state,
                    by: record.votes.iter().map(|v| v.approver.clone()).collect(),
                }))
            }
            ApprovalState::Pending if self.now() >= record.expires_at => {
                Ok(Err(Refusal::Expired {
                    expires_at: record.expires_at,
                }))
            }
            ApprovalState::Pending => Ok(Ok(())),
        }
    }

    /// What is wrong with `form` as `decider`'s vote on `record`, if anything; else
    /// the reason, trimmed (`None` when none was given).
    fn check_vote(
        &self,
        record: &ApprovalRecord,
        decider: &Decider,
        form: &Form,
    ) -> Result<Option<String>, Refusal> {
        let reason = form
            .reason
            .as_deref()
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_string);
        if reason
            .as_ref()
            .is_some_and(|r| r.chars().count() > MAX_REASON)
        {
            return Err(Refusal::InvalidForm(format!(
                "The reason is limited to {MAX_REASON} characters."
            )));
        }
        let identity = decider.identity();
        if record.votes.iter().any(|v| v.approver == identity) {
            return Err(Refusal::AlreadyVoted { approver: identity });
        }
        if form.break_glass {
            check_break_glass(record, form.approve, reason.is_some())?;
        }
        if !form.approve && reason.is_none() {
            return Err(Refusal::ReasonRequired {
                failed_checks: Vec::new(),
            });
        }
        if form.approve {
            if !self.pusher_may_approve {
                match pushed(decider, record.pusher.as_ref()) {
                    Ok(false) => {}
                    Ok(true) => {
                        return Err(Refusal::PusherMayNotApprove {
                            pusher: record.pushed_by.clone(),
                        })
                    }
                    Err(why) => return Err(Refusal::PusherNotComparable { why }),
                }
            }
            if !record.failed_checks.is_empty() && reason.is_none() {
                return Err(Refusal::ReasonRequired {
                    failed_checks: record.failed_checks.clone(),
                });
            }
        }
        Ok(reason)
    }

    async fn decide(
        &self,
        record: ApprovalRecord,
        decider: Decider,
        via: &str,
        form: Form,
    ) -> Outcome {
        let reason = match self.check_vote(&record, &decider, &form) {
            Ok(reason) => reason,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let identity = decider.identity();
        let now = self.now();
        let mut next = record.clone();
        next.revision = record.revision + 1;
        next.votes.push(Vote {
            approver: identity,
            via: via.to_string(),
            approve: form.approve,
            reason,
            at: now,
            from: form.from,
            break_glass: form.break_glass,
        });
        // Distinct deciders only: a second vote of the same identity was refused above.
        let approvals = next.votes.iter().filter(|v| v.approve).count() as u32;
        let outcome = if !form.approve {
            next.state = ApprovalState::Rejected;
            Decided::Rejected
        } else if approvals >= record.required_approvals {
            next.state = ApprovalState::Approved;
            Decided::Approved
        } else {
            Decided::Recorded {
                remaining: record.required_approvals - approvals,
            }
        };
        if next.state != ApprovalState::Pending {
            next.delivery = Delivery::Pending {
                since: now,
                attempts: 0,
            };
        }
        match self.approvals.update(&record, &next).await? {
            Update::Done => {}
            Update::Conflict(current) => {
                let refusal = self.state_allows(&current).await?.err();
                return Ok(Err(refusal.unwrap_or(Refusal::Conflict)));
            }
        }
        if let Decided::Recorded { .. } = outcome {
            return Ok(Ok(outcome));
        }
        match self.send(&next).await? {
            Delivery::Delivered { .. } => Ok(Ok(outcome)),
            Delivery::Closed { .. } => Ok(Err(Refusal::Expired {
                expires_at: record.expires_at,
            })),
            _ => Ok(Ok(Decided::Undelivered {
                approve: form.approve,
            })),
        }
    }

    /// Takes an outstanding delivery over (a compare-and-set, so two racing clicks or
    /// reconciles send it once) and sends it. `None` when someone else took it.
    async fn redeliver(&self, record: ApprovalRecord) -> Result<Option<Delivery>, StepError> {
        let attempts = match &record.delivery {
            Delivery::Failed { attempts, .. } | Delivery::Pending { attempts, .. } => *attempts,
            _ => 0,
        };
        let mut claimed = record.clone();
        claimed.revision = record.revision + 1;
        claimed.delivery = Delivery::Pending {
            since: self.now(),
            attempts,
        };
        match self.approvals.update(&record, &claimed).await? {
            Update::Done => Ok(Some(self.send(&claimed).await?)),
            Update::Conflict(_) => Ok(None),
        }
    }

    /// Sends the decision of `record` (whose delivery is `PENDING` and was written by
    /// us) with bounded retries, then records how it went.
    async fn send(&self, record: &ApprovalRecord) -> Result<Delivery, StepError> {
        let previous_attempts = match &record.delivery {
            Delivery::Pending { attempts, .. } => *attempts,
            _ => 0,
        };
        let mut last_error = String::new();
        let mut delivery = None;
        for attempt in 0..DELIVERY_ATTEMPTS {
            if attempt > 0 {
                pause(attempt).await;
            }
            match self.callback(record).await {
                Ok(()) => {
                    delivery = Some(Delivery::Delivered { at: self.now() });
                    break;
                }
                Err(CallbackError::TaskClosed(why)) => {
                    delivery = Some(Delivery::Closed {
                        at: self.now(),
                        why,
                    });
                    break;
                }
                Err(CallbackError::Port(e)) => last_error = e.to_string(),
            }
        }
        let delivery = delivery.unwrap_or_else(|| Delivery::Failed {
            at: self.now(),
            attempts: previous_attempts + DELIVERY_ATTEMPTS,
            error: last_error,
        });
        let mut done = record.clone();
        done.revision = record.revision + 1;
        done.delivery = delivery.clone();
        // If this write fails or is lost, the reconcile sends again and finds the task
        // closed: the decision was delivered, and nothing reaches a waiting task twice.
        let _ = self.approvals.update(record, &done).await;
        Ok(delivery)
    }

    async fn callback(&self, record: &ApprovalRecord) -> Result<(), CallbackError> {
        let votes: Vec<Value> = record
            .votes
            .iter()
            .map(|v| {
                let mut vote = json!({"approver": v.approver, "via": v.via, "approve": v.approve, "reason": v.reason, "at": v.at, "from": v.from});
                if v.break_glass {
                    vote["breakGlass"] = json!(true);
                }
                vote
            })
            .collect();
        let decided_at = record
            .votes
            .last()
            .map(|v| v.at)
            .unwrap_or(record.created_at);
        match record.state {
            ApprovalState::Approved => {
                let approvers: Vec<&str> = record
                    .votes
                    .iter()
                    .filter(|v| v.approve)
                    .map(|v| v.approver.as_str())
                    .collect();
                let output = json!({
                    "decision": "APPROVED",
                    "decidedAt": decided_at,
                    "approvers": approvers,
                    "votes": votes,
                    "failedChecks": record.failed_checks,
                });
                self.runs.succeed(&record.task_token, &output).await
            }
            ApprovalState::Rejected => {
                let by = record
                    .votes
                    .iter()
                    .find(|v| !v.approve)
                    .map(|v| (v.approver.clone(), v.reason.clone()))
                    .unwrap_or_default();
                let cause = json!({"decision": "REJECTED", "decidedAt": decided_at, "by": by.0, "reason": by.1, "votes": votes}).to_string();
                self.runs
                    .fail(&record.task_token, names::REJECTED, &cause)
                    .await
            }
            // Only decided records are ever sent.
            ApprovalState::Pending | ApprovalState::Superseded => Ok(()),
        }
    }
}

/// A short pause between delivery attempts (tokio's clock, so virtual time in tests).
async fn pause(attempt: u32) {
    tokio::time::sleep(std::time::Duration::from_millis(200 * u64::from(attempt))).await;
}
/// Break-glass is an approval of a promotion, with a reason.
fn check_break_glass(record: &ApprovalRecord, approve: bool, reason: bool) -> Result<(), Refusal> {
    let problem = if record.kind != crate::records::ApprovalKind::Production {
        "Break-glass overrides production's deployment window; this is not a production approval."
    } else if !approve {
        "Break-glass comes with an approval, not a rejection."
    } else if !reason {
        "Break-glass needs a reason: it goes to everyone notified and into the evidence."
    } else {
        return Ok(());
    };
    Err(Refusal::InvalidForm(problem.into()))
}

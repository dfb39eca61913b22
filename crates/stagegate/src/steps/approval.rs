//! Wait for Approval and User Acceptance Testing: the request (one personal email per
//! configured approver), and the reconcile that delivers decisions a click recorded
//! but could not send. Deciding is [`crate::approvals::Desk`]'s job.

use crate::approvals::{hash_id, new_key, new_link_id, validate_approver, Desk, Reconciled};
use crate::error::{invalid_input, names, StepError};
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Candidates, Clock,
    Delivery, Link, Message, Notifier, TaskCallbacks, Topic,
};
use crate::settings::Settings;
use crate::step::Step;
use crate::steps::checklist;
use crate::steps::preflight::compare_versions;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestInput {
    pub token: String,
    #[serde(default)]
    pub kind: ApprovalKind,
    pub preflight: checklist::Run,
    /// Required for a deployment approval.
    #[serde(default)]
    pub checklist: Option<checklist::Output>,
    /// The deployed staging URL, for a user-acceptance sign-off.
    #[serde(default)]
    pub frontend_url: Option<String>,
}

/// What the request step returns (recorded in the execution history): deliberately
/// no link, no link id and no token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOutput {
    pub approval_id: String,
    /// The approvers asked, by id, each sent their own message.
    pub approvers: Vec<String>,
    pub message_ids: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
}

/// The `request-approval` function's name.
pub const NAME: &str = "request-approval";

/// Wait for Approval (and User Acceptance Testing): stores the approval with one
/// personal link per configured approver (hashes only) and emails each their own —
/// unless a newer candidate of the repository has started meanwhile, which supersedes
/// this one before anyone is asked.
pub struct RequestApproval<A, P, N, Nw, K> {
    settings: Settings,
    approvals: A,
    approvers: P,
    notifier: N,
    candidates: Nw,
    clock: K,
}

impl<A, P, N, Nw, K> RequestApproval<A, P, N, Nw, K>
where
    A: Approvals,
    P: Approvers,
    N: Notifier,
    Nw: Candidates,
    K: Clock,
{
    pub fn new(
        settings: Settings,
        approvals: A,
        approvers: P,
        notifier: N,
        candidates: Nw,
        clock: K,
    ) -> Self {
        RequestApproval {
            settings,
            approvals,
            approvers,
            notifier,
            candidates,
            clock,
        }
    }
}

impl<A, P, N, Nw, K> Step for RequestApproval<A, P, N, Nw, K>
where
    A: Approvals,
    P: Approvers,
    N: Notifier,
    Nw: Candidates,
    K: Clock,
{
    const NAME: &'static str = NAME;
    type Input = RequestInput;
    type Output = RequestOutput;

    async fn run(&self, input: RequestInput) -> Result<RequestOutput, StepError> {
        let now = self.clock.now();
        let settings = &self.settings;
        let c = &input.preflight.candidate;
        if let Some((newest, _)) = self.candidates.newest(&c.repository).await? {
            if compare_versions(&newest.version, &c.version) == Ordering::Greater {
                return Err(StepError::new(
                    names::SUPERSEDED,
                    format!(
                        "{} replaces {} (it started while this one ran its checks)",
                        newest.tag, c.tag
                    ),
                ));
            }
        }
        let (failed_checks, checklist_uri) = match (&input.kind, &input.checklist) {
            (ApprovalKind::Deployment, None) => {
                return Err(invalid_input(
                    "request-approval: a deployment approval needs the checklist",
                ))
            }
            (ApprovalKind::Deployment, Some(cl)) => {
                (cl.failed_checks.clone(), cl.markdown_uri.clone())
            }
            (ApprovalKind::Acceptance, cl) => (
                Vec::new(),
                cl.as_ref()
                    .map(|c| c.markdown_uri.clone())
                    .unwrap_or_default(),
            ),
        };
        let approvers = self.approvers.deciding(input.kind).await?;
        for a in &approvers {
            validate_approver(a).map_err(|e| StepError::new(names::NO_APPROVERS, e))?;
        }
        if (approvers.len() as u32) < settings.required_approvals {
            return Err(StepError::new(
                names::NO_APPROVERS,
                format!(
                    "{} approval(s) are required for {} but {} approver(s) decide them: add approvers with `stagegate approvers add`",
                    settings.required_approvals,
                    kind_name(input.kind),
                    approvers.len()
                ),
            ));
        }
        let expires_at = now + Duration::seconds(settings.approval_timeout_seconds as i64);
        let record = ApprovalRecord {
            id: new_key(),
            revision: 0,
            kind: input.kind,
            task_token: input.token.clone(),
            execution_id: input.preflight.execution_id.clone(),
            repository: c.repository.clone(),
            tag: c.tag.clone(),
            sha: c.sha.clone(),
            pushed_by: c.pushed_by.clone(),
            checklist_uri,
            failed_checks,
            created_at: now,
            expires_at,
            required_approvals: settings.required_approvals,
            state: ApprovalState::Pending,
            votes: Vec::new(),
            approvers: approvers.clone(),
            form_key: new_key(),
            delivery: Delivery::Undecided,
        };
        // One link id per approver: in their email only; the store keeps its hash.
        let link_ids: Vec<(String, &Approver)> =
            approvers.iter().map(|a| (new_link_id(), a)).collect();
        let links: Vec<Link> = link_ids
            .iter()
            .map(|(id, a)| Link {
                id_hash: hash_id(id),
                approval_id: record.id.clone(),
                approver_id: a.id.clone(),
                expires_at,
            })
            .collect();
        self.approvals.create(&record, &links).await?;
        let mut message_ids = Vec::with_capacity(link_ids.len());
        for (id, approver) in &link_ids {
            let message = personal_message(settings, &input, &record, approver, id);
            message_ids.push(self.notifier.publish(Topic::Approvals, &message).await?);
        }
        Ok(RequestOutput {
            approval_id: record.id,
            approvers: approvers.into_iter().map(|a| a.id).collect(),
            message_ids,
            expires_at,
            required_approvals: settings.required_approvals,
        })
    }
}

fn kind_name(kind: ApprovalKind) -> &'static str {
    match kind {
        ApprovalKind::Deployment => "deployment approvals",
        ApprovalKind::Acceptance => "user-acceptance sign-offs",
    }
}

/// The email of one approver: their own link, addressed to them. The `approver`
/// attribute is what their SNS subscription's filter policy matches, so nobody else
/// receives it.
pub fn personal_message(
    settings: &Settings,
    input: &RequestInput,
    record: &ApprovalRecord,
    approver: &Approver,
    link_id: &str,
) -> Message {
    let c = &input.preflight.candidate;
    // A Function URL ends with "/"; the link must not get a double slash.
    let link = format!(
        "{}/approvals/{link_id}",
        settings.approval_base_url.trim_end_matches('/')
    );
    let mut body = String::new();
    let _ = writeln!(
        body,
        "This link is yours ({}): it decides as you. Do not forward it.\n",
        approver.id
    );
    let (subject, kind) = match (&input.kind, &input.checklist) {
        (ApprovalKind::Deployment, Some(cl)) => {
            let ch = &cl.changes;
            let _ = writeln!(
                body,
                "{} wants to deploy {} of {} to staging.\n",
                c.pushed_by, c.tag, c.repository
            );
            let _ = writeln!(body, "Review and decide: {link}\n");
            let _ = writeln!(body, "Commit: {}", c.sha);
            if cl.failed_checks.is_empty() {
                let _ = writeln!(body, "Checks: all passed");
            } else {
                let _ = writeln!(
                    body,
                    "Checks FAILED: {} (approving needs a written reason)",
                    cl.failed_checks.join(", ")
                );
            }
            let _ = if cl.preview.is_none() {
                writeln!(body, "Infrastructure: no preview available")
            } else if ch.no_changes {
                writeln!(body, "Infrastructure: no changes")
            } else {
                writeln!(
                    body,
                    "Infrastructure: {} add, {} modify, {} remove, {} replacement(s)",
                    ch.adds, ch.modifies, ch.removes, ch.replacements
                )
            };
            let _ = writeln!(body, "Checklist: {}", cl.markdown_uri);
            (
                format!("Approve {} of {} for staging?", c.tag, c.repository),
                "approval-request",
            )
        }
        _ => {
            let _ = writeln!(body, "{} of {} is deployed to staging and passed its integration and performance tests.\n", c.tag, c.repository);
            if let Some(url) = &input.frontend_url {
                let _ = writeln!(body, "Try it: {url}\n");
            }
            let _ = writeln!(body, "Sign off or reject: {link}\n");
            let _ = writeln!(body, "Commit: {}", c.sha);
            (
                format!("Sign off {} of {} on staging?", c.tag, c.repository),
                "acceptance-request",
            )
        }
    };
    let _ = writeln!(
        body,
        "\nThe link expires at {} ({} approval(s) needed).",
        record.expires_at.to_rfc3339(),
        record.required_approvals
    );
    Message {
        subject,
        body,
        attributes: BTreeMap::from([
            ("kind".into(), kind.into()),
            ("repository".into(), c.repository.clone()),
            ("tag".into(), c.tag.clone()),
            ("approver".into(), approver.id.clone()),
        ]),
        // A personal link is for its person's inbox only: no machine form.
        machine: None,
    }
}

/// The `reconcile-approvals` function's name.
pub const RECONCILE: &str = "reconcile-approvals";

/// Decisions sent per reconcile run, at most: the run is bounded, the next one (five
/// minutes later on AWS) takes the rest.
pub const RECONCILE_LIMIT: usize = 25;

/// Any JSON object (on AWS, the scheduled EventBridge event): the reconcile needs no
/// input, but refuses what is not an event.
#[derive(Clone, Debug, Deserialize)]
pub struct Tick {}

/// Delivers decisions that were recorded but not sent (a failed `SendTask*`, or a
/// function that stopped between writing and sending). Runs on a schedule.
pub struct ReconcileApprovals<A, C, K> {
    desk: Desk<A, C, K>,
}

impl<A: Approvals, C: TaskCallbacks, K: Clock> ReconcileApprovals<A, C, K> {
    pub fn new(settings: &Settings, approvals: A, callbacks: C, clock: K) -> Self {
        ReconcileApprovals {
            desk: Desk::new(settings.pusher_may_approve, approvals, callbacks, clock),
        }
    }
}

impl<A: Approvals, C: TaskCallbacks, K: Clock> Step for ReconcileApprovals<A, C, K> {
    const NAME: &'static str = RECONCILE;
    type Input = Tick;
    type Output = Reconciled;

    async fn run(&self, _: Tick) -> Result<Reconciled, StepError> {
        self.desk.reconcile(RECONCILE_LIMIT).await
    }
}

#[cfg(test)]
mod tests;

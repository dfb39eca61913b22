//! Wait for Approval and User Acceptance Testing (`request-approval`): stores the
//! approval with one personal link per configured approver (hashes only) and emails
//! each their own — unless a newer candidate of the repository has started
//! meanwhile, which supersedes this one before anyone is asked. Deciding is the
//! approval desk's job ([`crate::desk`]).

use crate::candidate::compare_versions;
use crate::error::{invalid_input, names, StepError};
use crate::flow::{Checklist, Run};
use crate::links::{check_distinct, hash_id, new_key, new_link_id, validate_approver};
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Candidates, Chat,
    ChatMessage, Clock, Delivery, Link, Message, Notifier, Topic, Update,
};
use crate::settings::Settings;
use crate::slack;
use crate::step::Step;
use crate::summary;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The `request-approval` function's name.
pub const NAME: &str = "request-approval";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub token: String,
    #[serde(default)]
    pub kind: ApprovalKind,
    pub preflight: Run,
    /// Required for a deployment approval.
    pub checklist: Option<Checklist>,
    /// The deployed staging URL, for a user-acceptance sign-off.
    pub frontend_url: Option<String>,
}

/// What the request step returns (recorded in the execution history): deliberately
/// no link, no link id and no token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub approval_id: String,
    /// The approvers asked, by id, each sent their own message.
    pub approvers: Vec<String>,
    pub message_ids: Vec<String>,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
    /// The approvers also asked in Slack, by id.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack: Vec<String>,
    /// Slack messages that could not be posted, and why (their email went out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub slack_failures: Vec<String>,
}

/// Request Approval: one record, one personal link and email per approver, and a
/// Slack message to each who has a Slack id when Slack is configured.
pub struct RequestApproval<T, N, S, C> {
    pub settings: Settings,
    /// The table: approval records and links, the configured approvers, the newest
    /// candidate of each repository.
    pub store: T,
    pub notifier: N,
    /// Slack (`None` when not configured: nobody is asked there).
    pub chat: Option<S>,
    pub clock: C,
}

impl<T, N, S, C> RequestApproval<T, N, S, C>
where
    T: Approvals + Approvers + Candidates,
    N: Notifier,
    S: Chat,
    C: Clock,
{
    /// Asks each approver with a Slack id in a direct message, then records where the
    /// messages are. A message that cannot be posted is reported, not retried: the
    /// approver's email went out, and retrying the step would ask everyone twice.
    async fn ask_in_slack(
        &self,
        record: &ApprovalRecord,
        output: &mut Output,
    ) -> Result<(), StepError> {
        let (Some(chat), Some(_)) = (&self.chat, &self.settings.slack) else {
            return Ok(());
        };
        let mut next = record.clone();
        let now = self.clock.now();
        for a in &record.approvers {
            let Some(member) = &a.slack else { continue };
            let (text, blocks) = slack::blocks::message(record, &a.id, now);
            match chat.post(member, &text, &blocks).await {
                Ok(posted) => {
                    next.chat.push(ChatMessage {
                        approver: a.id.clone(),
                        channel: posted.channel,
                        ts: posted.ts,
                        shows: record.chat_status(now),
                    });
                    output.slack.push(a.id.clone());
                }
                Err(e) => output.slack_failures.push(format!("{}: {e}", a.id)),
            }
        }
        if next.chat.is_empty() {
            return Ok(());
        }
        // Someone may have decided meanwhile: add the messages to the record as it is.
        let mut current = record.clone();
        for _ in 0..5 {
            let mut updated = current.clone();
            updated.revision = current.revision + 1;
            updated.chat = next.chat.clone();
            match self.store.update(&current, &updated).await? {
                Update::Done => return Ok(()),
                Update::Conflict(now) => current = *now,
            }
        }
        // Not an error: everyone was asked, and the buttons work; failing the step
        // would ask everyone again. Only these messages will not be updated.
        output
            .slack_failures
            .push("the messages were posted but not recorded (the approval changed five times meanwhile): they will not be updated".into());
        Ok(())
    }

    /// `Superseded` when a newer candidate of the repository started meanwhile (a
    /// rollback goes back to an older release on purpose: never, at this point).
    async fn still_newest(&self, input: &Input) -> Result<(), StepError> {
        let c = &input.preflight.candidate;
        if c.rollback {
            return Ok(());
        }
        let lane = self.settings.lane(&c.repository);
        if let Some((newest, _)) = self.store.newest(&lane).await? {
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
        Ok(())
    }

    /// Who decides approvals of `kind`: `NoApprovers` when too few for the quorum.
    async fn deciding(&self, kind: ApprovalKind) -> Result<Vec<Approver>, StepError> {
        let approvers = self.store.deciding(kind).await?;
        for a in &approvers {
            validate_approver(a).map_err(|e| StepError::new(names::NO_APPROVERS, e))?;
        }
        // One person, one approver: shared identities would count one person twice.
        check_distinct(&approvers).map_err(|e| StepError::new(names::NO_APPROVERS, e))?;
        let required = self.settings.required_approvals;
        if (approvers.len() as u32) < required {
            return Err(StepError::new(
                names::NO_APPROVERS,
                format!(
                    "{required} approval(s) are required for {} but {} approver(s) decide them: add approvers with `stagegate approvers add`",
                    kind_name(kind),
                    approvers.len()
                ),
            ));
        }
        Ok(approvers)
    }

    /// The pending record of this request, asking `approvers`.
    fn record(&self, input: &Input, approvers: Vec<Approver>) -> Result<ApprovalRecord, StepError> {
        let (failed_checks, checklist_uri) = match (&input.kind, &input.checklist) {
            (ApprovalKind::Deployment | ApprovalKind::Production, None) => {
                return Err(invalid_input(
                    "request-approval: a deployment approval needs the checklist",
                ))
            }
            (ApprovalKind::Deployment | ApprovalKind::Production, Some(cl)) => {
                (cl.failed_checks.clone(), cl.markdown_uri.clone())
            }
            (ApprovalKind::Acceptance, cl) => (
                Vec::new(),
                cl.as_ref()
                    .map(|c| c.markdown_uri.clone())
                    .unwrap_or_default(),
            ),
        };
        let (c, now) = (&input.preflight.candidate, self.clock.now());
        let expires_at = now + Duration::seconds(self.settings.approval_timeout_seconds as i64);
        let required = self.settings.required_approvals;
        Ok(ApprovalRecord {
            id: new_key(),
            revision: 0,
            kind: input.kind,
            task_token: input.token.clone(),
            execution_id: input.preflight.execution_id.clone(),
            repository: c.repository.clone(),
            tag: c.tag.clone(),
            sha: c.sha.clone(),
            pushed_by: c.pushed_by.clone(),
            pusher: c.pusher.clone(),
            checklist_uri,
            rollback: c.rollback,
            manifest_digest: input
                .checklist
                .as_ref()
                .and_then(|cl| cl.manifest.as_ref())
                .map(|m| m.digest.clone()),
            failed_checks,
            created_at: now,
            expires_at,
            required_approvals: required,
            state: ApprovalState::Pending,
            votes: Vec::new(),
            approvers,
            form_key: new_key(),
            delivery: Delivery::Undecided,
            summary: summary_of(input, (expires_at, now), required),
            chat: Vec::new(),
        })
    }
}

impl<T, N, S, C> Step<Input, Output> for RequestApproval<T, N, S, C>
where
    T: Approvals + Approvers + Candidates,
    N: Notifier,
    S: Chat,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        self.still_newest(&input).await?;
        let approvers = self.deciding(input.kind).await?;
        let record = self.record(&input, approvers)?;
        // One link id per approver: in their email only; the store keeps its hash.
        let link_ids: Vec<(String, &Approver)> = record
            .approvers
            .iter()
            .map(|a| (new_link_id(), a))
            .collect();
        let links: Vec<Link> = link_ids
            .iter()
            .map(|(id, a)| Link {
                id_hash: hash_id(id),
                approval_id: record.id.clone(),
                approver_id: a.id.clone(),
                expires_at: record.expires_at,
            })
            .collect();
        self.store.create(&record, &links).await?;
        let mut message_ids = Vec::with_capacity(link_ids.len());
        for (id, approver) in &link_ids {
            let message = personal_message(&self.settings, &input, &record, approver, id);
            message_ids.push(self.notifier.publish(Topic::Approvals, &message).await?);
        }
        let mut output = Output {
            approvers: record.approvers.iter().map(|a| a.id.clone()).collect(),
            approval_id: record.id.clone(),
            message_ids,
            expires_at: record.expires_at,
            required_approvals: record.required_approvals,
            slack: Vec::new(),
            slack_failures: Vec::new(),
        };
        self.ask_in_slack(&record, &mut output).await?;
        Ok(output)
    }
}

/// The summary of the request (who asks for what, then [`summary::approval`]'s
/// lines, or a sign-off's commit and site), as its Slack messages show it.
fn summary_of(
    input: &Input,
    times: (DateTime<Utc>, DateTime<Utc>),
    required: u32,
) -> Vec<(String, String)> {
    let c = &input.preflight.candidate;
    let mut lines = vec![("Request".to_string(), summary::asks(c, input.kind))];
    match &input.checklist {
        Some(cl) if input.kind != ApprovalKind::Acceptance => {
            lines.extend(
                summary::approval(c, cl, times, required)
                    .into_iter()
                    .map(|l| (l.label.to_string(), l.value)),
            );
        }
        _ => {
            lines.push(("Commit".into(), c.sha.clone()));
            if let Some(url) = &input.frontend_url {
                lines.push(("Try it".into(), url.clone()));
            }
            lines.push(("Expires".into(), summary::when(times.0, times.1)));
        }
    }
    lines
}

fn kind_name(kind: ApprovalKind) -> &'static str {
    match kind {
        ApprovalKind::Deployment => "deployment approvals",
        ApprovalKind::Acceptance => "user-acceptance sign-offs",
        ApprovalKind::Production => "production approvals",
    }
}

/// What an approval's email says after its greeting: who asks for what, the summary
/// lines ([`crate::summary`]), the link, then where the checklist and the manifest are.
fn deployment_body(
    body: &mut String,
    input: &Input,
    cl: &Checklist,
    record: &ApprovalRecord,
    link: &str,
) {
    let c = &input.preflight.candidate;
    let _ = writeln!(body, "{}.\n", summary::asks(c, input.kind));
    let times = (record.expires_at, record.created_at);
    let lines = summary::approval(c, cl, times, record.required_approvals);
    let _ = writeln!(body, "{}", summary::text(&lines));
    let _ = writeln!(body, "Review and decide: {link}\n");
    let _ = writeln!(body, "Checklist: {}", cl.markdown_uri);
    if let Some(m) = &cl.manifest {
        let _ = writeln!(body, "Manifest (SHA-256): {}", m.digest);
    }
}

/// The email of one approver: their own link, addressed to them. The `approver`
/// attribute is what their SNS subscription's filter policy matches, so nobody else
/// receives it.
pub fn personal_message(
    settings: &Settings,
    input: &Input,
    record: &ApprovalRecord,
    approver: &Approver,
    link_id: &str,
) -> Message {
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
    let c = &input.preflight.candidate;
    let subject = summary::subject(input.kind, c.rollback, &c.tag, &c.repository);
    let kind = match &input.checklist {
        Some(cl) if input.kind != ApprovalKind::Acceptance => {
            deployment_body(&mut body, input, cl, record, &link);
            "approval-request"
        }
        _ => {
            let _ = writeln!(body, "{} of {} is deployed to staging and passed its integration and performance tests.\n", c.tag, c.repository);
            if let Some(url) = &input.frontend_url {
                let _ = writeln!(body, "Try it: {url}\n");
            }
            let _ = writeln!(body, "Sign off or reject: {link}\n");
            let _ = writeln!(body, "Commit: {}", c.sha);
            let expires = summary::when(record.expires_at, record.created_at);
            let _ = writeln!(body, "Expires: {expires}");
            "acceptance-request"
        }
    };
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

#[cfg(test)]
mod tests;

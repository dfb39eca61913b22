//! Wait for Approval: the request (emailed link) and the decision (review page form).
//!
//! Security model (DESIGN §4): a link carries a random 256-bit id, never the task
//! token; only the id's SHA-256 is stored, beside the token, server-side. Links expire
//! with the task. Looking at a link (`review`) changes nothing; only `decide` (a POST
//! from the page) does, through one conditional write, so a second click, a late
//! click or a superseded approval each get a clear answer. Approving despite failed
//! checks needs a written reason; the pusher may not approve (unless configured);
//! `required_approvals` approvals are needed and one rejection decides.

use crate::error::{names, StepError};
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, CallbackError, Clock, Message,
    Notifier, TaskCallbacks, Topic, Update, Vote,
};
use crate::settings::Settings;
use crate::step::Step;
use crate::steps::checklist;
use chrono::{DateTime, Duration, Utc};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use subtle::ConstantTimeEq;

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
/// no link, no id and no token.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestOutput {
    pub message_id: String,
    pub expires_at: DateTime<Utc>,
    pub required_approvals: u32,
}

/// SHA-256 of a link id, hex.
pub fn hash_id(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

fn new_link_id() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    // base64url without padding, by hand to keep this crate's dependencies small.
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(43);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for b in bytes {
        acc = (acc << 8) | u32::from(b);
        bits += 8;
        while bits >= 6 {
            bits -= 6;
            out.push(char::from(ALPHABET[((acc >> bits) & 63) as usize]));
        }
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((acc << (6 - bits)) & 63) as usize]));
    }
    out
}

/// A link id has the shape we issue: 43 base64url characters.
pub fn is_link_id(id: &str) -> bool {
    id.len() == 43
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

async fn request(
    settings: &Settings,
    approvals: &impl Approvals,
    notifier: &impl Notifier,
    now: DateTime<Utc>,
    input: RequestInput,
) -> Result<RequestOutput, StepError> {
    let c = &input.preflight.candidate;
    let (failed_checks, checklist_uri) = match (&input.kind, &input.checklist) {
        (ApprovalKind::Deployment, None) => {
            return Err(crate::error::invalid_input(
                "request-approval: a deployment approval needs the checklist",
            ))
        }
        (ApprovalKind::Deployment, Some(cl)) => (cl.failed_checks.clone(), cl.markdown_uri.clone()),
        (ApprovalKind::Acceptance, cl) => (
            Vec::new(),
            cl.as_ref()
                .map(|c| c.markdown_uri.clone())
                .unwrap_or_default(),
        ),
    };
    let id = new_link_id();
    let expires_at = now + Duration::seconds(settings.approval_timeout_seconds as i64);
    let record = ApprovalRecord {
        id_hash: hash_id(&id),
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
    };
    approvals.create(&record).await?;
    // A Function URL ends with "/"; the link must not get a double slash.
    let link = format!(
        "{}/approvals/{id}",
        settings.approval_base_url.trim_end_matches('/')
    );
    let mut body = String::new();
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
        expires_at.to_rfc3339(),
        settings.required_approvals
    );
    let message = Message {
        subject,
        body,
        attributes: BTreeMap::from([
            ("kind".into(), kind.into()),
            ("repository".into(), c.repository.clone()),
            ("tag".into(), c.tag.clone()),
        ]),
    };
    let message_id = notifier.publish(Topic::Approvals, &message).await?;
    Ok(RequestOutput {
        message_id,
        expires_at,
        required_approvals: settings.required_approvals,
    })
}

/// Why a link cannot be used. Each has a page of its own; none is an AWS error.
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
    ReasonRequired {
        failed_checks: Vec<String>,
    },
    PusherMayNotApprove {
        pusher: String,
    },
    InvalidForm(String),
    /// Someone else's decision landed at the same moment; reload and look again.
    Conflict,
}

impl Refusal {
    pub fn title(&self) -> &'static str {
        match self {
            Refusal::NotFound => "This approval link is not valid",
            Refusal::Expired { .. } => "This approval has expired",
            Refusal::Superseded => "A newer release candidate replaced this one",
            Refusal::AlreadyDecided { .. } => "This candidate has already been decided",
            Refusal::AlreadyVoted { .. } => "You have already decided",
            Refusal::ReasonRequired { .. } => "A reason is required",
            Refusal::PusherMayNotApprove { .. } => "You pushed this tag, so you cannot approve it",
            Refusal::InvalidForm(_) => "The form is incomplete",
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
                format!("{approver} has already voted on this candidate.")
            }
            Refusal::ReasonRequired { failed_checks } => format!(
                "These checks failed: {}. Say why it is safe to deploy anyway.",
                failed_checks.join(", ")
            ),
            Refusal::PusherMayNotApprove { pusher } => format!(
                "{pusher} pushed the tag; another person has to approve it (rejecting is allowed)."
            ),
            Refusal::InvalidForm(m) => m.clone(),
            Refusal::Conflict => "Reload the page to see the current state.".into(),
        }
    }
}

/// What the review page shows.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Review {
    pub record: ApprovalRecord,
    pub checklist_markdown: Option<String>,
}

/// Looks a link up for the review page (GET): changes nothing.
pub async fn review(
    approvals: &impl Approvals,
    now: DateTime<Utc>,
    id: &str,
) -> Result<Result<ApprovalRecord, Refusal>, StepError> {
    let Some(record) = find(approvals, id).await? else {
        return Ok(Err(Refusal::NotFound));
    };
    Ok(usable(&record, now).map(|_| record))
}

async fn find(approvals: &impl Approvals, id: &str) -> Result<Option<ApprovalRecord>, StepError> {
    if !is_link_id(id) {
        return Ok(None);
    }
    let hash = hash_id(id);
    let record = approvals.get(&hash).await?;
    // Defence in depth: compare the stored hash in constant time.
    Ok(record.filter(|r| bool::from(r.id_hash.as_bytes().ct_eq(hash.as_bytes()))))
}

fn usable(record: &ApprovalRecord, now: DateTime<Utc>) -> Result<(), Refusal> {
    match record.state {
        ApprovalState::Superseded => Err(Refusal::Superseded),
        ApprovalState::Approved | ApprovalState::Rejected => Err(Refusal::AlreadyDecided {
            state: record.state,
            by: record.votes.iter().map(|v| v.approver.clone()).collect(),
        }),
        ApprovalState::Pending if now >= record.expires_at => Err(Refusal::Expired {
            expires_at: record.expires_at,
        }),
        ApprovalState::Pending => Ok(()),
    }
}

/// The review form, as posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Decision {
    pub approver: String,
    pub approve: bool,
    pub reason: Option<String>,
    /// Where it came from (client IP, "terminal").
    pub from: String,
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
}

/// Decides (POST). One conditional write decides; then the task token is answered.
pub async fn decide(
    settings: &Settings,
    approvals: &impl Approvals,
    callbacks: &impl TaskCallbacks,
    now: DateTime<Utc>,
    id: &str,
    decision: Decision,
) -> Result<Result<Decided, Refusal>, StepError> {
    let approver = decision.approver.trim().to_string();
    if approver.is_empty() || approver.len() > 200 || approver.chars().any(char::is_control) {
        return Ok(Err(Refusal::InvalidForm(
            "Enter your name or email address (up to 200 characters).".into(),
        )));
    }
    let reason = decision
        .reason
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty())
        .map(str::to_string);
    if reason.as_ref().is_some_and(|r| r.len() > 2000) {
        return Ok(Err(Refusal::InvalidForm(
            "The reason is limited to 2000 characters.".into(),
        )));
    }
    let Some(record) = find(approvals, id).await? else {
        return Ok(Err(Refusal::NotFound));
    };
    if let Err(r) = usable(&record, now) {
        return Ok(Err(r));
    }
    if record
        .votes
        .iter()
        .any(|v| v.approver.eq_ignore_ascii_case(&approver))
    {
        return Ok(Err(Refusal::AlreadyVoted { approver }));
    }
    if decision.approve {
        if !settings.pusher_may_approve && approver.eq_ignore_ascii_case(&record.pushed_by) {
            return Ok(Err(Refusal::PusherMayNotApprove {
                pusher: record.pushed_by.clone(),
            }));
        }
        if !record.failed_checks.is_empty() && reason.is_none() {
            return Ok(Err(Refusal::ReasonRequired {
                failed_checks: record.failed_checks.clone(),
            }));
        }
    }
    let mut next = record.clone();
    next.votes.push(Vote {
        approver: approver.clone(),
        approve: decision.approve,
        reason: reason.clone(),
        at: now,
        from: decision.from.clone(),
    });
    let approvals_count = next.votes.iter().filter(|v| v.approve).count() as u32;
    let outcome = if !decision.approve {
        next.state = ApprovalState::Rejected;
        Decided::Rejected
    } else if approvals_count >= record.required_approvals {
        next.state = ApprovalState::Approved;
        Decided::Approved
    } else {
        Decided::Recorded {
            remaining: record.required_approvals - approvals_count,
        }
    };
    match approvals.update(&record, &next).await? {
        Update::Done => {}
        Update::Conflict(current) => {
            return Ok(Err(usable(&current, now)
                .err()
                .unwrap_or(Refusal::Conflict)));
        }
    }
    let votes: Vec<Value> = next.votes.iter().map(|v| json!({"approver": v.approver, "approve": v.approve, "reason": v.reason, "at": v.at, "from": v.from})).collect();
    let answered = match outcome {
        Decided::Approved => {
            let output = json!({"decision": "APPROVED", "decidedAt": now, "approvers": next.votes.iter().map(|v| v.approver.clone()).collect::<Vec<_>>(), "votes": votes, "failedChecks": record.failed_checks});
            callbacks.succeed(&record.task_token, &output).await
        }
        Decided::Rejected => {
            let cause = json!({"decision": "REJECTED", "decidedAt": now, "by": approver, "reason": reason, "votes": votes}).to_string();
            callbacks
                .fail(&record.task_token, names::REJECTED, &cause)
                .await
        }
        Decided::Recorded { .. } => Ok(()),
    };
    match answered {
        Ok(()) => Ok(Ok(outcome)),
        Err(CallbackError::TaskClosed(_)) => Ok(Err(Refusal::Expired {
            expires_at: record.expires_at,
        })),
        Err(CallbackError::Port(e)) => Err(e.into()),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5}pre{background:#f6f8fa;padding:1rem;overflow:auto;white-space:pre-wrap}label{display:block;margin-top:1rem}input,textarea{width:100%;padding:.4rem}button{margin-top:1rem;margin-right:.5rem;padding:.5rem 1rem}.fail{color:#b00020}";

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// The review page (GET). The form posts back to the same URL.
pub fn render_review(record: &ApprovalRecord, checklist_markdown: Option<&str>) -> String {
    let mut b = String::new();
    let _ = write!(
        b,
        "<p><strong>{}</strong> wants to deploy <strong>{}</strong> of <strong>{}</strong> to staging.</p><p>Commit <code>{}</code>. Expires {}. {} approval(s) needed, {} so far.</p>",
        escape(&record.pushed_by),
        escape(&record.tag),
        escape(&record.repository),
        escape(&record.sha),
        escape(&record.expires_at.to_rfc3339()),
        record.required_approvals,
        record.votes.iter().filter(|v| v.approve).count()
    );
    if !record.failed_checks.is_empty() {
        let _ = write!(
            b,
            "<p class=\"fail\">Failed checks: {}. Approving requires a reason.</p>",
            escape(&record.failed_checks.join(", "))
        );
    }
    match checklist_markdown {
        Some(md) => {
            let _ = write!(b, "<h2>Checklist</h2><pre>{}</pre>", escape(md));
        }
        None => {
            let _ = write!(b, "<p>Checklist: {}</p>", escape(&record.checklist_uri));
        }
    }
    let _ = write!(
        b,
        "<form method=\"post\"><label>Your name or email<input name=\"approver\" required maxlength=\"200\" autocomplete=\"email\"></label><label>Reason{}<textarea name=\"reason\" maxlength=\"2000\" rows=\"3\"></textarea></label><button name=\"decision\" value=\"approve\">Approve</button><button name=\"decision\" value=\"reject\">Reject</button></form>",
        if record.failed_checks.is_empty() { " (optional)" } else { " (required to approve)" }
    );
    let title = match record.kind {
        ApprovalKind::Deployment => format!("Approve {} for staging?", record.tag),
        ApprovalKind::Acceptance => format!("Sign off {} on staging?", record.tag),
    };
    page(&title, &b)
}

/// The page after a decision, or for a refused one.
pub fn render_outcome(outcome: &Result<Decided, Refusal>) -> String {
    match outcome {
        Ok(Decided::Approved) => page(
            "Approved",
            "<p>The deployment continues. Everyone will be notified of the outcome.</p>",
        ),
        Ok(Decided::Rejected) => page(
            "Rejected",
            "<p>The deployment is cancelled and everyone is notified.</p>",
        ),
        Ok(Decided::Recorded { remaining }) => page(
            "Your approval is recorded",
            &format!("<p>{remaining} more approval(s) are needed.</p>"),
        ),
        Err(r) => page(r.title(), &format!("<p>{}</p>", escape(&r.detail()))),
    }
}

/// The `request-approval` function's name.
pub const NAME: &str = "request-approval";

/// Wait for Approval: stores the approval (the hash of the link id only) and emails the link.
pub struct RequestApproval<A, N, K> {
    settings: Settings,
    approvals: A,
    notifier: N,
    clock: K,
}

impl<A: Approvals, N: Notifier, K: Clock> RequestApproval<A, N, K> {
    pub fn new(settings: Settings, approvals: A, notifier: N, clock: K) -> Self {
        RequestApproval {
            settings,
            approvals,
            notifier,
            clock,
        }
    }
}

impl<A: Approvals, N: Notifier, K: Clock> Step for RequestApproval<A, N, K> {
    const NAME: &'static str = NAME;
    type Input = RequestInput;
    type Output = RequestOutput;

    async fn run(&self, input: RequestInput) -> Result<RequestOutput, StepError> {
        request(
            &self.settings,
            &self.approvals,
            &self.notifier,
            self.clock.now(),
            input,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryApprovals;
    use crate::testing::{checklist_output, now, run_info};
    use crate::testing::{MemoryCallbacks, MemoryNotifier};

    struct World {
        settings: Settings,
        approvals: MemoryApprovals,
        notifier: MemoryNotifier,
        callbacks: MemoryCallbacks,
    }

    impl World {
        fn new(settings: Settings) -> Self {
            World {
                settings,
                approvals: Default::default(),
                notifier: Default::default(),
                callbacks: Default::default(),
            }
        }

        /// Requests an approval and returns the link id from the email.
        async fn request(&self, failed: &[&str]) -> String {
            let mut cl = checklist_output();
            cl.failed_checks = failed.iter().map(|s| s.to_string()).collect();
            request(
                &self.settings,
                &self.approvals,
                &self.notifier,
                now(),
                RequestInput {
                    token: "tok-1".into(),
                    kind: ApprovalKind::Deployment,
                    preflight: run_info(),
                    checklist: Some(cl),
                    frontend_url: None,
                },
            )
            .await
            .unwrap();
            let body = self.notifier.messages().last().unwrap().1.body.clone();
            let start = body.find("/approvals/").unwrap() + "/approvals/".len();
            body[start..start + 43].to_string()
        }

        async fn decide(
            &self,
            id: &str,
            who: &str,
            approve: bool,
            reason: Option<&str>,
        ) -> Result<Decided, Refusal> {
            let d = Decision {
                approver: who.into(),
                approve,
                reason: reason.map(str::to_string),
                from: "203.0.113.7".into(),
            };
            decide(
                &self.settings,
                &self.approvals,
                &self.callbacks,
                now() + Duration::minutes(5),
                id,
                d,
            )
            .await
            .unwrap()
        }
    }

    #[tokio::test]
    async fn request_emails_a_link_and_stores_only_its_hash() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        assert!(is_link_id(&id));
        let stored = w.approvals.all();
        assert_eq!(stored.len(), 1);
        assert_eq!(stored[0].id_hash, hash_id(&id));
        assert!(
            !serde_json::to_string(&stored[0]).unwrap().contains(&id),
            "the id itself must not be stored"
        );
        let (topic, msg) = w.notifier.messages().pop().unwrap();
        assert_eq!(topic, Topic::Approvals);
        assert_eq!(msg.attributes["kind"], "approval-request");
        assert!(
            !msg.body.contains("tok-1"),
            "the task token must never be in the email"
        );
    }

    #[tokio::test]
    async fn approve_answers_the_task_token_with_who_and_when() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        assert_eq!(
            w.decide(&id, "bob@example.com", true, None).await,
            Ok(Decided::Approved)
        );
        let (token, output) = w.callbacks.successes().pop().unwrap();
        assert_eq!(token, "tok-1");
        assert_eq!(output["decision"], "APPROVED");
        assert_eq!(output["votes"][0]["from"], "203.0.113.7");
    }

    #[tokio::test]
    async fn reject_fails_the_task_with_rejected_and_the_reason() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        assert_eq!(
            w.decide(&id, "bob", false, Some("flaky tests")).await,
            Ok(Decided::Rejected)
        );
        let (_, error, cause) = w.callbacks.failures().pop().unwrap();
        assert_eq!(error, "Rejected");
        assert!(cause.contains("flaky tests") && cause.contains("bob"));
    }

    #[tokio::test]
    async fn a_second_click_gets_already_decided() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        w.decide(&id, "bob", true, None).await.unwrap();
        let again = w.decide(&id, "carol", false, None).await;
        assert!(
            matches!(
                again,
                Err(Refusal::AlreadyDecided {
                    state: ApprovalState::Approved,
                    ..
                })
            ),
            "{again:?}"
        );
        assert_eq!(
            w.callbacks.successes().len() + w.callbacks.failures().len(),
            1
        );
    }

    #[tokio::test]
    async fn approving_over_failed_checks_needs_a_reason() {
        let w = World::new(Settings::default());
        let id = w.request(&["ESLint"]).await;
        assert!(matches!(
            w.decide(&id, "bob", true, None).await,
            Err(Refusal::ReasonRequired { .. })
        ));
        assert!(matches!(
            w.decide(&id, "bob", true, Some("   ")).await,
            Err(Refusal::ReasonRequired { .. })
        ));
        assert_eq!(
            w.decide(&id, "bob", true, Some("lint only, fixed in rc-1.4.1"))
                .await,
            Ok(Decided::Approved)
        );
    }

    #[tokio::test]
    async fn the_pusher_may_not_approve_but_may_reject() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        assert!(matches!(
            w.decide(&id, "Ana", true, None).await,
            Err(Refusal::PusherMayNotApprove { .. })
        ));
        assert_eq!(
            w.decide(&id, "ana", false, None).await,
            Ok(Decided::Rejected)
        );
    }

    #[tokio::test]
    async fn the_pusher_may_approve_when_configured() {
        let w = World::new(Settings {
            pusher_may_approve: true,
            ..Settings::default()
        });
        let id = w.request(&[]).await;
        assert_eq!(
            w.decide(&id, "ana", true, None).await,
            Ok(Decided::Approved)
        );
    }

    #[tokio::test]
    async fn quorum_needs_n_distinct_approvers() {
        let w = World::new(Settings {
            required_approvals: 2,
            ..Settings::default()
        });
        let id = w.request(&[]).await;
        assert_eq!(
            w.decide(&id, "bob", true, None).await,
            Ok(Decided::Recorded { remaining: 1 })
        );
        assert!(matches!(
            w.decide(&id, "BOB", true, None).await,
            Err(Refusal::AlreadyVoted { .. })
        ));
        assert!(w.callbacks.successes().is_empty());
        assert_eq!(
            w.decide(&id, "carol", true, None).await,
            Ok(Decided::Approved)
        );
        assert_eq!(
            w.callbacks.successes()[0].1["approvers"],
            json!(["bob", "carol"])
        );
    }

    #[tokio::test]
    async fn expired_superseded_and_unknown_links_are_refused() {
        let w = World::new(Settings {
            approval_timeout_seconds: 60,
            ..Settings::default()
        });
        let id = w.request(&[]).await;
        assert!(matches!(
            w.decide(&id, "bob", true, None).await,
            Err(Refusal::Expired { .. })
        ));
        assert_eq!(
            w.decide(&"x".repeat(43), "bob", true, None).await,
            Err(Refusal::NotFound)
        );
        assert_eq!(
            w.decide("short", "bob", true, None).await,
            Err(Refusal::NotFound)
        );
        let mut altered = id.clone();
        altered.replace_range(0..1, if id.starts_with('A') { "B" } else { "A" });
        assert_eq!(
            w.decide(&altered, "bob", true, None).await,
            Err(Refusal::NotFound)
        );
        let w2 = World::new(Settings::default());
        let id2 = w2.request(&[]).await;
        let rec = w2.approvals.all().pop().unwrap();
        let mut sup = rec.clone();
        sup.state = ApprovalState::Superseded;
        w2.approvals.update(&rec, &sup).await.unwrap();
        assert_eq!(
            w2.decide(&id2, "bob", true, None).await,
            Err(Refusal::Superseded)
        );
    }

    #[tokio::test]
    async fn a_late_decision_after_the_task_closed_says_expired() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        w.callbacks.close("tok-1");
        assert!(matches!(
            w.decide(&id, "bob", true, None).await,
            Err(Refusal::Expired { .. })
        ));
    }

    #[tokio::test]
    async fn review_changes_nothing() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        let before = w.approvals.all();
        let rec = review(&w.approvals, now(), &id).await.unwrap().unwrap();
        assert_eq!(rec.tag, "rc-1.4.0");
        assert_eq!(w.approvals.all(), before);
        assert!(w.callbacks.successes().is_empty());
    }

    #[tokio::test]
    async fn bad_forms_are_refused() {
        let w = World::new(Settings::default());
        let id = w.request(&[]).await;
        assert!(matches!(
            w.decide(&id, "  ", true, None).await,
            Err(Refusal::InvalidForm(_))
        ));
        // Surrounding whitespace is trimmed, so this is a valid approver.
        assert_eq!(
            w.decide(&id, "bob\n", true, None).await,
            Ok(Decided::Approved)
        );
    }

    #[tokio::test]
    async fn acceptance_asks_stakeholders_to_try_the_staging_url() {
        let w = World::new(Settings::default());
        let input = RequestInput {
            token: "tok-u".into(),
            kind: ApprovalKind::Acceptance,
            preflight: run_info(),
            checklist: None,
            frontend_url: Some("https://staging.example.test".into()),
        };
        request(&w.settings, &w.approvals, &w.notifier, now(), input)
            .await
            .unwrap();
        let (_, m) = w.notifier.messages().pop().unwrap();
        assert_eq!(m.subject, "Sign off rc-1.4.0 of acme/shop on staging?");
        assert_eq!(m.attributes["kind"], "acceptance-request");
        assert!(m.body.contains("Try it: https://staging.example.test"));
        assert_eq!(w.approvals.all()[0].kind, ApprovalKind::Acceptance);
    }

    #[tokio::test]
    async fn a_deployment_approval_without_a_checklist_is_invalid_input() {
        let w = World::new(Settings::default());
        let input = RequestInput {
            token: "t".into(),
            kind: ApprovalKind::Deployment,
            preflight: run_info(),
            checklist: None,
            frontend_url: None,
        };
        let e = request(&w.settings, &w.approvals, &w.notifier, now(), input)
            .await
            .unwrap_err();
        assert_eq!(e.name, "InvalidInput");
    }

    #[test]
    fn pages_escape_everything_they_show() {
        let mut rec = crate::testing::pending_record("h", "rc-1.4.0", "t");
        rec.pushed_by = "<script>alert(1)</script>".into();
        let html = render_review(&rec, Some("<b>md</b>"));
        assert!(!html.contains("<script>alert"));
        assert!(html.contains("&lt;script&gt;"));
        assert!(html.contains("&lt;b&gt;md"));
        assert!(html.contains("<form method=\"post\">"));
        let refused = render_outcome(&Err(Refusal::InvalidForm("<x>".into())));
        assert!(refused.contains("&lt;x&gt;"));
    }

    #[test]
    fn link_ids_are_random_and_well_formed() {
        let a = new_link_id();
        let b = new_link_id();
        assert_ne!(a, b);
        assert!(is_link_id(&a) && is_link_id(&b));
    }
}

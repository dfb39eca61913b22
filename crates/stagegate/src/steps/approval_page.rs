//! The review page (`approval-page`) behind a personal approval link, as HTTP: `GET` renders the
//! review (changes nothing: mail scanners and chat previews fetch links), a `POST`
//! from the page's own form decides. One endpoint type serves the Lambda Function URL
//! on AWS and the rehearsal's 127.0.0.1 server, headers included, so both answer
//! every case the same way.
//!
//! The page works without JavaScript (it has none: the CSP forbids scripts). It says
//! who is deciding — the approver the link belongs to — and has no name field. A POST
//! must carry the form's CSRF token and come from the page's own origin (`Origin`, or
//! `Sec-Fetch-Site: same-origin` when a browser sends no `Origin`).
//!
//! The run's files it links (the checklist, the manifest, failed checks' logs) open
//! where the page runs ([`files`]): presigned on AWS, served here under the link, as
//! plain text, otherwise.

use crate::desk::{Decided, Desk, Form, Outcome, Refusal, MAX_REASON};
use crate::flow::run_id;
use crate::links::form_token;
use crate::ports::{
    ApprovalKind, ApprovalRecord, Approvals, Approver, Approvers, Artifacts, Clock, Link,
    TaskCallbacks,
};
use crate::settings::Settings;
pub use crate::step::parse_form;
use crate::step::{header, respond, Endpoint, Peer, WebRequest, WebResponse, HARDENING};
use base64::Engine as _;
use http::{HeaderName, HeaderValue, Method};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::OnceLock;

pub mod files;
mod markdown;

/// The `approval-page` function's name.
pub const NAME: &str = "approval-page";

/// The review page: decides through the approval desk; reads the checklist from the
/// artifacts.
pub struct ApprovalPage<T, R, A, C> {
    pub settings: Settings,
    /// The approval records and links.
    pub store: T,
    /// Step Functions: where decisions are delivered.
    pub runs: R,
    pub artifacts: A,
    pub clock: C,
}

const HTML: &str = "text/html; charset=utf-8";

/// The page's only style sheet; the CSP allows exactly this one, by its hash.
const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;line-height:1.5;overflow-wrap:anywhere}pre{background:#f6f8fa;padding:1rem;overflow:auto;white-space:pre-wrap}.scroll{overflow-x:auto}table{border-collapse:collapse;margin:.5rem 0}th,td{border:1px solid #d0d7de;padding:.25rem .5rem;text-align:left;vertical-align:top}td a{word-break:break-all}.pass{color:#116329}.replace{color:#9a3412;font-weight:600}label{display:block;margin-top:1rem}textarea{width:100%;padding:.4rem}button{margin-top:1rem;margin-right:.5rem;padding:.5rem 1rem}.fail{color:#b00020}.who{background:#eef4ff;padding:.5rem 1rem}";

/// `Content-Security-Policy`: nothing may load or run but the one style sheet, the
/// form may post only here, nobody may frame the page.
pub fn content_security_policy() -> &'static str {
    static CSP: OnceLock<String> = OnceLock::new();
    CSP.get_or_init(|| {
        let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
        format!(
            "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    })
}

/// The headers of every answer, on AWS and on 127.0.0.1 alike: the servers' own
/// ([`HARDENING`]) with the page's policy, which lets its one style sheet in. The
/// page sets them itself, so it never depends on a server to add them.
pub fn security_headers() -> Vec<(String, String)> {
    HARDENING
        .iter()
        .map(|&(name, value)| {
            let value = match name {
                "content-security-policy" => content_security_policy(),
                _ => value,
            };
            (name.to_string(), value.to_string())
        })
        .collect()
}

/// The HTTP status of a refusal.
pub fn status_of(r: &Refusal) -> u16 {
    match r {
        Refusal::NotFound => 404,
        Refusal::Expired { .. } | Refusal::Superseded | Refusal::Revoked { .. } => 410,
        Refusal::AlreadyDecided { .. } | Refusal::AlreadyVoted { .. } | Refusal::Conflict => 409,
        Refusal::PusherMayNotApprove { .. }
        | Refusal::PusherNotComparable { .. }
        | Refusal::Forbidden(_) => 403,
        Refusal::ReasonRequired { .. } | Refusal::InvalidForm(_) => 400,
    }
}

impl<T, R, A, C> Endpoint for ApprovalPage<T, R, A, C>
where
    T: Approvals + Approvers,
    R: TaskCallbacks,
    A: Artifacts,
    C: Clock + Clone,
{
    const NAME: &'static str = NAME;

    async fn handle(&self, request: WebRequest) -> WebResponse {
        let (status, content_type, body) = match self.file(&request).await {
            Some((status, body)) => (status, "text/plain; charset=utf-8", body),
            None => {
                let (status, body) = self.answer(&request).await;
                (status, HTML, body)
            }
        };
        let mut response = respond(status, content_type, body);
        if request.method() == Method::HEAD {
            response.body_mut().clear();
        }
        let headers = response.headers_mut();
        for (k, v) in security_headers() {
            if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
                headers.insert(k, v);
            }
        }
        if status == 405 {
            headers.insert(
                http::header::ALLOW,
                HeaderValue::from_static("GET, HEAD, POST"),
            );
        }
        response
    }
}

impl<T, R, A, C> ApprovalPage<T, R, A, C>
where
    T: Approvals + Approvers,
    R: TaskCallbacks,
    A: Artifacts,
    C: Clock + Clone,
{
    fn desk(&self) -> Desk<'_, T, R, C> {
        Desk::new(&self.store, &self.runs, self.clock.clone())
            .pusher_may_approve(self.settings.pusher_may_approve)
    }

    /// A file of the run (`GET /approvals/<link>/files/<name>`), as plain text, while
    /// the link reviews; `None` when the request is not for one.
    async fn file(&self, req: &WebRequest) -> Option<(u16, String)> {
        let rest = req.uri().path().strip_prefix("/approvals/")?;
        let (id, name) = rest.split_once("/files/")?;
        if !matches!(*req.method(), Method::GET | Method::HEAD) {
            return Some((405, "Files are read with GET.".into()));
        }
        if !files::allowed(name) {
            return Some((404, "No such file of this run.".into()));
        }
        Some(match self.desk().review(id).await {
            Ok(Ok((record, _, _))) => match self.artifacts.get(&files::key(&record, name)).await {
                Ok(Some(bytes)) => (200, String::from_utf8_lossy(&bytes).into_owned()),
                Ok(None) => (404, "No such file of this run.".into()),
                Err(e) => (503, format!("The file cannot be read now: {}", e.message)),
            },
            Ok(Err(refusal)) => (
                status_of(&refusal),
                format!("{} {}", refusal.title(), refusal.detail()),
            ),
            Err(e) => (503, format!("The approval cannot be read now: {}", e.name)),
        })
    }

    /// Status and page for one request. Port failures become a 503 that names the
    /// failing call's error, never the link id or the task token.
    async fn answer(&self, req: &WebRequest) -> (u16, String) {
        let Some(id) = req.uri().path().strip_prefix("/approvals/") else {
            return (404, page("Not found", "<p>There is nothing here.</p>"));
        };
        match *req.method() {
            Method::GET | Method::HEAD => self.review(id).await,
            Method::POST => self.decide(id, req).await,
            _ => (
                405,
                page(
                    "Method not allowed",
                    "<p>Open the link to review; decide with the page's buttons.</p>",
                ),
            ),
        }
    }

    /// GET: the review, or why there is none.
    async fn review(&self, id: &str) -> (u16, String) {
        match self.desk().review(id).await {
            Ok(Ok((record, approver, link))) => {
                let key = format!("runs/{}/checklist.md", run_id(&record.execution_id));
                let md = self
                    .artifacts
                    .get(&key)
                    .await
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                let now = self.clock.now();
                let files = files::listed(&self.artifacts, &record, id, md.as_deref()).await;
                let review = Review {
                    approver: &approver,
                    link: &link,
                    checklist: md.as_deref(),
                    files: &files,
                };
                (200, render_review(&record, &review, now))
            }
            Ok(Err(refusal)) => (status_of(&refusal), render_outcome(&Ok(Err(refusal)))),
            Err(e) => (503, render_outcome(&Err(e))),
        }
    }

    /// POST: a decision from the page's own form.
    async fn decide(&self, id: &str, req: &WebRequest) -> (u16, String) {
        if let Err(why) = same_origin(req) {
            let refusal = Refusal::Forbidden(why);
            return (status_of(&refusal), render_outcome(&Ok(Err(refusal))));
        }
        let form: BTreeMap<String, String> = parse_form(req.body()).into_iter().collect();
        let approve = match form.get("decision").map(String::as_str) {
            Some("approve") => true,
            Some("reject") => false,
            _ => {
                let refusal = Refusal::InvalidForm("Choose Approve or Reject.".into());
                return (400, render_outcome(&Ok(Err(refusal))));
            }
        };
        let decision = Form {
            approve,
            reason: form.get("reason").cloned(),
            from: Peer::of(req).source_ip,
            break_glass: form.get("break_glass").is_some_and(|v| v == "on"),
        };
        let token = form.get("csrf").map(String::as_str).unwrap_or_default();
        let outcome = self.desk().decide_by_link(id, token, decision).await;
        let status = match &outcome {
            Ok(Ok(Decided::Undelivered { .. })) => 202,
            Ok(Ok(_)) => 200,
            Ok(Err(r)) => status_of(r),
            Err(_) => 503,
        };
        (status, render_outcome(&outcome))
    }
}

/// A POST must come from the page itself: its `Origin` is the origin the page is
/// served from, or, when a browser sends no usable `Origin`, `Sec-Fetch-Site` says
/// `same-origin`. (Under the page's `Referrer-Policy: no-referrer` browsers send
/// `Origin: null` with the form, so `null` defers to `Sec-Fetch-Site`.) A request
/// with neither is refused: every browser that can show the page sends one of them.
pub fn same_origin(req: &WebRequest) -> Result<(), String> {
    let origin = header(req, "origin").filter(|o| *o != "null");
    let ours = Peer::of(req).origin;
    match (origin, header(req, "sec-fetch-site")) {
        (Some(origin), _) if !ours.is_empty() && origin == ours => Ok(()),
        (Some(origin), _) => Err(format!(
            "The form was sent from {origin}, not from this page; decide on the page your link opens."
        )),
        (None, Some("same-origin")) => Ok(()),
        (None, Some(site)) => Err(format!(
            "The form was sent from another site ({site}); decide on the page your link opens."
        )),
        (None, None) => Err(
            "The request does not say where it comes from (no Origin or Sec-Fetch-Site header); decide on the page your link opens, in a browser."
                .into(),
        ),
    }
}

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        escape_char(&mut out, c);
    }
    out
}

/// `c`, escaped for HTML, onto `out`.
fn escape_char(out: &mut String, c: char) {
    match c {
        '&' => out.push_str("&amp;"),
        '<' => out.push_str("&lt;"),
        '>' => out.push_str("&gt;"),
        '"' => out.push_str("&quot;"),
        '\'' => out.push_str("&#39;"),
        c => out.push(c),
    }
}

/// Who already decided this approval, how, when, and why.
fn decided_so_far(b: &mut String, record: &ApprovalRecord) {
    if record.votes.is_empty() {
        return;
    }
    let _ = write!(b, "<h2>Decided so far</h2><ul>");
    for v in &record.votes {
        let verb = match (v.approve, v.break_glass) {
            (true, true) => "approved, breaking the glass",
            (true, false) => "approved",
            (false, _) => "rejected",
        };
        let why = v
            .reason
            .as_deref()
            .map(|r| format!(": {}", escape(r)))
            .unwrap_or_default();
        let _ = write!(
            b,
            "<li><strong>{}</strong> {verb} ({}, {}){why}</li>",
            escape(&v.approver),
            escape(&v.via),
            escape(&v.at.to_rfc3339())
        );
    }
    let _ = write!(b, "</ul>");
}

/// The run's files, each a link (its URL escaped: a presigned one carries `&`).
fn files_section(b: &mut String, files: &[(String, String)]) {
    if files.is_empty() {
        return;
    }
    let _ = write!(b, "<h3>Files of this run</h3><ul>");
    for (label, href) in files {
        let _ = write!(
            b,
            "<li><a href=\"{}\" rel=\"noreferrer\">{}</a></li>",
            escape(href),
            escape(label)
        );
    }
    b.push_str("</ul>");
    if files.iter().any(|(_, href)| href.starts_with("https://")) {
        let _ = write!(
            b,
            "<p>Links to the bucket work for {} minutes from when this page was opened; reload for new ones.</p>",
            files::SHARED_FOR_SECONDS / 60
        );
    }
}

fn page(title: &str, body: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\"><meta name=\"robots\" content=\"noindex\"><title>{t}</title><style>{STYLE}</style></head><body><h1>{t}</h1>{body}</body></html>",
        t = escape(title)
    )
}

/// What a review page shows besides the record: who decides through which link, the
/// checklist's Markdown (when it could be read), the run's files (label, link).
pub struct Review<'a> {
    pub approver: &'a Approver,
    pub link: &'a Link,
    pub checklist: Option<&'a str>,
    pub files: &'a [(String, String)],
}

/// The review page (GET) at `now`: who decides, what, and a plain form that posts back
/// to the same URL with the link's CSRF token.
pub fn render_review(
    record: &ApprovalRecord,
    review: &Review<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> String {
    let (approver, link, checklist_markdown) = (review.approver, review.link, review.checklist);
    let mut b = String::new();
    let _ = write!(
        b,
        "<p class=\"who\">You are deciding as <strong>{}</strong> ({}). This link is yours; do not forward it.</p>",
        escape(&approver.id),
        escape(&approver.email)
    );
    let (wants, after) = crate::summary::request_words(record.kind, record.rollback);
    let _ = write!(
        b,
        "<p><strong>{}</strong> {wants} <strong>{}</strong> of <strong>{}</strong>{after}.</p><p>Commit <code>{}</code>. Expires {}. {} approval(s) needed, {} so far.</p>",
        escape(&record.pushed_by),
        escape(&record.tag),
        escape(&record.repository),
        escape(&record.sha),
        escape(&crate::summary::when(record.expires_at, now)),
        record.required_approvals,
        record.votes.iter().filter(|v| v.approve).count()
    );
    if let Some(digest) = &record.manifest_digest {
        let _ = write!(
            b,
            "<p>What you approve: manifest SHA-256 <code>{}</code> (every artifact that will deploy, hashed before this request).</p>",
            escape(digest)
        );
    }
    decided_so_far(&mut b, record);
    if !record.failed_checks.is_empty() {
        let _ = write!(
            b,
            "<p class=\"fail\">Failed checks: {}. Approving requires a reason.</p>",
            escape(&record.failed_checks.join(", "))
        );
    }
    match checklist_markdown {
        Some(md) => {
            let _ = write!(b, "<section>{}</section>", markdown::to_html(md));
        }
        None => {
            let _ = write!(b, "<p>Checklist: {}</p>", escape(&record.checklist_uri));
        }
    }
    files_section(&mut b, review.files);
    let _ = write!(
        b,
        "<form method=\"post\"><input type=\"hidden\" name=\"csrf\" value=\"{}\"><label>Reason ({}; it goes to everyone notified)<textarea name=\"reason\" maxlength=\"{MAX_REASON}\" rows=\"3\"></textarea></label>{}<button name=\"decision\" value=\"approve\">Approve</button><button name=\"decision\" value=\"reject\">Reject</button></form>",
        form_token(record, link),
        if record.failed_checks.is_empty() {
            "required to reject"
        } else {
            "required"
        },
        if record.kind == ApprovalKind::Production {
            "<label><input type=\"checkbox\" name=\"break_glass\"> Break glass: deploy outside the deployment window or during a freeze (needs a reason; two approvers must)</label>"
        } else {
            ""
        }
    );
    let title = crate::summary::subject(
        record.kind,
        record.rollback,
        &record.tag,
        &record.repository,
    );
    page(&title, &b)
}

/// The page after a decision, for a refused one, or for a store that failed.
pub fn render_outcome(outcome: &Outcome) -> String {
    match outcome {
        Ok(Ok(Decided::Approved)) => page(
            "Approved",
            "<p>The deployment continues. Everyone will be notified of the outcome.</p>",
        ),
        Ok(Ok(Decided::Rejected)) => page(
            "Rejected",
            "<p>The deployment is cancelled and everyone is notified.</p>",
        ),
        Ok(Ok(Decided::Recorded { remaining })) => page(
            "Your approval is recorded",
            &format!("<p>{remaining} more approval(s) are needed.</p>"),
        ),
        Ok(Ok(Decided::Undelivered { approve })) => page(
            if *approve {
                "Your approval is recorded"
            } else {
                "Your rejection is recorded"
            },
            "<p>It could not reach the workflow yet; stagegate keeps sending it (it retries within minutes). You do not need to do anything.</p>",
        ),
        Ok(Err(r)) => page(r.title(), &format!("<p>{}</p>", escape(&r.detail()))),
        Err(e) => page(
            "Try again in a moment",
            &format!(
                "<p>The approval store is unavailable ({}). Nothing was decided by this request.</p>",
                escape(e.name)
            ),
        ),
    }
}

#[cfg(test)]
mod tests;

//! The review page behind an emailed approval link, as HTTP: `GET` renders the
//! review (changes nothing: mail scanners and chat previews fetch links), `POST`
//! from the page's form decides. One function serves the Lambda Function URL on AWS
//! and the rehearsal's 127.0.0.1 server, so both answer every case the same way.

use crate::ports::{Approvals, Artifacts, Clock, TaskCallbacks};
use crate::settings::Settings;
use crate::steps::approval::{self, Decision, Refusal};
use crate::steps::run_id;
use crate::web::{Endpoint, WebRequest, WebResponse};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// A request to the page: method, path (`/approvals/<id>`), form body, client.
#[derive(Clone, Debug)]
pub struct PageRequest<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub body: &'a [u8],
    /// The client's address, recorded with a decision.
    pub from: String,
}

/// What to answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Page {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

const HTML: &str = "text/html; charset=utf-8";
const TEXT: &str = "text/plain; charset=utf-8";

fn html(status: u16, body: String) -> Page {
    Page {
        status,
        content_type: HTML,
        body,
    }
}

fn text(status: u16, body: impl Into<String>) -> Page {
    Page {
        status,
        content_type: TEXT,
        body: body.into(),
    }
}

/// The HTTP status of a refusal.
pub fn status_of(r: &Refusal) -> u16 {
    match r {
        Refusal::NotFound => 404,
        Refusal::Expired { .. } | Refusal::Superseded => 410,
        Refusal::AlreadyDecided { .. } | Refusal::AlreadyVoted { .. } | Refusal::Conflict => 409,
        Refusal::PusherMayNotApprove { .. } => 403,
        Refusal::ReasonRequired { .. } | Refusal::InvalidForm(_) => 400,
    }
}

/// The `approval-page` function's name.
pub const NAME: &str = "approval-page";

/// The review page: owns the approval store, the task callbacks, the artifacts (for
/// the checklist) and the clock.
pub struct ApprovalPage<Ap, C, Ar, K> {
    settings: Settings,
    approvals: Ap,
    callbacks: C,
    artifacts: Ar,
    clock: K,
}

impl<Ap: Approvals, C: TaskCallbacks, Ar: Artifacts, K: Clock> ApprovalPage<Ap, C, Ar, K> {
    pub fn new(settings: Settings, approvals: Ap, callbacks: C, artifacts: Ar, clock: K) -> Self {
        ApprovalPage {
            settings,
            approvals,
            callbacks,
            artifacts,
            clock,
        }
    }
}

/// Headers every answer of the page carries, on AWS and on 127.0.0.1 alike: review
/// pages must not be cached by proxies, framed by other sites, or leak their URL.
pub const SECURITY_HEADERS: &[(&str, &str)] = &[
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
];

impl<Ap: Approvals, C: TaskCallbacks, Ar: Artifacts, K: Clock> Endpoint
    for ApprovalPage<Ap, C, Ar, K>
{
    const NAME: &'static str = NAME;

    async fn handle(&self, request: WebRequest) -> WebResponse {
        let p = page(
            &self.settings,
            &self.approvals,
            &self.callbacks,
            &self.artifacts,
            self.clock.now(),
            PageRequest {
                method: &request.method,
                path: &request.path,
                body: &request.body,
                from: request.source_ip.clone(),
            },
        )
        .await;
        let mut response = WebResponse::new(p.status, p.content_type, p.body);
        if request.method == "HEAD" {
            response.body.clear();
        }
        response.headers.extend(
            SECURITY_HEADERS
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        response
    }
}

/// Answers one request. Port failures become a 503 that names the failing call
/// but never the link id or the task token.
async fn page(
    settings: &Settings,
    approvals: &impl Approvals,
    callbacks: &impl TaskCallbacks,
    artifacts: &impl Artifacts,
    now: DateTime<Utc>,
    req: PageRequest<'_>,
) -> Page {
    let path = req.path.split('?').next().unwrap_or_default();
    let Some(id) = path.strip_prefix("/approvals/") else {
        return text(404, "not found");
    };
    match req.method {
        "GET" | "HEAD" => match approval::review(approvals, now, id).await {
            Ok(Ok(record)) => {
                let key = format!("runs/{}/checklist.md", run_id(&record.execution_id));
                let md = artifacts
                    .get(&key)
                    .await
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned());
                html(200, approval::render_review(&record, md.as_deref()))
            }
            Ok(Err(refusal)) => html(status_of(&refusal), approval::render_outcome(&Err(refusal))),
            Err(e) => text(
                503,
                format!("the approval store is unavailable: {}", e.name),
            ),
        },
        "POST" => {
            let form: BTreeMap<String, String> = parse_form(req.body).into_iter().collect();
            let approve = match form.get("decision").map(String::as_str) {
                Some("approve") => true,
                Some("reject") => false,
                _ => {
                    let refusal = Refusal::InvalidForm("Choose Approve or Reject.".into());
                    return html(400, approval::render_outcome(&Err(refusal)));
                }
            };
            let decision = Decision {
                approver: form.get("approver").cloned().unwrap_or_default(),
                approve,
                reason: form.get("reason").cloned(),
                from: req.from,
            };
            match approval::decide(settings, approvals, callbacks, now, id, decision).await {
                Ok(outcome) => {
                    let status = outcome.as_ref().err().map(status_of).unwrap_or(200);
                    html(status, approval::render_outcome(&outcome))
                }
                Err(e) => text(
                    503,
                    format!("the decision could not be recorded: {}; try again", e.name),
                ),
            }
        }
        _ => text(405, "use GET to review and POST to decide"),
    }
}

/// Decodes `application/x-www-form-urlencoded`.
pub fn parse_form(body: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(body);
    text.split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (decode(k), decode(v))
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match u8::from_str_radix(
                    std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("zz"),
                    16,
                ) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryApprovals;
    use crate::steps::approval::hash_id;
    use crate::testing::{now, pending_record};
    use crate::testing::{MemoryArtifacts, MemoryCallbacks};

    struct Site {
        approvals: MemoryApprovals,
        callbacks: MemoryCallbacks,
        artifacts: MemoryArtifacts,
        id: String,
    }

    impl Site {
        async fn new() -> Self {
            let id = "A".repeat(43);
            let approvals = MemoryApprovals::default();
            approvals
                .create(&pending_record(&hash_id(&id), "rc-1.4.0", "tok-1"))
                .await
                .unwrap();
            Site {
                approvals,
                callbacks: MemoryCallbacks::default(),
                artifacts: MemoryArtifacts::default(),
                id,
            }
        }
        async fn call(&self, method: &str, path: &str, body: &str) -> Page {
            page(
                &Settings::default(),
                &self.approvals,
                &self.callbacks,
                &self.artifacts,
                now(),
                PageRequest {
                    method,
                    path,
                    body: body.as_bytes(),
                    from: "198.51.100.1".into(),
                },
            )
            .await
        }
        fn link(&self) -> String {
            format!("/approvals/{}", self.id)
        }
    }

    #[tokio::test]
    async fn get_renders_the_review_and_decides_nothing() {
        let site = Site::new().await;
        let p = site.call("GET", &site.link(), "").await;
        assert_eq!((p.status, p.content_type), (200, HTML));
        assert!(p.body.contains("rc-1.4.0"), "{}", p.body);
        assert!(
            !p.body.contains("tok-1"),
            "the task token never reaches the page"
        );
        assert!(site.callbacks.successes().is_empty() && site.callbacks.failures().is_empty());
    }

    #[tokio::test]
    async fn post_decides_once() {
        let site = Site::new().await;
        let form = "approver=bob%40example.com&decision=approve";
        assert_eq!(site.call("POST", &site.link(), form).await.status, 200);
        assert_eq!(site.callbacks.successes().len(), 1);
        assert_eq!(site.call("POST", &site.link(), form).await.status, 409);
        assert_eq!(site.callbacks.successes().len(), 1);
    }

    #[tokio::test]
    async fn a_form_without_a_decision_is_a_bad_request() {
        let site = Site::new().await;
        let p = site.call("POST", &site.link(), "approver=bob").await;
        assert_eq!(p.status, 400);
        assert!(p.body.contains("Choose Approve or Reject"));
    }

    #[tokio::test]
    async fn unknown_links_paths_and_methods_are_refused() {
        let site = Site::new().await;
        let other = format!("/approvals/{}", "B".repeat(43));
        assert_eq!(site.call("GET", &other, "").await.status, 404);
        assert_eq!(site.call("GET", "/approvals/short", "").await.status, 404);
        assert_eq!(site.call("GET", "/", "").await.status, 404);
        assert_eq!(site.call("DELETE", &site.link(), "").await.status, 405);
    }

    #[test]
    fn decodes_forms() {
        let f = parse_form(b"approver=bob%40example.com&decision=approve&reason=lint+only%21&x");
        assert_eq!(f[0], ("approver".into(), "bob@example.com".into()));
        assert_eq!(f[2], ("reason".into(), "lint only!".into()));
        assert_eq!(f[3], ("x".into(), String::new()));
        assert_eq!(parse_form(b"a=%zz%4")[0].1, "%zz%4");
    }
}

//! The review page as HTTP: GET reviews, POST decides, and only from the page.

use super::*;
use crate::links::hash_id;
use crate::ports::{ApprovalState, Link};
use crate::testing::{
    approvers, now, pending_record, FixedClock, MemoryArtifacts, MemoryRuns, MemoryTable,
};
use chrono::Duration;
use sha2::{Digest, Sha256};

/// An answer, read back: status, body, headers.
struct Answer {
    status: u16,
    body: String,
    headers: http::HeaderMap,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

const ORIGIN: &str = "https://abc.lambda-url.us-east-1.on.aws";

struct Site {
    approvals: MemoryTable,
    callbacks: MemoryRuns,
    artifacts: MemoryArtifacts,
    /// bob's and carol's link ids.
    bob: String,
    carol: String,
}

impl Site {
    async fn new() -> Self {
        let (bob, carol) = ("B".repeat(43), "C".repeat(43));
        let approvals = MemoryTable::with_approvers(approvers());
        let record = pending_record("appr-1", "rc-1.4.0", "tok-1");
        let link = |id: &str, who: &str| Link {
            id_hash: hash_id(id),
            approval_id: record.id.clone(),
            approver_id: who.into(),
            expires_at: record.expires_at,
        };
        approvals
            .create(&record, &[link(&bob, "bob"), link(&carol, "carol")])
            .await
            .unwrap();
        Site {
            approvals,
            callbacks: MemoryRuns::default(),
            artifacts: MemoryArtifacts::default(),
            bob,
            carol,
        }
    }

    fn page(&self) -> ApprovalPage<MemoryTable, MemoryRuns, MemoryArtifacts, FixedClock> {
        ApprovalPage {
            settings: Settings::default(),
            store: self.approvals.clone(),
            runs: self.callbacks.clone(),
            artifacts: self.artifacts.clone(),
            clock: FixedClock(now() + Duration::minutes(5)),
        }
    }

    fn token(&self, link_id: &str) -> String {
        let record = self.approvals.records().pop().unwrap();
        let link = self
            .approvals
            .links()
            .into_iter()
            .find(|l| l.id_hash == hash_id(link_id))
            .unwrap();
        form_token(&record, &link)
    }

    async fn call(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Answer {
        let mut request = http::Request::builder().method(method).uri(path);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let mut request = request.body(body.as_bytes().to_vec()).unwrap();
        request.extensions_mut().insert(Peer {
            source_ip: "198.51.100.1".into(),
            origin: ORIGIN.into(),
        });
        let response = self.page().handle(request).await;
        Answer {
            status: response.status().as_u16(),
            headers: response.headers().clone(),
            body: response.into_body(),
        }
    }

    /// A POST as the review page's form sends it: same origin, with its token.
    async fn post(&self, link_id: &str, form: &str) -> Answer {
        let body = format!("csrf={}&{form}", self.token(link_id));
        self.call(
            "POST",
            &format!("/approvals/{link_id}"),
            &[("origin", ORIGIN), ("sec-fetch-site", "same-origin")],
            &body,
        )
        .await
    }
}

/// What a page shows besides the record, without files.
fn review<'a>(approver: &'a Approver, link: &'a Link, checklist: Option<&'a str>) -> Review<'a> {
    Review {
        approver,
        link,
        checklist,
        files: &[],
    }
}

fn decided(site: &Site) -> usize {
    site.callbacks.successes().len() + site.callbacks.failures().len()
}

#[tokio::test]
async fn the_review_names_the_manifest_digest() {
    let site = Site::new().await;
    let r = site
        .call("GET", &format!("/approvals/{}", site.carol), &[], "")
        .await;
    assert_eq!(r.status, 200);
    // The record's digest (the fixture's), as the approver decides on it.
    let digest = "5e".repeat(32);
    assert!(
        r.body
            .contains(&format!("manifest SHA-256 <code>{digest}</code>")),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn get_renders_the_review_for_the_links_approver_and_decides_nothing() {
    let site = Site::new().await;
    let r = site
        .call("GET", &format!("/approvals/{}", site.carol), &[], "")
        .await;
    assert_eq!(r.status, 200);
    assert!(
        r.body
            .contains("You are deciding as <strong>carol</strong>"),
        "{}",
        r.body
    );
    assert!(r.body.contains("rc-1.4.0"));
    assert!(
        !r.body.contains("tok-1"),
        "the task token never reaches the page"
    );
    assert!(
        !r.body.contains("name=\"approver\""),
        "there is no name field to type"
    );
    assert!(r.body.contains(&format!(
        "name=\"csrf\" value=\"{}\"",
        site.token(&site.carol)
    )));
    assert!(
        !r.body.contains("<script"),
        "the page works without JavaScript"
    );
    assert_eq!(decided(&site), 0);
}

#[tokio::test]
async fn post_from_the_page_decides_once_as_the_links_approver() {
    let site = Site::new().await;
    // A typed name is ignored: there is no such field, the link decides who.
    let r = site
        .post(&site.bob, "approver=carol&decision=approve")
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(site.approvals.records()[0].votes[0].approver, "bob");
    assert_eq!(site.callbacks.successes().len(), 1);
    let again = site.post(&site.bob, "decision=approve").await;
    assert_eq!(again.status, 409);
    assert_eq!(decided(&site), 1);
}

#[tokio::test]
async fn a_post_without_its_token_or_with_a_wrong_one_is_refused() {
    let site = Site::new().await;
    let path = format!("/approvals/{}", site.bob);
    let same = [("origin", ORIGIN)];
    for body in [
        "decision=approve".to_string(),
        "csrf=&decision=approve".to_string(),
        format!("csrf={}&decision=approve", "0".repeat(64)),
        format!("csrf={}&decision=approve", site.token(&site.carol)),
    ] {
        let r = site.call("POST", &path, &same, &body).await;
        assert_eq!(r.status, 403, "{body}: {}", r.body);
    }
    assert_eq!(decided(&site), 0);
    assert!(site.approvals.records()[0].votes.is_empty());
}

#[tokio::test]
async fn a_post_from_a_foreign_origin_or_from_nowhere_is_refused() {
    let site = Site::new().await;
    let path = format!("/approvals/{}", site.bob);
    let body = format!("csrf={}&decision=approve", site.token(&site.bob));
    for headers in [
        vec![("origin", "https://evil.example")],
        vec![("origin", "null")],
        vec![("origin", "http://abc.lambda-url.us-east-1.on.aws")],
        vec![("sec-fetch-site", "cross-site")],
        vec![("sec-fetch-site", "same-site")],
        vec![],
    ] {
        let r = site.call("POST", &path, &headers, &body).await;
        assert_eq!(r.status, 403, "{headers:?}: {}", r.body);
    }
    assert_eq!(decided(&site), 0);
    assert_eq!(
        site.call(
            "POST",
            &path,
            &[("origin", "null"), ("sec-fetch-site", "cross-site")],
            &body
        )
        .await
        .status,
        403
    );
    // The page's own form under `Referrer-Policy: no-referrer`: Chromium sends
    // `Origin: null` and `Sec-Fetch-Site: same-origin`.
    let r = site
        .call(
            "POST",
            &path,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
            &body,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_head_has_no_body() {
    let site = Site::new().await;
    let link = format!("/approvals/{}", site.bob);
    for (method, path) in [
        ("GET", link.as_str()),
        ("HEAD", link.as_str()),
        ("GET", "/"),
        ("GET", "/approvals/unknown"),
        ("DELETE", link.as_str()),
        ("POST", link.as_str()),
    ] {
        let r = site.call(method, path, &[], "").await;
        for (k, v) in security_headers() {
            assert_eq!(r.header(&k), Some(v.as_str()), "{method} {path}: {k}");
        }
        if method == "HEAD" {
            assert_eq!((r.status, r.body.as_str()), (200, ""));
        }
    }
    let csp = content_security_policy();
    assert!(csp.contains("default-src 'none'") && !csp.contains("unsafe-inline"));
    assert!(!csp.contains("script-src"), "no script is allowed at all");
}

#[tokio::test]
async fn the_csp_allows_exactly_the_pages_style() {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    assert!(content_security_policy().contains(&format!("'sha256-{hash}'")));
    assert!(page("t", "").contains(&format!("<style>{STYLE}</style>")));
}

#[tokio::test]
async fn a_form_without_a_decision_is_a_bad_request() {
    let site = Site::new().await;
    let r = site.post(&site.bob, "reason=hmm").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Choose Approve or Reject"));
}

#[tokio::test]
async fn unknown_links_paths_and_methods_are_refused() {
    let site = Site::new().await;
    let other = format!("/approvals/{}", "D".repeat(43));
    assert_eq!(site.call("GET", &other, &[], "").await.status, 404);
    assert_eq!(
        site.call("GET", "/approvals/short", &[], "").await.status,
        404
    );
    assert_eq!(site.call("GET", "/", &[], "").await.status, 404);
    let r = site
        .call("DELETE", &format!("/approvals/{}", site.bob), &[], "")
        .await;
    assert_eq!(r.status, 405);
    assert_eq!(r.header("allow"), Some("GET, HEAD, POST"));
}

#[tokio::test]
async fn a_superseded_approval_gets_its_own_page() {
    let site = Site::new().await;
    let rec = site.approvals.records().pop().unwrap();
    let mut sup = rec.clone();
    sup.revision += 1;
    sup.state = ApprovalState::Superseded;
    site.approvals.update(&rec, &sup).await.unwrap();
    let r = site
        .call("GET", &format!("/approvals/{}", site.bob), &[], "")
        .await;
    assert_eq!(r.status, 410);
    assert!(r
        .body
        .contains("A newer release candidate replaced this one"));
}

#[test]
fn pages_escape_everything_they_show() {
    let mut rec = pending_record("a", "rc-1.4.0", "t");
    rec.pushed_by = "<script>alert(1)</script>".into();
    let approver = rec.approvers[0].clone();
    let link = Link {
        id_hash: "h".into(),
        approval_id: "a".into(),
        approver_id: approver.id.clone(),
        expires_at: rec.expires_at,
    };
    let html = render_review(
        &rec,
        &review(&approver, &link, Some("<b>md</b>")),
        rec.created_at,
    );
    assert!(!html.contains("<script>alert"));
    assert!(html.contains("&lt;script&gt;"));
    assert!(html.contains("&lt;b&gt;md"));
    assert!(html.contains("<form method=\"post\">"));
    let refused = render_outcome(&Ok(Err(Refusal::InvalidForm("<x>".into()))));
    assert!(refused.contains("&lt;x&gt;"));
}

#[test]
fn decodes_forms() {
    let f = parse_form(b"csrf=ab&decision=approve&reason=lint+only%21&x");
    assert_eq!(f[0], ("csrf".into(), "ab".into()));
    assert_eq!(f[2], ("reason".into(), "lint only!".into()));
    assert_eq!(f[3], ("x".into(), String::new()));
    assert_eq!(parse_form(b"a=%zz%4")[0].1, "%zz%4");
    // A sign is not a hex digit: `%+1` stays as written, not byte 1.
    assert_eq!(parse_form(b"a=%+1%2b")[0].1, "% 1+");
}

/// A production approval's page: what is promoted, who already decided (escaped),
/// and the break-glass box; a staging approval's has no break-glass box.
#[test]
fn a_production_page_says_promote_shows_who_decided_and_offers_break_glass() {
    let mut rec = pending_record("a", "v1.4.0", "t");
    rec.kind = ApprovalKind::Production;
    rec.votes.push(crate::ports::Vote {
        reason: Some("<i>CVE</i> fix".into()),
        break_glass: true,
        ..crate::testing::vote("dana", true)
    });
    let approver = rec.approvers[1].clone();
    let link = Link {
        id_hash: "h".into(),
        approval_id: "a".into(),
        approver_id: approver.id.clone(),
        expires_at: rec.expires_at,
    };
    let html = render_review(
        &rec,
        &review(&approver, &link, Some("## What staging proved")),
        rec.created_at,
    );
    assert!(
        html.contains("wants to promote <strong>v1.4.0</strong>"),
        "{html}"
    );
    assert!(
        html.contains("to production (the objects staging proved, not a rebuild)"),
        "{html}"
    );
    assert!(html.contains("<h2>Decided so far</h2>"), "{html}");
    assert!(
        html.contains("<strong>dana</strong> approved, breaking the glass (email link,"),
        "{html}"
    );
    assert!(
        html.contains("&lt;i&gt;CVE&lt;/i&gt; fix") && !html.contains("<i>CVE"),
        "{html}"
    );
    assert!(html.contains("name=\"break_glass\""), "{html}");
    rec.kind = ApprovalKind::Deployment;
    let staging = render_review(&rec, &review(&approver, &link, None), rec.created_at);
    assert!(
        !staging.contains("break_glass") && staging.contains("to staging"),
        "{staging}"
    );
    // A rollback on request says so, in the title and the sentence.
    rec.rollback = true;
    let back = render_review(&rec, &review(&approver, &link, None), rec.created_at);
    assert!(
        back.contains("<title>Roll staging back to v1.4.0 of acme/shop?</title>"),
        "{back}"
    );
    assert!(
        back.contains("wants to roll staging back to <strong>v1.4.0</strong>"),
        "{back}"
    );
}

mod files;

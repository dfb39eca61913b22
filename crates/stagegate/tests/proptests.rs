//! Property tests of everything that parses what strangers send: approval links and
//! forms (the review page), webhook deliveries, triggers. Whatever the input, the
//! answer is a response or a named error, never a panic, and nothing is decided
//! without the link's own token from the page's own origin.
//!
//! `PROPTEST_CASES` sets the number of cases (256 by default); the longer run and its
//! figures are in `docs/security.md`.

use proptest::prelude::*;
use stagegate::links::{form_token, hash_id, is_link_id};
use stagegate::ports::{Approvals, Events, Link, PortResult, Secrets, Trigger};
use stagegate::step::{Endpoint, Peer, WebRequest};
use stagegate::steps::approval_page::{parse_form, ApprovalPage};
use stagegate::steps::webhook::{sign, Delivery, Webhook};
use stagegate::testing::{
    approvers, now, pending_record, FixedClock, MemoryArtifacts, MemoryRuns, MemoryTable,
};
use stagegate::Settings;
use std::sync::Arc;

const SECRET: &str = "proptest-secret";
const ORIGIN: &str = "https://abc.lambda-url.us-east-1.on.aws";
const STATUSES: &[u16] = &[200, 202, 400, 403, 404, 405, 409, 410, 503];

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
}

struct Secret;
impl Secrets for Secret {
    async fn webhook_secret(&self) -> PortResult<String> {
        Ok(SECRET.into())
    }
}

#[derive(Clone, Default)]
struct Bus(Arc<std::sync::Mutex<u32>>);
impl Events for Bus {
    async fn candidate_tagged(&self, _: &Trigger) -> PortResult<()> {
        *self.0.lock().unwrap_or_else(|p| p.into_inner()) += 1;
        Ok(())
    }
}

/// A page over one pending approval; bob's link id is all `B`s.
async fn site() -> (MemoryTable, MemoryRuns, MemoryArtifacts, String) {
    let approvals = MemoryTable::with_approvers(approvers());
    let record = pending_record("appr-1", "rc-1.4.0", "tok-1");
    let id = "B".repeat(43);
    let link = Link {
        id_hash: hash_id(&id),
        approval_id: record.id.clone(),
        approver_id: "bob".into(),
        expires_at: record.expires_at,
    };
    // A set-up that fails is a failed test, never a silently empty site.
    approvals
        .create(&record, &[link])
        .await
        .expect("the site's approval and link are stored");
    (
        approvals,
        MemoryRuns::default(),
        MemoryArtifacts::default(),
        id,
    )
}

/// The page over `site`'s ports.
fn page(
    approvals: &MemoryTable,
    runs: &MemoryRuns,
    artifacts: &MemoryArtifacts,
) -> ApprovalPage<MemoryTable, MemoryRuns, MemoryArtifacts, FixedClock> {
    ApprovalPage {
        settings: Settings::default(),
        store: approvals.clone(),
        runs: runs.clone(),
        artifacts: artifacts.clone(),
        clock: FixedClock(now()),
    }
}

/// A request as a server hands it to the endpoint. What HTTP cannot carry (a method
/// that is not a token, a header name or value with control characters) never
/// reaches an endpoint: such a method becomes `X`, such a header is left out, and
/// the path is percent-encoded as a client would send it.
fn request(method: &str, path: &str, headers: &[(String, String)], body: &str) -> WebRequest {
    let encoded: String = path
        .bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'/' | b'-' | b'_' | b'.' | b'~' => {
                char::from(b).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    let mut req = http::Request::new(body.as_bytes().to_vec());
    *req.method_mut() = http::Method::from_bytes(method.as_bytes())
        .unwrap_or_else(|_| http::Method::from_bytes(b"X").unwrap_or_default());
    *req.uri_mut() = format!("/{}", encoded.trim_start_matches('/'))
        .parse()
        .unwrap_or_default();
    for (k, v) in headers {
        if let (Ok(k), Ok(v)) = (
            http::HeaderName::from_bytes(k.as_bytes()),
            http::HeaderValue::from_str(v),
        ) {
            req.headers_mut().append(k, v);
        }
    }
    req.extensions_mut().insert(Peer {
        source_ip: "198.51.100.1".into(),
        origin: ORIGIN.into(),
    });
    req
}

fn header() -> impl Strategy<Value = (String, String)> {
    (
        prop_oneof![
            Just("origin".to_string()),
            Just("sec-fetch-site".to_string()),
            Just("content-type".to_string()),
            "[a-z-]{1,20}",
        ],
        prop_oneof![
            Just(ORIGIN.to_string()),
            Just("same-origin".to_string()),
            Just("null".to_string()),
            ".{0,80}",
        ],
    )
}

proptest! {
    #[test]
    fn form_parsing_never_panics(body in proptest::collection::vec(any::<u8>(), 0..2048)) {
        let pairs = parse_form(&body);
        prop_assert!(pairs.len() <= body.len() + 1);
    }

    #[test]
    fn a_link_id_is_exactly_43_url_safe_characters(id in ".{0,60}") {
        let ok = id.len() == 43
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        prop_assert_eq!(is_link_id(&id), ok);
    }

    /// Any method, path, headers and body: a page with a known status, and a decision
    /// only for bob's link, with bob's token, from the page's origin.
    #[test]
    fn the_review_page_answers_anything_without_panicking(
        method in prop_oneof![Just("GET".to_string()), Just("POST".to_string()), Just("HEAD".to_string()), "[A-Z]{0,8}"],
        path in prop_oneof![
            Just(format!("/approvals/{}", "B".repeat(43))),
            "/approvals/[A-Za-z0-9_-]{0,50}",
            ".{0,100}",
        ],
        headers in proptest::collection::vec(header(), 0..4),
        body in prop_oneof![
            Just("decision=approve".to_string()),
            Just("decision=reject&reason=no".to_string()),
            "(csrf=[0-9a-f]{0,64}&)?(decision=[a-z]{0,8})?(&reason=.{0,40})?",
            ".{0,300}",
        ],
    ) {
        let rt = runtime();
        let (status, decided) = rt.block_on(async {
            let (approvals, callbacks, artifacts, _) = site().await;
            let r = page(&approvals, &callbacks, &artifacts)
                .handle(request(&method, &path, &headers, &body))
                .await;
            (r.status().as_u16(), callbacks.successes().len() + callbacks.failures().len())
        });
        prop_assert!(STATUSES.contains(&status), "status {status}");
        // Nothing random carries bob's form token, so nothing random decides.
        prop_assert_eq!(decided, 0);
    }

    /// With bob's real token and the page's origin, whatever else the form holds:
    /// exactly one decision when the form is a valid one (approve, or reject with a
    /// reason), none otherwise, however often it is posted.
    #[test]
    fn a_real_form_with_any_extra_fields_decides_exactly_once_when_valid(
        extra in "(&x[a-z]{0,7}=[^&]{0,40}){0,4}",
        decision in prop_oneof![Just("approve".to_string()), Just("reject".to_string()), "[a-z]{0,8}"],
        reason in "[a-z ]{0,50}",
    ) {
        let rt = runtime();
        let (status, decided) = rt.block_on(async {
            let (approvals, callbacks, artifacts, id) = site().await;
            let record = approvals.records().pop().expect("site() stored the approval");
            let link = approvals.links().pop().expect("site() stored bob's link");
            let token = form_token(&record, &link);
            let body = format!("csrf={token}&decision={decision}&reason={reason}{extra}");
            let page = page(&approvals, &callbacks, &artifacts);
            let origin = [("origin".to_string(), ORIGIN.to_string())];
            let mut status = 0;
            for _ in 0..2 {
                let path = format!("/approvals/{id}");
                status = page
                    .handle(request("POST", &path, &origin, &body))
                    .await
                    .status()
                    .as_u16();
            }
            (status, callbacks.successes().len() + callbacks.failures().len())
        });
        prop_assert!(STATUSES.contains(&status));
        let valid = decision == "approve" || (decision == "reject" && !reason.trim().is_empty());
        prop_assert_eq!(decided, usize::from(valid), "decision {} reason {:?}", decision, reason);
    }

    /// Any delivery, signed or not: an answer, and an event only for a signed push of
    /// a valid candidate tag.
    #[test]
    fn the_webhook_answers_any_delivery_without_panicking(
        body in prop_oneof![
            Just(format!(r#"{{"ref":"refs/tags/rc-1.4.0","after":"0123456789abcdef0123456789abcdef01234567","repository":{{"full_name":"acme/shop","pushed_at":{}}},"sender":{{"login":"ana"}}}}"#, now().timestamp())),
            "\\{\"ref\":\"refs/(tags|heads)/[a-z0-9.-]{0,12}\",\"after\":\"[0-9a-f]{0,40}\",\"repository\":\\{\"full_name\":\"[a-z/]{0,12}\"\\}\\}",
            ".{0,400}",
        ],
        signed in any::<bool>(),
        event in prop_oneof![Just("push".to_string()), Just("ping".to_string()), "[a-z_]{0,10}"],
        extra in proptest::collection::vec(header(), 0..3),
    ) {
        let rt = runtime();
        let (status, published) = rt.block_on(async {
            let bus = Bus::default();
            let mut headers = vec![
                ("x-github-event".to_string(), event.to_string()),
                ("x-github-delivery".to_string(), "d-1".to_string()),
            ];
            if signed {
                headers.push(("x-hub-signature-256".into(), sign(SECRET.as_bytes(), body.as_bytes())));
            }
            headers.extend(extra.clone());
            let hook = Webhook {
                settings: Settings { repository: Some("acme/shop".into()), ..Settings::default() },
                secret: Secret,
                store: MemoryTable::default(),
                events: bus.clone(),
                clock: FixedClock(now()),
            };
            let answer = hook
                .deliver(&Delivery { headers, body: body.clone().into_bytes() })
                .await;
            let published = *bus.0.lock().unwrap_or_else(|p| p.into_inner());
            (answer.status, published)
        });
        prop_assert!([200u16, 202, 400, 401, 403, 413, 422, 500, 502, 503].contains(&status), "{status}");
        if published > 0 {
            prop_assert!(signed && event == "push");
        }
    }

    #[test]
    fn trigger_validation_never_panics(
        repository in ".{0,60}",
        tag in prop_oneof!["rc-[0-9.a-z-]{0,20}", ".{0,30}"],
        sha in prop_oneof!["[0-9a-f]{40}", ".{0,45}"],
        pushed_by in proptest::option::of(".{0,40}"),
    ) {
        let t = Trigger { repository, tag, sha, pushed_by, pusher: None, rollback: false };
        if let Err(e) = t.validate("rc-") {
            prop_assert_eq!(e.name, "InvalidCandidate");
        }
    }
}

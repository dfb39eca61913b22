//! [`SourceHistory`] and [`Releases`] on the GitHub REST API, over any [`Http`].
//!
//! History works without a token for public repositories (GitHub allows 60
//! unauthenticated requests an hour, and a release needs three); private
//! repositories and the prerelease need a token with `contents: write`. Without a
//! token, [`Releases::publish_prerelease`] returns `None`: release notes are still
//! written to the artifacts.

use serde::Deserialize;
use serde_json::{json, Value};
use stagegate::error::PortError;
use stagegate::ports::{Commit, Http, HttpRequest, PortResult, Release, Releases, SourceHistory};
use std::future::Future;

const API: &str = "https://api.github.com";
/// Pages of 100 tags read when looking for the previous candidate.
const TAG_PAGES: u32 = 5;

/// Where the GitHub token comes from. Read when a request needs it, not when the
/// client is built: on AWS it is a Secrets Manager secret, and a Lambda's init does no
/// network work that can wait for the first invocation (docs/performance.md).
pub trait Token: Send + Sync {
    /// The token; empty means none.
    fn token(&self) -> impl Future<Output = PortResult<String>> + Send;
}

/// A token known up front (tests, the CLI).
impl Token for String {
    async fn token(&self) -> PortResult<String> {
        Ok(self.clone())
    }
}

pub struct GitHub<H, T = String> {
    http: H,
    api: String,
    repository: String,
    tag_prefix: String,
    token: Option<T>,
}

impl<H: Http, T: Token> GitHub<H, T> {
    /// `token`: `None` when none is configured (public history, no prerelease).
    pub fn new(http: H, repository: &str, tag_prefix: &str, token: Option<T>) -> Self {
        GitHub {
            http,
            api: API.to_string(),
            repository: repository.to_string(),
            tag_prefix: tag_prefix.to_string(),
            token,
        }
    }

    /// The configured token's value, `None` when none is configured or it is empty.
    async fn token(&self) -> PortResult<Option<String>> {
        match &self.token {
            Some(t) => Ok(Some(t.token().await?).filter(|t| !t.trim().is_empty())),
            None => Ok(None),
        }
    }

    /// Another API root (GitHub Enterprise Server: `https://HOST/api/v3`; tests).
    pub fn with_api(mut self, api: &str) -> Self {
        self.api = api.trim_end_matches('/').to_string();
        self
    }

    async fn call(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> PortResult<(u16, Value)> {
        let url = format!("{}/repos/{}{path}", self.api, self.repository);
        let mut headers = vec![
            (
                "accept".to_string(),
                "application/vnd.github+json".to_string(),
            ),
            ("x-github-api-version".to_string(), "2022-11-28".to_string()),
        ];
        if let Some(t) = self.token().await? {
            headers.push(("authorization".to_string(), format!("Bearer {t}")));
        }
        if body.is_some() {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        let res = self
            .http
            .send(&HttpRequest {
                method: method.to_string(),
                url: url.clone(),
                headers,
                body: body.map(|b| b.to_string()),
            })
            .await?;
        let value = if res.body.trim().is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&res.body).map_err(|e| {
                PortError::new(
                    format!("{method} {url}"),
                    format!("not JSON (status {}): {e}", res.status),
                )
            })?
        };
        Ok((res.status, value))
    }

    async fn expect_ok(&self, method: &str, path: &str, body: Option<Value>) -> PortResult<Value> {
        let (status, value) = self.call(method, path, body).await?;
        if (200..300).contains(&status) {
            return Ok(value);
        }
        let message = value
            .get("message")
            .and_then(Value::as_str)
            .unwrap_or("no message");
        Err(PortError::http(
            format!("GitHub {method} /repos/{}{path}", self.repository),
            status,
            format!("{status}: {message}"),
        ))
    }
}

#[derive(Deserialize)]
struct Tag {
    name: String,
}

#[derive(Deserialize)]
struct ApiCommit {
    sha: String,
    commit: CommitBody,
}

#[derive(Deserialize)]
struct CommitBody {
    message: String,
    author: Option<Author>,
}

#[derive(Deserialize)]
struct Author {
    name: String,
}

fn parse<T: for<'de> Deserialize<'de>>(what: &str, v: Value) -> PortResult<T> {
    serde_json::from_value(v)
        .map_err(|e| PortError::new(what, format!("unexpected GitHub answer: {e}")))
}

fn commit(c: ApiCommit) -> Commit {
    Commit {
        sha: c.sha,
        subject: c
            .commit
            .message
            .lines()
            .next()
            .unwrap_or_default()
            .to_string(),
        author: c.commit.author.map(|a| a.name).unwrap_or_default(),
    }
}

impl<H: Http, T: Token> SourceHistory for GitHub<H, T> {
    async fn previous_candidate(&self, tag: &str) -> PortResult<Option<String>> {
        let mut names = Vec::new();
        for page in 1..=TAG_PAGES {
            let v = self
                .expect_ok("GET", &format!("/tags?per_page=100&page={page}"), None)
                .await?;
            let tags: Vec<Tag> = parse("list tags", v)?;
            let last = tags.len() < 100;
            names.extend(tags.into_iter().map(|t| t.name));
            if last {
                break;
            }
        }
        Ok(stagegate::candidate::previous_candidate(
            names.iter().map(String::as_str),
            tag,
            &self.tag_prefix,
        ))
    }

    async fn commits(&self, from: Option<&str>, to: &str) -> PortResult<Vec<Commit>> {
        let list: Vec<ApiCommit> = match from {
            Some(from) => {
                let v = self
                    .expect_ok("GET", &format!("/compare/{from}...{to}"), None)
                    .await?;
                parse("compare", v.get("commits").cloned().unwrap_or(Value::Null))?
            }
            None => {
                let v = self
                    .expect_ok("GET", &format!("/commits?sha={to}&per_page=100"), None)
                    .await?;
                parse("list commits", v)?
            }
        };
        // Compare lists oldest first; notes read newest first, like `git log`.
        let mut out: Vec<Commit> = list.into_iter().map(commit).collect();
        if from.is_some() {
            out.reverse();
        }
        Ok(out)
    }
}

impl<H: Http, T: Token> Releases for GitHub<H, T> {
    async fn publish_prerelease(&self, r: &Release<'_>) -> PortResult<Option<String>> {
        if self.token().await?.is_none() {
            return Ok(None);
        }
        let body = json!({"name": r.title, "body": r.notes, "prerelease": true});
        self.upsert_release(r.tag, body).await
    }

    async fn publish_release(&self, r: &Release<'_>) -> PortResult<Option<String>> {
        if self.token().await?.is_none() {
            return Ok(None);
        }
        let body = json!({"name": r.title, "body": r.notes, "prerelease": false,
                          "make_latest": "true", "target_commitish": r.commit});
        self.upsert_release(r.tag, body).await
    }
}

impl<H: Http, T: Token> GitHub<H, T> {
    /// Updates the release of `tag` with `body`, or creates it (and the tag, at
    /// `target_commitish` when given); its URL.
    async fn upsert_release(&self, tag: &str, body: Value) -> PortResult<Option<String>> {
        let (status, existing) = self
            .call("GET", &format!("/releases/tags/{tag}"), None)
            .await?;
        let release = match status {
            200 => {
                let id = existing.get("id").and_then(Value::as_u64).ok_or_else(|| {
                    PortError::new(
                        "read the release",
                        "GitHub returned a release without an id",
                    )
                })?;
                self.expect_ok("PATCH", &format!("/releases/{id}"), Some(body))
                    .await?
            }
            404 => {
                let mut create = body;
                create["tag_name"] = json!(tag);
                self.expect_ok("POST", "/releases", Some(create)).await?
            }
            other => {
                return Err(PortError::http(
                    format!("GitHub GET /repos/{}/releases/tags/{tag}", self.repository),
                    other,
                    format!(
                        "{other}: {}",
                        existing
                            .get("message")
                            .and_then(Value::as_str)
                            .unwrap_or("no message")
                    ),
                ))
            }
        };
        Ok(release
            .get("html_url")
            .and_then(Value::as_str)
            .map(str::to_string))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate::testing::MemoryHttp;

    /// A release of `tag` at commit `abc123`, titled `title`, with `notes`.
    fn rel<'a>(tag: &'a str, title: &'a str, notes: &'a str) -> Release<'a> {
        Release {
            tag,
            commit: "abc123",
            title,
            notes,
        }
    }

    fn gh(http: MemoryHttp, token: Option<&str>) -> GitHub<MemoryHttp> {
        GitHub::new(http, "acme/shop", "rc-", token.map(str::to_string))
    }

    /// GitHub's API, answering 404 Not Found at `url`.
    fn not_found(url: &str) -> MemoryHttp {
        let http = MemoryHttp::default();
        http.route(url, 404, r#"{"message":"Not Found"}"#);
        http
    }

    #[tokio::test]
    async fn the_previous_candidate_comes_from_the_tags() {
        let http = MemoryHttp::default();
        http.route(
            "https://api.github.com/repos/acme/shop/tags?per_page=100&page=1",
            200,
            r#"[{"name":"rc-1.10.0"},{"name":"rc-1.9.0"},{"name":"v1.8.0"},{"name":"rc-1.11.0"}]"#,
        );
        let g = gh(http, None);
        assert_eq!(
            g.previous_candidate("rc-1.11.0").await.unwrap().as_deref(),
            Some("rc-1.10.0")
        );
    }

    #[tokio::test]
    async fn commits_between_candidates_are_newest_first_with_subjects_only() {
        let http = MemoryHttp::default();
        http.route(
            "https://api.github.com/repos/acme/shop/compare/rc-1.3.0...abc",
            200,
            r#"{"commits":[
                {"sha":"1","commit":{"message":"Older\n\nbody","author":{"name":"ana"}}},
                {"sha":"2","commit":{"message":"Newer","author":{"name":"bo"}}}]}"#,
        );
        let got = gh(http, None)
            .commits(Some("rc-1.3.0"), "abc")
            .await
            .unwrap();
        let subjects: Vec<_> = got
            .iter()
            .map(|c| (c.sha.as_str(), c.subject.as_str(), c.author.as_str()))
            .collect();
        assert_eq!(subjects, [("2", "Newer", "bo"), ("1", "Older", "ana")]);
    }

    #[tokio::test]
    async fn an_api_error_carries_githubs_message() {
        let http = not_found("https://api.github.com/repos/acme/shop/commits?sha=abc&per_page=100");
        let e = gh(http, None).commits(None, "abc").await.unwrap_err();
        assert_eq!(e.message, "404: Not Found");
    }

    #[tokio::test]
    async fn without_a_token_no_release_is_published() {
        assert_eq!(
            gh(MemoryHttp::default(), None)
                .publish_prerelease(&rel("rc-1", "t", "n"))
                .await
                .unwrap(),
            None
        );
    }

    #[tokio::test]
    async fn a_new_prerelease_is_created() {
        let http = not_found("https://api.github.com/repos/acme/shop/releases/tags/rc-1");
        http.route(
            "https://api.github.com/repos/acme/shop/releases",
            201,
            r#"{"id":5,"html_url":"https://github.com/acme/shop/releases/tag/rc-1"}"#,
        );
        let g = gh(http, Some("t0k"));
        let url = g
            .publish_prerelease(&rel("rc-1", "rc-1", "notes"))
            .await
            .unwrap();
        assert_eq!(
            url.as_deref(),
            Some("https://github.com/acme/shop/releases/tag/rc-1")
        );
        let sent = g.http.requests();
        let post = sent.iter().find(|r| r.method == "POST").unwrap();
        let body: Value = serde_json::from_str(post.body.as_deref().unwrap()).unwrap();
        assert_eq!(body["tag_name"], "rc-1");
        assert_eq!(body["prerelease"], true);
        assert!(post
            .headers
            .contains(&("authorization".into(), "Bearer t0k".into())));
    }

    #[tokio::test]
    async fn a_promotion_creates_the_v_release_at_the_commit_marked_latest() {
        let http = not_found("https://api.github.com/repos/acme/shop/releases/tags/v1");
        http.route(
            "https://api.github.com/repos/acme/shop/releases",
            201,
            r#"{"id":6,"html_url":"https://github.com/acme/shop/releases/tag/v1"}"#,
        );
        let g = gh(http, Some("t0k"));
        let url = g.publish_release(&rel("v1", "v1", "notes")).await.unwrap();
        assert_eq!(
            url.as_deref(),
            Some("https://github.com/acme/shop/releases/tag/v1")
        );
        let sent = g.http.requests();
        let post = sent.iter().find(|r| r.method == "POST").unwrap();
        let body: Value = serde_json::from_str(post.body.as_deref().unwrap()).unwrap();
        assert_eq!(
            (
                &body["tag_name"],
                &body["target_commitish"],
                &body["prerelease"],
                &body["make_latest"]
            ),
            (
                &json!("v1"),
                &json!("abc123"),
                &json!(false),
                &json!("true")
            )
        );
        // Without a token nothing is called and nothing is claimed.
        let none = gh(MemoryHttp::default(), None);
        assert_eq!(
            none.publish_release(&rel("v1", "v1", "n")).await.unwrap(),
            None
        );
        assert!(none.http.requests().is_empty());
    }

    /// GitHub with release `rc-1` already published (id 5).
    fn existing_release() -> MemoryHttp {
        let http = MemoryHttp::default();
        http.route(
            "https://api.github.com/repos/acme/shop/releases/tags/rc-1",
            200,
            r#"{"id":5}"#,
        );
        http.route(
            "https://api.github.com/repos/acme/shop/releases/5",
            200,
            r#"{"id":5,"html_url":"https://github.com/acme/shop/releases/tag/rc-1"}"#,
        );
        http
    }

    #[tokio::test]
    async fn an_existing_release_is_updated() {
        let http = existing_release();
        let g = gh(http, Some("t0k"));
        let url = g
            .publish_prerelease(&rel("rc-1", "rc-1", "notes"))
            .await
            .unwrap();
        assert!(url.is_some());
        assert!(g.http.requests().iter().any(|r| r.method == "PATCH"));
    }

    /// A token read from a store: counted, and failing on demand.
    struct Stored {
        reads: std::sync::atomic::AtomicUsize,
        fail: bool,
    }

    impl Token for Stored {
        async fn token(&self) -> PortResult<String> {
            self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            if self.fail {
                return Err(PortError::new("read secret gh", "AccessDenied"));
            }
            Ok("s3cr3t".into())
        }
    }

    #[tokio::test]
    async fn a_stored_token_is_read_by_the_request_that_needs_it_not_before() {
        let http = existing_release();
        let stored = Stored {
            reads: Default::default(),
            fail: false,
        };
        let g = GitHub::new(http, "acme/shop", "rc-", Some(stored));
        let reads = |g: &GitHub<MemoryHttp, Stored>| {
            g.token
                .as_ref()
                .map(|t| t.reads.load(std::sync::atomic::Ordering::SeqCst))
        };
        assert_eq!(reads(&g), Some(0), "building the client reads nothing");
        assert!(g
            .publish_prerelease(&rel("rc-1", "rc-1", "n"))
            .await
            .unwrap()
            .is_some());
        assert!(reads(&g).unwrap() >= 1);
        let patch = g
            .http
            .requests()
            .into_iter()
            .find(|r| r.method == "PATCH")
            .unwrap();
        assert!(patch
            .headers
            .contains(&("authorization".into(), "Bearer s3cr3t".into())));
    }

    #[tokio::test]
    async fn a_token_that_cannot_be_read_fails_the_request_with_the_reason() {
        let stored = Stored {
            reads: Default::default(),
            fail: true,
        };
        let g = GitHub::new(MemoryHttp::default(), "acme/shop", "rc-", Some(stored));
        let e = g
            .publish_prerelease(&rel("rc-1", "t", "n"))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("AccessDenied"), "{e}");
        assert!(
            g.http.requests().is_empty(),
            "nothing sent without the token"
        );
    }

    #[tokio::test]
    async fn an_empty_token_counts_as_none() {
        assert_eq!(
            gh(MemoryHttp::default(), Some("  "))
                .publish_prerelease(&rel("rc-1", "t", "n"))
                .await
                .unwrap(),
            None
        );
    }
}

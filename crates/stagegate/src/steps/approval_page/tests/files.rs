//! The run's files on the review page: linked, served under the link as plain text,
//! nothing else served.

use super::*;

async fn with_files() -> Site {
    let site = Site::new().await;
    let checklist =
        "# Deployment checklist\n\n### ESLint: the end of its log\n\n```text\n3 errors\n```\n";
    for (key, body) in [
        ("runs/rc-1.4.0/checklist.md", checklist),
        ("runs/rc-1.4.0/manifest.json", "{\"objects\": []}"),
        (
            "runs/rc-1.4.0/logs/eslint.log",
            "<script>alert(1)</script>\n3 errors\n",
        ),
        ("runs/rc-1.4.0/history.json", "task tokens"),
    ] {
        site.artifacts
            .put(key, "text/plain", body.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let mut record = site.approvals.records().pop().unwrap();
    let before = record.clone();
    record.failed_checks = vec!["ESLint".into()];
    record.revision += 1;
    site.approvals.update(&before, &record).await.unwrap();
    site
}

#[tokio::test]
async fn the_page_links_the_runs_files_and_the_failed_checks_log() {
    let site = with_files().await;
    let r = site
        .call("GET", &format!("/approvals/{}", site.bob), &[], "")
        .await;
    assert_eq!(r.status, 200);
    for (label, name) in [
        ("Checklist (Markdown)", "checklist.md"),
        ("Manifest", "manifest.json"),
        ("ESLint: whole log", "logs/eslint.log"),
    ] {
        let link = format!(
            "<a href=\"/approvals/{}/files/{name}\" rel=\"noreferrer\">{label}</a>",
            site.bob
        );
        assert!(r.body.contains(&link), "{link} in {}", r.body);
    }
    // Served here: no presigned-link note.
    assert!(!r.body.contains("work for 15 minutes"));
    assert!(
        r.body.contains("<pre class=\"log\"><code>3 errors"),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn a_file_is_served_as_text_under_the_link_and_nothing_else_is() {
    let site = with_files().await;
    let path = |name: &str| format!("/approvals/{}/files/{name}", site.bob);
    let log = site.call("GET", &path("logs/eslint.log"), &[], "").await;
    assert_eq!(log.status, 200);
    assert_eq!(
        log.header("content-type"),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(log.header("x-content-type-options"), Some("nosniff"));
    assert!(log
        .header("content-security-policy")
        .unwrap()
        .starts_with("default-src 'none'"));
    assert!(
        log.body.starts_with("<script>alert(1)</script>"),
        "as it is, as text"
    );
    for (name, status) in [
        ("history.json", 404),
        ("../history.json", 404),
        ("logs/typescript.log", 404),
        ("checklist.json", 404),
    ] {
        assert_eq!(
            site.call("GET", &path(name), &[], "").await.status,
            status,
            "{name}"
        );
    }
    let stranger = format!("/approvals/{}/files/manifest.json", "Z".repeat(43));
    assert_eq!(site.call("GET", &stranger, &[], "").await.status, 404);
    let posted = site.call("POST", &path("manifest.json"), &[], "").await;
    assert_eq!(posted.status, 405);
    // Once decided, the link reviews nothing, files included.
    site.post(&site.carol, "decision=approve&reason=lint+only")
        .await;
    assert_eq!(
        site.call("GET", &path("manifest.json"), &[], "")
            .await
            .status,
        409
    );
    assert_eq!(decided(&site), 1);
}

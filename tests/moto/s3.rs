//! S3: artifacts written and read under a run's prefix.

use crate::Moto;
use aws_s3_port::S3Artifacts;
use stagegate::ports::Artifacts;

#[tokio::test]
async fn artifacts_round_trip_under_the_runs_prefix() {
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let s3 = S3Artifacts::from_config(&moto.sdk_config().await, "artifacts");
    let link = s3
        .put(
            "runs/rc-1.4.0--0123456789ab/checklist.md",
            "text/markdown",
            b"# checklist".to_vec(),
        )
        .await
        .unwrap();
    assert!(
        link.contains("prefix=runs/rc-1.4.0--0123456789ab/checklist.md"),
        "{link}"
    );
    assert_eq!(
        s3.get("runs/rc-1.4.0--0123456789ab/checklist.md")
            .await
            .unwrap(),
        Some(b"# checklist".to_vec())
    );
    assert_eq!(s3.get("runs/other/checklist.md").await.unwrap(), None);
    let missing = S3Artifacts::from_config(&moto.sdk_config().await, "no-such-bucket");
    let e = missing
        .put("runs/x", "text/plain", vec![])
        .await
        .unwrap_err();
    assert!(e.message.contains("NoSuchBucket"), "{e}");
}

/// The review page's links on AWS: a presigned `GetObject` of one object that opens
/// it without credentials, as plain text, and only that object.
#[tokio::test]
async fn a_shared_link_opens_its_object_as_text_and_nothing_else() {
    use stagegate::ports::{Http, HttpRequest};
    let moto = Moto::start();
    moto.create_bucket("artifacts").await;
    let s3 = S3Artifacts::from_config(&moto.sdk_config().await, "artifacts");
    let key = "runs/rc-1.4.0--0123456789ab/logs/eslint.log";
    s3.put(key, "text/html", b"<script>x</script>\n3 errors".to_vec())
        .await
        .unwrap();
    let url = s3.share(key, 900).await.unwrap().expect("S3 shares");
    assert!(
        url.contains("X-Amz-Expires=900") && url.contains("X-Amz-Signature="),
        "{url}"
    );
    let http = stagegate_https::HttpsClient::new();
    let get = |url: String| {
        let http = http.clone();
        async move {
            let request = HttpRequest {
                method: "GET".into(),
                url,
                headers: vec![],
                body: None,
            };
            http.send(&request).await.unwrap()
        }
    };
    let opened = get(url.clone()).await;
    assert_eq!(opened.status, 200, "{}", opened.body);
    assert_eq!(opened.body, "<script>x</script>\n3 errors");
    let kind = opened
        .headers
        .iter()
        .find(|(k, _)| k == "content-type")
        .map(|(_, v)| v.as_str());
    assert_eq!(
        kind,
        Some("text/plain; charset=utf-8"),
        "shown as text, never run"
    );
    // The signature covers the key: the same link for another object is refused.
    let other = url.replace("logs/eslint.log", "history.json");
    assert_eq!(get(other).await.status, 403);
}

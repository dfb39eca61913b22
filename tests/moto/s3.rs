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

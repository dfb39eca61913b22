//! `stagegate approvers confirm`, refused before any AWS call: a link that is not an
//! SNS confirmation of the approvals topic is never sent anywhere.

use std::process::Command;

fn confirm(url: &str) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stagegate"))
        .args(["approvers", "confirm", "--url", url])
        .env(
            "STAGEGATE_APPROVALS_TOPIC_ARN",
            "arn:aws:sns:us-east-1:123456789012:approvals",
        )
        .env_remove("STAGEGATE_APPROVALS_TABLE")
        // Nowhere to reach: a call to AWS would fail differently.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .output()
        .expect("the binary runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_link_of_another_topic_or_host_is_refused_naming_why() {
    let (code, err) = confirm("https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn=arn%3Aaws%3Asns%3Aus-east-1%3A123456789012%3Aother&Token=t");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("not to the approvals topic"), "{err}");
    let (code, err) = confirm("https://evil.example/confirmation.html?Token=t");
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("is not an SNS confirmation link"), "{err}");
}

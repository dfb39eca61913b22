//! IAM enforced: a moto server that evaluates every request against the caller's
//! policies (`Moto::start_enforcing_iam`), and an IAM user holding exactly one of the
//! template's policies, making the calls an attacker holding those credentials would.
//!
//! What moto 5.2.6 evaluates for S3: actions and object ARNs (with `*`). What it does
//! not: policy variables (IAM substitutes `${aws:userid}` with the caller's
//! `<role id>:<session>`; here the test does that substitution, for the session of
//! CodeBuild build `b1`, before the policy is attached). For DynamoDB it authorizes
//! every request against the resource `*`, not the table's ARN, so a policy scoped to
//! a table (as every one of ours is) is refused everything there, and it ignores
//! `ForAllValues:StringLike` (`dynamodb:LeadingKeys`): the approval page's table
//! policy cannot be tried against moto; `tests/template/iam.rs` holds its actions and
//! keys, and a real account is needed to see IAM evaluate them.

use crate::Moto;
use aws_s3_port::S3Artifacts;
use serde_json::Value;
use stagegate::ports::Artifacts;

/// The checks role's id, and build `b1`'s session of it: `${aws:userid}` of that
/// build. IAM's value is `AROACHECKSROLE:AWSCodeBuild-b1`; moto 5.2.6 rejects the
/// signature of any S3 key holding a character the SDK percent-encodes (it encodes
/// the received path a second time), so here a `.` stands for the `:`.
const ROLE_ID: &str = "AROACHECKSROLE";
const BUILD_B1: &str = "AROACHECKSROLE.AWSCodeBuild-b1";

/// The policy document of template resource `name`: the role's inline policy, or a
/// function's `Policies` statements, with the template's references resolved as
/// CloudFormation (and, for `${aws:userid}`, IAM) would for this test.
pub(crate) fn policy_of(name: &str, user_id: &str) -> Value {
    let t = testkit::template();
    let p = &t["Resources"][name]["Properties"]["Policies"];
    let docs: Vec<&serde_yaml::Value> = match p {
        serde_yaml::Value::Sequence(items) => items
            .iter()
            .map(|i| match i.get("PolicyDocument") {
                Some(doc) => doc,
                None => i,
            })
            .collect(),
        _ => panic!("{name} has no Policies"),
    };
    let statements: Vec<Value> = docs
        .iter()
        .flat_map(|d| match serde_json::to_value(&d["Statement"]) {
            Ok(Value::Array(s)) => s,
            other => panic!("{name}: statements are not a list: {other:?}"),
        })
        .collect();
    let text = serde_json::json!({"Version": "2012-10-17", "Statement": statements})
        .to_string()
        .replace("${ArtifactsBucket.Arn}", "arn:aws:s3:::artifacts")
        .replace("\"ArtifactsBucket.Arn\"", "\"arn:aws:s3:::artifacts\"")
        .replace(
            "\"ApprovalsTable.Arn\"",
            "\"arn:aws:dynamodb:us-east-1:123456789012:table/approvals\"",
        )
        .replace(
            "\"ChecksLogGroup.Arn\"",
            "\"arn:aws:logs:us-east-1:123456789012:log-group:checks\"",
        )
        .replace(
            "${ChecksLogGroup.Arn}",
            "arn:aws:logs:us-east-1:123456789012:log-group:checks",
        )
        .replace("${!aws:userid}", user_id)
        .replace("${aws:userid}", user_id);
    assert!(
        !text.contains("${"),
        "{name}: an unresolved reference in {text}"
    );
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn denied(e: &stagegate::PortError) -> bool {
    e.message.contains("AccessDenied")
}

/// Untrusted check code (any `rc-*` tag's) holding the checks role's credentials
/// cannot rewrite another run's approved code or manifest, another build's output, or
/// read another run; it can write and read its own build's scratch.
#[tokio::test]
async fn the_checks_role_writes_only_its_own_builds_scratch() {
    // Five requests unauthenticated: the bucket, a victim's pinned code, the user.
    let moto = Moto::start_enforcing_iam(5);
    moto.create_bucket("artifacts").await;
    let setup = S3Artifacts::from_config(&moto.sdk_config().await, "artifacts");
    setup
        .put(
            "runs/victim/code/abc.zip",
            "application/zip",
            b"approved".to_vec(),
        )
        .await
        .unwrap_or_else(|e| panic!("seed: {e}"));
    let key = moto
        .iam_user("checks-b1", &policy_of("ChecksRole", BUILD_B1))
        .await;

    // From here IAM is enforced: credentials of no user are refused...
    let e = setup
        .put("scratch/x", "text/plain", vec![1])
        .await
        .unwrap_err();
    assert!(
        e.message.contains("InvalidAccessKeyId"),
        "enforcement is off: {e}"
    );
    // ...and the checks role's credentials do what its policy says.
    let checks = S3Artifacts::from_config(&moto.sdk_config_as(&key).await, "artifacts");
    let own = format!("scratch/{BUILD_B1}/suites/e2e.junit.xml");
    checks
        .put(&own, "application/xml", b"<testsuite/>".to_vec())
        .await
        .unwrap_or_else(|e| panic!("its own report: {e}"));
    assert_eq!(
        checks.get(&own).await.unwrap(),
        Some(b"<testsuite/>".to_vec())
    );
    let other_build = format!("scratch/{ROLE_ID}.AWSCodeBuild-b2/packaged.yaml");
    for key in [
        "runs/victim/code/abc.zip",
        "runs/victim/manifest.json",
        "runs/victim/packaged.yaml",
        other_build.as_str(),
        "elsewhere.txt",
    ] {
        let e = checks
            .put(key, "application/octet-stream", b"evil".to_vec())
            .await
            .map(|_| format!("the checks role wrote {key}"))
            .unwrap_or_else(|e| e.to_string());
        assert!(e.contains("AccessDenied"), "{key}: {e}");
    }
    let e = checks.get("runs/victim/code/abc.zip").await.unwrap_err();
    assert!(denied(&e), "{e}");
}

//! The Amplify adapter against the SDK's mocks. Responses are raw JSON, as Amplify
//! sends them, so the tests also cover the SDK's deserialization of what we read.

use super::*;
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::http::StatusCode;
use aws_smithy_types::body::SdkBody;

fn hosting(rules: &[&Rule]) -> AmplifyHosting {
    let client = mock_client!(aws_sdk_amplify, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_common::fast_retries()));
    AmplifyHosting::new(client, "d123", "staging")
}

fn json(status: u16, body: serde_json::Value) -> HttpResponse {
    HttpResponse::new(
        StatusCode::try_from(status).unwrap(),
        SdkBody::from(body.to_string()),
    )
}

fn error(status: u16, ty: &str) -> HttpResponse {
    let mut r = json(status, serde_json::json!({"message": "m"}));
    r.headers_mut().insert("x-amzn-ErrorType", ty.to_string());
    r
}

fn branch(env: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"branch": {
        "branchArn": "arn:aws:amplify:eu-west-1:1:apps/d123/branches/staging",
        "branchName": "staging", "description": "", "stage": "DEVELOPMENT",
        "displayName": "staging", "enableNotification": false,
        "createTime": 1700000000, "updateTime": 1700000000,
        "environmentVariables": env, "enableAutoBuild": false, "customDomains": [],
        "framework": "", "activeJobId": "1", "totalNumberOfJobs": "1",
        "enableBasicAuth": false, "ttl": "5", "enablePullRequestPreview": false
    }})
}

fn get_branch(env: serde_json::Value) -> Rule {
    let body = branch(env);
    mock!(aws_sdk_amplify::Client::get_branch)
        .match_requests(|r| r.app_id() == Some("d123") && r.branch_name() == Some("staging"))
        .then_http_response(move || json(200, body.clone()))
}

#[tokio::test]
async fn merging_keeps_existing_variables_and_overrides_ours() {
    let get = get_branch(serde_json::json!({"MANUAL": "kept", "API_URL": "old"}));
    let update = mock!(aws_sdk_amplify::Client::update_branch)
        .match_requests(|r| {
            let env = r.environment_variables().unwrap();
            env.len() == 3
                && env["MANUAL"] == "kept"
                && env["API_URL"] == "https://api.new"
                && env["USER_POOL"] == "pool-1"
        })
        .then_http_response(|| json(200, branch(serde_json::json!({}))));
    let vars = BTreeMap::from([
        ("API_URL".to_string(), "https://api.new".to_string()),
        ("USER_POOL".to_string(), "pool-1".to_string()),
    ]);
    hosting(&[&get, &update])
        .merge_environment(&vars)
        .await
        .unwrap();
    assert_eq!(update.num_calls(), 1);
}

#[tokio::test]
async fn a_missing_branch_is_a_named_error_and_nothing_is_written() {
    let get = mock!(aws_sdk_amplify::Client::get_branch)
        .then_http_response(|| error(404, "NotFoundException"));
    let update = mock!(aws_sdk_amplify::Client::update_branch)
        .then_http_response(|| json(200, branch(serde_json::json!({}))));
    let e = hosting(&[&get, &update])
        .merge_environment(&BTreeMap::new())
        .await
        .unwrap_err();
    assert!(e.message.starts_with("NotFoundException"), "{e}");
    assert_eq!(e.operation, "read branch staging of Amplify app d123");
    assert_eq!(update.num_calls(), 0);
}

#[tokio::test]
async fn a_release_job_is_started_for_the_commit() {
    let start = mock!(aws_sdk_amplify::Client::start_job)
        .match_requests(|r| r.job_type() == Some(&JobType::Release) && r.commit_id() == Some("abc"))
        .then_http_response(|| {
            json(
                200,
                serde_json::json!({"jobSummary": {
                    "jobArn": "arn", "jobId": "7", "commitId": "abc", "commitMessage": "",
                    "commitTime": 1700000000, "startTime": 1700000000, "status": "PENDING",
                    "jobType": "RELEASE"
                }}),
            )
        });
    assert_eq!(hosting(&[&start]).start_job("abc").await.unwrap(), "7");
}

#[tokio::test]
async fn starting_while_throttled_retries_then_reports() {
    let flaky = mock!(aws_sdk_amplify::Client::start_job)
        .sequence()
        .http_response(|| error(429, "LimitExceededException"))
        .http_response(|| error(429, "LimitExceededException"))
        .http_response(|| error(429, "LimitExceededException"))
        .build();
    let e = hosting(&[&flaky]).start_job("abc").await.unwrap_err();
    assert!(e.message.contains("LimitExceededException"), "{e}");
    assert_eq!(flaky.num_calls(), 3);
}

fn job(status: &str, steps: serde_json::Value) -> HttpResponse {
    json(
        200,
        serde_json::json!({"job": {
            "summary": {"jobArn": "arn", "jobId": "7", "commitId": "abc", "commitMessage": "",
                        "commitTime": 1700000000, "startTime": 1700000000, "status": status,
                        "jobType": "RELEASE"},
            "steps": steps
        }}),
    )
}

#[tokio::test]
async fn job_statuses_map_to_ours() {
    for (amplify, ours) in [
        ("PENDING", JobStatus::Pending),
        ("PROVISIONING", JobStatus::Pending),
        ("RUNNING", JobStatus::Running),
        ("SUCCEED", JobStatus::Succeeded),
        ("CANCELLED", JobStatus::Cancelled),
    ] {
        let get = mock!(aws_sdk_amplify::Client::get_job)
            .then_http_response(move || job(amplify, serde_json::json!([])));
        let j = hosting(&[&get]).job("7").await.unwrap();
        assert_eq!(j.status, ours, "{amplify}");
    }
}

#[tokio::test]
async fn a_failed_job_names_the_failed_step_without_its_presigned_log_link() {
    let get = mock!(aws_sdk_amplify::Client::get_job).then_http_response(|| {
        job(
            "FAILED",
            serde_json::json!([
                {"stepName": "BUILD", "startTime": 1700000000, "endTime": 1700000100, "status": "FAILED",
                 "statusReason": "npm ERR! missing script: build",
                 "logUrl": "https://logs.example/presigned?X-Amz-Signature=secret"},
                {"stepName": "DEPLOY", "startTime": 1700000000, "endTime": 1700000100, "status": "CANCELLED"}
            ]),
        )
    });
    let j = hosting(&[&get]).job("7").await.unwrap();
    assert_eq!(j.status, JobStatus::Failed);
    let reason = j.reason.unwrap();
    assert_eq!(
        reason,
        "step BUILD FAILED: npm ERR! missing script: build (log in the Amplify console); step DEPLOY CANCELLED"
    );
    assert!(!reason.contains("X-Amz-Signature"));
}

#[tokio::test]
async fn the_url_is_the_branch_on_the_app_domain() {
    let get = get_branch(serde_json::json!({}));
    let app = mock!(aws_sdk_amplify::Client::get_app).then_http_response(|| {
        json(
            200,
            serde_json::json!({"app": {
                "appId": "d123", "appArn": "arn", "name": "shop", "description": "",
                "repository": "", "platform": "WEB", "createTime": 1700000000,
                "updateTime": 1700000000, "environmentVariables": {},
                "defaultDomain": "d123.amplifyapp.com", "enableBranchAutoBuild": false,
                "enableBasicAuth": false
            }}),
        )
    });
    assert_eq!(
        hosting(&[&get, &app]).url().await.unwrap(),
        "https://staging.d123.amplifyapp.com"
    );
}

#[tokio::test]
async fn a_refused_environment_update_is_an_error() {
    let get = get_branch(serde_json::json!({}));
    let update = mock!(aws_sdk_amplify::Client::update_branch)
        .then_http_response(|| error(401, "UnauthorizedException"));
    let e = hosting(&[&get, &update])
        .merge_environment(&BTreeMap::new())
        .await
        .unwrap_err();
    assert!(e.message.starts_with("UnauthorizedException"), "{e}");
}

#[tokio::test]
async fn an_unknown_job_is_an_error() {
    let get = mock!(aws_sdk_amplify::Client::get_job)
        .then_http_response(|| error(404, "NotFoundException"));
    let e = hosting(&[&get]).job("99").await.unwrap_err();
    assert_eq!(
        e.operation,
        "read job 99 on branch staging of Amplify app d123"
    );
    assert!(e.message.starts_with("NotFoundException"), "{e}");
}

#[tokio::test]
async fn the_url_of_a_missing_app_is_an_error() {
    let get = get_branch(serde_json::json!({}));
    let app = mock!(aws_sdk_amplify::Client::get_app)
        .then_http_response(|| error(404, "NotFoundException"));
    let e = hosting(&[&get, &app]).url().await.unwrap_err();
    assert_eq!(e.operation, "read Amplify app d123");
}

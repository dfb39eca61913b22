//! One test per route of the staging flow (the seed's decision points).

use crate::*;
use asl_engine::{BuildRequest, ExecutionStatus};
use stagegate::ports::JobStatus;

const PHASES: &[&str] = &[
    "Preflight",
    "Pre-Deployment Checks",
    "Generate Checklist",
    "Wait for Approval",
    "Validate Infrastructure",
    "Deploy Infrastructure",
    "Capture Stack Outputs",
    "Deploy Frontend",
    "Integration Tests",
    "Command Suites",
    "Test Results",
    "Performance Tests",
    "Mark Release Ready",
    "Notify Success",
    "Ready for Production",
];

pub async fn approved_candidate_is_deployed_tested_and_ready_for_production() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    assert_eq!(flow.decide(&id, true, None).await, Ok(Decided::Approved));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    assert_the_whole_route(&route(&h));
    assert_each_phase_keeps_its_result(&output(&done));
    assert_the_world_was_deployed(&flow);
    assert_the_release_is_recorded_and_announced(&flow);
    // The run's signed evidence holds: the approved manifest and the decision.
    let held = stagegate::manifest::evidence::verify(&flow.artifacts, &flow.signer, RUN).await;
    let e = held
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert!(e.manifest.is_some(), "{e:?}");
    assert_eq!((e.decisions.len(), e.outcome.as_str()), (1, "success"));
    // And the commit is staged: what a promotion checks first holds.
    let staged = stagegate::manifest::staged::staged_release(&flow.artifacts, &flow.signer, SHA)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|u| panic!("{u:?}"));
    assert_eq!(staged.0.run_id, "rc-1.4.0--0123456789ab");
    assert_run_metrics(&flow, &[("staging", "success")], "Deploy Infrastructure");
}

/// Every phase, every check, and neither a failure nor a status read.
fn assert_the_whole_route(r: &[String]) {
    assert_passes_through(r, PHASES);
    for check in [
        "Run ESLint",
        "Run TypeScript",
        "Run Unit Tests",
        "Run Security Scan",
        "Package App",
        "Create Change Set",
        "Describe Change Set",
    ] {
        assert!(r.iter().any(|s| s == check), "{check} did not run");
    }
    // The stack's and the job's status events resumed the waits: no status reads.
    assert_never_enters(
        r,
        &[
            "Notify Failure",
            "Notify Cancelled",
            "Duplicate Ignored",
            "Await Stack Event",
            "Await Frontend Event",
        ],
    );
}

/// Each phase keeps its result under its own key.
fn assert_each_phase_keeps_its_result(out: &Value) {
    for key in [
        "preflight",
        "checks",
        "checklist",
        "approval",
        "validation",
        "infrastructure",
        "outputs",
        "frontend",
        "tests",
        "performance",
        "release",
        "notification",
    ] {
        assert!(out.get(key).is_some(), "missing ${key} in the output");
    }
    assert_eq!(out["approval"]["approvers"], json!(["bob"]));
    assert_eq!(out["frontend"]["url"], "https://staging.example.test");
    assert_eq!(
        out["infrastructure"],
        json!({"stackName": "app-staging", "stackStatus": "UPDATE_COMPLETE"})
    );
    assert_eq!(out["tests"]["report"]["passed"], 4);
    assert_eq!(out["performance"]["status"], "SKIPPED");
}

/// The checks ran in CodeBuild, the change set ran, the frontend has the API's URL,
/// and no wait is left registered.
fn assert_the_world_was_deployed(flow: &Flow) {
    assert!(
        flow.table.waiters().is_empty(),
        "every registration is gone"
    );
    assert!(flow.stacks.executed(), "the change set was executed");
    assert_eq!(
        flow.hosting.env()["VITE_API_URL"],
        "https://api.example.test"
    );
    let requests = flow.builds.requests();
    let variable = |b: &BuildRequest, name: &str| {
        b.environment
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    let checks = requests
        .iter()
        .filter_map(|b| variable(b, "STAGEGATE_CHECK"));
    assert_eq!(checks.count(), 5, "the five checks ran in CodeBuild");
    assert!(
        requests
            .iter()
            .all(|b| variable(b, "STAGEGATE_COMMAND").is_some_and(|c| !c.is_empty())),
        "every build has its command as input"
    );
}

/// The artifacts, the release notes with their timeline, and one success message.
fn assert_the_release_is_recorded_and_announced(flow: &Flow) {
    let artifacts = [
        "checklist.md",
        "checklist.json",
        "stack-outputs.json",
        "test-report.json",
        "junit.xml",
        "release-notes.md",
        "timeline.svg",
    ];
    assert_artifacts(flow, RUN, &artifacts, &[]);
    let notes = run_artifact(flow, "release-notes.md");
    for part in [
        "## Checks\n\nAll 5 passed",
        "- Integration: 4 of 4 passed",
        "## Timeline\n\n```mermaid\ngantt",
        "    Deploy Infrastructure :done,",
        "    Mark Release Ready :active,",
    ] {
        assert!(
            notes.contains(part),
            "release notes lack {part:?}:\n{notes}"
        );
    }
    let m = only_outcome(flow);
    assert!(
        m.body.contains("Timeline:\n  Preflight"),
        "the success message charts the run: {}",
        m.body
    );
    assert_eq!(m.subject, "✅ acme/shop rc-1.4.0 is ready for production");
    assert_eq!(outcome_at(&m), ("success", "Ready for Production"));
}

pub async fn rejected_candidate_is_cancelled_and_notified() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    assert_eq!(
        flow.decide(&id, false, Some("the migration is not reversible"))
            .await,
        Ok(Decided::Rejected)
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("Rejected"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Wait for Approval",
            "Approval Rejected",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    assert_never_enters(&r, &["Validate Infrastructure", "Deploy Infrastructure"]);
    assert!(!flow.stacks.executed());
    let m = only_outcome(&flow);
    assert_eq!(m.attributes["outcome"], "cancelled");
    assert_eq!(m.attributes["stage"], "Wait for Approval");
    assert!(
        m.body
            .contains("rejected by bob: “the migration is not reversible”"),
        "{}",
        m.body
    );
    // A rejected commit is not staged: a promotion of it is refused.
    assert!(flow
        .artifacts
        .get_sync(&format!("staged/{SHA}.json"))
        .is_none());
    assert!(flow
        .artifact_keys("runs/rc-1.4.0--0123456789ab/")
        .contains(&"checklist.md".to_string()));
    assert_eq!(m.subject, "🚫 acme/shop rc-1.4.0 was cancelled (rejected)");
    assert_artifacts(
        &flow,
        RUN,
        &["checklist.md", "checklist.json"],
        &["stack-outputs.json", "release-notes.md"],
    );
}

pub async fn no_decision_for_24_hours_times_out_and_is_cancelled() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("States.Timeout"));
    assert_passes_through(
        &route(&h),
        &[
            "Wait for Approval",
            "Approval Timed Out",
            "Notify Cancelled",
            "Workflow Cancelled",
        ],
    );
    let waited = done.stop_date.unwrap_or(done.start_date) - done.start_date;
    assert!(waited >= chrono::Duration::hours(24), "waited {waited}");
    let m = only_outcome(&flow);
    assert_eq!(m.attributes["outcome"], "cancelled");
    assert!(
        m.subject
            .contains("no decision before the approval timed out"),
        "{}",
        m.subject
    );
    // The late click gets a clear answer.
    assert!(matches!(
        flow.decide(&id, true, None).await,
        Err(Refusal::Expired { .. })
    ));
    let m = only_outcome(&flow);
    assert_eq!(
        m.subject,
        "🚫 acme/shop rc-1.4.0 was cancelled (no decision before the approval timed out)"
    );
    assert_artifacts(
        &flow,
        RUN,
        &["checklist.md", "checklist.json"],
        &["stack-outputs.json"],
    );
}

pub async fn a_failed_check_can_be_approved_with_a_reason_and_deployed() {
    let flow = Flow::new();
    flow.builds.fail("eslint");
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    assert!(matches!(
        flow.decide(&id, true, None).await,
        Err(Refusal::ReasonRequired { .. })
    ));
    assert_eq!(
        flow.decide(&id, true, Some("lint rule change only; fixed in rc-1.4.1"))
            .await,
        Ok(Decided::Approved)
    );
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded);
    assert_passes_through(
        &route(&h),
        &[
            "Run ESLint",
            "ESLint Failed",
            "Generate Checklist",
            "Wait for Approval",
            "Ready for Production",
        ],
    );
    let out = output(&done);
    assert_eq!(out["checklist"]["failedChecks"], json!(["ESLint"]));
    assert_eq!(
        out["approval"]["votes"][0]["reason"],
        "lint rule change only; fixed in rc-1.4.1"
    );
    let checklist = String::from_utf8(
        flow.artifacts
            .get_sync("runs/rc-1.4.0--0123456789ab/checklist.md")
            .unwrap_or_default(),
    )
    .unwrap_or_default();
    assert!(checklist.contains("| ESLint | ❌ failed"), "{checklist}");
    let m = only_outcome(&flow);
    assert_eq!(
        (m.subject.as_str(), m.attributes["outcome"].as_str()),
        ("✅ acme/shop rc-1.4.0 is ready for production", "success")
    );
    assert_artifacts(
        &flow,
        RUN,
        &[
            "checklist.md",
            "stack-outputs.json",
            "junit.xml",
            "release-notes.md",
        ],
        &[],
    );
    let m = only_outcome(&flow);
    assert_eq!(m.subject, "✅ acme/shop rc-1.4.0 is ready for production");
    assert_artifacts(
        &flow,
        RUN,
        &[
            "checklist.md",
            "stack-outputs.json",
            "junit.xml",
            "release-notes.md",
        ],
        &[],
    );
}

pub async fn an_artifact_changed_after_approval_is_artifact_changed_and_nothing_deploys() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    // The approval email names the manifest digest the approver decides on.
    let (_, email) = flow
        .notifier
        .messages()
        .into_iter()
        .rfind(|(_, m)| m.attributes.get("kind").map(String::as_str) == Some("approval-request"))
        .unwrap_or_else(|| panic!("no approval email"));
    let manifest = flow
        .artifacts
        .get_sync(&format!("{RUN}manifest.json"))
        .unwrap_or_default();
    let digest = stagegate::manifest::sha256(&manifest);
    assert!(email.body.contains(&digest), "{}", email.body);
    // One byte of the pinned code object changes after the manifest is sealed.
    let code = flow
        .artifacts
        .keys()
        .into_iter()
        .find(|k| k.starts_with(&format!("{RUN}code/")))
        .unwrap_or_else(|| panic!("no pinned code object"));
    let mut bytes = flow.artifacts.get_sync(&code).unwrap_or_default();
    bytes[0] ^= 1;
    flow.artifacts
        .put_sync(&code, "application/octet-stream", bytes);
    flow.decide(&id, true, None)
        .await
        .unwrap_or_else(|r| panic!("{r:?}"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("ArtifactChanged"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Validate Infrastructure",
            "Artifact Changed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    assert_never_enters(&r, &["Deploy Infrastructure", "Deploy Frontend"]);
    assert!(!flow.stacks.executed());
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Validate Infrastructure", "ArtifactChanged")
    );
    assert!(m.body.contains(&code), "{}", m.body);
}

pub async fn a_stack_changed_after_approval_fails_validation() {
    let flow = Flow::new();
    let arn = flow.start("rc-1.4.0", SHA).await;
    let id = flow.approval_link("rc-1.4.0").await;
    flow.stacks.bump_version();
    flow.decide(&id, true, None)
        .await
        .unwrap_or_else(|r| panic!("{r:?}"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("ValidationFailed"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Validate Infrastructure",
            "Validate Infrastructure Failed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    assert_never_enters(&r, &["Deploy Infrastructure"]);
    assert!(!flow.stacks.executed());
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["outcome"].as_str(),
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("failure", "Validate Infrastructure", "ValidationFailed")
    );
    assert!(m.body.contains("changed after the preview"), "{}", m.body);
    assert_eq!(
        m.subject,
        "❌ acme/shop rc-1.4.0 failed at Validate Infrastructure"
    );
    assert_artifacts(
        &flow,
        RUN,
        &["checklist.md", "checklist.json"],
        &["stack-outputs.json"],
    );
}

pub async fn a_rolled_back_stack_fails_the_infrastructure_stage() {
    let flow = Flow::new();
    flow.stacks.after_execute(&[
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]);
    flow.stacks
        .set_failure_reason("Api (AWS::Lambda::Function): Role not found");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("StackDeployFailed"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Deploy Infrastructure",
            "Deploy Infrastructure Failed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    // The rollback's own status event failed the waiting task.
    assert_never_enters(&r, &["Await Stack Event", "Deploy Frontend"]);
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Deploy Infrastructure", "StackDeployFailed")
    );
    assert!(m.body.contains("Role not found"), "{}", m.body);
    assert_eq!(
        m.subject,
        "❌ acme/shop rc-1.4.0 failed at Deploy Infrastructure"
    );
    assert_artifacts(&flow, RUN, &["checklist.md"], &["stack-outputs.json"]);
}

pub async fn a_failed_amplify_job_fails_the_frontend_stage() {
    let flow = Flow::new();
    flow.hosting
        .set_job_statuses(&[JobStatus::Running, JobStatus::Failed]);
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("AmplifyJobFailed"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Capture Stack Outputs",
            "Deploy Frontend",
            "Deploy Frontend Failed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    // The job's "FAILED" status event failed the waiting task, with the job's reason.
    assert_never_enters(&r, &["Await Frontend Event", "Integration Tests"]);
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Deploy Frontend", "AmplifyJobFailed")
    );
    assert!(m.body.contains("missing script: build"), "{}", m.body);
    assert!(flow
        .artifact_keys("runs/rc-1.4.0--0123456789ab/")
        .contains(&"stack-outputs.json".to_string()));
    assert_eq!(
        only_outcome(&flow).subject,
        "❌ acme/shop rc-1.4.0 failed at Deploy Frontend"
    );
    assert_artifacts(
        &flow,
        RUN,
        &["checklist.md", "stack-outputs.json"],
        &["test-report.json"],
    );
}

pub async fn a_failing_integration_test_fails_the_run_with_a_report() {
    let flow = Flow::new();
    flow.http
        .route("https://staging.example.test/oauth", 502, "bad gateway");
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.error.as_deref(), Some("IntegrationTestsFailed"));
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Integration Tests",
            "Test Results",
            "Integration Tests Failed",
            "Notify Failure",
            "Deployment Failed",
        ],
    );
    assert_never_enters(&r, &["Mark Release Ready"]);
    let arts = flow.artifact_keys("runs/rc-1.4.0--0123456789ab/");
    assert!(
        arts.contains(&"junit.xml".to_string()) && arts.contains(&"test-report.json".to_string())
    );
    let m = only_outcome(&flow);
    assert_eq!(
        (
            m.attributes["stage"].as_str(),
            m.attributes["error"].as_str()
        ),
        ("Integration Tests", "IntegrationTestsFailed")
    );
    assert!(
        m.body
            .contains("oauth/oauth responds: GET https://staging.example.test/oauth → 502: expected status 200"),
        "{}",
        m.body
    );
    assert_eq!(
        only_outcome(&flow).subject,
        "❌ acme/shop rc-1.4.0 failed at Integration Tests"
    );
    assert_artifacts(
        &flow,
        RUN,
        &["test-report.json", "junit.xml"],
        &["release-notes.md"],
    );
}

pub async fn an_invalid_tag_fails_preflight_and_is_notified() {
    let flow = Flow::new();
    let arn = flow
        .engine
        .start_execution(
            &flow.state_machine,
            Some("bad"),
            json!({"repository": "acme/shop", "tag": "v1.4", "sha": SHA}),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("InvalidCandidate"));
    assert_eq!(
        route(&h),
        vec![
            "Preflight",
            "Preflight Failed",
            "Notify Failure",
            "Deployment Failed"
        ]
    );
    let m = only_outcome(&flow);
    assert_eq!(m.subject, "❌ acme/shop v1.4 failed at Preflight");
}

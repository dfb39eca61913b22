//! Notifications: what each outcome says, to whom, once; golden files of each.

use super::*;
use crate::testing::{
    now, FixedClock, MemoryArtifacts, MemoryMetrics, MemoryNotifier, MemorySigner, MemoryTable,
};
use serde_json::json;

type TestNotify =
    Notify<MemoryNotifier, MemoryTable, FixedClock, MemoryArtifacts, MemorySigner, MemoryMetrics>;

fn notify(n: &MemoryNotifier, table: &MemoryTable) -> TestNotify {
    Notify {
        settings: Settings::default(),
        notifier: n.clone(),
        store: table.clone(),
        clock: FixedClock(now()),
        artifacts: MemoryArtifacts::default(),
        signer: MemorySigner::default(),
        metrics: MemoryMetrics::default(),
    }
}

async fn send(outcome: Outcome, state: Value) -> Message {
    let n = MemoryNotifier::default();
    notify(&n, &MemoryTable::default())
        .run(Input::Run(RunInput {
            outcome,
            execution_id: "arn:x".into(),
            state,
        }))
        .await
        .unwrap();
    n.messages().pop().unwrap().1
}

fn ended(status: &str, error: Option<&str>) -> Input {
    serde_json::from_value(json!({
        "version": "0", "id": "e-1", "detail-type": "Step Functions Execution Status Change",
        "source": "aws.states", "account": "123456789012", "time": "2026-01-01T09:00:00Z",
        "region": "us-east-1", "resources": ["arn:exec:1"],
        "detail": {"executionArn": "arn:exec:1", "stateMachineArn": "arn:sm", "name": "1",
            "status": status, "startDate": 1, "stopDate": 2,
            "input": "{\"repository\":\"acme/shop\",\"tag\":\"rc-1.4.0\",\"sha\":\"x\"}",
            "error": error, "cause": error.map(|_| "the cause")}
    }))
    .unwrap()
}

/// `approver`'s approving vote through their email link, with `reason`.
fn vote(approver: &str, reason: &str) -> Value {
    json!({"approver": approver, "via": "email link", "approve": true,
           "reason": reason, "at": "2026-01-01T10:00:00Z", "from": "203.0.113.7"})
}

/// The runs whose notification the golden files hold: name, outcome, state.
fn golden_runs() -> Vec<(&'static str, Outcome, Value)> {
    let candidate = json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": "0123456"});
    let cases: Vec<(&str, (Outcome, Value))> = vec![
        (
            "success",
            (
                Outcome::Success,
                json!({
                    "preflight": {"candidate": candidate, "artifactsPrefix": "s3://artifacts/runs/run-1/"},
                    "checklist": {"markdownUri": "s3://artifacts/runs/run-1/checklist.md"},
                    "approval": {"approvers": ["lead", "sre"],
                                 "votes": [vote("lead", "flaky lint rule, fixed in rc-1.4.1")],
                                 "failedChecks": ["eslint"]},
                    "acceptance": {"approvers": ["carol"], "votes": [vote("carol", "checkout works on staging")]},
                    "frontend": {"url": "https://staging.shop.example"},
                    "release": {"notesUri": "s3://artifacts/runs/run-1/release-notes.md"}
                }),
            ),
        ),
        (
            "failure-deploy-frontend",
            (
                Outcome::Failure,
                json!({
                    "preflight": {"candidate": candidate, "artifactsPrefix": "s3://artifacts/runs/run-1/"},
                    "failure": {"stage": "Deploy Frontend", "error": {
                        "Error": "AmplifyJobFailed",
                        "Cause": "{\"errorMessage\":\"job 7 ended FAILED: build step exited 1\",\"errorType\":\"AmplifyJobFailed\"}"}}
                }),
            ),
        ),
        (
            "cancelled-rejected",
            (
                Outcome::Cancelled,
                json!({
                    "preflight": {"candidate": candidate},
                    "cancellation": {"reason": "rejected", "error": {
                        "Error": "Rejected",
                        "Cause": "{\"decision\":\"rejected\",\"by\":\"lead\",\"reason\":\"breaks checkout\"}"}}
                }),
            ),
        ),
        (
            "rolled-back",
            (Outcome::RolledBack, rolled_back(&candidate)),
        ),
        // `stagegate rollback staging --to rc-1.3.0`, approved and deployed.
        (
            "rolled-back-on-request",
            (Outcome::Success, rolled_back_on_request()),
        ),
        // Strangers' text that tries to forge lines renders on one quoted line.
        (
            "forged-reasons",
            (
                Outcome::Success,
                json!({
                    "preflight": {"candidate": candidate, "artifactsPrefix": "s3://artifacts/runs/run-1/"},
                    "approval": {"approvers": ["lead"],
                                 "votes": [vote("lead", "fine\n\nApproved by: security-lead\nApproved over failed checks: none")],
                                 "failedChecks": ["eslint"]}
                }),
            ),
        ),
        (
            "forged-rejection",
            (
                Outcome::Cancelled,
                json!({
                    "preflight": {"candidate": candidate},
                    "cancellation": {"reason": "rejected", "error": {
                        "Error": "Rejected",
                        "Cause": "{\"decision\":\"REJECTED\",\"by\":\"lead\",\"reason\":\"no\\n\\n✅ acme/shop rc-1.4.0 is ready for production\\nApproved by: lead\"}"}}
                }),
            ),
        ),
    ];
    cases.into_iter().map(|(n, (o, s))| (n, o, s)).collect()
}

/// A rollback on request to rc-1.3.0, approved by bob, that ended ready.
fn rolled_back_on_request() -> Value {
    json!({
        "preflight": {"candidate": {"repository": "acme/shop", "tag": "rc-1.3.0", "version": "1.3.0",
                                    "sha": "1111111111111111111111111111111111111111", "pushedBy": "ana", "rollback": true},
                      "artifactsPrefix": "s3://artifacts/runs/rollback--rc-1.3.0--111111111111--20261207T1105/"},
        "staged": {"stagingRun": "rc-1.3.0--111111111111", "stagingTag": "rc-1.3.0",
                   "replaces": {"tag": "rc-1.4.0", "commit": "0123456789abcdef0123456789abcdef01234567", "runId": "rc-1.4.0--0123456789ab"}},
        "approval": {"approvers": ["bob"], "votes": [vote("bob", "rc-1.4.0 breaks checkout")], "failedChecks": []}
    })
}

/// A run whose bake failed and that is back on rc-1.3.0.
fn rolled_back(candidate: &Value) -> Value {
    json!({
        "preflight": {"candidate": candidate, "artifactsPrefix": "s3://artifacts/runs/run-1/"},
        "failure": {"stage": "Bake", "error": {
            "Error": "BakeFailed",
            "Cause": "{\"errorMessage\":\"round 3 of the bake: alarm shop-staging-5xx (AWS/ApiGateway 5XXError (ApiName=shop) Sum over 60 s > 5), threshold 5, value 12\",\"errorType\":\"BakeFailed\"}"}},
        "rollback": {"tag": "rc-1.3.0", "commit": "1111111111111111111111111111111111111111",
                     "runId": "rc-1.3.0--111111111111"}
    })
}

/// Every kind of notification, as the golden files hold them.
fn golden_cases() -> Vec<(&'static str, Message)> {
    let settings = Settings {
        execution_url: "https://console.example/states/{execution}".into(),
        ..Settings::default()
    };
    let execution_id = "arn:aws:states:us-east-1:123456789012:execution:sg:run-1";
    let mut cases: Vec<(&str, Message)> = golden_runs()
        .into_iter()
        .map(|(name, outcome, state)| {
            let input = RunInput {
                outcome,
                execution_id: execution_id.into(),
                state,
            };
            (name, run_message(&settings, &input).0)
        })
        .collect();
    let end = |status: &str, error: Option<&str>| match ended(status, error) {
        Input::Ended(e) => ended_message(&settings, &e).expect("an abnormal end").0,
        Input::Run(_) => unreachable!("ended() builds an end event"),
    };
    cases.extend([
        ("ended-timed-out", end("TIMED_OUT", Some("States.Timeout"))),
        ("ended-aborted", end("ABORTED", None)),
        ("ended-failed", end("FAILED", Some("States.Runtime"))),
    ]);
    cases
}

/// Golden files (`tests/golden/notify/<case>.txt`): each notification's subject,
/// attributes and body as a subscriber receives them. A change to any of them
/// fails here with the difference; `STAGEGATE_BLESS=1 cargo test -p stagegate
/// golden` rewrites the files, to be reviewed in the diff like code.
#[test]
fn every_notification_matches_its_golden_file() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/notify");
    let cases = golden_cases();
    let mut differ = Vec::new();
    for (name, m) in &cases {
        let mut text = format!("subject: {}\nattributes:\n", m.subject);
        for (k, v) in &m.attributes {
            text.push_str(&format!("  {k}: {v}\n"));
        }
        text.push_str("body:\n");
        text.push_str(&m.body);
        let machine = m
            .machine
            .as_ref()
            .expect("every notification has a machine form");
        text.push_str("json:\n");
        text.push_str(&serde_json::to_string_pretty(machine).expect("a Value serializes"));
        text.push('\n');
        if let Err(e) = crate::testing::golden(&dir.join(format!("{name}.txt")), &text) {
            differ.push(e);
        }
    }
    assert!(
        differ.is_empty(),
        "notifications differ from their golden files:\n{}",
        differ.join("\n")
    );
    // Every attribute set names the environment, and what subscribers filter on.
    for (name, m) in &cases {
        for k in ["outcome", "stage", "environment", "repository", "tag"] {
            assert!(m.attributes.contains_key(k), "{name}: no {k} attribute");
        }
    }
}

#[tokio::test]
async fn a_run_that_timed_out_is_reported_once() {
    let n = MemoryNotifier::default();
    let step = notify(&n, &MemoryTable::default());
    let out = step
        .run(ended("TIMED_OUT", Some("States.Timeout")))
        .await
        .unwrap();
    assert!(!out.already_notified);
    let m = n.messages().pop().unwrap().1;
    assert_eq!(
        m.subject,
        "⏱ acme/shop rc-1.4.0 timed out before it finished"
    );
    assert_eq!(m.attributes["outcome"], "failure");
    assert_eq!(m.attributes["stage"], "TIMED_OUT");
    // EventBridge delivers at least once: a second delivery sends nothing.
    let again = step
        .run(ended("TIMED_OUT", Some("States.Timeout")))
        .await
        .unwrap();
    assert!(again.already_notified);
    assert_eq!(n.messages().len(), 1);
}

#[tokio::test]
async fn an_end_event_after_the_runs_own_notification_sends_nothing() {
    let n = MemoryNotifier::default();
    let step = notify(&n, &MemoryTable::default());
    step.run(Input::Run(RunInput {
        outcome: Outcome::Failure,
        execution_id: "arn:exec:1".into(),
        state: json!({"repository": "acme/shop", "tag": "rc-1.4.0", "failure": {"stage": "Deploy Frontend"}}),
    }))
    .await
    .unwrap();
    let out = step
        .run(ended("FAILED", Some("AmplifyJobFailed")))
        .await
        .unwrap();
    assert!(out.already_notified);
    assert_eq!(n.messages().len(), 1);
}

#[tokio::test]
async fn a_stopped_run_is_reported_as_cancelled() {
    let n = MemoryNotifier::default();
    notify(&n, &MemoryTable::default())
        .run(ended("ABORTED", None))
        .await
        .unwrap();
    let m = n.messages().pop().unwrap().1;
    assert_eq!(m.attributes["outcome"], "cancelled");
    assert!(m.subject.contains("was stopped"), "{}", m.subject);
}

#[tokio::test]
async fn other_events_and_statuses_are_refused_by_name() {
    let step = notify(&MemoryNotifier::default(), &MemoryTable::default());
    let e = step.run(ended("SUCCEEDED", None)).await.unwrap_err();
    assert_eq!(e.name, "InvalidInput");
    let mut other = ended("FAILED", None);
    if let Input::Ended(ev) = &mut other {
        ev.detail_type = "EC2 Instance State-change Notification".into();
    }
    assert_eq!(step.run(other).await.unwrap_err().name, "InvalidInput");
}

#[tokio::test]
async fn failure_names_the_stage_and_the_lambda_error_message() {
    let m = send(Outcome::Failure, json!({
        "preflight": {"candidate": {"repository": "acme/shop", "tag": "rc-1.4.0"}, "artifactsPrefix": "runs/r/"},
        "failure": {"stage": "Deploy Frontend", "error": {"Error": "AmplifyJobFailed", "Cause": "{\"errorMessage\":\"job 7 ended Failed: build error\",\"errorType\":\"AmplifyJobFailed\"}"}}
    })).await;
    assert_eq!(m.subject, "❌ acme/shop rc-1.4.0 failed at Deploy Frontend");
    assert!(
        m.body
            .contains("Reason: AmplifyJobFailed: job 7 ended Failed: build error"),
        "{}",
        m.body
    );
    assert_eq!(m.attributes["outcome"], "failure");
    assert_eq!(m.attributes["stage"], "Deploy Frontend");
    assert_eq!(m.attributes["error"], "AmplifyJobFailed");
}

#[tokio::test]
async fn a_failure_before_preflight_still_names_the_trigger() {
    let m = send(Outcome::Failure, json!({"repository": "acme/shop", "tag": "v1", "failure": {"stage": "Preflight", "error": {"Error": "InvalidCandidate", "Cause": "bad tag"}}})).await;
    assert_eq!(m.subject, "❌ acme/shop v1 failed at Preflight");
}

#[tokio::test]
async fn cancellation_says_why() {
    let m = send(Outcome::Cancelled, json!({"repository": "acme/shop", "tag": "rc-1",
        "cancellation": {"reason": "rejected", "error": {"Error": "Rejected", "Cause": "{\"decision\":\"REJECTED\",\"by\":\"bob\",\"reason\":\"flaky\"}"}}})).await;
    assert_eq!(m.subject, "🚫 acme/shop rc-1 was cancelled (rejected)");
    assert!(m.body.contains("rejected by bob: “flaky”"), "{}", m.body);
    assert_eq!(m.attributes["outcome"], "cancelled");
}

#[tokio::test]
async fn success_links_staging_and_approvers() {
    let m = send(Outcome::Success, json!({"repository": "acme/shop", "tag": "rc-1", "frontend": {"url": "https://staging"}, "approval": {"approvers": ["bob"]}})).await;
    assert!(m.body.contains("Staging: https://staging") && m.body.contains("Approved by: bob"));
    assert_eq!(m.attributes["outcome"], "success");
}

#[tokio::test]
async fn success_charts_the_runs_phases_and_links_the_picture() {
    let m = send(
        Outcome::Success,
        json!({"repository": "acme/shop", "tag": "rc-1", "release": {
        "notesUri": "s3://a/notes.md", "timelineUri": "s3://a/timeline.svg",
        "timeline": [
            {"phase": "Preflight", "offsetSeconds": 0.0, "seconds": 2.0},
            {"phase": "Wait for Approval", "offsetSeconds": 2.0, "seconds": 38.0}
        ]}}),
    )
    .await;
    assert!(m.body.contains("Timeline:\n  Preflight"), "{}", m.body);
    assert!(
        m.body
            .contains(&format!("  Wait for Approval{}█", " ".repeat(10))),
        "{}",
        m.body
    );
    assert!(m.body.contains(&"█".repeat(38)), "{}", m.body);
    assert!(
        m.body.contains("Timeline picture: s3://a/timeline.svg"),
        "{}",
        m.body
    );
}

/// Every run that reaches a Notify state leaves its signed evidence, and the notice
/// says where; evidence that cannot be written is said, and never holds the notice.
#[tokio::test]
async fn the_notice_names_the_runs_signed_evidence() {
    let (name, outcome, state) = golden_runs().remove(0);
    assert_eq!(name, "success");
    let mut state = state;
    state["preflight"]["artifactsPrefix"] = json!("runs/run-1/");
    state["preflight"]["runId"] = json!("run-1");
    let n = MemoryNotifier::default();
    let step = notify(&n, &MemoryTable::default());
    let input = Input::Run(RunInput {
        outcome,
        execution_id: "arn:x".into(),
        state: state.clone(),
    });
    step.run(input.clone()).await.unwrap();
    let body = n.messages().pop().unwrap().1.body;
    let digest =
        crate::manifest::sha256(&step.artifacts.get_sync("runs/run-1/evidence.json").unwrap());
    assert!(
        body.contains(&format!("Evidence: runs/run-1/evidence.json (sha256 {digest}), signed; check it with `stagegate verify run-1`")),
        "{body}"
    );
    let held = crate::manifest::evidence::verify(&step.artifacts, &step.signer, "runs/run-1/")
        .await
        .unwrap()
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(held.decisions.len(), 2, "both gates");

    // The bucket refuses the evidence: the notice still goes, and says so.
    let n = MemoryNotifier::default();
    let step = notify(&n, &MemoryTable::default());
    step.artifacts.break_keys_containing("evidence");
    step.run(input).await.unwrap();
    let body = n.messages().pop().unwrap().1.body;
    assert!(
        body.contains("Evidence: not recorded (DependencyRefused"),
        "{body}"
    );
}

/// A claims store that refuses (access denied) does not silence the run: the notice
/// goes out without its claim; one that may pass (throttled) is retried instead.
#[tokio::test]
async fn a_refused_claim_still_sends_the_notice_and_a_throttled_one_is_retried() {
    use crate::testing::{Fault, Faults, Faulty};
    let run = || {
        Input::Run(RunInput {
            outcome: Outcome::Success,
            execution_id: "arn:x".into(),
            state: json!({"repository": "acme/shop", "tag": "rc-1"}),
        })
    };
    let step = |n: &MemoryNotifier, faults: &Faults| Notify {
        settings: Settings::default(),
        notifier: n.clone(),
        store: Faulty::new(MemoryTable::default(), faults.clone()),
        clock: FixedClock(now()),
        artifacts: MemoryArtifacts::default(),
        signer: MemorySigner::default(),
        metrics: MemoryMetrics::default(),
    };
    let (n, faults) = (MemoryNotifier::default(), Faults::default());
    faults.arm("dynamodb:PutItem (claim)", Fault::AccessDenied);
    step(&n, &faults).run(run()).await.unwrap();
    assert_eq!(n.messages().len(), 1, "sent without the claim");

    let (n, faults) = (MemoryNotifier::default(), Faults::default());
    faults.arm("dynamodb:PutItem (claim)", Fault::Throttled { times: 1 });
    let e = step(&n, &faults).run(run()).await.unwrap_err();
    assert_eq!(e.name, "DependencyFailed");
    assert!(
        n.messages().is_empty(),
        "nothing sent before the claim is made"
    );
}

#[tokio::test]
async fn a_run_is_counted_once_with_its_phases_and_approval_wait() {
    let (n, table) = (MemoryNotifier::default(), MemoryTable::default());
    let step = notify(&n, &table);
    let timeline = json!([
        {"phase": "Preflight", "offsetSeconds": 0.0, "seconds": 1.5},
        {"phase": "Wait for Approval", "offsetSeconds": 1.5, "seconds": 900.0},
    ]);
    let run = || {
        Input::Run(RunInput {
            outcome: Outcome::Success,
            execution_id: "arn:x".into(),
            state: json!({"repository": "acme/shop", "tag": "rc-1", "release": {"timeline": timeline}}),
        })
    };
    step.run(run()).await.unwrap();
    let runs = step.metrics.of("Runs");
    assert_eq!(runs.len(), 1);
    assert_eq!(
        (
            &runs[0]["Repository"],
            &runs[0]["Stage"],
            &runs[0]["Outcome"]
        ),
        (&json!("acme/shop"), &json!("staging"), &json!("success"))
    );
    assert_eq!(step.metrics.of("PhaseDuration").len(), 2);
    assert_eq!(step.metrics.of("ApprovalWait")[0]["ApprovalWait"], 900.0);
    // The same run told again (a retry, or its end event): not counted again.
    step.run(run()).await.unwrap();
    assert_eq!(step.metrics.lines().len(), 4);
}

#[tokio::test]
async fn a_run_that_ended_abnormally_is_counted_by_its_end_event() {
    let (n, table) = (MemoryNotifier::default(), MemoryTable::default());
    let step = notify(&n, &table);
    step.run(ended("TIMED_OUT", None)).await.unwrap();
    let runs = step.metrics.of("Runs");
    assert_eq!(runs.len(), 1, "{:?}", step.metrics.lines());
    assert_eq!(runs[0]["Repository"], "acme/shop");
    assert!(step.metrics.of("PhaseDuration").is_empty());
}

/// Notify run by `step` on the golden run `name`.
async fn notify_golden<N, T, C, A, S, M>(step: &Notify<N, T, C, A, S, M>, name: &str) -> Output
where
    N: Notifier,
    T: Claims,
    C: Clock,
    A: Artifacts,
    S: Signer,
    M: Metrics,
{
    let (_, outcome, state) = golden_runs()
        .into_iter()
        .find(|(n, ..)| *n == name)
        .unwrap();
    let run = RunInput {
        outcome,
        execution_id: "arn:x".into(),
        state,
    };
    step.run(Input::Run(run)).await.unwrap()
}

#[tokio::test]
async fn a_rolled_back_run_is_counted_as_one_run_and_one_rollback() {
    let (n, table) = (MemoryNotifier::default(), MemoryTable::default());
    let step = notify(&n, &table);
    let out = notify_golden(&step, "rolled-back").await;
    assert_eq!(
        (out.outcome, out.stage.as_str()),
        (Outcome::RolledBack, "Bake")
    );
    let m = n.messages().pop().unwrap().1;
    assert_eq!(m.attributes["outcome"], "rolledback");
    assert_eq!(m.attributes["error"], "BakeFailed");
    assert_eq!(step.metrics.of("Runs")[0]["Outcome"], "rolledback");
    let rollbacks = step.metrics.of("Rollbacks");
    assert_eq!(
        (rollbacks.len(), &rollbacks[0]["Trigger"]),
        (1, &json!("automatic"))
    );
}

#[tokio::test]
async fn a_rollback_on_request_is_a_success_counted_as_a_requested_rollback() {
    let (n, table) = (MemoryNotifier::default(), MemoryTable::default());
    let step = notify(&n, &table);
    notify_golden(&step, "rolled-back-on-request").await;
    let m = n.messages().pop().unwrap().1;
    assert_eq!(m.attributes["outcome"], "success");
    assert!(
        m.subject
            .starts_with("↩️ staging is rolled back to acme/shop rc-1.3.0 (was rc-1.4.0)"),
        "{}",
        m.subject
    );
    let rollbacks = step.metrics.of("Rollbacks");
    assert_eq!(
        (rollbacks.len(), &rollbacks[0]["Trigger"]),
        (1, &json!("requested"))
    );
}

//! Notify: success, failure (with the stage and the reason) or cancellation, with
//! links, as one message whose attributes let subscribers filter (e.g. failures only).
//!
//! It reads the whole execution state, because a failure can happen before any
//! phase wrote its part (a bad trigger fails in Preflight).
//!
//! Every run ends with exactly one notification: each is claimed once per execution
//! (`notified#<execution>`) before it is published, so a retried invocation does not
//! send it twice. The same function also receives the state machine's "Execution
//! Status Change" events (an EventBridge rule, for `FAILED`, `TIMED_OUT` and
//! `ABORTED`): a run that ended without its own notification — it timed out, was
//! stopped, or its Notify step failed — is reported then; one that did notify finds
//! its claim and sends nothing more.

use crate::error::StepError;
use crate::ports::{Claims, Clock, Message, Notifier, Topic};
use crate::settings::Settings;
use crate::step::Step;
use crate::steps::release::{overrides, Approval};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Success,
    Failure,
    Cancelled,
}

/// What Notify is called with.
#[derive(Clone, Debug, Deserialize)]
#[serde(untagged)]
pub enum Input {
    /// From the state machine's Notify states.
    Run(RunInput),
    /// From the EventBridge rule on the state machine's execution status changes.
    Ended(ExecutionEnded),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RunInput {
    pub outcome: Outcome,
    pub execution_id: String,
    /// The execution state at this point (`$`).
    pub state: Value,
}

/// A "Step Functions Execution Status Change" event (only the fields read).
#[derive(Clone, Debug, Deserialize)]
pub struct ExecutionEnded {
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub detail: ExecutionDetail,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExecutionDetail {
    pub execution_arn: String,
    /// `FAILED`, `TIMED_OUT`, `ABORTED` (the rule sends only these).
    pub status: String,
    /// The execution input, as JSON text.
    #[serde(default)]
    pub input: Option<String>,
    #[serde(default)]
    pub error: Option<String>,
    #[serde(default)]
    pub cause: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    /// Empty when nothing was sent because the run had already notified.
    pub message_id: String,
    pub subject: String,
    pub outcome: Outcome,
    pub stage: String,
    /// The run had already notified (a retried call, or the run's own Notify state
    /// before its end event): nothing was sent again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub already_notified: bool,
}

/// The claim of an execution's one notification.
pub fn claim_key(execution_id: &str) -> String {
    format!("notified#{execution_id}")
}

/// How long a notification claim is kept (longer than any run).
pub const CLAIM_DAYS: i64 = 30;

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
}

/// A readable reason from `{Error, Cause}`: Lambda causes are JSON with an
/// `errorMessage`; CodeBuild causes are the build; others are text.
pub fn reason(error: &Value) -> String {
    let name = error
        .get("Error")
        .and_then(Value::as_str)
        .unwrap_or("Error");
    let cause = error.get("Cause").and_then(Value::as_str).unwrap_or("");
    let detail = match serde_json::from_str::<Value>(cause) {
        Ok(v) if v.get("errorMessage").is_some() => {
            v["errorMessage"].as_str().unwrap_or_default().to_string()
        }
        Ok(v) if v.get("Build").is_some() => format!(
            "build {} ended {}",
            v["Build"]["Id"].as_str().unwrap_or("?"),
            v["Build"]["BuildStatus"].as_str().unwrap_or("?")
        ),
        Ok(v) if v.get("decision").is_some() => {
            let by = v["by"].as_str().unwrap_or("someone");
            match v["reason"].as_str() {
                Some(r) => format!("rejected by {by}: {r}"),
                None => format!("rejected by {by}"),
            }
        }
        _ => cause.chars().take(1000).collect(),
    };
    if detail.is_empty() {
        name.to_string()
    } else {
        format!("{name}: {detail}")
    }
}

/// The message for a run that reached a Notify state.
fn run_message(settings: &Settings, input: &RunInput) -> (Message, Output) {
    let s = &input.state;
    let repository = text(s, &["preflight", "candidate", "repository"])
        .or_else(|| text(s, &["repository"]))
        .unwrap_or("(unknown repository)");
    let tag = text(s, &["preflight", "candidate", "tag"])
        .or_else(|| text(s, &["tag"]))
        .unwrap_or("(unknown tag)");
    let stage = match input.outcome {
        Outcome::Success => "Ready for Production".to_string(),
        Outcome::Failure => text(s, &["failure", "stage"])
            .unwrap_or("(unknown stage)")
            .to_string(),
        // Cancelled after the deployment was approved means at User Acceptance Testing.
        Outcome::Cancelled if s.get("approval").is_some() => "User Acceptance Testing".to_string(),
        Outcome::Cancelled => "Wait for Approval".to_string(),
    };
    let mut body = String::new();
    let subject = match input.outcome {
        Outcome::Success => {
            let _ = writeln!(
                body,
                "{repository} {tag} is deployed to {}, tested, and ready for production.",
                settings.environment
            );
            format!("✅ {repository} {tag} is ready for production")
        }
        Outcome::Failure => {
            let why = s
                .get("failure")
                .and_then(|f| f.get("error"))
                .map(reason)
                .unwrap_or_else(|| "no reason recorded".into());
            let _ = writeln!(
                body,
                "{repository} {tag} failed at {stage}.\n\nReason: {why}"
            );
            format!("❌ {repository} {tag} failed at {stage}")
        }
        Outcome::Cancelled => {
            let kind = text(s, &["cancellation", "reason"]).unwrap_or("cancelled");
            let why = s
                .get("cancellation")
                .and_then(|c| c.get("error"))
                .map(reason)
                .unwrap_or_default();
            let _ = writeln!(
                body,
                "{repository} {tag} was not deployed: {kind}.\n\n{why}"
            );
            format!("🚫 {repository} {tag} was cancelled ({kind})")
        }
    };
    let _ = writeln!(
        body,
        "\nExecution: {}",
        settings.execution_link(&input.execution_id)
    );
    if let Some(p) = text(s, &["preflight", "artifactsPrefix"]) {
        let _ = writeln!(body, "Artifacts: {p}");
    }
    if let Some(u) = text(s, &["frontend", "url"]) {
        let _ = writeln!(body, "Staging: {u}");
    }
    if let Some(u) = text(s, &["checklist", "markdownUri"]) {
        let _ = writeln!(body, "Checklist: {u}");
    }
    if let Some(u) = text(s, &["release", "notesUri"]) {
        let _ = writeln!(body, "Release notes: {u}");
    }
    let timeline: Vec<crate::steps::release::PhaseTime> = s
        .get("release")
        .and_then(|r| r.get("timeline"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    if !timeline.is_empty() {
        let _ = writeln!(
            body,
            "\nTimeline:\n{}",
            crate::steps::release::text_gantt(&timeline)
        );
        if let Some(u) = text(s, &["release", "timelineUri"]) {
            let _ = writeln!(body, "Timeline picture: {u}");
        }
    }
    if let Some(approvers) = s
        .get("approval")
        .and_then(|a| a.get("approvers"))
        .and_then(Value::as_array)
    {
        let names: Vec<&str> = approvers.iter().filter_map(Value::as_str).collect();
        let _ = writeln!(body, "Approved by: {}", names.join(", "));
    }
    if let Some(approval) = s
        .get("approval")
        .and_then(|a| serde_json::from_value::<Approval>(a.clone()).ok())
    {
        for line in overrides(&approval) {
            let _ = writeln!(body, "{line}");
        }
    }
    if s.get("validation").and_then(|v| v.get("noChanges")) == Some(&Value::Bool(true)) {
        let _ = writeln!(body, "Infrastructure: no changes: deploy skipped");
    }
    let outcome_attr = match input.outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Cancelled => "cancelled",
    };
    let mut attributes = BTreeMap::from([
        ("outcome".to_string(), outcome_attr.to_string()),
        ("stage".to_string(), stage.clone()),
        ("repository".to_string(), repository.to_string()),
        ("tag".to_string(), tag.to_string()),
        ("environment".to_string(), settings.environment.clone()),
    ]);
    if let Some(e) = text(s, &["failure", "error", "Error"])
        .or_else(|| text(s, &["cancellation", "error", "Error"]))
    {
        attributes.insert("error".into(), e.to_string());
    }
    let machine = machine_form(
        &subject,
        &attributes,
        &settings.execution_link(&input.execution_id),
        &[
            ("artifacts", text(s, &["preflight", "artifactsPrefix"])),
            ("stagingUrl", text(s, &["frontend", "url"])),
            ("checklist", text(s, &["checklist", "markdownUri"])),
            ("releaseNotes", text(s, &["release", "notesUri"])),
        ],
    );
    let message = Message {
        subject: subject.clone(),
        body,
        attributes,
        machine: Some(machine),
    };
    let output = Output {
        message_id: String::new(),
        subject,
        outcome: input.outcome,
        stage,
        already_notified: false,
    };
    (message, output)
}

/// The message for a run that ended without reaching a Notify state's success.
fn ended_message(
    settings: &Settings,
    event: &ExecutionEnded,
) -> Result<(Message, Output), StepError> {
    if event.detail_type != "Step Functions Execution Status Change" {
        return Err(crate::error::invalid_input(format!(
            "notify: '{}' events are not execution status changes",
            event.detail_type
        )));
    }
    let d = &event.detail;
    let trigger: Value = d
        .input
        .as_deref()
        .and_then(|i| serde_json::from_str(i).ok())
        .unwrap_or(Value::Null);
    let repository = text(&trigger, &["repository"]).unwrap_or("(unknown repository)");
    let tag = text(&trigger, &["tag"]).unwrap_or("(unknown tag)");
    let (outcome, subject, what) = match d.status.as_str() {
        "TIMED_OUT" => (
            Outcome::Failure,
            format!("⏱ {repository} {tag} timed out before it finished"),
            "The run exceeded its time limit (7 days) and was ended by Step Functions.",
        ),
        "ABORTED" => (
            Outcome::Cancelled,
            format!("🛑 {repository} {tag} was stopped before it finished"),
            "Someone stopped the run (StopExecution) before it finished.",
        ),
        "FAILED" => (
            Outcome::Failure,
            format!("❌ {repository} {tag} failed, and its own notification did not go out"),
            "The run failed and could not send its notification itself.",
        ),
        other => {
            return Err(crate::error::invalid_input(format!(
                "notify: execution status '{other}' is not an abnormal end"
            )))
        }
    };
    let mut body = String::new();
    let _ = writeln!(body, "{repository} {tag}: {what}");
    if let Some(e) = &d.error {
        let _ = writeln!(
            body,
            "\nReason: {}",
            reason(&serde_json::json!({"Error": e, "Cause": d.cause.clone().unwrap_or_default()}))
        );
    }
    let _ = writeln!(
        body,
        "\nExecution: {}",
        settings.execution_link(&d.execution_arn)
    );
    let mut attributes = BTreeMap::from([
        (
            "outcome".to_string(),
            match outcome {
                Outcome::Cancelled => "cancelled",
                _ => "failure",
            }
            .to_string(),
        ),
        ("stage".to_string(), d.status.clone()),
        ("repository".to_string(), repository.to_string()),
        ("tag".to_string(), tag.to_string()),
        ("environment".to_string(), settings.environment.clone()),
    ]);
    if let Some(e) = &d.error {
        attributes.insert("error".into(), e.clone());
    }
    let output = Output {
        message_id: String::new(),
        subject: subject.clone(),
        outcome,
        stage: d.status.clone(),
        already_notified: false,
    };
    let machine = machine_form(
        &subject,
        &attributes,
        &settings.execution_link(&d.execution_arn),
        &[],
    );
    Ok((
        Message {
            subject,
            body,
            attributes,
            machine: Some(machine),
        },
        output,
    ))
}

/// The notification for machines: what the attributes say, the subject, and the
/// links, as one JSON object (`version` 1; fields are only ever added).
fn machine_form(
    subject: &str,
    attributes: &BTreeMap<String, String>,
    execution_url: &str,
    links: &[(&str, Option<&str>)],
) -> Value {
    let mut m = serde_json::Map::new();
    m.insert("version".into(), Value::from(1));
    for (k, v) in attributes {
        m.insert(k.clone(), Value::from(v.as_str()));
    }
    m.insert("subject".into(), Value::from(subject));
    m.insert("executionUrl".into(), Value::from(execution_url));
    for (k, v) in links {
        if let Some(v) = v {
            m.insert((*k).into(), Value::from(*v));
        }
    }
    Value::Object(m)
}

/// Publishes `message` once for `execution_id`: claimed first, released if the
/// publish fails (so a retry can send it).
async fn publish_once(
    notifier: &impl Notifier,
    claims: &impl Claims,
    now: chrono::DateTime<chrono::Utc>,
    execution_id: &str,
    message: &Message,
    mut output: Output,
) -> Result<Output, StepError> {
    let key = claim_key(execution_id);
    if !claims
        .claim(&key, now + chrono::Duration::days(CLAIM_DAYS))
        .await?
    {
        output.already_notified = true;
        return Ok(output);
    }
    match notifier.publish(Topic::Notifications, message).await {
        Ok(id) => {
            output.message_id = id;
            Ok(output)
        }
        Err(e) => {
            // Give the claim back so the retry (or the end-of-run event) sends it; if
            // that fails too, the error says both.
            match claims.release(&key).await {
                Ok(()) => Err(e.into()),
                Err(r) => Err(StepError::new(
                    crate::error::names::DEPENDENCY_FAILED,
                    format!("{e}; and the notification claim could not be released: {r}"),
                )),
            }
        }
    }
}

/// The `notify` function's name.
pub const NAME: &str = "notify";

/// Notify: the outcome to everyone, once per run.
pub struct Notify<N, Cl, K> {
    settings: Settings,
    notifier: N,
    claims: Cl,
    clock: K,
}

impl<N: Notifier, Cl: Claims, K: Clock> Notify<N, Cl, K> {
    pub fn new(settings: Settings, notifier: N, claims: Cl, clock: K) -> Self {
        Notify {
            settings,
            notifier,
            claims,
            clock,
        }
    }
}

impl<N: Notifier, Cl: Claims, K: Clock> Step for Notify<N, Cl, K> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        let (execution_id, (message, output)) = match &input {
            Input::Run(run) => (run.execution_id.as_str(), run_message(&self.settings, run)),
            Input::Ended(event) => (
                event.detail.execution_arn.as_str(),
                ended_message(&self.settings, event)?,
            ),
        };
        publish_once(
            &self.notifier,
            &self.claims,
            self.clock.now(),
            execution_id,
            &message,
            output,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryClaims;
    use crate::testing::{now, FixedClock, MemoryNotifier};
    use serde_json::json;

    async fn send(outcome: Outcome, state: Value) -> Message {
        let n = MemoryNotifier::default();
        Notify::new(
            Settings::default(),
            &n,
            MemoryClaims::default(),
            FixedClock(now()),
        )
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

    /// Golden files (`tests/golden/notify/<case>.txt`): each notification's subject,
    /// attributes and body as a subscriber receives them. A change to any of them
    /// fails here with the difference; `STAGEGATE_BLESS=1 cargo test -p stagegate
    /// golden` rewrites the files, to be reviewed in the diff like code.
    #[test]
    fn every_notification_matches_its_golden_file() {
        let settings = Settings {
            execution_url: "https://console.example/states/{execution}".into(),
            ..Settings::default()
        };
        let candidate = json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": "0123456"});
        let run = |outcome, state: Value| {
            run_message(
                &settings,
                &RunInput {
                    outcome,
                    execution_id: "arn:aws:states:us-east-1:123456789012:execution:sg:run-1".into(),
                    state,
                },
            )
            .0
        };
        let end = |status: &str, error: Option<&str>| match ended(status, error) {
            Input::Ended(e) => ended_message(&settings, &e).expect("an abnormal end").0,
            Input::Run(_) => unreachable!("ended() builds an end event"),
        };
        let vote = |approver: &str, reason: &str| {
            json!({"approver": approver, "via": "email link", "approve": true,
                   "reason": reason, "at": "2026-01-01T10:00:00Z", "from": "203.0.113.7"})
        };
        let cases = [
            (
                "success",
                run(
                    Outcome::Success,
                    json!({
                        "preflight": {"candidate": candidate, "artifactsPrefix": "s3://artifacts/runs/run-1/"},
                        "checklist": {"markdownUri": "s3://artifacts/runs/run-1/checklist.md"},
                        "approval": {"approvers": ["lead", "sre"],
                                     "votes": [vote("lead", "flaky lint rule, fixed in rc-1.4.1")],
                                     "failedChecks": ["eslint"]},
                        "frontend": {"url": "https://staging.shop.example"},
                        "release": {"notesUri": "s3://artifacts/runs/run-1/release-notes.md"}
                    }),
                ),
            ),
            (
                "failure-deploy-frontend",
                run(
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
                run(
                    Outcome::Cancelled,
                    json!({
                        "preflight": {"candidate": candidate},
                        "cancellation": {"reason": "rejected", "error": {
                            "Error": "Rejected",
                            "Cause": "{\"decision\":\"rejected\",\"by\":\"lead\",\"reason\":\"breaks checkout\"}"}}
                    }),
                ),
            ),
            ("ended-timed-out", end("TIMED_OUT", Some("States.Timeout"))),
            ("ended-aborted", end("ABORTED", None)),
            ("ended-failed", end("FAILED", Some("States.Runtime"))),
        ];
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/notify");
        let bless = std::env::var("STAGEGATE_BLESS").is_ok_and(|v| v == "1");
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
            let path = dir.join(format!("{name}.txt"));
            if bless {
                std::fs::create_dir_all(&dir).expect("golden directory");
                std::fs::write(&path, &text).expect("write golden file");
                continue;
            }
            match std::fs::read_to_string(&path) {
                Ok(golden) if golden == text => {}
                Ok(golden) => differ.push(format!(
                    "{}:\n--- golden\n{golden}\n--- now\n{text}",
                    path.display()
                )),
                Err(e) => differ.push(format!("{}: {e}", path.display())),
            }
        }
        assert!(
            differ.is_empty(),
            "notifications differ from their golden files (STAGEGATE_BLESS=1 rewrites them):\n{}",
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
        let claims = MemoryClaims::default();
        let step = Notify::new(Settings::default(), &n, &claims, FixedClock(now()));
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
        let claims = MemoryClaims::default();
        let step = Notify::new(Settings::default(), &n, &claims, FixedClock(now()));
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
        Notify::new(
            Settings::default(),
            &n,
            MemoryClaims::default(),
            FixedClock(now()),
        )
        .run(ended("ABORTED", None))
        .await
        .unwrap();
        let m = n.messages().pop().unwrap().1;
        assert_eq!(m.attributes["outcome"], "cancelled");
        assert!(m.subject.contains("was stopped"), "{}", m.subject);
    }

    #[tokio::test]
    async fn other_events_and_statuses_are_refused_by_name() {
        let step = Notify::new(
            Settings::default(),
            MemoryNotifier::default(),
            MemoryClaims::default(),
            FixedClock(now()),
        );
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
        assert!(m.body.contains("rejected by bob: flaky"));
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
}

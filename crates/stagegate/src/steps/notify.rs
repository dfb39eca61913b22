//! Notify: success, failure (with the stage and the reason) or cancellation, with
//! links, as one message whose attributes let subscribers filter (e.g. failures only).
//!
//! It reads the whole execution state, because a failure can happen before any
//! phase wrote its part (a bad trigger fails in Preflight).

use crate::error::StepError;
use crate::ports::{Message, Notifier, Topic};
use crate::settings::Settings;
use crate::step::Step;
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

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub outcome: Outcome,
    pub execution_id: String,
    /// The execution state at this point (`$`).
    pub state: Value,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub message_id: String,
    pub subject: String,
    pub outcome: Outcome,
    pub stage: String,
}

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

async fn run(
    settings: &Settings,
    notifier: &impl Notifier,
    input: Input,
) -> Result<Output, StepError> {
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
                "{repository} {tag} is deployed to staging, tested, and ready for production."
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
    if let Some(approvers) = s
        .get("approval")
        .and_then(|a| a.get("approvers"))
        .and_then(Value::as_array)
    {
        let names: Vec<&str> = approvers.iter().filter_map(Value::as_str).collect();
        let _ = writeln!(body, "Approved by: {}", names.join(", "));
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
    ]);
    if let Some(e) = text(s, &["failure", "error", "Error"])
        .or_else(|| text(s, &["cancellation", "error", "Error"]))
    {
        attributes.insert("error".into(), e.to_string());
    }
    let message = Message {
        subject: subject.clone(),
        body,
        attributes,
    };
    let message_id = notifier.publish(Topic::Notifications, &message).await?;
    Ok(Output {
        message_id,
        subject,
        outcome: input.outcome,
        stage,
    })
}

/// The `notify` function's name.
pub const NAME: &str = "notify";

/// Notify: the outcome to everyone.
pub struct Notify<N> {
    settings: Settings,
    notifier: N,
}

impl<N: Notifier> Notify<N> {
    pub fn new(settings: Settings, notifier: N) -> Self {
        Notify { settings, notifier }
    }
}

impl<N: Notifier> Step for Notify<N> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        run(&self.settings, &self.notifier, input).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MemoryNotifier;
    use serde_json::json;

    async fn send(outcome: Outcome, state: Value) -> Message {
        let n = MemoryNotifier::default();
        run(
            &Settings::default(),
            &n,
            Input {
                outcome,
                execution_id: "arn:x".into(),
                state,
            },
        )
        .await
        .unwrap();
        n.messages().pop().unwrap().1
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
}

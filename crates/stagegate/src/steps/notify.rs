//! Notify (`notify`): success, failure (with the stage and the reason) or cancellation, with
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

use crate::error::{invalid_input, names, StepError};
use crate::manifest::{evidence, live, staged};
use crate::ports::{Artifacts, Claims, Clock, Message, Metrics, Notifier, Signer, Topic};
use crate::settings::{Settings, Stage};
use crate::step::Step;
pub use crate::text::reason;
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
    /// The release failed its bake and the previous one is live again (`$.rollback`).
    #[serde(rename = "rolledback")]
    RolledBack,
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
    pub input: Option<String>,
    pub error: Option<String>,
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
    /// The run's signed evidence bundle, when it was recorded (a promotion names it in
    /// its release afterwards).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence: Option<crate::flow::ManifestRef>,
}

/// The claim of an execution's one notification.
pub fn claim_key(execution_id: &str) -> String {
    format!("notified#{execution_id}")
}

/// How long a notification claim is kept (longer than any run).
pub const CLAIM_DAYS: i64 = 30;

/// Whether the run's state is a rollback someone asked for (`stagegate rollback`).
fn requested_rollback(state: &Value) -> bool {
    state.pointer("/preflight/candidate/rollback") == Some(&Value::Bool(true))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, k| v.get(k))?.as_str()
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
    let production = settings.stage == Stage::Production;
    let stage = match input.outcome {
        Outcome::Success if production => "Promoted".to_string(),
        Outcome::Success => "Ready for Production".to_string(),
        Outcome::Failure => text(s, &["failure", "stage"])
            .unwrap_or("(unknown stage)")
            .to_string(),
        // The definition names where it cancelled when that is not a gate.
        Outcome::Cancelled if text(s, &["cancellation", "stage"]).is_some() => {
            text(s, &["cancellation", "stage"])
                .unwrap_or_default()
                .to_string()
        }
        Outcome::Cancelled if production => "Wait for Production Approval".to_string(),
        // Cancelled after the deployment was approved means at User Acceptance Testing.
        Outcome::Cancelled if s.get("approval").is_some() => "User Acceptance Testing".to_string(),
        Outcome::Cancelled => "Wait for Approval".to_string(),
        Outcome::RolledBack => text(s, &["failure", "stage"]).unwrap_or("Bake").to_string(),
    };
    let mut body = String::new();
    let what = format!("{repository} {tag}");
    let subject = headline(&mut body, settings, input.outcome, s, &what, &stage);
    let execution = settings.execution_link(&input.execution_id);
    let _ = writeln!(body, "\nExecution: {execution}");
    details(&mut body, s, production);
    let mut attributes = BTreeMap::from([
        (
            "outcome".to_string(),
            outcome_name(input.outcome).to_string(),
        ),
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
    let links = [
        ("artifacts", text(s, &["preflight", "artifactsPrefix"])),
        ("stagingUrl", text(s, &["frontend", "url"])),
        ("checklist", text(s, &["checklist", "markdownUri"])),
        ("releaseNotes", text(s, &["release", "notesUri"])),
    ];
    let machine = machine_form(&subject, &attributes, &execution, &links);
    let output = Output {
        evidence: None,
        message_id: String::new(),
        subject: subject.clone(),
        outcome: input.outcome,
        stage,
        already_notified: false,
    };
    let message = Message {
        subject,
        body,
        attributes,
        machine: Some(machine),
    };
    (message, output)
}

fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Success => "success",
        Outcome::Failure => "failure",
        Outcome::Cancelled => "cancelled",
        Outcome::RolledBack => "rolledback",
    }
}

/// The message for a run that ended without reaching a Notify state's success.
fn ended_message(
    settings: &Settings,
    event: &ExecutionEnded,
) -> Result<(Message, Output), StepError> {
    if event.detail_type != "Step Functions Execution Status Change" {
        return Err(invalid_input(format!(
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
            return Err(invalid_input(format!(
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
    let execution = settings.execution_link(&d.execution_arn);
    let _ = writeln!(body, "\nExecution: {execution}");
    let mut attributes = BTreeMap::from([
        ("outcome".to_string(), outcome_name(outcome).to_string()),
        ("stage".to_string(), d.status.clone()),
        ("repository".to_string(), repository.to_string()),
        ("tag".to_string(), tag.to_string()),
        ("environment".to_string(), settings.environment.clone()),
    ]);
    if let Some(e) = &d.error {
        attributes.insert("error".into(), e.clone());
    }
    let output = Output {
        evidence: None,
        message_id: String::new(),
        subject: subject.clone(),
        outcome,
        stage: d.status.clone(),
        already_notified: false,
    };
    let machine = machine_form(&subject, &attributes, &execution, &[]);
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
/// publish fails (so a retry can send it). A claims store that refuses does not stop
/// the notice: it is sent without the claim (at least once instead of exactly once).
async fn publish_once(
    notifier: &impl Notifier,
    claims: &impl Claims,
    now: chrono::DateTime<chrono::Utc>,
    execution_id: &str,
    message: &Message,
    mut output: Output,
) -> Result<Output, StepError> {
    let key = claim_key(execution_id);
    let guarded = match claims
        .claim(&key, now + chrono::Duration::days(CLAIM_DAYS))
        .await
    {
        Ok(true) => true,
        Ok(false) => {
            output.already_notified = true;
            return Ok(output);
        }
        // The claims store refuses (access denied, not a passing fault): nobody can
        // make sure this notice is sent once, so it is sent anyway. Twice is better
        // than a run nobody is told about.
        Err(e) if !e.transient => false,
        Err(e) => return Err(e.into()),
    };
    match notifier.publish(Topic::Notifications, message).await {
        Ok(id) => {
            output.message_id = id;
            Ok(output)
        }
        Err(e) if !guarded => Err(e.into()),
        Err(e) => {
            // Give the claim back so the retry (or the end-of-run event) sends it; if
            // that fails too, the error says both.
            match claims.release(&key).await {
                Ok(()) => Err(e.into()),
                Err(r) => Err(StepError::new(
                    names::DEPENDENCY_FAILED,
                    format!("{e}; and the notification claim could not be released: {r}"),
                )),
            }
        }
    }
}

/// The `notify` function's name.
pub const NAME: &str = "notify";

/// Notify: the outcome to everyone, once per run, and the run's signed evidence.
pub struct Notify<N, T, C, A, S, M> {
    pub settings: Settings,
    pub notifier: N,
    /// The table: one claim per run's notification.
    pub store: T,
    pub clock: C,
    /// Where the evidence bundle goes, and what signs it.
    pub artifacts: A,
    pub signer: S,
    /// Where the run's outcome, phase durations and approval wait go (EMF lines).
    pub metrics: M,
}

/// Records the run's evidence and says where it is (or why it is not): a notice is
/// never held back by its evidence.
async fn evidence_line(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    now: chrono::DateTime<chrono::Utc>,
    run: &RunInput,
    message: &Message,
    (stage, live_stage): (&str, &str),
) -> (String, Option<crate::flow::ManifestRef>) {
    let error = message.attributes.get("error").cloned();
    let outcome = outcome_name(run.outcome);
    let Some((prefix, found)) =
        evidence::from_state(&run.state, outcome, (stage, live_stage), error, now)
    else {
        return (String::new(), None);
    };
    let run_id = found.run_id.clone();
    // What the staged record needs of it, for a staging run that ended ready (a
    // production run's commit is promoted, not staged again); and the stage's live
    // record, for any run that made its release live.
    let bundle = (outcome == "success" && found.promotes.is_none()).then(|| found.clone());
    let live = (outcome == "success").then(|| found.clone());
    let at = match evidence::record(artifacts, signer, found, &prefix).await {
        Ok(at) => at,
        Err(e) => return (format!("\nEvidence: not recorded ({e})\n"), None),
    };
    let mut line = format!(
        "\nEvidence: {} (sha256 {}), signed; check it with `stagegate verify {run_id}`\n",
        at.key, at.digest
    );
    if let Some(live) = live {
        if let Err(e) = live::record_live(artifacts, live_stage, &live, &at, now).await {
            let key = live::live_key(live_stage);
            line.push_str(&format!("Live: not recorded in {key} ({e}); a failed bake of the next release cannot roll back to this one\n"));
        }
    }
    if let Some(bundle) = bundle {
        let commit = &bundle.commit;
        line.push_str(&match staged::record_staged(artifacts, &bundle, &at, now).await {
            Ok(s) => format!(
                "Staged: {} (ready on staging since {}); what a promotion of {commit} checks first: `stagegate verify --commit {commit}`\n",
                staged::staged_key(commit),
                s.first_ready_at.to_rfc3339()
            ),
            Err(e) => format!("Staged: not recorded ({e}); a promotion of {commit} will be refused as NotStaged\n"),
        });
    }
    (line, Some(at))
}

impl<N, T, C, A, S, M> Step<Input, Output> for Notify<N, T, C, A, S, M>
where
    N: Notifier,
    T: Claims,
    C: Clock,
    A: Artifacts,
    S: Signer,
    M: Metrics,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        let (execution_id, (mut message, mut output)) = match &input {
            Input::Run(run) => (run.execution_id.as_str(), run_message(&self.settings, run)),
            Input::Ended(event) => (
                event.detail.execution_arn.as_str(),
                ended_message(&self.settings, event)?,
            ),
        };
        if let Input::Run(run) = &input {
            let (now, stage) = (self.clock.now(), &output.stage);
            let stages = (stage.as_str(), self.settings.stage.name());
            let line = evidence_line(&self.artifacts, &self.signer, now, run, &message, stages);
            let (line, evidence) = line.await;
            message.body.push_str(&line);
            output.evidence = evidence;
        }
        let now = self.clock.now();
        let output = publish_once(
            &self.notifier,
            &self.store,
            now,
            execution_id,
            &message,
            output,
        );
        let output = output.await?;
        if !output.already_notified {
            self.emit_metrics(&input, &message, &output, now);
        }
        Ok(output)
    }
}

impl<N, T, C, A, S, M: Metrics> Notify<N, T, C, A, S, M> {
    /// Counts the run once, with the run's notice (a run already told is not counted
    /// again): its outcome, and its phases and approval wait when it charted them.
    fn emit_metrics(
        &self,
        input: &Input,
        message: &Message,
        output: &Output,
        now: chrono::DateTime<chrono::Utc>,
    ) {
        let repository = message
            .attributes
            .get("repository")
            .map_or("", String::as_str);
        let timeline: Vec<crate::flow::PhaseTime> = match input {
            Input::Run(run) => run
                .state
                .pointer("/release/timeline")
                .and_then(|t| serde_json::from_value(t.clone()).ok())
                .unwrap_or_default(),
            Input::Ended(_) => vec![],
        };
        let stage = self.settings.stage.name();
        let outcome = outcome_name(output.outcome);
        let mut samples = crate::metrics::run_ended(repository, stage, outcome, &timeline);
        let requested = match input {
            Input::Run(run) => requested_rollback(&run.state),
            Input::Ended(_) => false,
        };
        let trigger = match output.outcome {
            Outcome::RolledBack => Some("automatic"),
            Outcome::Success if requested => Some("requested"),
            _ => None,
        };
        if let Some(trigger) = trigger {
            let dims = [repository, stage, trigger];
            samples.push(crate::metrics::count(crate::metrics::ROLLBACKS, &dims));
        }
        for sample in samples {
            self.metrics.emit(sample.emf(now));
        }
    }
}

mod body;
use body::{details, headline};

#[cfg(test)]
mod tests;

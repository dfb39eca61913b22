//! Preflight: validate the candidate, recognise a duplicate of a running execution,
//! and supersede older candidates still waiting for approval.

use crate::candidate::{Candidate, Trigger};
use crate::error::{names, StepError};
use crate::ports::{ApprovalState, Approvals, CallbackError, Executions, TaskCallbacks, Update};
use crate::settings::Settings;
use crate::step::Step;
use crate::steps::run_id;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    /// The execution input as given (webhook or manual start).
    pub trigger: Value,
    pub execution_id: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Output {
    pub candidate: Candidate,
    pub run_id: String,
    pub execution_id: String,
    pub artifacts_prefix: String,
    pub approval_timeout_seconds: u64,
    pub suites: Vec<String>,
    /// Whether User Acceptance Testing runs after the tests.
    pub user_acceptance: bool,
    /// The command of each check, handed to the builds.
    pub commands: BTreeMap<String, String>,
    /// Set when another running execution handles the same tag and commit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// Older candidates this one replaced while they waited for approval.
    pub superseded: Vec<String>,
}

async fn run(
    settings: &Settings,
    executions: &impl Executions,
    approvals: &impl Approvals,
    callbacks: &impl TaskCallbacks,
    input: Input,
) -> Result<Output, StepError> {
    let trigger: Trigger = serde_json::from_value(input.trigger).map_err(|e| {
        StepError::new(
            names::INVALID_CANDIDATE,
            format!("the execution input must be {{\"repository\", \"tag\", \"sha\", \"pushedBy\"}}: {e}"),
        )
    })?;
    let candidate = trigger.validate(&settings.tag_prefix)?;
    let run = run_id(&input.execution_id).to_string();
    let mut out = Output {
        artifacts_prefix: format!("runs/{run}/"),
        run_id: run,
        execution_id: input.execution_id.clone(),
        approval_timeout_seconds: settings.approval_timeout_seconds,
        suites: settings.suites.clone(),
        user_acceptance: settings.user_acceptance,
        commands: settings.commands.clone(),
        duplicate_of: None,
        superseded: Vec::new(),
        candidate,
    };
    let running = executions.running().await?;
    out.duplicate_of = running
        .iter()
        .find(|e| {
            e.id != input.execution_id
                && e.input.get("tag").and_then(Value::as_str) == Some(out.candidate.tag.as_str())
                && e.input.get("sha").and_then(Value::as_str) == Some(out.candidate.sha.as_str())
                && e.input.get("repository").and_then(Value::as_str)
                    == Some(out.candidate.repository.as_str())
        })
        .map(|e| e.id.clone());
    if out.duplicate_of.is_some() {
        return Ok(out);
    }
    let c = &out.candidate;
    for record in approvals.pending(&c.repository).await? {
        let older = version_of(&record.tag, &settings.tag_prefix)
            .is_some_and(|v| compare_versions(v, &c.version) == Ordering::Less);
        if record.execution_id == input.execution_id || !older {
            continue;
        }
        let mut replaced = record.clone();
        replaced.revision = record.revision + 1;
        replaced.state = ApprovalState::Superseded;
        if let Update::Done = approvals.update(&record, &replaced).await? {
            let cause = format!(
                "{} ({}) replaces {} while it waited for approval",
                c.tag,
                &c.sha[..7],
                record.tag
            );
            match callbacks
                .fail(&record.task_token, names::SUPERSEDED, &cause)
                .await
            {
                Ok(()) | Err(CallbackError::TaskClosed(_)) => {}
                Err(CallbackError::Port(e)) => return Err(e.into()),
            }
            out.superseded.push(record.tag.clone());
        }
    }
    Ok(out)
}

fn version_of<'a>(tag: &'a str, prefix: &str) -> Option<&'a str> {
    tag.strip_prefix(prefix)
}

/// Semantic-version precedence (`1.4.0-beta.2 < 1.4.0 < 1.4.1`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (Vec<u64>, Option<Vec<&str>>) {
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.split('.').collect())),
            None => (v, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    }
    let (ac, ap) = split(a);
    let (bc, bp) = split(b);
    ac.cmp(&bc).then_with(|| match (ap, bp) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            for (p, q) in x.iter().zip(&y) {
                let ord = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
    })
}

/// The `preflight` function's name.
pub const NAME: &str = "preflight";

/// Preflight: validates the candidate, recognises a duplicate, supersedes older waiting candidates.
pub struct Preflight<E, A, C> {
    settings: Settings,
    executions: E,
    approvals: A,
    callbacks: C,
}

impl<E: Executions, A: Approvals, C: TaskCallbacks> Preflight<E, A, C> {
    pub fn new(settings: Settings, executions: E, approvals: A, callbacks: C) -> Self {
        Preflight {
            settings,
            executions,
            approvals,
            callbacks,
        }
    }
}

impl<E: Executions, A: Approvals, C: TaskCallbacks> Step for Preflight<E, A, C> {
    const NAME: &'static str = NAME;
    type Input = Input;
    type Output = Output;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        run(
            &self.settings,
            &self.executions,
            &self.approvals,
            &self.callbacks,
            input,
        )
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryApprovals;
    use crate::ports::RunningExecution;
    use crate::testing::{pending_record, SHA};
    use crate::testing::{MemoryCallbacks, MemoryExecutions};
    use serde_json::json;

    fn input(tag: &str, exec: &str) -> Input {
        Input {
            trigger: json!({"repository": "acme/shop", "tag": tag, "sha": SHA, "pushedBy": "ana"}),
            execution_id: format!("arn:aws:states:us-east-1:1:execution:staging:{exec}"),
        }
    }

    #[tokio::test]
    async fn valid_candidate_gets_its_run_id_and_prefix() {
        let out = run(
            &Settings::default(),
            &MemoryExecutions::default(),
            &MemoryApprovals::default(),
            &MemoryCallbacks::default(),
            input("rc-1.4.0", "run-1"),
        )
        .await
        .unwrap();
        assert_eq!(out.run_id, "run-1");
        assert_eq!(out.artifacts_prefix, "runs/run-1/");
        assert_eq!(out.candidate.version, "1.4.0");
        assert_eq!(out.approval_timeout_seconds, 86_400);
        assert!(out.duplicate_of.is_none());
    }

    #[tokio::test]
    async fn bad_trigger_is_an_invalid_candidate() {
        let mut i = input("v1", "run-1");
        let e = run(
            &Settings::default(),
            &MemoryExecutions::default(),
            &MemoryApprovals::default(),
            &MemoryCallbacks::default(),
            i.clone(),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
        i.trigger = json!({"tag": 3});
        let e = run(
            &Settings::default(),
            &MemoryExecutions::default(),
            &MemoryApprovals::default(),
            &MemoryCallbacks::default(),
            i,
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
        assert!(e.message.contains("repository"), "{}", e.message);
    }

    #[tokio::test]
    async fn another_running_execution_for_the_same_tag_and_sha_is_a_duplicate() {
        let execs = MemoryExecutions::default();
        execs.add(RunningExecution {
            id: "arn:first".into(),
            input: json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": SHA}),
        });
        execs.add(RunningExecution {
            id: "arn:aws:states:us-east-1:1:execution:staging:run-2".into(),
            input: json!({"repository": "acme/shop", "tag": "rc-1.4.0", "sha": SHA}),
        });
        let out = run(
            &Settings::default(),
            &execs,
            &MemoryApprovals::default(),
            &MemoryCallbacks::default(),
            input("rc-1.4.0", "run-2"),
        )
        .await
        .unwrap();
        assert_eq!(out.duplicate_of.as_deref(), Some("arn:first"));
    }

    #[tokio::test]
    async fn a_newer_candidate_supersedes_older_pending_approvals_only() {
        let approvals = MemoryApprovals::default();
        approvals
            .create(&pending_record("h-old", "rc-1.3.9", "tok-old"), &[])
            .await
            .unwrap();
        approvals
            .create(&pending_record("h-new", "rc-1.5.0", "tok-new"), &[])
            .await
            .unwrap();
        let callbacks = MemoryCallbacks::default();
        let out = run(
            &Settings::default(),
            &MemoryExecutions::default(),
            &approvals,
            &callbacks,
            input("rc-1.4.0", "run-3"),
        )
        .await
        .unwrap();
        assert_eq!(out.superseded, vec!["rc-1.3.9"]);
        assert_eq!(
            approvals.get("h-old").await.unwrap().unwrap().state,
            ApprovalState::Superseded
        );
        assert_eq!(
            approvals.get("h-new").await.unwrap().unwrap().state,
            ApprovalState::Pending
        );
        let failures = callbacks.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].0.as_str(), failures[0].1.as_str()),
            ("tok-old", "Superseded")
        );
        assert!(failures[0].2.contains("rc-1.4.0"));
    }

    #[test]
    fn versions_compare_by_semver_precedence() {
        assert_eq!(compare_versions("1.4.0", "1.4.1"), Ordering::Less);
        assert_eq!(compare_versions("1.10.0", "1.9.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.4.0-beta.2", "1.4.0"), Ordering::Less);
        assert_eq!(
            compare_versions("1.4.0-beta.2", "1.4.0-beta.10"),
            Ordering::Less
        );
        assert_eq!(
            compare_versions("1.4.0-alpha", "1.4.0-beta"),
            Ordering::Less
        );
        assert_eq!(compare_versions("1.4.0-1", "1.4.0-alpha"), Ordering::Less);
        assert_eq!(compare_versions("1.4.0", "1.4.0"), Ordering::Equal);
    }
}

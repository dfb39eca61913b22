//! Preflight (`preflight`): validates the candidate; claims its run, so two starts
//! of the same candidate cannot both proceed; records it as its repository's newest
//! candidate; and supersedes older candidates still waiting for approval (one still
//! in its checks learns it when it asks for approval, see `request-approval`).

use crate::candidate::{compare_versions, version_of};
use crate::error::{names, StepError};
use crate::flow::run_id;
use crate::ports::{
    ApprovalState, Approvals, CallbackError, Candidate, Candidates, Claim, Claims, Clock,
    Executions, Hold, Newest, TaskCallbacks, Trigger, Update,
};
use crate::settings::Settings;
use crate::step::Step;
use chrono::Duration;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// The `preflight` function's name.
pub const NAME: &str = "preflight";

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
    /// The command suites (name and command), run in CodeBuild after the HTTP suites.
    #[serde(default)]
    pub command_suites: Vec<CommandSuite>,
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

/// A command suite, as the Command Suites map iterates them.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommandSuite {
    pub name: String,
    pub command: String,
}

/// How long a run's claim is kept: longer than any run (7 days).
pub const RUN_CLAIM_DAYS: i64 = 30;

/// The claim of a candidate's run: one repository, tag and commit is one run.
pub fn run_claim_key(c: &Candidate) -> String {
    format!("run#{}#{}#{}", c.repository, c.tag, c.sha)
}

/// Preflight: the candidate validated, its run claimed, older candidates superseded.
pub struct Preflight<R, T, C> {
    pub settings: Settings,
    /// Step Functions: whether a claim's holder still runs; fails superseded tasks.
    pub runs: R,
    /// The table: pending approvals, run claims, the newest candidates.
    pub store: T,
    pub clock: C,
}

impl<R, T, C> Preflight<R, T, C>
where
    R: Executions + TaskCallbacks,
    T: Approvals + Claims + Candidates,
    C: Clock,
{
    /// Claims the candidate's run for `execution`: `Some(other)` when another
    /// execution that is still running holds it. A claim left by an execution that
    /// has ended is taken over (a re-run of the same candidate).
    async fn claim_run(&self, c: &Candidate, execution: &str) -> Result<Option<String>, StepError> {
        let key = run_claim_key(c);
        let expires = self.clock.now() + Duration::days(RUN_CLAIM_DAYS);
        for _ in 0..3 {
            let hold = Hold {
                key: &key,
                owner: execution,
                expires_at: expires,
            };
            match self.store.claim_for(&hold).await? {
                Claim::Mine => return Ok(None),
                Claim::HeldBy(other) if self.runs.is_running(&other).await? => {
                    return Ok(Some(other))
                }
                Claim::HeldBy(other) => {
                    if self.store.take_over(&hold, &other).await? {
                        return Ok(None);
                    }
                }
            }
        }
        Err(StepError::new(
            names::DEPENDENCY_FAILED,
            format!("the run claim {key} kept changing hands; try again"),
        ))
    }

    /// Records `c` as its repository's newest candidate unless a newer one is.
    async fn record_newest(&self, c: &Candidate, execution: &str) -> Result<(), StepError> {
        let me = Newest {
            tag: c.tag.clone(),
            version: c.version.clone(),
            execution_id: execution.to_string(),
        };
        for _ in 0..3 {
            let lane = self.settings.lane(&c.repository);
            let current = self.store.newest(&lane).await?;
            if let Some((newest, _)) = &current {
                if compare_versions(&newest.version, &c.version) != Ordering::Less {
                    return Ok(());
                }
            }
            if self
                .store
                .set_newest(&lane, &me, current.map(|(_, r)| r))
                .await?
            {
                return Ok(());
            }
        }
        Err(StepError::new(
            names::DEPENDENCY_FAILED,
            format!(
                "the newest candidate of {} kept changing; try again",
                c.repository
            ),
        ))
    }

    /// Cancels this repository's pending approvals of older candidates: each is
    /// marked superseded (a conditional write, so a decision racing it wins or loses
    /// cleanly) and its waiting task fails with `Superseded`. The tags replaced.
    async fn supersede_older(
        &self,
        c: &Candidate,
        execution: &str,
    ) -> Result<Vec<String>, StepError> {
        let mut superseded = Vec::new();
        for record in self.store.pending(&c.repository).await? {
            let older = version_of(&record.tag, &self.settings.tag_prefix)
                .is_some_and(|v| compare_versions(v, &c.version) == Ordering::Less);
            if record.execution_id == execution || !older {
                continue;
            }
            let mut replaced = record.clone();
            replaced.revision = record.revision + 1;
            replaced.state = ApprovalState::Superseded;
            if let Update::Done = self.store.update(&record, &replaced).await? {
                let cause = superseded_cause(c, &record.tag);
                match self
                    .runs
                    .fail(&record.task_token, names::SUPERSEDED, &cause)
                    .await
                {
                    Ok(()) | Err(CallbackError::TaskClosed(_)) => {}
                    Err(CallbackError::Port(e)) => return Err(e.into()),
                }
                superseded.push(record.tag.clone());
            }
        }
        Ok(superseded)
    }
}

impl<R, T, C> Step<Input, Output> for Preflight<R, T, C>
where
    R: Executions + TaskCallbacks,
    T: Approvals + Claims + Candidates,
    C: Clock,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Output, StepError> {
        let settings = &self.settings;
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
            command_suites: settings
                .command_suites
                .iter()
                .map(|(name, command)| CommandSuite {
                    name: name.clone(),
                    command: command.clone(),
                })
                .collect(),
            // A rollback goes back to a release its stakeholders signed off before.
            user_acceptance: settings.user_acceptance && !candidate.rollback,
            commands: settings.commands.clone(),
            duplicate_of: None,
            superseded: Vec::new(),
            candidate,
        };
        // A conditional claim, not a listing: of two starts at the same moment,
        // exactly one holds it.
        out.duplicate_of = self.claim_run(&out.candidate, &input.execution_id).await?;
        // A rollback is not a newer candidate: it replaces nothing waiting.
        if out.duplicate_of.is_some() || out.candidate.rollback {
            return Ok(out);
        }
        self.record_newest(&out.candidate, &input.execution_id)
            .await?;
        out.superseded = self
            .supersede_older(&out.candidate, &input.execution_id)
            .await?;
        Ok(out)
    }
}

/// Why an older candidate was cancelled.
pub fn superseded_cause(newer: &Candidate, older_tag: &str) -> String {
    format!(
        "{} ({}) replaces {older_tag}",
        newer.tag,
        &newer.sha[..newer.sha.len().min(7)]
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{now, pending_record, FixedClock, MemoryRuns, MemoryTable, SHA};
    use serde_json::json;

    #[derive(Default)]
    struct World {
        runs: MemoryRuns,
        table: MemoryTable,
    }

    impl World {
        async fn run(&self, input: Input) -> Result<Output, StepError> {
            let step = Preflight {
                settings: Settings::default(),
                runs: self.runs.clone(),
                store: self.table.clone(),
                clock: FixedClock(now()),
            };
            step.run(input).await
        }
    }

    fn input(tag: &str, exec: &str) -> Input {
        Input {
            trigger: json!({"repository": "acme/shop", "tag": tag, "sha": SHA, "pushedBy": "ana"}),
            execution_id: format!("arn:aws:states:us-east-1:1:execution:staging:{exec}"),
        }
    }

    #[tokio::test]
    async fn valid_candidate_gets_its_run_id_and_prefix() {
        let out = World::default()
            .run(input("rc-1.4.0", "run-1"))
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
        let w = World::default();
        let mut i = input("v1", "run-1");
        let e = w.run(i.clone()).await.unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
        i.trigger = json!({"tag": 3});
        let e = w.run(i).await.unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
        assert!(e.message.contains("repository"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_second_start_while_the_first_runs_is_a_duplicate() {
        let w = World::default();
        let first = input("rc-1.4.0", "run-1");
        assert!(w.run(first.clone()).await.unwrap().duplicate_of.is_none());
        w.runs.set_running(&first.execution_id, true);
        let out = w.run(input("rc-1.4.0", "run-2")).await.unwrap();
        assert_eq!(
            out.duplicate_of.as_deref(),
            Some(first.execution_id.as_str())
        );
        // A retried Preflight of the first run is still the first run.
        assert!(w.run(first).await.unwrap().duplicate_of.is_none());
    }

    #[tokio::test]
    async fn a_start_after_the_first_run_ended_takes_its_claim_over() {
        let w = World::default();
        let first = input("rc-1.4.0", "run-1");
        w.run(first.clone()).await.unwrap();
        w.runs.set_running(&first.execution_id, false);
        let again = input("rc-1.4.0", "run-2");
        assert!(w.run(again.clone()).await.unwrap().duplicate_of.is_none());
        let key = format!("run#acme/shop#rc-1.4.0#{SHA}");
        assert_eq!(w.table.claim_owner(&key), Some(again.execution_id));
    }

    #[tokio::test]
    async fn the_newest_candidate_is_recorded_and_an_older_one_does_not_replace_it() {
        let w = World::default();
        w.run(input("rc-1.4.0", "run-1")).await.unwrap();
        w.run(input("rc-1.3.9", "run-0")).await.unwrap();
        let (newest, _) = w.table.newest("acme/shop").await.unwrap().unwrap();
        assert_eq!(newest.tag, "rc-1.4.0");
        w.run(input("rc-1.10.0", "run-2")).await.unwrap();
        let (newest, _) = w.table.newest("acme/shop").await.unwrap().unwrap();
        assert_eq!(newest.tag, "rc-1.10.0");
    }

    #[tokio::test]
    async fn a_newer_candidate_supersedes_older_pending_approvals_only() {
        let w = World::default();
        w.table
            .create(&pending_record("h-old", "rc-1.3.9", "tok-old"), &[])
            .await
            .unwrap();
        w.table
            .create(&pending_record("h-new", "rc-1.5.0", "tok-new"), &[])
            .await
            .unwrap();
        let out = w.run(input("rc-1.4.0", "run-3")).await.unwrap();
        assert_eq!(out.superseded, vec!["rc-1.3.9"]);
        assert_eq!(
            w.table.get("h-old").await.unwrap().unwrap().state,
            ApprovalState::Superseded
        );
        assert_eq!(
            w.table.get("h-new").await.unwrap().unwrap().state,
            ApprovalState::Pending
        );
        let failures = w.runs.failures();
        assert_eq!(failures.len(), 1);
        assert_eq!(
            (failures[0].0.as_str(), failures[0].1.as_str()),
            ("tok-old", "Superseded")
        );
        assert!(failures[0].2.contains("rc-1.4.0"));
    }

    /// The trigger is the user's input, so one that does not even deserialise is an
    /// invalid candidate, not an invalid input.
    #[tokio::test]
    async fn a_malformed_trigger_is_an_invalid_candidate_through_invoke() {
        let w = World::default();
        let step = Preflight {
            settings: Settings::default(),
            runs: w.runs.clone(),
            store: w.table.clone(),
            clock: FixedClock(now()),
        };
        let e = crate::step::invoke(
            &step,
            json!({"trigger": {"tag": 1}, "executionId": "arn:x"}),
        )
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidCandidate");
    }
}

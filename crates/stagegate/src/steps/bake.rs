//! Bake (`bake`): after the deployed release passed its tests, watch it for the
//! configured bake time before it is marked ready (staging) or promoted
//! (production). Each round reads the app's alarms (every alarm whose name starts
//! with the configured prefix: `<stack>-` by default) and runs the smoke suites
//! again; the state machine waits between rounds (`Wait to Bake`). An alarm in
//! `ALARM` or a failed smoke case ends the bake `BakeFailed`, naming the alarm, what
//! it watches, its threshold and the value that breached it (or the suite and case),
//! and the run rolls the release back.
//!
//! The same alarms are the change set's rollback triggers (`create-change-set`), so
//! one that goes off while CloudFormation updates the stack rolls the update back
//! there.

use crate::error::{names, StepError};
use crate::flow::{Baking, SuiteResult};
use crate::metrics::{count, BAKES};
use crate::ports::{Alarm, AlarmState, Alarms, Artifacts, Candidate, Clock, Http, Metrics};
use crate::settings::Settings;
use crate::step::Step;
use crate::suite_run::{run_suite, Target};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;

/// The `bake` function's name.
pub const NAME: &str = "bake";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Input {
    pub candidate: Candidate,
    pub artifacts_prefix: String,
    pub frontend_url: String,
    #[serde(default)]
    pub outputs: BTreeMap<String, String>,
    /// The bake so far: a [`Baking`] from the round before, or the definition's
    /// `{"rounds": 0}` (or nothing) before the first.
    #[serde(default)]
    pub bake: Option<Value>,
}

impl Input {
    /// The bake so far, `None` before its first round.
    fn so_far(&self) -> Result<Option<Baking>, StepError> {
        match &self.bake {
            Some(v) if v.get("startedAt").is_some() => serde_json::from_value(v.clone())
                .map(Some)
                .map_err(|e| crate::error::invalid_input(format!("bake: {e}"))),
            _ => Ok(None),
        }
    }
}

/// Bake: one round of watching the deployed release.
pub struct Bake<A, H, R, C, M> {
    pub settings: Settings,
    pub alarms: A,
    pub http: H,
    pub artifacts: R,
    pub clock: C,
    pub metrics: M,
}

impl<A, H, R, C, M> Step<Input, Baking> for Bake<A, H, R, C, M>
where
    A: Alarms,
    H: Http,
    R: Artifacts,
    C: Clock,
    M: Metrics,
{
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Baking, StepError> {
        let now = self.clock.now();
        let bake = &self.settings.bake;
        let mut baking = input.so_far()?.unwrap_or_else(|| Baking {
            started_at: now,
            until: now + chrono::Duration::seconds(bake.seconds as i64),
            wait_seconds: bake.interval_seconds,
            rounds: 0,
            done: false,
            alarms: Vec::new(),
            smoke_suites: bake.smoke_suites.clone(),
        });
        let prefix = bake.alarm_prefix(&self.settings.stack_name);
        let alarms = self.alarms.alarms(&prefix).await?;
        baking.alarms = alarms.iter().map(|a| a.name.clone()).collect();
        let mut tripped = breached(&alarms);
        for suite in &baking.smoke_suites {
            let target = Target {
                suite: suite.clone(),
                artifacts_prefix: input.artifacts_prefix.clone(),
                frontend_url: input.frontend_url.clone(),
                outputs: input.outputs.clone(),
            };
            let result = run_suite(&self.http, &self.artifacts, target).await?;
            tripped.extend(smoke_failures(&result));
        }
        baking.rounds += 1;
        if !tripped.is_empty() {
            self.count(&input.candidate, "failed", now);
            let round = baking.rounds;
            let message = format!("round {round} of the bake: {}", tripped.join("; "));
            return Err(StepError::new(names::BAKE_FAILED, message));
        }
        let left = (baking.until - now).num_seconds().max(0) as u64;
        baking.done = left == 0;
        baking.wait_seconds = bake.interval_seconds.min(left).max(1);
        if baking.done {
            self.count(&input.candidate, "passed", now);
        }
        Ok(baking)
    }
}

impl<A, H, R, C, M: Metrics> Bake<A, H, R, C, M> {
    /// Counts the bake's end in stagegate's `Bakes` metric.
    fn count(&self, candidate: &Candidate, result: &str, now: chrono::DateTime<chrono::Utc>) {
        let dims = [
            candidate.repository.as_str(),
            self.settings.stage.name(),
            result,
        ];
        self.metrics.emit(count(BAKES, &dims).emf(now));
    }
}

/// At most this many alarms are named in a failed bake (the rest are counted): the
/// message is a Step Functions cause, 32,768 characters at most.
pub const MAX_NAMED_ALARMS: usize = 5;

/// Each alarm in `ALARM`, as a failed bake names it (the first
/// [`MAX_NAMED_ALARMS`], then how many more).
fn breached(alarms: &[Alarm]) -> Vec<String> {
    let tripped: Vec<&Alarm> = alarms
        .iter()
        .filter(|a| a.state == AlarmState::Alarm)
        .collect();
    let mut named: Vec<String> = tripped
        .iter()
        .take(MAX_NAMED_ALARMS)
        .map(|a| format!("alarm {}", a.describe()))
        .collect();
    if tripped.len() > MAX_NAMED_ALARMS {
        named.push(format!(
            "and {} more alarms in ALARM",
            tripped.len() - MAX_NAMED_ALARMS
        ));
    }
    named
}

/// Each failed case of a smoke suite (at most three), as a failed bake names it.
fn smoke_failures(result: &SuiteResult) -> Vec<String> {
    result
        .cases
        .iter()
        .filter(|c| !c.passed)
        .take(3)
        .map(|c| format!("smoke suite {}: {}: {}", result.suite, c.name, c.message))
        .collect()
}

#[cfg(test)]
mod tests;

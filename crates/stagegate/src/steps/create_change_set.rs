//! Package & Preview, first half (`create-change-set`): pins the package build's
//! output into the run ([`crate::manifest::pin`]: code under content addresses, out
//! of reach of every check command), then creates (never executes) the CloudFormation
//! change set for the pinned template. `describe-change-set` then reads it until it
//! is computed. The change set carries the app's alarms as CloudFormation's rollback
//! triggers ([`rollback_triggers`]), so one that goes off while the stack updates (or
//! within the monitoring time after) undoes the update.

use crate::error::{names, StepError};
use crate::flow::Preview;
use crate::manifest;
use crate::ports::MAX_ROLLBACK_TRIGGERS;
use crate::ports::{Alarm, Alarms, Artifacts, ChangeSetRequest, ChangeSetStatus, Stacks};
use crate::settings::Settings;
use crate::step::Step;
use serde::Deserialize;
use std::collections::BTreeMap;

/// The `create-change-set` function's name.
pub const NAME: &str = "create-change-set";

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Input {
    pub run_id: String,
    pub artifacts_prefix: String,
    /// The package build's id (`<project>:<uuid>`): whose scratch holds the package.
    /// Absent in a production run, which builds nothing.
    #[serde(default)]
    pub build: Option<String>,
    /// A production run: the staging run whose pinned template it deploys (verified
    /// by Verify Staged Release, bound again by the production manifest).
    #[serde(default)]
    pub staged_run: Option<String>,
}

/// CloudFormation change set names: a letter, then letters, digits and hyphens.
fn change_set_name(run_id: &str) -> String {
    let cleaned: String = run_id
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let mut name = format!("stagegate-{cleaned}");
    name.truncate(128);
    name
}

/// The rollback triggers among the app's alarms: composite alarms first (one can
/// stand for many), then by name, at most [`MAX_ROLLBACK_TRIGGERS`] (CloudFormation's
/// limit; a composite alarm of the rest lifts it).
pub fn rollback_triggers(alarms: &[Alarm]) -> Vec<String> {
    let mut ordered: Vec<&Alarm> = alarms.iter().collect();
    ordered.sort_by(|a, b| (!a.composite, &a.name).cmp(&(!b.composite, &b.name)));
    ordered
        .into_iter()
        .take(MAX_ROLLBACK_TRIGGERS)
        .map(|a| a.arn.clone())
        .collect()
}

/// Create Change Set: the preview's change set, for the packaged template.
pub struct CreateChangeSet<S, A, L> {
    pub settings: Settings,
    pub stacks: S,
    pub artifacts: A,
    /// The app's alarms: the change set's rollback triggers.
    pub alarms: L,
}

impl<S: Stacks, A: Artifacts, L: Alarms> Step<Input, Preview> for CreateChangeSet<S, A, L> {
    const NAME: &'static str = NAME;

    async fn run(&self, input: Input) -> Result<Preview, StepError> {
        let template_run = match (&input.build, &input.staged_run) {
            (Some(build), None) => {
                let scratch = manifest::scratch_prefix(&self.settings.checks_role_id, build)
                    .map_err(crate::error::invalid_input)?;
                // The bake's smoke suites are pinned (and approved) with the rest.
                let mut suites = self.settings.suites.clone();
                let smoke = &self.settings.bake.smoke_suites;
                suites.extend(smoke.iter().filter(|s| !suites.contains(s)).cloned().collect::<Vec<_>>());
                manifest::pin(&self.artifacts, &scratch, &input.artifacts_prefix, &suites).await?;
                &input.run_id
            }
            (None, Some(staged)) if crate::flow::is_run_id(staged) => staged,
            _ => {
                return Err(crate::error::invalid_input(
                    "create-change-set needs either the package build (staging) or a staged run id (production)",
                ))
            }
        };
        let prefix = self.settings.bake.alarm_prefix(&self.settings.stack_name);
        let request = ChangeSetRequest {
            stack_name: self.settings.stack_name.clone(),
            change_set_name: change_set_name(&input.run_id),
            template_uri: self.settings.template_uri.replace("{run}", template_run),
            parameters: BTreeMap::new(),
            rollback_triggers: rollback_triggers(&self.alarms.alarms(&prefix).await?),
            monitoring_minutes: self.settings.bake.monitoring_minutes,
        };
        let id = self
            .stacks
            .create_change_set(&request)
            .await
            .map_err(|e| e.refused_as(names::CHANGE_SET_FAILED))?;
        Ok(Preview {
            change_set_id: id,
            stack_name: request.stack_name,
            status: ChangeSetStatus::Pending,
            changes: Vec::new(),
            stack_version: String::new(),
            attempt: 0,
            more: 0,
            changes_key: format!("{}preview-changes.json", input.artifacts_prefix),
            changes_digest: String::new(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{MemoryAlarms, MemoryArtifacts, MemoryStacks};

    const SCRATCH: &str = "scratch/local:AWSCodeBuild-b1/";

    fn input(run_id: &str) -> Input {
        Input {
            run_id: run_id.into(),
            artifacts_prefix: format!("runs/{run_id}/"),
            build: Some("checks:b1".into()),
            staged_run: None,
        }
    }

    fn packaged() -> MemoryArtifacts {
        let template = format!("Resources: {{}} # s3://b/{SCRATCH}code/x.zip\n");
        let store =
            MemoryArtifacts::holding(&format!("{SCRATCH}packaged.yaml"), "text/yaml", template);
        store.put_sync(&format!("{SCRATCH}code/x.zip"), "x", "zip");
        store
    }

    #[tokio::test]
    async fn creates_a_change_set_for_the_pinned_template() {
        let stacks = MemoryStacks::default();
        let artifacts = packaged();
        let step = CreateChangeSet {
            settings: Settings::default(),
            stacks: stacks.clone(),
            artifacts: artifacts.clone(),
            alarms: MemoryAlarms::default(),
        };
        let p = step.run(input("rc-1.4.0--abc")).await.unwrap();
        assert_eq!(p.status, ChangeSetStatus::Pending);
        let req = stacks.last_request().unwrap();
        assert_eq!(req.change_set_name, "stagegate-rc-1-4-0--abc");
        assert_eq!(req.template_uri, "runs/rc-1.4.0--abc/packaged.yaml");
        let pinned = artifacts
            .get_sync("runs/rc-1.4.0--abc/packaged.yaml")
            .unwrap();
        assert!(!String::from_utf8_lossy(&pinned).contains("scratch/"));
    }

    #[tokio::test]
    async fn without_a_package_no_change_set_is_created() {
        let stacks = MemoryStacks::default();
        let step = CreateChangeSet {
            settings: Settings::default(),
            stacks: stacks.clone(),
            artifacts: MemoryArtifacts::default(),
            alarms: MemoryAlarms::default(),
        };
        let e = step.run(input("r")).await.unwrap_err();
        assert_eq!(e.name, "PackageIncomplete");
        assert!(stacks.last_request().is_none());
        let e = CreateChangeSet {
            settings: Settings::default(),
            stacks,
            artifacts: packaged(),
            alarms: MemoryAlarms::default(),
        }
        .run(Input {
            build: Some("no-uuid".into()),
            ..input("r")
        })
        .await
        .unwrap_err();
        assert_eq!(e.name, "InvalidInput");
    }

    #[tokio::test]
    async fn a_change_set_that_cannot_be_created_is_change_set_failed() {
        let stacks = MemoryStacks::default();
        stacks.fail_create("S3 error: Access Denied");
        let step = CreateChangeSet {
            settings: Settings::default(),
            stacks,
            artifacts: packaged(),
            alarms: MemoryAlarms::default(),
        };
        let e = step.run(input("r")).await.unwrap_err();
        assert_eq!(e.name, "ChangeSetFailed");
        assert!(e.message.contains("Access Denied"), "{}", e.message);
    }

    #[tokio::test]
    async fn a_production_run_previews_the_staged_template_and_pins_nothing() {
        let stacks = MemoryStacks::default();
        let artifacts = MemoryArtifacts::default();
        let step = CreateChangeSet {
            settings: Settings::production(),
            stacks: stacks.clone(),
            artifacts: artifacts.clone(),
            alarms: MemoryAlarms::default(),
        };
        let mut i = input("v1.4.0--prod");
        (i.build, i.staged_run) = (None, Some("rc-1.4.0--abc".into()));
        step.run(i).await.unwrap();
        let req = stacks.last_request().unwrap();
        assert_eq!(req.template_uri, "runs/rc-1.4.0--abc/packaged.yaml");
        assert_eq!(req.stack_name, "app-production");
        assert_eq!(req.change_set_name, "stagegate-v1-4-0--prod");
        assert!(artifacts.keys().is_empty(), "nothing pinned or copied");
        let mut both = input("v1.4.0--prod");
        both.staged_run = Some("rc-1.4.0--abc".into());
        assert_eq!(step.run(both).await.unwrap_err().name, "InvalidInput");
        let mut outside = input("v1.4.0--prod");
        (outside.build, outside.staged_run) = (None, Some("../x".into()));
        assert_eq!(step.run(outside).await.unwrap_err().name, "InvalidInput");
    }

    #[test]
    fn rollback_triggers_are_five_at_most_composite_alarms_first() {
        let alarms = MemoryAlarms::with(&["a-1", "a-2", "a-3", "a-4", "a-5", "a-6"]);
        let mut all = read_all(alarms);
        all[5].composite = true;
        let triggers = rollback_triggers(&all);
        assert_eq!(triggers.len(), 5);
        assert!(triggers[0].ends_with(":alarm:a-6"), "{triggers:?}");
        assert!(triggers[1].ends_with(":alarm:a-1"), "{triggers:?}");
        assert!(rollback_triggers(&[]).is_empty());
    }

    /// The double's alarms, read synchronously.
    fn read_all(alarms: MemoryAlarms) -> Vec<crate::ports::Alarm> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(alarms.alarms("")).unwrap()
    }

    #[tokio::test]
    async fn the_change_set_carries_the_apps_alarms_as_rollback_triggers() {
        let stacks = MemoryStacks::default();
        let mut settings = Settings::default();
        settings.bake.monitoring_minutes = 10;
        let step = CreateChangeSet {
            settings,
            stacks: stacks.clone(),
            artifacts: packaged(),
            alarms: MemoryAlarms::with(&["app-staging-5xx", "other-app-5xx"]),
        };
        step.run(input("r")).await.unwrap();
        let request = stacks.last_request().unwrap();
        assert_eq!(request.monitoring_minutes, 10);
        assert_eq!(
            request.rollback_triggers,
            ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:app-staging-5xx"]
        );
    }

    #[tokio::test]
    async fn the_bakes_smoke_suites_are_pinned_with_the_integration_suites() {
        let artifacts = packaged();
        artifacts.put_sync(
            &format!("{SCRATCH}suites/smoke.json"),
            "application/json",
            "{\"cases\": []}",
        );
        let mut settings = Settings {
            suites: vec![],
            ..Settings::default()
        };
        settings.bake.smoke_suites = vec!["smoke".into()];
        let step = CreateChangeSet {
            settings,
            stacks: MemoryStacks::default(),
            artifacts: artifacts.clone(),
            alarms: MemoryAlarms::default(),
        };
        step.run(input("r")).await.unwrap();
        assert!(artifacts.get_sync("runs/r/suites/smoke.json").is_some());
    }
}

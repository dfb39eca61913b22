//! An application's `stagegate.json`: how the rehearsal runs it locally.

use serde::Deserialize;
use stagegate::links::{check_distinct, validate_approver};
use stagegate::ports::{ApprovalKind, Approver};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppConfig {
    pub repository: String,
    /// Tags that are candidates start with this; stagegate's default (`rc-`) if unset.
    #[serde(default = "default_tag_prefix")]
    pub tag_prefix: String,
    pub stack_name: String,
    pub suites: Vec<String>,
    /// Command suites: name → a command that writes JUnit XML to `$STAGEGATE_JUNIT`
    /// (run as a process here, in CodeBuild on AWS).
    #[serde(default)]
    pub command_suites: BTreeMap<String, String>,
    /// Whether stakeholders sign off the deployed candidate (User Acceptance Testing).
    #[serde(default)]
    pub user_acceptance: bool,
    pub commands: BTreeMap<String, String>,
    /// Who decides, each reached by their own link (the rehearsal writes their emails
    /// to the outbox); one approver deciding both kinds if none is given.
    pub approvers: Option<Vec<Approver>>,
    pub backend: Backend,
    pub frontend: Frontend,
    /// Where `rehearse --promote` deploys what staging proved.
    #[serde(default)]
    pub production: Option<ProductionConfig>,
    /// The bake after each deploy (a short one when absent).
    #[serde(default)]
    pub bake: BakeConfig,
}

/// The rehearsal's bake: how long, how often, which smoke suites run again, and the
/// local health alarm's threshold (percent of failed probes).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BakeConfig {
    #[serde(default = "default_bake_seconds")]
    pub seconds: u64,
    #[serde(default = "default_bake_interval")]
    pub interval_seconds: u64,
    #[serde(default)]
    pub smoke_suites: Vec<String>,
    #[serde(default = "default_error_rate")]
    pub error_rate_percent: f64,
}

impl Default for BakeConfig {
    fn default() -> Self {
        BakeConfig {
            seconds: default_bake_seconds(),
            interval_seconds: default_bake_interval(),
            smoke_suites: Vec::new(),
            error_rate_percent: default_error_rate(),
        }
    }
}

fn default_bake_seconds() -> u64 {
    3
}

fn default_bake_interval() -> u64 {
    1
}

fn default_error_rate() -> f64 {
    50.0
}

/// The app's production, for `rehearse --promote`: its own stack (a second local
/// backend) and the read-only suites run against it. Its approvers are the app's
/// approvers who decide `production`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ProductionConfig {
    pub stack_name: String,
    pub smoke_suites: Vec<String>,
}

fn default_tag_prefix() -> String {
    stagegate::Settings::default().tag_prefix
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Backend {
    pub template: String,
    pub command: String,
    pub health_path: String,
    pub outputs: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Frontend {
    pub dir: String,
    pub env: BTreeMap<String, String>,
}

/// Which field of the app's file is which variable of the functions on AWS (the
/// production ones' variables for `production.*`).
const VARIABLES: &[(&str, &str)] = &[
    ("repository", "STAGEGATE_REPOSITORY"),
    ("tagPrefix", "STAGEGATE_TAG_PREFIX"),
    ("stackName", "STAGEGATE_STACK_NAME"),
    ("frontend.env", "STAGEGATE_FRONTEND_ENV"),
    ("suites", "STAGEGATE_SUITES"),
    ("commandSuites", "STAGEGATE_COMMAND_SUITES"),
    ("bake.seconds", "STAGEGATE_BAKE_SECONDS"),
    ("bake.smokeSuites", "STAGEGATE_SMOKE_SUITES"),
    ("production.stackName", "STAGEGATE_STACK_NAME"),
    ("production.smokeSuites", "STAGEGATE_SMOKE_SUITES"),
];

/// Fields of the app's file (`(field, value)`), each held to the rule its variable
/// ([`VARIABLES`]) is held to on AWS ([`stagegate::Settings::from_vars`]); every
/// problem named by its field, in one line.
fn as_on_aws(file: &Path, fields: &[(&str, String)]) -> Result<(), String> {
    let variable = |field: &str| VARIABLES.iter().find(|v| v.0 == field).map_or("", |v| v.1);
    let read = |k: &str| {
        fields
            .iter()
            .find(|f| variable(f.0) == k)
            .map(|f| f.1.clone())
    };
    stagegate::Settings::from_vars(read).map(drop).map_err(|e| {
        let problems: Vec<String> =
            e.0.iter()
                .map(|p| {
                    let named = fields.iter().find(|f| variable(f.0) == p.name);
                    format!("{}: {}", named.map_or(p.name.as_str(), |f| f.0), p.problem)
                })
                .collect();
        format!("{}: {}", file.display(), problems.join("; "))
    })
}

/// `map` as `KEY=VALUE` pairs separated by commas (`STAGEGATE_FRONTEND_ENV`).
fn pairs(map: &BTreeMap<String, String>) -> String {
    let pairs: Vec<String> = map.iter().map(|(k, v)| format!("{k}={v}")).collect();
    pairs.join(",")
}

/// The app's bake: its time and smoke suites by the rules the functions read them
/// with on AWS (`STAGEGATE_BAKE_SECONDS`, `STAGEGATE_SMOKE_SUITES`), a round at least
/// every second, a threshold that is a percentage.
fn check_bake(file: &Path, bake: &BakeConfig) -> Result<(), String> {
    let seconds = ("bake.seconds", bake.seconds.to_string());
    as_on_aws(
        file,
        &[seconds, ("bake.smokeSuites", bake.smoke_suites.join(","))],
    )?;
    if bake.interval_seconds == 0 {
        return Err(format!(
            "{}: bake.intervalSeconds must be at least 1",
            file.display()
        ));
    }
    if !(0.0..=100.0).contains(&bake.error_rate_percent) {
        return Err(format!(
            "{}: bake.errorRatePercent is {}: a percentage, 0 to 100",
            file.display(),
            bake.error_rate_percent
        ));
    }
    Ok(())
}

/// A command for every check, and no command that is not one.
fn check_commands(file: &Path, commands: &BTreeMap<String, String>) -> Result<(), String> {
    let checks = stagegate::settings::CHECKS;
    if let Some((key, _, _)) = checks.iter().find(|c| !commands.contains_key(c.0)) {
        return Err(format!(
            "{}: commands.{key} is missing (every check needs a command)",
            file.display()
        ));
    }
    if let Some(key) = commands.keys().find(|k| !checks.iter().any(|c| c.0 == *k)) {
        return Err(format!("{}: commands.{key} is not a check (use eslint, typescript, unitTests, securityScan, package)", file.display()));
    }
    Ok(())
}

/// Names that reach CloudFormation, paths and keys, and the suites: by the rules of
/// the variables the functions read them from on AWS.
fn check_names(file: &Path, config: &AppConfig) -> Result<(), String> {
    let command_suites = serde_json::to_string(&config.command_suites).unwrap_or_default();
    as_on_aws(
        file,
        &[
            ("repository", config.repository.clone()),
            ("tagPrefix", config.tag_prefix.clone()),
            ("stackName", config.stack_name.clone()),
            ("frontend.env", pairs(&config.frontend.env)),
            ("suites", config.suites.join(",")),
            ("commandSuites", command_suites),
        ],
    )?;
    let Some(p) = &config.production else {
        return Ok(());
    };
    let stack = ("production.stackName", p.stack_name.clone());
    as_on_aws(
        file,
        &[stack, ("production.smokeSuites", p.smoke_suites.join(","))],
    )
}

/// Each approver valid, listed once, and reached by identities of their own.
fn check_approvers(approvers: &[Approver]) -> Result<(), String> {
    let mut ids = std::collections::BTreeSet::new();
    for a in approvers {
        validate_approver(a)?;
        if !ids.insert(a.id.as_str()) {
            return Err(format!("'{}' is listed twice", a.id));
        }
    }
    check_distinct(approvers)
}

/// The approver of a rehearsal whose app names none.
pub fn default_approver() -> Approver {
    Approver {
        id: "rehearsal-approver".into(),
        email: "approver@example.test".into(),
        github: None,
        github_id: None,
        principals: vec![],
        decides: vec![ApprovalKind::Deployment, ApprovalKind::Acceptance],
        slack: None,
    }
}

/// An application directory with a valid `stagegate.json`.
#[derive(Clone, Debug)]
pub struct App {
    pub dir: PathBuf,
    pub config: AppConfig,
}

impl App {
    /// The approvers the app names, or [`default_approver`].
    pub fn approvers(&self) -> Vec<Approver> {
        match &self.config.approvers {
            Some(list) if !list.is_empty() => list.clone(),
            _ => vec![default_approver()],
        }
    }

    /// Loads and checks `dir/stagegate.json`; every error names the file and field.
    pub fn load(dir: &Path) -> Result<App, String> {
        if !dir.is_dir() {
            return Err(format!("'{}' is not a directory", dir.display()));
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| format!("'{}': {e}", dir.display()))?;
        let file = dir.join("stagegate.json");
        let text = std::fs::read_to_string(&file).map_err(|e| {
            format!(
                "'{}' is not a stagegate app: cannot read {}: {e}",
                dir.display(),
                file.display()
            )
        })?;
        let config: AppConfig =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
        check_commands(&file, &config.commands)?;
        check_names(&file, &config)?;
        check_bake(&file, &config.bake)?;
        for (what, rel) in [
            ("backend.template", &config.backend.template),
            ("frontend.dir", &config.frontend.dir),
        ] {
            if !dir.join(rel).exists() {
                return Err(format!(
                    "{}: {what} '{rel}' does not exist in the app",
                    file.display()
                ));
            }
        }
        if let Some(approvers) = &config.approvers {
            check_approvers(approvers)
                .map_err(|e| format!("{}: approvers: {e}", file.display()))?;
        }
        if !config.backend.health_path.starts_with('/') {
            return Err(format!(
                "{}: backend.healthPath must start with '/'",
                file.display()
            ));
        }
        Ok(App { dir, config })
    }
}

#[cfg(test)]
mod tests;

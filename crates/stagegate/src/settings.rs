//! Configuration the steps share, read once per process. On AWS every value comes
//! from an environment variable (see [`Settings::from_env`]); the rehearsal builds
//! it from the app's `stagegate.json`.

use std::collections::BTreeMap;

/// The state machine's own `TimeoutSeconds` is 7 days; an approval may wait at most 6
/// so that every run still ends with a notification.
pub const MAX_APPROVAL_TIMEOUT_SECONDS: u64 = 6 * 86_400;

/// With user acceptance on, a run waits twice (the approval, then the sign-off), each
/// as long as the approval timeout: 3 days each still fit the 7-day run.
pub const MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS: u64 = 3 * 86_400;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Tags that are candidates start with this (`rc-`).
    pub tag_prefix: String,
    /// `owner/name` of the repository this stagegate serves; `None` accepts any
    /// repository that knows the webhook secret.
    pub repository: Option<String>,
    /// How long an approval waits (`Wait for Approval`'s timeout), in seconds.
    pub approval_timeout_seconds: u64,
    /// Base of approval links: `{base}/approvals/{id}`.
    pub approval_base_url: String,
    /// Whether the person who pushed the tag may approve it.
    pub pusher_may_approve: bool,
    /// Approvals needed (N of the approvers); one rejection always decides.
    pub required_approvals: u32,
    /// The application's CloudFormation stack.
    pub stack_name: String,
    /// Where the packaged template is, with `{run}` for the run id.
    pub template_uri: String,
    /// Integration suites to run, in order.
    pub suites: Vec<String>,
    /// Command suites: name → a command in the app's own toolchain (Playwright,
    /// pytest, `hurl --test`, …) run in CodeBuild, which writes JUnit XML to
    /// `$STAGEGATE_JUNIT`.
    pub command_suites: BTreeMap<String, String>,
    /// Stack output → frontend environment variable.
    pub frontend_env: BTreeMap<String, String>,
    /// Upper bound on polls of each bounded wait (change set, stack, frontend job).
    pub max_polls: u32,
    /// Link to an execution, with `{execution}` for its id (ARN).
    pub execution_url: String,
    /// Whether stakeholders sign off the deployed candidate (User Acceptance Testing)
    /// before it is marked ready.
    pub user_acceptance: bool,
    /// The command each check runs in the app's toolchain, by check key
    /// (`eslint`, `typescript`, `unitTests`, `securityScan`, `package`).
    pub commands: BTreeMap<String, String>,
    /// The environment this stagegate deploys to (`staging`): the `environment`
    /// attribute of every notification, so one topic subscriber can serve several.
    pub environment: String,
    /// The checks role's id (`AROA…`): with a build's id it names the one scratch
    /// prefix that build may write ([`crate::manifest::scratch_prefix`]).
    pub checks_role_id: String,
    /// What this deployment of the functions does: stage candidates (`rc-*`) or
    /// promote staged commits (`v*`): the production functions of the template.
    pub stage: Stage,
    /// How long a commit must have been ready on staging before production deploys it.
    pub soak_seconds: u64,
    /// Whether a production run of a commit still soaking ends (`SoakIncomplete`)
    /// instead of waiting for the soak to end.
    pub refuse_unsoaked: bool,
    /// The webhook's: tags that start with this are promotions (`v`), published for
    /// the production state machine; `None` publishes candidates only.
    pub production_tag_prefix: Option<String>,
    /// Production's deployment windows and freezes (`None`: any time).
    pub calendar: Option<crate::windows::Calendar>,
    /// The bake after the deploy, and the stack update's rollback triggers.
    pub bake: Bake,
    /// Slack, when approvers are also asked there (`None`: email and the CLI only).
    pub slack: Option<Slack>,
}

/// Which state machine a function serves.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Stage {
    /// `statemachine/staging.asl.json`: candidates, checks, staging.
    #[default]
    Staging,
    /// `statemachine/production.asl.json`: promotion of what staging proved.
    Production,
}

impl Stage {
    /// `staging` or `production`: the `Stage` of stagegate's metrics.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Staging => "staging",
            Stage::Production => "production",
        }
    }
}

/// The longest soak: the soak's wait, the production approval and the deploy all fit
/// the 7-day run.
pub const MAX_SOAK_SECONDS: u64 = 3 * 86_400;

/// The checks and the variables that override their commands.
pub const CHECKS: &[(&str, &str, &str)] = &[
    ("eslint", "STAGEGATE_COMMAND_ESLINT", "npm run lint"),
    (
        "typescript",
        "STAGEGATE_COMMAND_TYPESCRIPT",
        "npx tsc --noEmit",
    ),
    ("unitTests", "STAGEGATE_COMMAND_UNIT_TESTS", "npm test"),
    (
        "securityScan",
        "STAGEGATE_COMMAND_SECURITY_SCAN",
        "npm audit --audit-level=critical",
    ),
    (
        "package",
        "STAGEGATE_COMMAND_PACKAGE",
        "sam validate --lint && sam build && sam package --output-template-file packaged.yaml",
    ),
];

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tag_prefix: "rc-".into(),
            repository: None,
            approval_timeout_seconds: 86_400,
            approval_base_url: "http://127.0.0.1:8787".into(),
            pusher_may_approve: false,
            required_approvals: 1,
            stack_name: "app-staging".into(),
            template_uri: "runs/{run}/packaged.yaml".into(),
            suites: vec!["auth".into(), "content".into(), "oauth".into(), "ai".into()],
            command_suites: BTreeMap::new(),
            frontend_env: BTreeMap::new(),
            max_polls: 120,
            execution_url: "{execution}".into(),
            user_acceptance: false,
            commands: CHECKS
                .iter()
                .map(|(k, _, v)| (k.to_string(), v.to_string()))
                .collect(),
            environment: "staging".into(),
            checks_role_id: "local".into(),
            stage: Stage::Staging,
            soak_seconds: 86_400,
            refuse_unsoaked: false,
            production_tag_prefix: None,
            calendar: None,
            bake: Bake::default(),
            slack: None,
        }
    }
}

impl Settings {
    /// The production functions' defaults: `v*` tags, a quorum of two, the app's
    /// production stack, a day's soak.
    pub fn production() -> Settings {
        Settings {
            tag_prefix: "v".into(),
            required_approvals: 2,
            stack_name: "app-production".into(),
            environment: "production".into(),
            stage: Stage::Production,
            ..Settings::default()
        }
    }
}

/// A configuration value that is missing or malformed, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

/// Every configuration problem found in one reading, each named: a deployment with
/// three wrong variables learns of all three at once.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl ConfigErrors {
    /// The problem with variable `name`, if it has one.
    pub fn about(&self, name: &str) -> Option<&ConfigError> {
        self.0.iter().find(|e| e.name == name)
    }
}

/// Reads variables through `get`, keeping every problem it meets.
pub struct Vars<G> {
    get: G,
    pub errors: Vec<ConfigError>,
}

impl<G: Fn(&str) -> Option<String>> Vars<G> {
    pub fn new(get: G) -> Self {
        Vars {
            get,
            errors: Vec::new(),
        }
    }

    /// Variable `name` parsed by `parse` into `field`; unset keeps the field as it is.
    pub fn read<T>(
        &mut self,
        name: &str,
        field: &mut T,
        parse: impl Fn(&str) -> Result<T, String>,
    ) {
        if let Some(v) = (self.get)(name) {
            match parse(&v) {
                Ok(value) => *field = value,
                Err(problem) => self.fail(name, problem),
            }
        }
    }

    /// A variable that must be set and not blank.
    pub fn required(&mut self, name: &str) -> String {
        match (self.get)(name).filter(|v| !v.trim().is_empty()) {
            Some(v) => v,
            None => {
                self.fail(
                    name,
                    "is not set (template.yaml sets it for every function)".into(),
                );
                String::new()
            }
        }
    }

    /// A variable that may be unset; blank counts as unset.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.get)(name).filter(|v| !v.trim().is_empty())
    }

    pub fn fail(&mut self, name: &str, problem: String) {
        self.errors.push(ConfigError {
            name: name.into(),
            problem,
        });
    }
}

impl Settings {
    /// Reads `STAGEGATE_*` variables through `get` (the process environment on AWS).
    /// Unset variables keep their defaults; every set-but-invalid one is named.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigErrors> {
        let mut vars = Vars::new(get);
        let settings = Settings::read(&mut vars);
        if vars.errors.is_empty() {
            Ok(settings)
        } else {
            Err(ConfigErrors(vars.errors))
        }
    }

    /// The settings from `vars`, recording each problem in it.
    pub fn read<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>) -> Settings {
        let mut s = read_stage(vars);
        vars.read("STAGEGATE_TAG_PREFIX", &mut s.tag_prefix, tag_prefix);
        vars.read("STAGEGATE_REPOSITORY", &mut s.repository, repository);
        vars.read(
            "STAGEGATE_APPROVAL_TIMEOUT_SECONDS",
            &mut s.approval_timeout_seconds,
            |v| number(v, 60, MAX_APPROVAL_TIMEOUT_SECONDS, "seconds"),
        );
        vars.read(
            "STAGEGATE_APPROVAL_BASE_URL",
            &mut s.approval_base_url,
            base_url,
        );
        vars.read(
            "STAGEGATE_PUSHER_MAY_APPROVE",
            &mut s.pusher_may_approve,
            parse_bool,
        );
        vars.read(
            "STAGEGATE_REQUIRED_APPROVALS",
            &mut s.required_approvals,
            |v| number(v, 1, 10, "approvals").map(|n| n as u32),
        );
        vars.read("STAGEGATE_STACK_NAME", &mut s.stack_name, stack_name);
        vars.read("STAGEGATE_TEMPLATE_URI", &mut s.template_uri, |v| {
            Ok(v.to_string())
        });
        vars.read("STAGEGATE_SUITES", &mut s.suites, suite_list);
        let http_suites = s.suites.clone();
        vars.read("STAGEGATE_COMMAND_SUITES", &mut s.command_suites, |v| {
            command_suites(v, &http_suites)
        });
        vars.read("STAGEGATE_FRONTEND_ENV", &mut s.frontend_env, |v| {
            parse_pairs(v).ok_or_else(|| {
                format!("'{v}' must be OutputName=ENV_NAME pairs separated by commas")
            })
        });
        vars.read("STAGEGATE_MAX_POLLS", &mut s.max_polls, |v| {
            number(v, 1, 10_000, "polls").map(|n| n as u32)
        });
        vars.read("STAGEGATE_ENVIRONMENT", &mut s.environment, environment);
        vars.read("STAGEGATE_CHECKS_ROLE_ID", &mut s.checks_role_id, |v| {
            if !v.is_empty() && v.len() <= 64 && v.chars().all(|c| c.is_ascii_alphanumeric()) {
                Ok(v.to_string())
            } else {
                Err(format!("'{v}' is not an IAM role id (AROA…)"))
            }
        });
        vars.read(
            "STAGEGATE_USER_ACCEPTANCE",
            &mut s.user_acceptance,
            parse_bool,
        );
        vars.read("STAGEGATE_EXECUTION_URL", &mut s.execution_url, |v| {
            Ok(v.to_string())
        });
        for (key, var, _) in CHECKS {
            let mut command = None;
            vars.read(var, &mut command, |v| check_command(v).map(Some));
            if let Some(c) = command {
                s.commands.insert(key.to_string(), c);
            }
        }
        if s.user_acceptance
            && s.approval_timeout_seconds > MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS
        {
            vars.fail(
                "STAGEGATE_APPROVAL_TIMEOUT_SECONDS",
                format!(
                    "{} s is too long with STAGEGATE_USER_ACCEPTANCE=true: the approval and the sign-off each wait that long, and both must fit the 7-day run (at most {MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS})",
                    s.approval_timeout_seconds
                ),
            );
        }
        read_promotion(vars, &mut s);
        bake::read(vars, &mut s.bake);
        s.slack = slack::read(vars);
        s
    }

    pub fn from_env() -> Result<Settings, ConfigErrors> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    /// Whose newest candidate a run competes with: staging's candidates of the
    /// repository, or its production promotions (a newer `rc-*` on staging never
    /// supersedes a promotion waiting for its approvers).
    pub fn lane(&self, repository: &str) -> String {
        match self.stage {
            Stage::Staging => repository.to_string(),
            Stage::Production => format!("{repository}@production"),
        }
    }

    pub fn execution_link(&self, execution_id: &str) -> String {
        self.execution_url.replace("{execution}", execution_id)
    }
}

/// The defaults of the functions' stage (`STAGEGATE_STAGE`): staging's or production's.
fn read_stage<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>) -> Settings {
    let mut stage = Stage::Staging;
    vars.read("STAGEGATE_STAGE", &mut stage, |v| match v {
        "staging" => Ok(Stage::Staging),
        "production" => Ok(Stage::Production),
        _ => Err(format!("'{v}' must be staging or production")),
    });
    match stage {
        Stage::Staging => Settings::default(),
        Stage::Production => Settings::production(),
    }
}

/// The production functions' own: the soak, and that it fits the run.
fn read_promotion<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>, s: &mut Settings) {
    vars.read("STAGEGATE_SOAK_SECONDS", &mut s.soak_seconds, |v| {
        number(v, 0, MAX_SOAK_SECONDS, "seconds")
    });
    vars.read(
        "STAGEGATE_REFUSE_UNSOAKED",
        &mut s.refuse_unsoaked,
        parse_bool,
    );
    vars.read("STAGEGATE_DEPLOY_WINDOWS", &mut s.calendar, |v| {
        match v.trim().is_empty() {
            true => Ok(None),
            false => crate::windows::Calendar::parse(v).map(Some),
        }
    });
    let candidates = s.tag_prefix.clone();
    vars.read(
        "STAGEGATE_PRODUCTION_TAG_PREFIX",
        &mut s.production_tag_prefix,
        |v| {
            let v = tag_prefix(v)?;
            if v.starts_with(&candidates) || candidates.starts_with(&v) {
                return Err(format!(
                    "'{v}' and the candidates' prefix '{candidates}' must not overlap: a tag would be both"
                ));
            }
            Ok(Some(v))
        },
    );
    if s.stage == Stage::Production
        && s.soak_seconds + s.approval_timeout_seconds > MAX_APPROVAL_TIMEOUT_SECONDS
    {
        vars.fail(
        "STAGEGATE_SOAK_SECONDS",
        format!(
            "{} s of soak and {} s of approval do not both fit the 7-day run (together at most {MAX_APPROVAL_TIMEOUT_SECONDS})",
            s.soak_seconds, s.approval_timeout_seconds
        ),
        );
    }
}

fn tag_prefix(v: &str) -> Result<String, String> {
    if v.is_empty() || v.len() > 20 {
        return Err("must be 1 to 20 characters".into());
    }
    Ok(v.to_string())
}

fn repository(v: &str) -> Result<Option<String>, String> {
    if v.is_empty() {
        return Ok(None);
    }
    if !crate::candidate::is_repository(v) {
        return Err(format!("'{v}' is not of the form owner/name"));
    }
    Ok(Some(v.to_string()))
}

fn number(v: &str, min: u64, max: u64, what: &str) -> Result<u64, String> {
    v.parse::<u64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| format!("'{v}' is not a number of {what} from {min} to {max}"))
}

fn base_url(v: &str) -> Result<String, String> {
    if !(v.starts_with("https://")
        || v.starts_with("http://127.0.0.1")
        || v.starts_with("http://localhost"))
    {
        return Err(format!(
            "'{v}' must be an https:// URL (or http on localhost)"
        ));
    }
    Ok(v.trim_end_matches('/').to_string())
}

/// CloudFormation's rule for a stack name (the template's `AppStackName` pattern):
/// a letter, then letters, digits and hyphens, 128 characters at most.
fn stack_name(v: &str) -> Result<String, String> {
    let starts_with_letter = v.chars().next().is_some_and(|c| c.is_ascii_alphabetic());
    if !starts_with_letter
        || v.len() > 128
        || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(format!(
            "'{v}' is not a CloudFormation stack name (a letter, then letters, digits and '-', at most 128)"
        ));
    }
    Ok(v.to_string())
}

fn suite_list(v: &str) -> Result<Vec<String>, String> {
    let suites: Vec<String> = v
        .split(',')
        .map(|x| x.trim().to_string())
        .filter(|x| !x.is_empty())
        .collect();
    if !suites.iter().all(|x| is_suite_name(x)) {
        return Err(format!(
            "'{v}' must be comma-separated suite names (letters, digits, - and _)"
        ));
    }
    Ok(suites)
}

fn command_suites(v: &str, http_suites: &[String]) -> Result<BTreeMap<String, String>, String> {
    if v.trim().is_empty() {
        return Ok(BTreeMap::new());
    }
    let suites: BTreeMap<String, String> = serde_json::from_str(v)
        .map_err(|e| format!("must be a JSON object of suite name to command: {e}"))?;
    for (name, command) in &suites {
        if !is_suite_name(name) || http_suites.contains(name) {
            return Err(format!(
                "'{name}' must be a suite name (letters, digits, - and _) that no HTTP suite has"
            ));
        }
        if command.trim().is_empty() {
            return Err(format!("suite '{name}' has no command"));
        }
    }
    Ok(suites)
}

fn environment(v: &str) -> Result<String, String> {
    let ok = (1..=32).contains(&v.len())
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !ok {
        return Err(format!("'{v}' must be 1 to 32 letters, digits, '-' or '_'"));
    }
    Ok(v.to_string())
}

fn check_command(v: &str) -> Result<String, String> {
    if v.trim().is_empty() || v.len() > 4000 {
        return Err("must be a non-empty command of at most 4000 characters".into());
    }
    Ok(v.to_string())
}

fn parse_bool(v: &str) -> Result<bool, String> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Ok(true),
        "false" | "0" | "no" => Ok(false),
        _ => Err(format!("'{v}' is not true or false")),
    }
}

fn parse_pairs(v: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once('=')?;
        let (k, val) = (k.trim(), val.trim());
        // A stack output's logical id is alphanumeric; an environment variable's
        // name is letters, digits and '_'.
        if k.is_empty()
            || val.is_empty()
            || !k.chars().all(|c| c.is_ascii_alphanumeric())
            || !val.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return None;
        }
        out.insert(k.to_string(), val.to_string());
    }
    Some(out)
}

/// A suite's name, HTTP or command: letters, digits, `-` and `_`.
fn is_suite_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

mod bake;
pub use bake::{Bake, MAX_BAKE_SECONDS, MAX_MONITORING_MINUTES};
mod slack;
pub use slack::{team_id, Slack, SLACK_API};

#[cfg(test)]
mod tests;

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
}

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
        }
    }
}

/// A configuration value that is missing or malformed, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("configuration {name}: {problem}")]
pub struct ConfigError {
    pub name: String,
    pub problem: String,
}

impl Settings {
    /// Reads `STAGEGATE_*` variables through `get` (the process environment on AWS).
    /// Unset variables keep their defaults; set-but-invalid ones are errors.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Result<Settings, ConfigError> {
        let mut s = Settings::default();
        let err = |name: &str, problem: String| ConfigError {
            name: name.into(),
            problem,
        };
        if let Some(v) = get("STAGEGATE_TAG_PREFIX") {
            if v.is_empty() || v.len() > 20 {
                return Err(err(
                    "STAGEGATE_TAG_PREFIX",
                    "must be 1 to 20 characters".into(),
                ));
            }
            s.tag_prefix = v;
        }
        if let Some(v) = get("STAGEGATE_REPOSITORY").filter(|v| !v.is_empty()) {
            if !crate::candidate::is_repository(&v) {
                return Err(err(
                    "STAGEGATE_REPOSITORY",
                    format!("'{v}' is not of the form owner/name"),
                ));
            }
            s.repository = Some(v);
        }
        if let Some(v) = get("STAGEGATE_APPROVAL_TIMEOUT_SECONDS") {
            s.approval_timeout_seconds = v
                .parse::<u64>()
                .ok()
                .filter(|n| (60..=MAX_APPROVAL_TIMEOUT_SECONDS).contains(n))
                .ok_or_else(|| {
                    err(
                        "STAGEGATE_APPROVAL_TIMEOUT_SECONDS",
                        format!("'{v}' is not a number of seconds from 60 to {MAX_APPROVAL_TIMEOUT_SECONDS}"),
                    )
                })?;
        }
        if let Some(v) = get("STAGEGATE_APPROVAL_BASE_URL") {
            if !(v.starts_with("https://")
                || v.starts_with("http://127.0.0.1")
                || v.starts_with("http://localhost"))
            {
                return Err(err(
                    "STAGEGATE_APPROVAL_BASE_URL",
                    format!("'{v}' must be an https:// URL (or http on localhost)"),
                ));
            }
            s.approval_base_url = v.trim_end_matches('/').to_string();
        }
        if let Some(v) = get("STAGEGATE_PUSHER_MAY_APPROVE") {
            s.pusher_may_approve = parse_bool(&v).ok_or_else(|| {
                err(
                    "STAGEGATE_PUSHER_MAY_APPROVE",
                    format!("'{v}' is not true or false"),
                )
            })?;
        }
        if let Some(v) = get("STAGEGATE_REQUIRED_APPROVALS") {
            s.required_approvals = v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10).contains(n))
                .ok_or_else(|| {
                    err(
                        "STAGEGATE_REQUIRED_APPROVALS",
                        format!("'{v}' is not a number from 1 to 10"),
                    )
                })?;
        }
        if let Some(v) = get("STAGEGATE_STACK_NAME") {
            if v.is_empty()
                || v.len() > 128
                || !v.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            {
                return Err(err(
                    "STAGEGATE_STACK_NAME",
                    format!("'{v}' is not a CloudFormation stack name"),
                ));
            }
            s.stack_name = v;
        }
        if let Some(v) = get("STAGEGATE_TEMPLATE_URI") {
            s.template_uri = v;
        }
        if let Some(v) = get("STAGEGATE_SUITES") {
            let suites: Vec<String> = v
                .split(',')
                .map(|x| x.trim().to_string())
                .filter(|x| !x.is_empty())
                .collect();
            if !suites.iter().all(|x| is_suite_name(x)) {
                return Err(err(
                    "STAGEGATE_SUITES",
                    format!("'{v}' must be comma-separated suite names (letters, digits, - and _)"),
                ));
            }
            s.suites = suites;
        }
        if let Some(v) = get("STAGEGATE_COMMAND_SUITES").filter(|v| !v.trim().is_empty()) {
            let suites: BTreeMap<String, String> = serde_json::from_str(&v).map_err(|e| {
                err(
                    "STAGEGATE_COMMAND_SUITES",
                    format!("must be a JSON object of suite name to command: {e}"),
                )
            })?;
            for (name, command) in &suites {
                if !is_suite_name(name) || s.suites.contains(name) {
                    return Err(err(
                        "STAGEGATE_COMMAND_SUITES",
                        format!("'{name}' must be a suite name (letters, digits, - and _) that no HTTP suite has"),
                    ));
                }
                if command.trim().is_empty() {
                    return Err(err(
                        "STAGEGATE_COMMAND_SUITES",
                        format!("suite '{name}' has no command"),
                    ));
                }
            }
            s.command_suites = suites;
        }
        if let Some(v) = get("STAGEGATE_FRONTEND_ENV") {
            s.frontend_env = parse_pairs(&v).ok_or_else(|| {
                err(
                    "STAGEGATE_FRONTEND_ENV",
                    format!("'{v}' must be OutputName=ENV_NAME pairs separated by commas"),
                )
            })?;
        }
        if let Some(v) = get("STAGEGATE_MAX_POLLS") {
            s.max_polls = v
                .parse::<u32>()
                .ok()
                .filter(|n| (1..=10_000).contains(n))
                .ok_or_else(|| {
                    err(
                        "STAGEGATE_MAX_POLLS",
                        format!("'{v}' is not a number from 1 to 10000"),
                    )
                })?;
        }
        if let Some(v) = get("STAGEGATE_ENVIRONMENT") {
            let ok = (1..=32).contains(&v.len())
                && v.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
            if !ok {
                return Err(err(
                    "STAGEGATE_ENVIRONMENT",
                    format!("'{v}' must be 1 to 32 letters, digits, '-' or '_'"),
                ));
            }
            s.environment = v;
        }
        if let Some(v) = get("STAGEGATE_USER_ACCEPTANCE") {
            s.user_acceptance = parse_bool(&v).ok_or_else(|| {
                err(
                    "STAGEGATE_USER_ACCEPTANCE",
                    format!("'{v}' is not true or false"),
                )
            })?;
        }
        if let Some(v) = get("STAGEGATE_EXECUTION_URL") {
            s.execution_url = v;
        }
        for (key, var, _) in CHECKS {
            if let Some(v) = get(var) {
                if v.trim().is_empty() || v.len() > 4000 {
                    return Err(err(
                        var,
                        "must be a non-empty command of at most 4000 characters".into(),
                    ));
                }
                s.commands.insert(key.to_string(), v);
            }
        }
        if s.user_acceptance
            && s.approval_timeout_seconds > MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS
        {
            return Err(err(
                "STAGEGATE_APPROVAL_TIMEOUT_SECONDS",
                format!(
                    "{} s is too long with STAGEGATE_USER_ACCEPTANCE=true: the approval and the sign-off each wait that long, and both must fit the 7-day run (at most {MAX_APPROVAL_TIMEOUT_WITH_ACCEPTANCE_SECONDS})",
                    s.approval_timeout_seconds
                ),
            ));
        }
        Ok(s)
    }

    pub fn from_env() -> Result<Settings, ConfigError> {
        Self::from_vars(|k| std::env::var(k).ok())
    }

    pub fn execution_link(&self, execution_id: &str) -> String {
        self.execution_url.replace("{execution}", execution_id)
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" => Some(true),
        "false" | "0" | "no" => Some(false),
        _ => None,
    }
}

fn parse_pairs(v: &str) -> Option<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for pair in v.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (k, val) = pair.split_once('=')?;
        let (k, val) = (k.trim(), val.trim());
        if k.is_empty()
            || val.is_empty()
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

#[cfg(test)]
mod tests {
    use super::*;

    fn vars<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn command_suites_are_a_json_map_of_names_to_commands() {
        let s = Settings::from_vars(vars(&[(
            "STAGEGATE_COMMAND_SUITES",
            r#"{"e2e": "npx playwright test --reporter=junit"}"#,
        )]))
        .unwrap();
        assert_eq!(
            s.command_suites["e2e"],
            "npx playwright test --reporter=junit"
        );
        assert!(
            Settings::from_vars(vars(&[("STAGEGATE_COMMAND_SUITES", "")]))
                .unwrap()
                .command_suites
                .is_empty()
        );
        for (bad, why) in [
            ("e2e=pytest", "JSON object"),
            (r#"{"e 2 e": "pytest"}"#, "suite name"),
            (r#"{"auth": "pytest"}"#, "no HTTP suite has"),
            (r#"{"e2e": " "}"#, "no command"),
        ] {
            let e = Settings::from_vars(vars(&[("STAGEGATE_COMMAND_SUITES", bad)])).unwrap_err();
            assert_eq!(e.name, "STAGEGATE_COMMAND_SUITES");
            assert!(e.problem.contains(why), "{bad}: {}", e.problem);
        }
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        assert_eq!(Settings::from_vars(vars(&[])).unwrap(), Settings::default());
    }

    #[test]
    fn reads_every_variable() {
        let s = Settings::from_vars(vars(&[
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "3600"),
            ("STAGEGATE_REQUIRED_APPROVALS", "2"),
            ("STAGEGATE_PUSHER_MAY_APPROVE", "true"),
            ("STAGEGATE_SUITES", "auth, content"),
            (
                "STAGEGATE_FRONTEND_ENV",
                "ApiUrl=VITE_API_URL,UserPoolId=VITE_POOL",
            ),
            (
                "STAGEGATE_APPROVAL_BASE_URL",
                "https://x.lambda-url.us-east-1.on.aws/",
            ),
            ("STAGEGATE_COMMAND_ESLINT", "pnpm lint"),
            ("STAGEGATE_REPOSITORY", "acme/shop"),
            ("STAGEGATE_ENVIRONMENT", "staging-eu"),
        ]))
        .unwrap();
        assert_eq!(s.repository.as_deref(), Some("acme/shop"));
        assert_eq!(s.environment, "staging-eu");
        assert_eq!(s.approval_timeout_seconds, 3600);
        assert_eq!(s.required_approvals, 2);
        assert!(s.pusher_may_approve);
        assert_eq!(s.suites, vec!["auth", "content"]);
        assert_eq!(s.frontend_env["ApiUrl"], "VITE_API_URL");
        assert_eq!(s.approval_base_url, "https://x.lambda-url.us-east-1.on.aws");
        assert_eq!(s.commands["eslint"], "pnpm lint");
        assert_eq!(s.commands["typescript"], "npx tsc --noEmit");
    }

    #[test]
    fn both_approval_waits_must_fit_the_run() {
        let e = Settings::from_vars(vars(&[
            ("STAGEGATE_USER_ACCEPTANCE", "true"),
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "345600"),
        ]))
        .unwrap_err();
        assert_eq!(e.name, "STAGEGATE_APPROVAL_TIMEOUT_SECONDS");
        assert!(e.problem.contains("7-day"), "{e}");
        assert!(Settings::from_vars(vars(&[
            ("STAGEGATE_USER_ACCEPTANCE", "true"),
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "259200"),
        ]))
        .is_ok());
        assert!(
            Settings::from_vars(vars(&[("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "518400")])).is_ok()
        );
    }

    #[test]
    fn invalid_values_name_the_variable() {
        for (k, v) in [
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "soon"),
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "5"),
            ("STAGEGATE_REQUIRED_APPROVALS", "0"),
            ("STAGEGATE_PUSHER_MAY_APPROVE", "maybe"),
            ("STAGEGATE_APPROVAL_BASE_URL", "http://evil.example"),
            ("STAGEGATE_FRONTEND_ENV", "ApiUrl"),
            ("STAGEGATE_SUITES", "a b"),
            ("STAGEGATE_STACK_NAME", "bad_name"),
            ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "604800"),
            ("STAGEGATE_COMMAND_PACKAGE", " "),
            ("STAGEGATE_REPOSITORY", "not a repository"),
            ("STAGEGATE_ENVIRONMENT", ""),
            ("STAGEGATE_ENVIRONMENT", "stag ing"),
            (
                "STAGEGATE_ENVIRONMENT",
                "a-name-that-is-longer-than-32-chars",
            ),
        ] {
            let e = Settings::from_vars(vars(&[(k, v)])).unwrap_err();
            assert_eq!(e.name, k, "{v}");
        }
    }
}

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
        let e = e.about("STAGEGATE_COMMAND_SUITES").unwrap();
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
    let e = e.about("STAGEGATE_APPROVAL_TIMEOUT_SECONDS").unwrap();
    assert!(e.problem.contains("7-day"), "{e}");
    assert!(Settings::from_vars(vars(&[
        ("STAGEGATE_USER_ACCEPTANCE", "true"),
        ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "259200"),
    ]))
    .is_ok());
    assert!(Settings::from_vars(vars(&[("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "518400")])).is_ok());
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
        ("STAGEGATE_FRONTEND_ENV", "ApiUrl=API URL"),
        ("STAGEGATE_FRONTEND_ENV", "Api-Url=API_URL"),
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
        assert_eq!(e.0.len(), 1, "{k}={v}: {e}");
        assert_eq!(e.0[0].name, k, "{v}");
    }
}

#[test]
fn every_invalid_variable_is_named_in_one_error() {
    let e = Settings::from_vars(vars(&[
        ("STAGEGATE_MAX_POLLS", "lots"),
        ("STAGEGATE_STACK_NAME", "bad_name"),
        ("STAGEGATE_REQUIRED_APPROVALS", "0"),
    ]))
    .unwrap_err();
    let text = e.to_string();
    for name in [
        "STAGEGATE_MAX_POLLS",
        "STAGEGATE_STACK_NAME",
        "STAGEGATE_REQUIRED_APPROVALS",
    ] {
        assert!(text.contains(name), "{text}");
    }
    assert_eq!(e.0.len(), 3);
}

#[test]
fn the_production_functions_read_their_own_defaults_and_soak() {
    let s = Settings::from_vars(vars(&[("STAGEGATE_STAGE", "production")])).unwrap();
    assert_eq!(s.stage, Stage::Production);
    assert_eq!((s.tag_prefix.as_str(), s.required_approvals), ("v", 2));
    assert_eq!(s.soak_seconds, 86_400);
    let s = Settings::from_vars(vars(&[
        ("STAGEGATE_STAGE", "production"),
        ("STAGEGATE_SOAK_SECONDS", "3600"),
        ("STAGEGATE_REFUSE_UNSOAKED", "true"),
        ("STAGEGATE_REQUIRED_APPROVALS", "3"),
    ]))
    .unwrap();
    assert_eq!(
        (s.soak_seconds, s.refuse_unsoaked, s.required_approvals),
        (3600, true, 3)
    );
}

#[test]
fn a_wrong_stage_or_a_soak_that_does_not_fit_the_run_is_named() {
    let e = Settings::from_vars(vars(&[("STAGEGATE_STAGE", "prod")])).unwrap_err();
    assert!(e
        .about("STAGEGATE_STAGE")
        .unwrap()
        .problem
        .contains("staging or production"));
    let e = Settings::from_vars(vars(&[("STAGEGATE_SOAK_SECONDS", "999999")])).unwrap_err();
    assert!(e.about("STAGEGATE_SOAK_SECONDS").is_some());
    let e = Settings::from_vars(vars(&[
        ("STAGEGATE_STAGE", "production"),
        ("STAGEGATE_SOAK_SECONDS", "259200"),
        ("STAGEGATE_APPROVAL_TIMEOUT_SECONDS", "345600"),
    ]))
    .unwrap_err();
    assert!(e
        .about("STAGEGATE_SOAK_SECONDS")
        .unwrap()
        .problem
        .contains("7-day run"));
}

#[test]
fn the_webhooks_production_prefix_must_not_overlap_the_candidates() {
    let s = Settings::from_vars(vars(&[("STAGEGATE_PRODUCTION_TAG_PREFIX", "v")])).unwrap();
    assert_eq!(s.production_tag_prefix.as_deref(), Some("v"));
    for overlapping in ["rc-", "r", "rc-x"] {
        let e = Settings::from_vars(vars(&[("STAGEGATE_PRODUCTION_TAG_PREFIX", overlapping)]))
            .unwrap_err();
        let problem = &e.about("STAGEGATE_PRODUCTION_TAG_PREFIX").unwrap().problem;
        assert!(problem.contains("overlap"), "{problem}");
    }
}

#[test]
fn deployment_windows_are_read_and_a_wrong_one_names_the_variable_and_its_field() {
    let s = Settings::from_vars(vars(&[(
        "STAGEGATE_DEPLOY_WINDOWS",
        r#"{"timeZone": "Europe/Berlin", "windows": [{"days": "Mon-Thu", "from": "09:00", "to": "16:00"}]}"#,
    )]))
    .unwrap();
    assert_eq!(
        s.calendar.unwrap().describe(),
        "Mon-Thu 09:00-16:00 (Europe/Berlin)"
    );
    let e = Settings::from_vars(vars(&[(
        "STAGEGATE_DEPLOY_WINDOWS",
        r#"{"timeZone": "Europe/Berlin", "windows": [{"days": "Mo-Th", "from": "09:00", "to": "16:00"}]}"#,
    )]))
    .unwrap_err();
    let problem = &e.about("STAGEGATE_DEPLOY_WINDOWS").unwrap().problem;
    assert!(problem.contains("windows[0].days"), "{problem}");
}

#[test]
fn the_bake_reads_its_time_interval_alarms_smoke_suites_and_monitoring() {
    let s = Settings::from_vars(vars(&[("STAGEGATE_STACK_NAME", "shop-staging")])).unwrap();
    assert_eq!(s.bake, Bake::default());
    assert_eq!(s.bake.alarm_prefix(&s.stack_name), "shop-staging-");
    let s = Settings::from_vars(vars(&[
        ("STAGEGATE_BAKE_SECONDS", "900"),
        ("STAGEGATE_BAKE_INTERVAL_SECONDS", "30"),
        ("STAGEGATE_ALARM_PREFIX", "shop-"),
        ("STAGEGATE_SMOKE_SUITES", "auth, content"),
        ("STAGEGATE_ROLLBACK_MONITORING_MINUTES", "10"),
    ]))
    .unwrap();
    let b = &s.bake;
    assert_eq!(
        (b.seconds, b.interval_seconds, b.monitoring_minutes),
        (900, 30, 10)
    );
    assert_eq!(b.alarm_prefix(&s.stack_name), "shop-");
    assert_eq!(b.smoke_suites, ["auth", "content"]);
    let empty = Settings::from_vars(vars(&[("STAGEGATE_ALARM_PREFIX", "")])).unwrap();
    assert_eq!(empty.bake.alarm_prefix, None);
}

#[test]
fn a_bake_that_cannot_be_is_named_by_its_variable() {
    for (var, value) in [
        ("STAGEGATE_BAKE_SECONDS", "86401"),
        ("STAGEGATE_BAKE_INTERVAL_SECONDS", "5"),
        ("STAGEGATE_ALARM_PREFIX", "shop staging"),
        ("STAGEGATE_SMOKE_SUITES", "a/b"),
        ("STAGEGATE_ROLLBACK_MONITORING_MINUTES", "181"),
    ] {
        let e = Settings::from_vars(vars(&[(var, value)])).unwrap_err();
        assert!(e.about(var).is_some(), "{var}={value}: {e:?}");
    }
}

#[test]
fn slack_is_off_unless_a_workspace_is_named_and_a_bad_one_is_refused() {
    assert_eq!(Settings::from_vars(vars(&[])).unwrap().slack, None);
    // The template passes its empty default: unset.
    let blank = vars(&[("STAGEGATE_SLACK_TEAM_ID", "")]);
    assert_eq!(Settings::from_vars(blank).unwrap().slack, None);
    let on = Settings::from_vars(vars(&[("STAGEGATE_SLACK_TEAM_ID", "T0ACME")])).unwrap();
    assert_eq!(
        on.slack,
        Some(Slack {
            team_id: "T0ACME".into(),
            api_url: SLACK_API.into()
        })
    );
    let team = ("STAGEGATE_SLACK_TEAM_ID", "T0ACME");
    for pairs in [
        vec![("STAGEGATE_SLACK_TEAM_ID", "acme")],
        vec![("STAGEGATE_SLACK_TEAM_ID", "U0123ABC")],
        vec![
            ("STAGEGATE_SLACK_API_URL", "http://slack.example/api"),
            team,
        ],
    ] {
        let e = Settings::from_vars(vars(&pairs)).unwrap_err();
        assert_eq!(e.0[0].name, pairs[0].0, "{e:?}");
    }
}

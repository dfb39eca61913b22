//! `stagegate.json`'s checks: each field held to the rule its variable has on AWS.

use super::*;

#[test]
fn a_bake_the_functions_would_refuse_is_refused_naming_the_field() {
    let file = Path::new("app/stagegate.json");
    assert_eq!(check_bake(file, &BakeConfig::default()), Ok(()));
    let bad = |f: fn(&mut BakeConfig)| {
        let mut b = BakeConfig::default();
        f(&mut b);
        check_bake(file, &b).unwrap_err()
    };
    let e = bad(|b| b.seconds = 10_000_000);
    assert!(
        e.starts_with("app/stagegate.json: bake.seconds: '10000000' is not a number of seconds"),
        "{e}"
    );
    let e = bad(|b| b.smoke_suites = vec!["../etc".into()]);
    assert!(
        e.contains("bake.smokeSuites: '../etc'") && e.contains("suite names"),
        "{e}"
    );
    assert!(bad(|b| b.interval_seconds = 0).contains("bake.intervalSeconds"));
    assert!(bad(|b| b.error_rate_percent = 150.0).contains("bake.errorRatePercent is 150"));
    assert!(bad(|b| b.error_rate_percent = f64::NAN).contains("bake.errorRatePercent"));
}

/// The example app's `stagegate.json`, changed by `edit`, loaded from a scratch
/// directory that has the paths it names.
fn load_edited(name: &str, edit: fn(&mut serde_json::Value)) -> Result<App, String> {
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/shop");
    let text = std::fs::read_to_string(example.join("stagegate.json")).unwrap_or_default();
    let mut config: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
    edit(&mut config);
    let dir = std::env::temp_dir().join(format!("stagegate-app-{name}-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("frontend")).unwrap();
    std::fs::write(dir.join("template.yaml"), "").unwrap();
    std::fs::write(dir.join("stagegate.json"), config.to_string()).unwrap();
    let loaded = App::load(&dir);
    std::fs::remove_dir_all(&dir).unwrap();
    loaded
}

#[test]
fn names_that_would_leave_their_directory_or_that_aws_refuses_are_refused() {
    let example = load_edited("example", |_| {});
    assert!(example.is_ok(), "{example:?}");
    type Edit = fn(&mut serde_json::Value);
    let refused: [(&str, Edit, &str); 7] = [
        (
            "env",
            |c| c["frontend"]["env"]["ApiUrl"] = "API URL".into(),
            "frontend.env: 'ApiUrl=API URL' must be OutputName=ENV_NAME pairs",
        ),
        (
            "stack",
            |c| c["stackName"] = "../../etc".into(),
            "json: stackName: '../../etc' is not a CloudFormation stack name",
        ),
        (
            "digit",
            |c| c["stackName"] = "1shop".into(),
            "'1shop' is not a CloudFormation stack name",
        ),
        (
            "prod",
            |c| c["production"]["stackName"] = "shop/prod".into(),
            "production.stackName: 'shop/prod' is not a CloudFormation stack name",
        ),
        (
            "smoke",
            |c| c["production"]["smokeSuites"] = vec!["../x"].into(),
            "production.smokeSuites: '../x' must be comma-separated suite names",
        ),
        (
            "repo",
            |c| c["repository"] = "shop".into(),
            "repository: 'shop' is not of the form owner/name",
        ),
        (
            "prefix",
            |c| c["tagPrefix"] = "".into(),
            "tagPrefix: must be 1 to 20 characters",
        ),
    ];
    for (name, edit, why) in refused {
        match load_edited(name, edit) {
            Err(e) => assert!(
                e.contains("stagegate.json: ") && e.contains(why),
                "{name}: {e}"
            ),
            Ok(_) => panic!("{name}: loaded"),
        }
    }
}

#[test]
fn an_unknown_bake_field_is_refused_by_name() {
    let e = serde_json::from_str::<BakeConfig>(r#"{"secnds": 3}"#).unwrap_err();
    assert!(e.to_string().contains("unknown field `secnds`"), "{e}");
}

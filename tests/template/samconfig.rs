//! `samconfig.toml` deploys the template as it is: every parameter without a default
//! is given, every one given exists, and the production calendar it sets is valid.

use crate::*;
use std::path::Path;

/// `Key=Value` of the staging environment's `parameter_overrides` (each a quoted
/// TOML string on its own line; comments skipped).
fn overrides() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../samconfig.toml");
    let text = std::fs::read_to_string(&path).expect("samconfig.toml");
    let start = text
        .find("parameter_overrides = [")
        .expect("parameter_overrides");
    let end = start + text[start..].find("\n]").expect("the list's end");
    text[start..end]
        .lines()
        .skip(1)
        .map(str::trim)
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let quoted = l.trim_end_matches(',');
            let inner = quoted.get(1..quoted.len().saturating_sub(1))?;
            let (k, v) = inner.split_once('=')?;
            Some((k.to_string(), v.to_string()))
        })
        .collect()
}

#[test]
fn samconfig_gives_every_required_parameter_and_a_valid_calendar() {
    let t = template();
    let params = t["Parameters"].as_mapping().expect("Parameters");
    let given = overrides();
    for (name, p) in params {
        let name = name.as_str().unwrap_or_default();
        if p.get("Default").is_none() {
            assert!(
                given.contains_key(name),
                "samconfig.toml does not give {name}"
            );
        }
    }
    for key in given.keys() {
        assert!(
            params.contains_key(key.as_str()),
            "{key} is not a template parameter"
        );
    }
    let calendar = given.get("DeployWindows").expect("an example calendar");
    assert!(
        !calendar.contains(' '),
        "parameter_overrides are split on whitespace"
    );
    let parsed = stagegate::windows::Calendar::parse(calendar).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(parsed.describe(), "Mon-Thu 09:00-16:00 (Europe/Berlin)");
}

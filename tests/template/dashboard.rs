//! The dashboard: its body is valid JSON once CloudFormation has substituted it,
//! every `${…}` in it is something the template has, every metric it draws exists
//! (stagegate's own, `stagegate::metrics::METRICS`, with exactly their dimensions;
//! AWS's, on a resource of the kind that publishes them), every alarm it shows is one
//! of the template's, and each of stagegate's metrics is on it.

use super::alarms::{FUNCTION, METRICS as AWS_METRICS};
use super::{resources, template};
use serde_json::Value;
use stagegate::metrics::{METRICS, NAMESPACE};
use std::collections::BTreeSet;

const PSEUDO: &[&str] = &[
    "AWS::Region",
    "AWS::StackName",
    "AWS::AccountId",
    "AWS::Partition",
];

/// The body as CloudFormation makes it: each `${X}` checked and replaced by a value
/// that keeps it recognisable (`<X>`), then parsed.
fn body() -> (Value, BTreeSet<String>) {
    let t = template();
    let res = resources(&t);
    let dashboard = &res["Dashboard"];
    assert_eq!(dashboard["Condition"].as_str(), Some("WatchesStagegate"));
    let text = dashboard["Properties"]["DashboardBody"]["Fn::Sub"]
        .as_str()
        .expect("DashboardBody is one !Sub string")
        .to_string();
    let mut out = String::new();
    let mut names = BTreeSet::new();
    let mut rest = text.as_str();
    while let Some(at) = rest.find("${") {
        out.push_str(&rest[..at]);
        let end = rest[at..].find('}').expect("a closed ${") + at;
        let name = &rest[at + 2..end];
        let known = PSEUDO.contains(&name)
            || t["Parameters"].get(name).is_some()
            || res.contains_key(name)
            || name.strip_suffix(".Arn").is_some_and(|r| {
                res.get(r)
                    .is_some_and(|r| r["Type"] == "AWS::CloudWatch::Alarm")
            });
        assert!(known, "${{{name}}} is nothing the template has");
        names.insert(name.to_string());
        out.push_str(&format!("<{name}>"));
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    let body = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}:\n{out}"));
    (body, names)
}

/// A metric the dashboard may draw: namespace, name, and its dimensions (sorted).
fn known(namespace: &str, name: &str) -> Option<BTreeSet<String>> {
    if namespace == NAMESPACE {
        let m = METRICS.iter().find(|m| m.name == name)?;
        return Some(m.dimensions.iter().map(|d| d.to_string()).collect());
    }
    let (_, _, dim, ..) = AWS_METRICS
        .iter()
        .find(|(ns, n, ..)| *ns == namespace && *n == name)?;
    Some(BTreeSet::from([dim.to_string()]))
}

/// `SEARCH('{ns,dim,…} MetricName="X" …', …)` → (ns, dims, X).
fn search(expression: &str) -> (String, BTreeSet<String>, String) {
    let inner = expression
        .strip_prefix("SEARCH('{")
        .unwrap_or_else(|| panic!("not a search: {expression}"));
    let (schema, rest) = inner.split_once('}').expect("a schema");
    let mut parts = schema.split(',').map(str::to_string);
    let namespace = parts.next().unwrap_or_default();
    let metric = rest
        .split("MetricName=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_else(|| panic!("no MetricName in {expression}"));
    (namespace, parts.collect(), metric.to_string())
}

#[test]
fn the_dashboard_draws_only_metrics_that_exist_and_shows_the_templates_alarms() {
    let (body, _) = body();
    let t = template();
    let res = resources(&t);
    let mut drawn = BTreeSet::new();
    let widgets = body["widgets"].as_array().expect("widgets");
    for w in widgets {
        let p = &w["properties"];
        match w["type"].as_str() {
            Some("metric") => {
                for row in p["metrics"].as_array().expect("metrics") {
                    let row = row.as_array().expect("a metric row");
                    if let Some(e) = row[0]["expression"].as_str() {
                        let (ns, dims, name) = search(e);
                        assert_eq!(known(&ns, &name), Some(dims), "{e}");
                        drawn.insert((ns, name));
                        continue;
                    }
                    let text: Vec<&str> = row.iter().filter_map(Value::as_str).collect();
                    let (ns, name) = (text[0], text[1]);
                    let dims: BTreeSet<String> =
                        text[2..].chunks(2).map(|kv| kv[0].to_string()).collect();
                    assert_eq!(known(ns, name), Some(dims), "{row:?}");
                    if ns.starts_with("AWS/") {
                        let target = text[3].trim_matches(|c| c == '<' || c == '>');
                        let kind = res[target]["Type"].as_str();
                        assert!(
                            kind.is_some_and(|k| k.ends_with("StateMachine") || k == FUNCTION),
                            "{row:?}"
                        );
                    }
                    drawn.insert((ns.to_string(), name.to_string()));
                }
            }
            Some("alarm") => {
                let alarms = p["alarms"].as_array().expect("alarms");
                assert!(
                    !alarms.is_empty() && alarms.len() <= 100,
                    "an alarm widget shows 1 to 100"
                );
                for a in alarms {
                    let a = a.as_str().unwrap_or_default();
                    assert!(a.starts_with('<') && a.ends_with(".Arn>"), "{a}");
                }
            }
            Some("text") => {}
            other => panic!("widget type {other:?}"),
        }
    }
    for m in METRICS {
        assert!(
            drawn.contains(&(NAMESPACE.to_string(), m.name.to_string())),
            "{} is not on the dashboard",
            m.name
        );
    }
}

#[test]
fn the_dashboard_shows_every_state_machine_and_queue_alarm() {
    let (_, names) = body();
    let t = template();
    for (name, r) in resources(&t) {
        let kind = r["Type"].as_str().unwrap_or_default();
        // An optional function's alarm (Slack's) is in the console only: the body
        // cannot name a resource that may not exist.
        if kind == "AWS::CloudWatch::Alarm"
            && !name.ends_with("ErrorRateAlarm")
            && !name.ends_with("ThrottlesAlarm")
            && r["Condition"].as_str() != Some("WatchesSlack")
        {
            assert!(
                names.contains(&format!("{name}.Arn")),
                "{name} is not on the dashboard"
            );
        }
    }
    assert_eq!(
        t["Outputs"]["DashboardUrl"]["Condition"].as_str(),
        Some("WatchesStagegate")
    );
}

//! stagegate watches itself: every alarm in `template.yaml` names a metric that
//! exists, in its namespace, with the dimensions that metric is published under and a
//! statistic that makes sense for it, pointing at a resource of the kind that
//! publishes it; every function, state machine, public URL and dead-letter queue has
//! its alarms; they go to the operations topic only, and WatchStagegate=false leaves
//! them all out. cfn-lint checks an alarm's shape, not whether its metric exists.

use super::{resources, template};
use serde_yaml::Value as Yaml;
use std::collections::{BTreeMap, BTreeSet};

/// The metrics stagegate's alarms may use, as AWS publishes them: namespace, metric,
/// the one dimension it is published under, the resource type that dimension names,
/// and the statistics that mean something for it (from the Lambda, Step Functions
/// and SQS metric references).
pub(crate) const METRICS: &[(&str, &str, &str, &str, &[&str])] = &[
    ("AWS/Lambda", "Errors", "FunctionName", FUNCTION, &["Sum"]),
    (
        "AWS/Lambda",
        "Invocations",
        "FunctionName",
        FUNCTION,
        &["Sum"],
    ),
    (
        "AWS/Lambda",
        "Throttles",
        "FunctionName",
        FUNCTION,
        &["Sum"],
    ),
    (
        "AWS/Lambda",
        "Url5xxCount",
        "FunctionName",
        FUNCTION,
        &["Sum"],
    ),
    (
        "AWS/States",
        "ExecutionsSucceeded",
        "StateMachineArn",
        MACHINE,
        &["Sum"],
    ),
    (
        "AWS/States",
        "ExecutionsFailed",
        "StateMachineArn",
        MACHINE,
        &["Sum"],
    ),
    (
        "AWS/States",
        "ExecutionsTimedOut",
        "StateMachineArn",
        MACHINE,
        &["Sum"],
    ),
    (
        "AWS/States",
        "ExecutionsAborted",
        "StateMachineArn",
        MACHINE,
        &["Sum"],
    ),
    (
        "AWS/States",
        "ExecutionThrottled",
        "StateMachineArn",
        MACHINE,
        &["Sum"],
    ),
    (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "QueueName",
        QUEUE,
        &["Maximum", "Average"],
    ),
];
pub(crate) const FUNCTION: &str = "AWS::Serverless::Function";
pub(crate) const MACHINE: &str = "AWS::Serverless::StateMachine";
pub(crate) const QUEUE: &str = "AWS::SQS::Queue";

/// One metric an alarm reads: namespace, name, statistic, and the dimension.
struct Read {
    namespace: String,
    metric: String,
    stat: String,
    dimensions: Vec<(String, Yaml)>,
}

fn text(v: &Yaml) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn dimensions(v: &Yaml) -> Vec<(String, Yaml)> {
    v.as_sequence()
        .map(|ds| {
            ds.iter()
                .map(|d| (text(&d["Name"]), d["Value"].clone()))
                .collect()
        })
        .unwrap_or_default()
}

/// What an alarm reads: its single metric, or each `MetricStat` of its metric math.
fn reads(props: &Yaml) -> Vec<Read> {
    if let Some(metrics) = props["Metrics"].as_sequence() {
        return metrics
            .iter()
            .filter(|m| !m["MetricStat"].is_null())
            .map(|m| {
                let stat = &m["MetricStat"];
                Read {
                    namespace: text(&stat["Metric"]["Namespace"]),
                    metric: text(&stat["Metric"]["MetricName"]),
                    stat: text(&stat["Stat"]),
                    dimensions: dimensions(&stat["Metric"]["Dimensions"]),
                }
            })
            .collect();
    }
    vec![Read {
        namespace: text(&props["Namespace"]),
        metric: text(&props["MetricName"]),
        stat: text(&props["Statistic"]),
        dimensions: dimensions(&props["Dimensions"]),
    }]
}

/// The resource a dimension value points at: `!Ref X` or `!GetAtt X.QueueName`.
fn target(value: &Yaml) -> Option<String> {
    if let Some(r) = value["Ref"].as_str() {
        return Some(r.to_string());
    }
    let att = value["Fn::GetAtt"].as_str()?;
    att.strip_suffix(".QueueName").map(str::to_string)
}

fn alarms(t: &Yaml) -> BTreeMap<String, Yaml> {
    resources(t)
        .into_iter()
        .filter(|(_, r)| r["Type"].as_str() == Some("AWS::CloudWatch::Alarm"))
        .collect()
}

/// For each alarm: the resources it watches.
fn watched(t: &Yaml) -> BTreeMap<String, BTreeSet<String>> {
    alarms(t)
        .iter()
        .map(|(name, a)| {
            let targets = reads(&a["Properties"])
                .iter()
                .flat_map(|r| r.dimensions.iter().filter_map(|(_, v)| target(v)))
                .collect();
            (name.clone(), targets)
        })
        .collect()
}

#[test]
fn every_alarm_reads_a_metric_that_exists_on_the_resource_it_names() {
    let t = template();
    let res = resources(&t);
    let all = alarms(&t);
    assert!(all.len() > 80, "{} alarms", all.len());
    for (name, alarm) in &all {
        let props = &alarm["Properties"];
        let reads = reads(props);
        assert!(!reads.is_empty(), "{name} reads nothing");
        for r in reads {
            let known = METRICS
                .iter()
                .find(|(ns, m, ..)| *ns == r.namespace && *m == r.metric)
                .unwrap_or_else(|| panic!("{name}: no {} {}", r.namespace, r.metric));
            let (_, _, dimension, kind, stats) = known;
            assert!(stats.contains(&r.stat.as_str()), "{name}: {}", r.stat);
            assert_eq!(r.dimensions.len(), 1, "{name}: dimensions");
            let (dim, value) = &r.dimensions[0];
            assert_eq!(
                dim, dimension,
                "{name}: {} is published per {dimension}",
                r.metric
            );
            let target = target(value).unwrap_or_else(|| panic!("{name}: {value:?}"));
            assert_eq!(
                res[&target]["Type"].as_str(),
                Some(*kind),
                "{name} → {target}"
            );
            if r.metric.starts_with("Url") {
                let url = &res[&target]["Properties"]["FunctionUrlConfig"];
                assert!(!url.is_null(), "{name}: {target} has no function URL");
            }
        }
    }
}

#[test]
fn metric_math_uses_only_the_metrics_it_defines_and_returns_one_series() {
    let t = template();
    for (name, alarm) in alarms(&t) {
        let Some(metrics) = alarm["Properties"]["Metrics"].as_sequence() else {
            continue;
        };
        let ids: BTreeSet<String> = metrics.iter().map(|m| text(&m["Id"])).collect();
        let returned: Vec<&Yaml> = metrics
            .iter()
            .filter(|m| m["ReturnData"].as_bool() != Some(false))
            .collect();
        assert_eq!(returned.len(), 1, "{name} returns one series");
        let expression = text(&returned[0]["Expression"]);
        let words: BTreeSet<String> = expression
            .split(|c: char| !c.is_ascii_alphanumeric() && c != '_')
            .filter(|w| w.starts_with(|c: char| c.is_ascii_lowercase()))
            .map(str::to_string)
            .collect();
        let own: BTreeSet<String> = ids
            .iter()
            .filter(|i| **i != text(&returned[0]["Id"]))
            .cloned()
            .collect();
        assert_eq!(words, own, "{name}: {expression}");
        for m in metrics.iter().filter(|m| !m["MetricStat"].is_null()) {
            assert_eq!(m["ReturnData"].as_bool(), Some(false), "{name}: {m:?}");
        }
    }
}

#[test]
fn every_function_machine_url_and_dead_letter_queue_is_watched() {
    let t = template();
    let res = resources(&t);
    let watched = watched(&t);
    let alarm_on = |target: &str, suffix: &str| {
        let key = format!("{target}{suffix}");
        let names = watched.get(&key).unwrap_or_else(|| panic!("no {key}"));
        assert_eq!(names, &BTreeSet::from([target.to_string()]), "{key}");
        alarms(&t)[&key]["Properties"].clone()
    };
    for (name, r) in &res {
        match r["Type"].as_str() {
            Some(FUNCTION) => {
                let rate = alarm_on(name, "ErrorRateAlarm");
                let metrics: BTreeSet<String> =
                    reads(&rate).iter().map(|r| r.metric.clone()).collect();
                assert_eq!(
                    metrics,
                    BTreeSet::from(["Errors".into(), "Invocations".into()])
                );
                assert_eq!(
                    text(&alarm_on(name, "ThrottlesAlarm")["MetricName"]),
                    "Throttles"
                );
                if !r["Properties"]["FunctionUrlConfig"].is_null() {
                    assert_eq!(
                        text(&alarm_on(name, "Url5xxAlarm")["MetricName"]),
                        "Url5xxCount"
                    );
                }
            }
            Some(MACHINE) => {
                for (suffix, metric) in [
                    ("FailedAlarm", "ExecutionsFailed"),
                    ("TimedOutAlarm", "ExecutionsTimedOut"),
                    ("AbortedAlarm", "ExecutionsAborted"),
                    ("ThrottledAlarm", "ExecutionThrottled"),
                ] {
                    assert_eq!(text(&alarm_on(name, suffix)["MetricName"]), metric);
                }
            }
            Some(QUEUE) => {
                assert!(name.ends_with("Queue"), "{name}");
                alarm_on(name, "DepthAlarm");
            }
            _ => {}
        }
    }
}

#[test]
fn alarms_reach_the_operations_topic_only_and_the_parameter_turns_them_off() {
    let t = template();
    let res = resources(&t);
    let ops = serde_yaml::from_str::<Yaml>("[{Ref: OperationsTopic}]").unwrap();
    let mut names = BTreeSet::new();
    for (name, alarm) in alarms(&t) {
        // An optional function's alarms exist when it does (Slack's: WatchesSlack is
        // WatchesStagegate and HasSlack).
        let watched = name.trim_end_matches("Alarm");
        let optional = res
            .iter()
            .find(|(r, _)| watched.starts_with(r.as_str()) && r.ends_with("Function"))
            .and_then(|(_, r)| r["Condition"].as_str());
        let want = match optional {
            Some("HasSlack") => "WatchesSlack",
            _ => "WatchesStagegate",
        };
        assert_eq!(alarm["Condition"].as_str(), Some(want), "{name}");
        let p = &alarm["Properties"];
        assert_eq!(p["AlarmActions"], ops, "{name}");
        assert_eq!(p["OKActions"], ops, "{name}");
        assert_eq!(
            p["TreatMissingData"].as_str(),
            Some("notBreaching"),
            "{name}"
        );
        let alarm_name = p["AlarmName"]["Fn::Sub"].as_str().unwrap_or_default();
        assert!(
            alarm_name.starts_with("${AWS::StackName}-"),
            "{name}: {alarm_name}"
        );
        assert!(names.insert(alarm_name.to_string()), "{alarm_name} twice");
    }
    for name in ["OperationsTopic", "OperationsTopicKey"] {
        assert_eq!(
            res[name]["Condition"].as_str(),
            Some("WatchesStagegate"),
            "{name}"
        );
    }
    assert_eq!(
        res["OperationsTopic"]["Properties"]["KmsMasterKeyId"]["Ref"].as_str(),
        Some("OperationsTopicKey"),
        "CloudWatch cannot publish through alias/aws/sns"
    );
    let statements = res["OperationsTopicKey"]["Properties"]["KeyPolicy"]["Statement"]
        .as_sequence()
        .unwrap()
        .clone();
    let cloudwatch = statements
        .iter()
        .find(|s| s["Principal"]["Service"].as_str() == Some("cloudwatch.amazonaws.com"))
        .expect("the key lets CloudWatch publish");
    assert_eq!(
        cloudwatch["Condition"]["StringEquals"]["aws:SourceAccount"]["Ref"].as_str(),
        Some("AWS::AccountId")
    );
    assert_eq!(
        t["Parameters"]["WatchStagegate"]["Default"].as_str(),
        Some("true")
    );
    assert_eq!(
        text(&t["Conditions"]["WatchesStagegate"]["Fn::Equals"][0]["Ref"]),
        "WatchStagegate"
    );
    let subscription = &res["OperationsSubscription"];
    assert_eq!(
        subscription["Condition"].as_str(),
        Some("HasOperationsEmail")
    );
    assert_eq!(
        subscription["Properties"]["TopicArn"]["Ref"].as_str(),
        Some("OperationsTopic")
    );
    assert_eq!(
        t["Outputs"]["OperationsTopicArn"]["Condition"].as_str(),
        Some("WatchesStagegate")
    );
}

/// The app's alarms the bake watches are the change set's rollback triggers: every
/// function that reads them (create-change-set, bake) gets the configured prefix and
/// monitoring time, staging's from `AlarmPrefix`, production's from
/// `ProductionAlarmPrefix`, and may read the alarms.
#[test]
fn rollback_triggers_and_the_bake_read_the_configured_alarms() {
    let t = template();
    let res = resources(&t);
    let globals = &t["Globals"]["Function"]["Environment"]["Variables"];
    let param = |v: &Yaml| v["Ref"].as_str().map(str::to_string);
    assert_eq!(
        param(&globals["STAGEGATE_ALARM_PREFIX"]).as_deref(),
        Some("AlarmPrefix")
    );
    assert_eq!(
        param(&globals["STAGEGATE_ROLLBACK_MONITORING_MINUTES"]).as_deref(),
        Some("RollbackMonitoringMinutes")
    );
    assert_eq!(
        param(&globals["STAGEGATE_BAKE_SECONDS"]).as_deref(),
        Some("BakeSeconds")
    );
    for name in [
        "CreateChangeSetFunction",
        "BakeFunction",
        "ProductionCreateChangeSetFunction",
        "ProductionBakeFunction",
    ] {
        let f = &res[name]["Properties"];
        let vars = &f["Environment"]["Variables"];
        if name.starts_with("Production") {
            assert_eq!(
                param(&vars["STAGEGATE_ALARM_PREFIX"]).as_deref(),
                Some("ProductionAlarmPrefix"),
                "{name}"
            );
            assert_eq!(
                param(&vars["STAGEGATE_BAKE_SECONDS"]).as_deref(),
                Some("ProductionBakeSeconds"),
                "{name}"
            );
        } else {
            assert!(
                vars["STAGEGATE_ALARM_PREFIX"].is_null(),
                "{name} takes the global prefix"
            );
        }
        let reads = f["Policies"]
            .as_sequence()
            .into_iter()
            .flatten()
            .flat_map(|p| p["Statement"].as_sequence().cloned().unwrap_or_default())
            .any(|s| {
                s["Action"].as_sequence().is_some_and(|a| {
                    a.iter()
                        .any(|x| x.as_str() == Some("cloudwatch:DescribeAlarms"))
                })
            });
        assert!(reads, "{name} may read the alarms");
    }
    let limit = &t["Parameters"]["RollbackMonitoringMinutes"];
    assert_eq!(
        limit["MaxValue"].as_u64(),
        Some(180),
        "CloudFormation's limit"
    );
}

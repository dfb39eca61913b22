//! The bake against CloudWatch as moto implements it: alarms put as the template
//! defines its own (a plain metric alarm and a metric-math one), read back through
//! the adapter with what they watch; one set to `ALARM` (`SetAlarmState`, with the
//! state reason data CloudWatch writes) fails the bake naming it and the breaching
//! value. IAM enforced: Notify's policy writes the staged and live records a
//! rollback reads.

use crate::Moto;
use aws_cloudwatch_port::CloudWatchAlarms;
use aws_s3_port::S3Artifacts;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDataQuery, MetricStat, StateValue, Statistic,
};
use serde_yaml::Value as Yaml;
use stagegate::ports::{AlarmState, Alarms, Artifacts};
use stagegate::steps::bake::{Bake, Input};
use stagegate::testing::{MemoryArtifacts, MemoryHttp, MemoryMetrics};
use stagegate::{Settings, Step};

/// `name`'s properties in the template, with `!Sub "${AWS::StackName}-…"` and `!Ref X`
/// resolved as CloudFormation would for stack `app-staging`.
fn alarm_of(name: &str) -> Yaml {
    let text = serde_yaml::to_string(&testkit::template()["Resources"][name]["Properties"])
        .unwrap_or_default()
        .replace("${AWS::StackName}", "app-staging");
    serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn text(v: &Yaml) -> String {
    match v {
        Yaml::String(s) => s.clone(),
        Yaml::Number(n) => n.to_string(),
        Yaml::Tagged(t) => text(&t.value),
        _ => String::new(),
    }
}

fn dimensions(v: &Yaml) -> Vec<Dimension> {
    v.as_sequence()
        .into_iter()
        .flatten()
        .map(|d| {
            let value = format!("{}-resolved", text(&d["Value"]));
            Dimension::builder()
                .name(text(&d["Name"]))
                .value(value)
                .build()
        })
        .collect()
}

/// Puts template alarm `name` into CloudWatch as the template declares it.
async fn put(cw: &aws_sdk_cloudwatch::Client, name: &str) -> String {
    let p = alarm_of(name);
    let alarm_name = text(&p["AlarmName"]);
    let number = |k: &str| text(&p[k]).parse::<f64>().unwrap_or(0.0);
    let mut put = cw
        .put_metric_alarm()
        .alarm_name(&alarm_name)
        .alarm_description(text(&p["AlarmDescription"]))
        .comparison_operator(ComparisonOperator::from(
            text(&p["ComparisonOperator"]).as_str(),
        ))
        .evaluation_periods(number("EvaluationPeriods") as i32)
        // Template thresholds that are parameters get a value here.
        .threshold(if p["Threshold"].is_number() {
            number("Threshold")
        } else {
            25.0
        });
    if let Some(metrics) = p["Metrics"].as_sequence() {
        for m in metrics {
            let mut q = MetricDataQuery::builder().id(text(&m["Id"]));
            if let Some(e) = m["Expression"].as_str() {
                q = q.expression(e).label(text(&m["Label"]));
            } else {
                let metric = &m["MetricStat"]["Metric"];
                let stat = MetricStat::builder()
                    .metric(
                        aws_sdk_cloudwatch::types::Metric::builder()
                            .namespace(text(&metric["Namespace"]))
                            .metric_name(text(&metric["MetricName"]))
                            .set_dimensions(Some(dimensions(&metric["Dimensions"])))
                            .build(),
                    )
                    .period(text(&m["MetricStat"]["Period"]).parse().unwrap_or(300))
                    .stat(text(&m["MetricStat"]["Stat"]))
                    .build();
                q = q.metric_stat(stat).return_data(false);
            }
            put = put.metrics(q.build());
        }
    } else {
        put = put
            .namespace(text(&p["Namespace"]))
            .metric_name(text(&p["MetricName"]))
            .set_dimensions(Some(dimensions(&p["Dimensions"])))
            .statistic(Statistic::from(text(&p["Statistic"]).as_str()))
            .period(text(&p["Period"]).parse().unwrap_or(300));
    }
    put.send()
        .await
        .unwrap_or_else(|e| panic!("put {alarm_name}: {e:?}"));
    alarm_name
}

fn input() -> Input {
    serde_json::from_value(serde_json::json!({
        "candidate": {"repository": "acme/shop", "tag": "rc-1.4.0", "version": "1.4.0",
                      "sha": "0123456789abcdef0123456789abcdef01234567", "pushedBy": "ana"},
        "artifactsPrefix": "runs/rc-1.4.0--0123456789ab/",
        "frontendUrl": "https://staging.example.test",
        "bake": {"rounds": 0}
    }))
    .unwrap_or_else(|e| panic!("{e}"))
}

#[tokio::test]
async fn the_templates_alarms_read_back_and_one_in_alarm_fails_the_bake() {
    let moto = Moto::start();
    let config = moto.sdk_config().await;
    let cw = aws_sdk_cloudwatch::Client::new(&config);
    let failed = put(&cw, "StagingStateMachineFailedAlarm").await;
    let rate = put(&cw, "PreflightFunctionErrorRateAlarm").await;
    put_other_app_alarm(&cw).await;
    let alarms = CloudWatchAlarms::from_config(&config);
    let read = alarms
        .alarms("app-staging-")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let names: Vec<&str> = read.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [rate.as_str(), failed.as_str()],
        "only the app's, by name"
    );
    let plain = &read[1];
    assert!(
        plain
            .watches
            .starts_with("AWS/States ExecutionsFailed (StateMachineArn="),
        "{}",
        plain.watches
    );
    assert_eq!(plain.threshold, Some(25.0));
    assert!(
        read[0]
            .watches
            .starts_with("metric math IF(invocations > 0"),
        "{}",
        read[0].watches
    );
    assert!(read.iter().all(|a| a.state != AlarmState::Alarm));

    // CloudWatch raises it, with the datapoints that breached.
    cw.set_alarm_state()
        .alarm_name(&failed)
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [31.0 (07/12/26 10:00:00)] was greater than the threshold (25.0).")
        .state_reason_data(r#"{"version":"1.0","statistic":"Sum","period":3600,"recentDatapoints":[31.0],"threshold":25.0}"#)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
    let step = Bake {
        settings: Settings {
            stack_name: "app-staging".into(),
            ..Settings::default()
        },
        alarms,
        http: MemoryHttp::default(),
        artifacts: MemoryArtifacts::default(),
        clock: stagegate::ports::SystemClock,
        metrics: MemoryMetrics::default(),
    };
    let e = step.run(input()).await.unwrap_err();
    assert_eq!(e.name, "BakeFailed");
    for part in [
        failed.as_str(),
        "ExecutionsFailed",
        "> 25",
        "value 31",
        "Threshold Crossed",
    ] {
        assert!(e.message.contains(part), "{part:?} not in {}", e.message);
    }
}

/// An alarm of another app in the same account: not the bake's business.
async fn put_other_app_alarm(cw: &aws_sdk_cloudwatch::Client) {
    cw.put_metric_alarm()
        .alarm_name("billing-staging-5xx")
        .namespace("AWS/Lambda")
        .metric_name("Errors")
        .statistic(Statistic::Sum)
        .period(60)
        .evaluation_periods(1)
        .threshold(1.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .send()
        .await
        .unwrap_or_else(|e| panic!("{e:?}"));
}

/// IAM enforced: Notify's template policy writes what a rollback reads, the commit's
/// staged record and the stage's live one, and nothing outside its prefixes. (The
/// bake's DescribeAlarms cannot be tried this way: moto 5.2.6 refuses CloudWatch's
/// CBOR requests with 403 even for a user whose policy allows the action.)
#[tokio::test]
async fn notifys_policy_writes_the_staged_and_live_records_a_rollback_reads() {
    // Unauthenticated: the bucket, then three requests for notify's user.
    let moto = Moto::start_enforcing_iam(4);
    moto.create_bucket("artifacts").await;
    // moto authorizes KMS against `*` (tests/moto/promotion.rs): its key statement too.
    let notify_policy = crate::iam::policy_of("NotifyFunction", "unused")
        .to_string()
        .replace("\"EvidenceKey.Arn\"", "\"*\"")
        .replace(
            "\"NotificationsTopic\"",
            "\"arn:aws:sns:us-east-1:123456789012:notifications\"",
        );
    let notify_policy = serde_json::from_str(&notify_policy).unwrap_or_else(|e| panic!("{e}"));
    let notify_user = moto.iam_user("notify", &notify_policy).await;
    let notify = S3Artifacts::from_config(&moto.sdk_config_as(&notify_user).await, "artifacts");
    for key in [
        "staged/0123456789abcdef0123456789abcdef01234567.json",
        "live/staging.json",
    ] {
        notify
            .put(key, "application/json", b"{}".to_vec())
            .await
            .unwrap_or_else(|e| panic!("{key}: {e}"));
    }
    let e = notify
        .put("scratch/x", "text/plain", vec![1])
        .await
        .unwrap_err();
    assert!(e.message.contains("AccessDenied"), "{e}");
}

//! The adapter against the SDK's mocks: how an alarm is read (moto's CloudWatch is
//! the other check: `tests/moto/cloudwatch.rs`).

use super::*;
use aws_sdk_cloudwatch::operation::describe_alarms::DescribeAlarmsOutput;
use aws_sdk_cloudwatch::types::{ComparisonOperator, Dimension, Statistic};
use aws_smithy_mocks::{mock, mock_client};

#[test]
fn the_breaching_value_is_the_latest_recent_datapoint() {
    let data = r#"{"version":"1.0","statistic":"Sum","period":60,"recentDatapoints":[3.0,12.5],"threshold":5.0}"#;
    assert_eq!(breaching_value(Some(data)), Some(12.5));
    assert_eq!(breaching_value(Some("{}")), None);
    assert_eq!(breaching_value(Some("not json")), None);
    assert_eq!(breaching_value(None), None);
}

#[tokio::test]
async fn metric_and_composite_alarms_are_read_by_name_with_what_they_watch() {
    let metric = MetricAlarm::builder()
        .alarm_name("shop-staging-5xx")
        .alarm_arn("arn:aws:cloudwatch:eu-west-1:1:alarm:shop-staging-5xx")
        .state_value(StateValue::Alarm)
        .state_reason("Threshold Crossed: 1 datapoint [12.0] was greater than the threshold (5.0).")
        .state_reason_data(r#"{"recentDatapoints":[12.0]}"#)
        .namespace("AWS/ApiGateway")
        .metric_name("5XXError")
        .dimensions(Dimension::builder().name("ApiName").value("shop").build())
        .statistic(Statistic::Sum)
        .period(60)
        .threshold(5.0)
        .comparison_operator(ComparisonOperator::GreaterThanThreshold)
        .build();
    let composite = CompositeAlarm::builder()
        .alarm_name("shop-staging-health")
        .alarm_arn("arn:aws:cloudwatch:eu-west-1:1:alarm:shop-staging-health")
        .state_value(StateValue::Ok)
        .alarm_rule("ALARM(shop-staging-5xx) OR ALARM(shop-staging-latency)")
        .build();
    let rule = mock!(Client::describe_alarms)
        .match_requests(|r| {
            r.alarm_name_prefix() == Some("shop-staging-") && r.alarm_types().len() == 2
        })
        .then_output(move || {
            DescribeAlarmsOutput::builder()
                .metric_alarms(metric.clone())
                .composite_alarms(composite.clone())
                .build()
        });
    let client = mock_client!(aws_sdk_cloudwatch, [&rule]);
    let alarms = CloudWatchAlarms::new(client)
        .alarms("shop-staging-")
        .await
        .unwrap();
    assert_eq!(alarms.len(), 2);
    let a = &alarms[0];
    assert_eq!(
        (a.name.as_str(), a.state),
        ("shop-staging-5xx", AlarmState::Alarm)
    );
    assert_eq!(
        a.watches,
        "AWS/ApiGateway 5XXError (ApiName=shop) Sum over 60 s > 5"
    );
    assert_eq!((a.threshold, a.value), (Some(5.0), Some(12.0)));
    let c = &alarms[1];
    assert!(c.composite && c.watches.starts_with("composite: ALARM(shop-staging-5xx)"));
    assert_eq!(c.state, AlarmState::Ok);
}

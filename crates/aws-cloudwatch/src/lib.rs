//! [`Alarms`] on Amazon CloudWatch: the app's alarms are every metric and composite
//! alarm whose name starts with the configured prefix (`DescribeAlarms` with
//! `AlarmNamePrefix`, every page), read as the bake names them: what each watches,
//! its threshold, and the value that breached it (the latest of the state reason
//! data's `recentDatapoints`).

use aws_common::port_error;
use aws_sdk_cloudwatch::types::{AlarmType, CompositeAlarm, MetricAlarm, StateValue};
use aws_sdk_cloudwatch::Client;
use stagegate::ports::{Alarm, AlarmState, Alarms, PortResult};

#[derive(Clone, Debug)]
pub struct CloudWatchAlarms {
    client: Client,
}

impl CloudWatchAlarms {
    pub fn from_config(config: &aws_types::SdkConfig) -> Self {
        Self::new(Client::new(config))
    }

    pub fn new(client: Client) -> Self {
        CloudWatchAlarms { client }
    }
}

impl From<&aws_common::Context> for CloudWatchAlarms {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws)
    }
}

fn state(s: Option<&StateValue>) -> AlarmState {
    match s {
        Some(StateValue::Alarm) => AlarmState::Alarm,
        Some(StateValue::Ok) => AlarmState::Ok,
        _ => AlarmState::InsufficientData,
    }
}

/// The latest of `recentDatapoints` in an alarm's state reason data (JSON), if any.
pub fn breaching_value(state_reason_data: Option<&str>) -> Option<f64> {
    let data: serde_json::Value = serde_json::from_str(state_reason_data?).ok()?;
    data.get("recentDatapoints")?.as_array()?.last()?.as_f64()
}

/// What a metric alarm watches, as people read it.
pub fn watches(a: &MetricAlarm) -> String {
    let operator = match a.comparison_operator().map(|c| c.as_str()) {
        Some("GreaterThanThreshold") => ">",
        Some("GreaterThanOrEqualToThreshold") => ">=",
        Some("LessThanThreshold") => "<",
        Some("LessThanOrEqualToThreshold") => "<=",
        Some(other) => other,
        None => "?",
    };
    let metric = match (a.namespace(), a.metric_name()) {
        (Some(ns), Some(name)) => {
            let dims: Vec<String> = a
                .dimensions()
                .iter()
                .map(|d| format!("{}={}", d.name().unwrap_or(""), d.value().unwrap_or("")))
                .collect();
            let stat = a
                .statistic()
                .map(|s| s.as_str().to_string())
                .or_else(|| a.extended_statistic().map(str::to_string))
                .unwrap_or_default();
            let period = a.period().unwrap_or_default();
            format!("{ns} {name} ({}) {stat} over {period} s", dims.join(", "))
        }
        _ => {
            let returned = a
                .metrics()
                .iter()
                .find(|m| m.return_data() != Some(false))
                .and_then(|m| m.expression().or(m.label()).map(str::to_string));
            format!("metric math {}", returned.unwrap_or_default())
        }
    };
    match a.threshold() {
        Some(t) => format!("{metric} {operator} {t}"),
        None => format!("{metric} {operator} its threshold"),
    }
}

fn metric_alarm(a: &MetricAlarm) -> Alarm {
    Alarm {
        name: a.alarm_name().unwrap_or_default().to_string(),
        arn: a.alarm_arn().unwrap_or_default().to_string(),
        state: state(a.state_value()),
        watches: watches(a),
        threshold: a.threshold(),
        value: breaching_value(a.state_reason_data()),
        reason: a.state_reason().unwrap_or_default().to_string(),
        composite: false,
    }
}

fn composite_alarm(a: &CompositeAlarm) -> Alarm {
    Alarm {
        name: a.alarm_name().unwrap_or_default().to_string(),
        arn: a.alarm_arn().unwrap_or_default().to_string(),
        state: state(a.state_value()),
        watches: format!("composite: {}", a.alarm_rule().unwrap_or_default()),
        threshold: None,
        value: None,
        reason: a.state_reason().unwrap_or_default().to_string(),
        composite: true,
    }
}

impl Alarms for CloudWatchAlarms {
    async fn alarms(&self, prefix: &str) -> PortResult<Vec<Alarm>> {
        let mut pages = self
            .client
            .describe_alarms()
            .alarm_name_prefix(prefix)
            .alarm_types(AlarmType::MetricAlarm)
            .alarm_types(AlarmType::CompositeAlarm)
            .into_paginator()
            .send();
        let mut found = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| port_error(format!("describe alarms {prefix}*"), &e))?;
            found.extend(page.metric_alarms().iter().map(metric_alarm));
            found.extend(page.composite_alarms().iter().map(composite_alarm));
        }
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }
}

#[cfg(test)]
mod tests;

//! [`Events`] on an Amazon EventBridge custom bus: the webhook's "Release Candidate
//! Tagged" event. Its `detail` is the state machine's input shape
//! (`{repository, tag, sha, pushedBy}`), so the rule's input transformer only has to
//! pass it on; see `template.yaml`.

use aws_common::port_error;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use aws_sdk_eventbridge::Client;
use stagegate::error::PortError;
use stagegate::ports::Events;
use stagegate::ports::PortResult;
use stagegate::ports::Trigger;

/// The event's `source` and `detail-type`: the rule in `template.yaml` matches both.
pub const SOURCE: &str = "stagegate.github";
pub const DETAIL_TYPE: &str = "Release Candidate Tagged";

#[derive(Clone, Debug)]
pub struct EventBus {
    client: Client,
    bus: String,
}

impl EventBus {
    pub fn from_config(config: &aws_types::SdkConfig, bus: impl Into<String>) -> Self {
        Self::new(Client::new(config), bus)
    }

    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBus {
            client,
            bus: bus.into(),
        }
    }
}

/// The custom bus, from the deployment.
impl From<&aws_common::Context> for EventBus {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.event_bus_name)
    }
}

impl Events for EventBus {
    async fn candidate_tagged(&self, trigger: &Trigger) -> PortResult<()> {
        let detail = serde_json::json!({
            "repository": trigger.repository,
            "tag": trigger.tag,
            "sha": trigger.sha,
            "pushedBy": trigger.pushed_by,
        });
        let out = self
            .client
            .put_events()
            .entries(
                PutEventsRequestEntry::builder()
                    .event_bus_name(&self.bus)
                    .source(SOURCE)
                    .detail_type(DETAIL_TYPE)
                    .detail(detail.to_string())
                    .build(),
            )
            .send()
            .await
            .map_err(|e| port_error(format!("put event on bus {}", self.bus), &e))?;
        // PutEvents succeeds as a call even when an entry is refused.
        if out.failed_entry_count() > 0 {
            let why = out
                .entries()
                .iter()
                .find_map(|e| {
                    e.error_code()
                        .map(|c| format!("{c}: {}", e.error_message().unwrap_or_default()))
                })
                .unwrap_or_else(|| "no reason given".into());
            return Err(PortError::new(
                format!("put event on bus {}", self.bus),
                format!("the event was refused: {why}"),
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_eventbridge::operation::put_events::PutEventsOutput;
    use aws_sdk_eventbridge::types::PutEventsResultEntry;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    fn bus(rules: &[&Rule]) -> EventBus {
        let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_common::fast_retries()));
        EventBus::new(client, "stagegate")
    }

    fn trigger() -> Trigger {
        Trigger {
            repository: "acme/shop".into(),
            tag: "rc-1.4.0".into(),
            sha: "0123456789abcdef0123456789abcdef01234567".into(),
            pushed_by: Some("dana".into()),
            pusher: None,
            rollback: false,
        }
    }

    #[tokio::test]
    async fn publishes_the_trigger_as_the_event_detail() {
        let put = mock!(Client::put_events)
            .match_requests(|r| {
                let e = &r.entries()[0];
                let detail: serde_json::Value = serde_json::from_str(e.detail().unwrap()).unwrap();
                e.event_bus_name() == Some("stagegate")
                    && e.source() == Some(SOURCE)
                    && e.detail_type() == Some(DETAIL_TYPE)
                    && detail
                        == serde_json::json!({"repository": "acme/shop", "tag": "rc-1.4.0",
                            "sha": "0123456789abcdef0123456789abcdef01234567", "pushedBy": "dana"})
            })
            .then_output(|| {
                PutEventsOutput::builder()
                    .failed_entry_count(0)
                    .entries(PutEventsResultEntry::builder().event_id("e1").build())
                    .build()
            });
        bus(&[&put]).candidate_tagged(&trigger()).await.unwrap();
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn a_refused_entry_is_an_error() {
        let put = mock!(Client::put_events).then_output(|| {
            PutEventsOutput::builder()
                .failed_entry_count(1)
                .entries(
                    PutEventsResultEntry::builder()
                        .error_code("AccessDeniedException")
                        .error_message("not authorized")
                        .build(),
                )
                .build()
        });
        let e = bus(&[&put]).candidate_tagged(&trigger()).await.unwrap_err();
        assert!(
            e.message.contains("AccessDeniedException: not authorized"),
            "{e}"
        );
    }

    #[tokio::test]
    async fn throttling_is_retried_then_reported() {
        let put = mock!(Client::put_events)
            .sequence()
            .http_status(
                400,
                Some("{\"__type\":\"ThrottlingException\",\"message\":\"Rate exceeded\"}".into()),
            )
            .repeatedly()
            .build();
        let e = bus(&[&put]).candidate_tagged(&trigger()).await.unwrap_err();
        assert!(e.message.contains("throttled"), "{e}");
        assert_eq!(put.num_calls(), 3);
    }
}

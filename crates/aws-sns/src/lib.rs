//! [`Notifier`] on Amazon SNS: one topic for approvers, one for everyone else. Every
//! message attribute becomes an SNS `String` attribute, so subscribers can filter
//! (e.g. `{"outcome": ["failed"]}` for failures only).

mod confirm;

pub use confirm::{confirmation_token, Confirmation};

use aws_common::port_error;
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use stagegate::error::PortError;
use stagegate::ports::{Message, Notifier, PortResult, Topic};

#[derive(Clone, Debug)]
pub struct SnsNotifier {
    client: Client,
    approvals_topic: String,
    notifications_topic: String,
}

impl SnsNotifier {
    pub fn from_config(
        config: &aws_types::SdkConfig,
        approvals_topic: impl Into<String>,
        notifications_topic: impl Into<String>,
    ) -> Self {
        Self::new(Client::new(config), approvals_topic, notifications_topic)
    }

    pub fn new(
        client: Client,
        approvals_topic: impl Into<String>,
        notifications_topic: impl Into<String>,
    ) -> Self {
        SnsNotifier {
            client,
            approvals_topic: approvals_topic.into(),
            notifications_topic: notifications_topic.into(),
        }
    }
}

/// The approvals and notifications topics, from the deployment.
impl From<&aws_common::Context> for SnsNotifier {
    fn from(ctx: &aws_common::Context) -> Self {
        let d = &ctx.deployment;
        Self::from_config(&ctx.aws, &d.approvals_topic_arn, &d.notifications_topic_arn)
    }
}

/// The filter policy that keeps an approver's email subscription to their own
/// messages: every approval message carries the `approver` attribute.
pub fn approver_filter_policy(approver_id: &str) -> String {
    serde_json::json!({"approver": [approver_id]}).to_string()
}

/// The approvers' email subscriptions to the approvals topic (`stagegate approvers`).
#[derive(Clone, Debug)]
pub struct ApproverSubscriptions {
    pub(crate) client: Client,
    pub(crate) approvals_topic: String,
}

impl ApproverSubscriptions {
    pub fn from_config(config: &aws_types::SdkConfig, approvals_topic: impl Into<String>) -> Self {
        Self::new(Client::new(config), approvals_topic)
    }

    pub fn new(client: Client, approvals_topic: impl Into<String>) -> Self {
        ApproverSubscriptions {
            client,
            approvals_topic: approvals_topic.into(),
        }
    }

    /// Subscribes `email` to the approvals topic, filtered to messages for
    /// `approver_id` only. Returns the subscription ARN (AWS answers one even while
    /// the address has not confirmed yet).
    pub async fn subscribe_approver(&self, approver_id: &str, email: &str) -> PortResult<String> {
        let out = self
            .client
            .subscribe()
            .topic_arn(&self.approvals_topic)
            .protocol("email")
            .endpoint(email)
            .attributes("FilterPolicy", approver_filter_policy(approver_id))
            .attributes("FilterPolicyScope", "MessageAttributes")
            .return_subscription_arn(true)
            .send()
            .await
            .map_err(|e| port_error(format!("subscribe {email} to the approvals topic"), &e))?;
        Ok(out.subscription_arn().unwrap_or_default().to_string())
    }

    /// Removes a subscription made by [`Self::subscribe_approver`].
    pub async fn unsubscribe(&self, subscription_arn: &str) -> PortResult<()> {
        self.client
            .unsubscribe()
            .subscription_arn(subscription_arn)
            .send()
            .await
            .map_err(|e| port_error(format!("unsubscribe {subscription_arn}"), &e))?;
        Ok(())
    }
}

/// SNS subjects (used as the email subject) must be under 100 printable ASCII
/// characters without line breaks; anything else is replaced, and long subjects are
/// cut with an ellipsis rather than rejected.
pub fn subject(s: &str) -> String {
    let clean: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() || c == ' ' {
                c
            } else {
                '?'
            }
        })
        .collect();
    if clean.len() <= 99 {
        clean
    } else {
        format!("{}...", &clean[..96])
    }
}

/// `MessageStructure: json`: the text for email (and `default`, which SNS requires),
/// the JSON for queues, functions and web hooks.
fn per_protocol(text: &str, json: &serde_json::Value) -> String {
    let json = json.to_string();
    serde_json::json!({
        "default": text,
        "email": text,
        "sqs": json,
        "lambda": json,
        "http": json,
        "https": json,
        "firehose": json,
    })
    .to_string()
}

impl Notifier for SnsNotifier {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        let arn = match topic {
            Topic::Approvals => &self.approvals_topic,
            Topic::Notifications => &self.notifications_topic,
        };
        let mut req = self
            .client
            .publish()
            .topic_arn(arn)
            .subject(subject(&message.subject));
        req = match &message.machine {
            None => req.message(&message.body),
            // One message, a form per protocol: people get the text, programs the JSON.
            Some(json) => req
                .message_structure("json")
                .message(per_protocol(&message.body, json)),
        };
        for (name, value) in &message.attributes {
            let v = MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
                .map_err(|e| PortError::new("build a message attribute", e.to_string()))?;
            req = req.message_attributes(name, v);
        }
        let out = req
            .send()
            .await
            .map_err(|e| port_error(format!("publish to {arn}"), &e))?;
        Ok(out.message_id().unwrap_or_default().to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::operation::publish::PublishOutput;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    use std::collections::BTreeMap;

    fn notifier(rules: &[&Rule]) -> SnsNotifier {
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_common::fast_retries()));
        SnsNotifier::new(client, "arn:approvals", "arn:notifications")
    }

    /// Publishes the test message to `topic` through a notifier answering by `rule`.
    async fn publish_with(rule: &Rule, topic: Topic) -> PortResult<String> {
        notifier(&[rule]).publish(topic, &message()).await
    }

    #[tokio::test]
    async fn an_approver_is_subscribed_with_a_filter_on_their_id() {
        use aws_sdk_sns::operation::subscribe::SubscribeOutput;
        use aws_sdk_sns::operation::unsubscribe::UnsubscribeOutput;
        let sub = mock!(Client::subscribe)
            .match_requests(|r| {
                let a = r.attributes().unwrap();
                r.topic_arn() == Some("arn:approvals")
                    && r.protocol() == Some("email")
                    && r.endpoint() == Some("bob@example.com")
                    && a["FilterPolicy"] == r#"{"approver":["bob"]}"#
                    && a["FilterPolicyScope"] == "MessageAttributes"
                    && r.return_subscription_arn() == Some(true)
            })
            .then_output(|| {
                SubscribeOutput::builder()
                    .subscription_arn("arn:approvals:sub-1")
                    .build()
            });
        let unsub = mock!(Client::unsubscribe)
            .match_requests(|r| r.subscription_arn() == Some("arn:approvals:sub-1"))
            .then_output(|| UnsubscribeOutput::builder().build());
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, &[&sub, &unsub]);
        let n = ApproverSubscriptions::new(client, "arn:approvals");
        let arn = n
            .subscribe_approver("bob", "bob@example.com")
            .await
            .unwrap();
        assert_eq!(arn, "arn:approvals:sub-1");
        n.unsubscribe(&arn).await.unwrap();
        assert_eq!(unsub.num_calls(), 1);
    }

    fn message() -> Message {
        Message {
            subject: "stagegate: rc-1.4.0 failed at Deploy Frontend".into(),
            body: "details".into(),
            attributes: BTreeMap::from([
                ("outcome".to_string(), "failed".to_string()),
                ("stage".to_string(), "Deploy Frontend".to_string()),
            ]),
            machine: None,
        }
    }

    #[tokio::test]
    async fn a_machine_form_goes_to_programs_and_the_text_to_people() {
        let publish = mock!(Client::publish)
            .match_requests(|r| {
                let Some(body) = r.message() else {
                    return false;
                };
                let Ok(forms) = serde_json::from_str::<serde_json::Value>(body) else {
                    return false;
                };
                let machine = serde_json::json!({"outcome": "failure"}).to_string();
                r.message_structure() == Some("json")
                    && forms["default"] == "details"
                    && forms["email"] == "details"
                    && ["sqs", "lambda", "http", "https"]
                        .iter()
                        .all(|p| forms[*p] == machine.as_str())
            })
            .then_output(|| PublishOutput::builder().message_id("m-3").build());
        let mut m = message();
        m.machine = Some(serde_json::json!({"outcome": "failure"}));
        let id = notifier(&[&publish])
            .publish(Topic::Notifications, &m)
            .await
            .unwrap();
        assert_eq!(id, "m-3");
        assert_eq!(publish.num_calls(), 1);
    }

    fn query_error(code: &str) -> String {
        format!("<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code><Message>m</Message></Error></ErrorResponse>")
    }

    #[tokio::test]
    async fn publishes_to_the_topic_of_the_audience_with_filterable_attributes() {
        let publish = mock!(Client::publish)
            .match_requests(|r| {
                let attrs = r.message_attributes().unwrap();
                r.topic_arn() == Some("arn:notifications")
                    && r.subject() == Some("stagegate: rc-1.4.0 failed at Deploy Frontend")
                    && attrs["outcome"].string_value() == Some("failed")
                    && attrs["outcome"].data_type() == "String"
                    && attrs["stage"].string_value() == Some("Deploy Frontend")
            })
            .then_output(|| PublishOutput::builder().message_id("m-1").build());
        let id = publish_with(&publish, Topic::Notifications).await.unwrap();
        assert_eq!(id, "m-1");
    }

    #[tokio::test]
    async fn approval_requests_go_to_the_approvals_topic() {
        let publish = mock!(Client::publish)
            .match_requests(|r| r.topic_arn() == Some("arn:approvals"))
            .then_output(|| PublishOutput::builder().message_id("m-2").build());
        let id = publish_with(&publish, Topic::Approvals).await.unwrap();
        assert_eq!(id, "m-2");
    }

    #[tokio::test]
    async fn a_missing_topic_is_a_named_error() {
        let publish = mock!(Client::publish)
            .sequence()
            .http_status(404, Some(query_error("NotFound")))
            .build();
        let e = publish_with(&publish, Topic::Approvals).await.unwrap_err();
        assert_eq!(e.operation, "publish to arn:approvals");
        assert!(e.message.starts_with("NotFound"), "{e}");
        assert!(!e.transient, "a missing topic stays missing: not retried");
    }

    /// AWS's answer decides whether the state machine retries: a 5xx may pass, access
    /// denied will not.
    #[tokio::test]
    async fn server_errors_are_transient_and_access_denied_is_refused() {
        let broken = mock!(Client::publish)
            .sequence()
            .http_status(500, Some(query_error("InternalError")))
            .repeatedly()
            .build();
        let e = publish_with(&broken, Topic::Notifications)
            .await
            .unwrap_err();
        assert!(e.transient, "{e}");
        assert_eq!(broken.num_calls(), 3, "the SDK retried it first");
        let denied = mock!(Client::publish)
            .sequence()
            .http_status(403, Some(query_error("AuthorizationError")))
            .repeatedly()
            .build();
        let e = publish_with(&denied, Topic::Notifications)
            .await
            .unwrap_err();
        assert!(!e.transient, "{e}");
        assert_eq!(denied.num_calls(), 1, "a refusal is not retried");
        let step: stagegate::StepError = e.into();
        assert_eq!(step.name, "DependencyRefused");
    }

    #[tokio::test]
    async fn throttling_is_retried_then_reported() {
        let flaky = mock!(Client::publish)
            .sequence()
            .http_status(400, Some(query_error("Throttling")))
            .output(|| PublishOutput::builder().message_id("m-3").build())
            .build();
        let n = notifier(&[&flaky]);
        assert_eq!(
            n.publish(Topic::Notifications, &message()).await.unwrap(),
            "m-3"
        );

        let throttled = mock!(Client::publish)
            .sequence()
            .http_status(400, Some(query_error("Throttling")))
            .repeatedly()
            .build();
        let e = publish_with(&throttled, Topic::Notifications)
            .await
            .unwrap_err();
        assert!(e.message.contains("throttled"), "{e}");
        assert!(
            e.transient,
            "still throttled after the SDK's retries: the state machine retries"
        );
        assert_eq!(throttled.num_calls(), 3);
    }

    #[test]
    fn subjects_are_made_acceptable_to_sns() {
        assert_eq!(subject("a\nb ✓"), "a?b ?");
        let long = subject(&"x".repeat(300));
        assert_eq!(long.len(), 99);
        assert!(long.ends_with("..."));
    }
}

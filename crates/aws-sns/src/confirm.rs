//! Approver subscriptions confirmed so that only AWS credentials can cancel them.
//!
//! An email subscription confirmed by clicking its link can be cancelled by anyone
//! holding one of its emails (each carries an unsubscribe link), mail scanners that
//! follow links included: an approver silently stops receiving their approval
//! emails. Confirmed through `ConfirmSubscription` with `AuthenticateOnUnsubscribe`,
//! unsubscribing needs a signed AWS request. `stagegate approvers confirm` does
//! that with the link the approver forwards instead of clicking it.

use crate::ApproverSubscriptions;
use aws_common::port_error;
use stagegate::ports::PortResult;

/// Where a subscription stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Confirmation {
    /// Waiting for its confirmation link.
    Pending,
    /// Confirmed; unsubscribing needs AWS credentials.
    Authenticated,
    /// Confirmed by its link: anyone with one of its emails can unsubscribe it.
    ByLink,
}

/// The token of a subscription confirmation link of `topic` (the "Confirm
/// subscription" link of AWS's email: `https://sns.<region>.amazonaws.com/…?TopicArn=…&Token=…`).
pub fn confirmation_token(link: &str, topic: &str) -> Result<String, String> {
    let rest = link.strip_prefix("https://sns.").ok_or_else(|| {
        format!("'{link}' is not an SNS confirmation link (https://sns.<region>.amazonaws.com/…)")
    })?;
    let (host, path) = rest.split_once('/').unwrap_or((rest, ""));
    if !(host.ends_with(".amazonaws.com") || host.ends_with(".amazonaws.com.cn")) {
        return Err(format!(
            "'{link}' is not an SNS confirmation link: its host is not AWS's"
        ));
    }
    let query = path.split_once('?').map_or("", |(_, q)| q);
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.into_owned())
    };
    match (param("TopicArn"), param("Token")) {
        (Some(t), _) if t != topic => Err(format!(
            "the link confirms a subscription to {t}, not to the approvals topic {topic}"
        )),
        (Some(_), Some(token)) if !token.is_empty() => Ok(token),
        _ => Err(format!(
            "'{link}' has no TopicArn and Token: paste the whole confirmation link"
        )),
    }
}

impl ApproverSubscriptions {
    /// Confirms a subscription of the approvals topic with `token`, so that
    /// unsubscribing it needs AWS authentication. Returns its ARN.
    pub async fn confirm_authenticated(&self, token: &str) -> PortResult<String> {
        let out = self
            .client
            .confirm_subscription()
            .topic_arn(&self.approvals_topic)
            .token(token)
            .authenticate_on_unsubscribe("true")
            .send()
            .await
            .map_err(|e| port_error("confirm the subscription", &e))?;
        Ok(out.subscription_arn().unwrap_or_default().to_string())
    }

    /// Where subscription `arn` stands.
    pub async fn confirmation(&self, arn: &str) -> PortResult<Confirmation> {
        let out = self
            .client
            .get_subscription_attributes()
            .subscription_arn(arn)
            .send()
            .await
            .map_err(|e| port_error(format!("read subscription {arn}"), &e))?;
        let attrs = out.attributes();
        let is = |k: &str| attrs.and_then(|a| a.get(k)).map(String::as_str) == Some("true");
        Ok(if is("PendingConfirmation") {
            Confirmation::Pending
        } else if is("ConfirmationWasAuthenticated") {
            Confirmation::Authenticated
        } else {
            Confirmation::ByLink
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_sns::operation::confirm_subscription::ConfirmSubscriptionOutput;
    use aws_sdk_sns::operation::get_subscription_attributes::GetSubscriptionAttributesOutput;
    use aws_sdk_sns::Client;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:approvals";

    #[test]
    fn the_token_comes_from_a_confirmation_link_of_the_approvals_topic_only() {
        let link = format!("https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn={}&Token=2336412f37fb%2B687&Endpoint=bob%40example.com", TOPIC.replace(':', "%3A"));
        assert_eq!(
            confirmation_token(&link, TOPIC).unwrap(),
            "2336412f37fb+687"
        );
        let other = link.replace("approvals", "other");
        assert!(confirmation_token(&other, TOPIC)
            .unwrap_err()
            .contains("not to the approvals topic"));
        for bad in [
            "https://evil.example/confirmation.html?TopicArn=x&Token=y",
            "http://sns.us-east-1.amazonaws.com/?Token=y",
            "https://sns.us-east-1.amazonaws.com.evil.example/?Token=y",
            "https://sns.us-east-1.amazonaws.com/confirmation.html",
        ] {
            assert!(confirmation_token(bad, TOPIC).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn confirming_asks_for_authenticated_unsubscribes() {
        let confirm = mock!(Client::confirm_subscription)
            .match_requests(|r| {
                r.topic_arn() == Some(TOPIC)
                    && r.token() == Some("tok")
                    && r.authenticate_on_unsubscribe() == Some("true")
            })
            .then_output(|| {
                ConfirmSubscriptionOutput::builder()
                    .subscription_arn(format!("{TOPIC}:s1"))
                    .build()
            });
        let attrs = mock!(Client::get_subscription_attributes).then_output(|| {
            GetSubscriptionAttributesOutput::builder()
                .attributes("PendingConfirmation", "false")
                .attributes("ConfirmationWasAuthenticated", "false")
                .build()
        });
        let client = mock_client!(aws_sdk_sns, RuleMode::MatchAny, [&confirm, &attrs]);
        let sns = ApproverSubscriptions::new(client, TOPIC);
        assert_eq!(
            sns.confirm_authenticated("tok").await.unwrap(),
            format!("{TOPIC}:s1")
        );
        assert_eq!(
            sns.confirmation("arn:s").await.unwrap(),
            Confirmation::ByLink
        );
    }
}

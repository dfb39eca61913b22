//! SNS: a personal approval email reaches only its approver's filtered subscription.

use crate::Moto;
use aws_sns_port::{approver_filter_policy, ApproverSubscriptions, SnsNotifier};
use stagegate::ports::{Message, Notifier, Topic};
use std::collections::BTreeMap;
use std::time::Duration;

#[tokio::test]
async fn a_filtered_subscription_receives_only_its_approvers_messages() {
    let moto = Moto::start();
    let topic = moto.create_topic("approvals").await;
    let notifications = moto.create_topic("notifications").await;
    let mut queues = BTreeMap::new();
    for who in ["bob", "carol"] {
        let (url, arn) = moto.create_queue(&format!("inbox-{who}")).await;
        moto.subscribe_queue(&topic, &arn, &approver_filter_policy(who))
            .await;
        queues.insert(who, url);
    }
    let sns = SnsNotifier::from_config(&moto.sdk_config().await, &topic, &notifications);
    for who in ["bob", "carol"] {
        let message = Message {
            subject: "Approve rc-1.4.0 of acme/shop for staging?".into(),
            body: format!("the link of {who}"),
            attributes: BTreeMap::from([
                ("approver".to_string(), who.to_string()),
                ("kind".to_string(), "approval-request".to_string()),
            ]),
            machine: None,
        };
        assert!(!sns
            .publish(Topic::Approvals, &message)
            .await
            .unwrap()
            .is_empty());
    }
    for (who, url) in &queues {
        let got = moto.receive(url, Duration::from_secs(5)).await;
        assert_eq!(got, [format!("the link of {who}")], "{who}'s inbox");
    }
}

#[tokio::test]
async fn an_approver_subscription_is_filtered_on_their_id_and_can_be_removed() {
    let moto = Moto::start();
    let topic = moto.create_topic("approvals").await;
    let sns = ApproverSubscriptions::from_config(&moto.sdk_config().await, &topic);
    let arn = sns
        .subscribe_approver("bob", "bob@example.com")
        .await
        .unwrap();
    assert!(arn.starts_with(&topic), "{arn}");
    let raw = aws_sdk_sns::Client::new(&moto.sdk_config().await);
    let attrs = raw
        .get_subscription_attributes()
        .subscription_arn(&arn)
        .send()
        .await
        .unwrap();
    let attrs = attrs.attributes().unwrap();
    assert_eq!(attrs["FilterPolicy"], r#"{"approver":["bob"]}"#);
    sns.unsubscribe(&arn).await.unwrap();
    let left = raw
        .list_subscriptions_by_topic()
        .topic_arn(&topic)
        .send()
        .await
        .unwrap();
    assert!(left.subscriptions().is_empty());
}

/// The notifications topic: a queue subscribed with a filter on `environment` and
/// `outcome` receives the failures of its environment only, as the machine form
/// (`MessageStructure: json`, the `sqs` form), not the email text.
#[tokio::test]
async fn a_queue_receives_the_machine_form_of_the_notifications_it_filters() {
    let moto = Moto::start();
    let approvals = moto.create_topic("approvals").await;
    let topic = moto.create_topic("notifications").await;
    let (url, arn) = moto.create_queue("failures-staging").await;
    moto.subscribe_queue(
        &topic,
        &arn,
        r#"{"environment": ["staging"], "outcome": ["failure"]}"#,
    )
    .await;
    let sns = SnsNotifier::from_config(&moto.sdk_config().await, &approvals, &topic);
    let message = |environment: &str, outcome: &str| Message {
        subject: format!("acme/shop rc-1.4.0: {outcome}"),
        body: format!("the text of a {outcome} in {environment}"),
        attributes: BTreeMap::from([
            ("environment".to_string(), environment.to_string()),
            ("outcome".to_string(), outcome.to_string()),
        ]),
        machine: Some(
            serde_json::json!({"version": 1, "environment": environment, "outcome": outcome}),
        ),
    };
    for (env, outcome) in [
        ("staging", "success"),
        ("qa", "failure"),
        ("staging", "failure"),
    ] {
        sns.publish(Topic::Notifications, &message(env, outcome))
            .await
            .unwrap();
    }
    let got = moto.receive(&url, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let doc: serde_json::Value = serde_json::from_str(&got[0]).expect("the machine form is JSON");
    assert_eq!(
        doc,
        serde_json::json!({"version": 1, "environment": "staging", "outcome": "failure"})
    );
}

/// The approver's forwarded confirmation link, confirmed through the adapter: moto
/// accepts it for the approvals topic and refuses a topic that does not exist (it
/// accepts any token and ignores `AuthenticateOnUnsubscribe`: the SDK mock test
/// `confirming_asks_for_authenticated_unsubscribes` checks the request carries it),
/// and a subscription made by `approvers add` reads as confirmed.
#[tokio::test]
async fn a_subscription_is_confirmed_so_that_only_aws_can_cancel_it() {
    let moto = Moto::start();
    let topic = moto.create_topic("approvals").await;
    let sns = ApproverSubscriptions::from_config(&moto.sdk_config().await, &topic);
    let link = format!(
        "https://sns.us-east-1.amazonaws.com/confirmation.html?TopicArn={}&Token=2336412f37&Endpoint=bob%40example.com",
        topic.replace(':', "%3A")
    );
    let token = aws_sns_port::confirmation_token(&link, &topic).unwrap();
    let arn = sns.confirm_authenticated(&token).await.unwrap();
    assert!(arn.starts_with(&format!("{topic}:")), "{arn}");
    let made = sns
        .subscribe_approver("bob", "bob@example.com")
        .await
        .unwrap();
    assert_eq!(
        sns.confirmation(&made).await.unwrap(),
        aws_sns_port::Confirmation::Authenticated
    );
    let gone =
        ApproverSubscriptions::from_config(&moto.sdk_config().await, format!("{topic}-gone"));
    let e = gone.confirm_authenticated(&token).await.unwrap_err();
    assert!(e.message.contains("NotFound"), "{e}");
}

//! EventBridge: the webhook's event, matched by the template's own rule pattern.

use crate::Moto;
use aws_eventbridge_port::EventBus;
use stagegate::candidate::Trigger;
use stagegate::webhook::Events;
use std::time::Duration;

#[tokio::test]
async fn a_candidate_event_matches_the_templates_rule_and_other_tags_do_not() {
    let moto = Moto::start();
    let (queue, queue_arn) = moto.create_queue("started").await;
    moto.create_candidate_rule("stagegate", &queue_arn).await;
    let bus = EventBus::from_config(&moto.sdk_config().await, "stagegate");
    let trigger = |tag: &str| Trigger {
        repository: "acme/shop".into(),
        tag: tag.into(),
        sha: "0123456789abcdef0123456789abcdef01234567".into(),
        pushed_by: Some("dana".into()),
    };
    bus.candidate_tagged(&trigger("v1.4.0")).await.unwrap();
    bus.candidate_tagged(&trigger("rc-1.4.0")).await.unwrap();
    let got = moto.receive(&queue, Duration::from_secs(5)).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let event: serde_json::Value = serde_json::from_str(&got[0]).unwrap();
    assert_eq!(event["detail"]["tag"], "rc-1.4.0");
    assert_eq!(event["detail"]["pushedBy"], "dana");
    assert_eq!(event["source"], aws_eventbridge_port::SOURCE);
}

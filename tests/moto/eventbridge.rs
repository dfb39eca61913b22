//! EventBridge: the webhook's event, matched by the template's own rule pattern.

use crate::Moto;
use aws_eventbridge_port::EventBus;
use stagegate::ports::Events;
use stagegate::ports::Trigger;
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
        pusher: None,
        rollback: false,
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

/// `template.yaml`'s pattern of `ResumeWaitFunction`'s event `rule`, its `${…}`
/// filled in as a deployment would (moto's account and region, these parameters).
fn resume_rule_pattern(rule: &str, stack: &str, app: &str, branch: &str) -> serde_json::Value {
    let t = testkit::template();
    let ev = &t["Resources"]["ResumeWaitFunction"]["Properties"]["Events"][rule]["Properties"]
        ["Pattern"];
    let text = serde_json::to_string(ev).unwrap();
    let filled = text
        .replace("${AWS::Partition}", "aws")
        .replace("${AWS::Region}", "us-east-1")
        .replace("${AWS::AccountId}", "123456789012")
        .replace("${AppStackName}", stack)
        .replace("\"AmplifyAppId\"", &format!("\"{app}\""))
        .replace("\"AmplifyBranch\"", &format!("\"{branch}\""));
    assert!(!filled.contains("${"), "unfilled: {filled}");
    serde_json::from_str(&filled).unwrap()
}

/// The two rules that resume deploy waits match the terminal status events of the
/// app's stack and the staging branch's jobs, as AWS documents them, and nothing else.
#[tokio::test]
async fn the_resume_rules_match_terminal_events_of_our_stack_and_branch_only() {
    use stagegate::status_events::{amplify_status_event, stack_status_event};
    let moto = Moto::start();
    let (queue, queue_arn) = moto.create_queue("resume").await;
    let stacked = resume_rule_pattern("StackSettled", "shop-staging", "d1abc", "staging");
    let amplified = resume_rule_pattern("FrontendJobEnded", "shop-staging", "d1abc", "staging");
    moto.create_rule("default", "stack-settled", &stacked, &queue_arn)
        .await;
    moto.create_rule("default", "frontend-job-ended", &amplified, &queue_arn)
        .await;
    let ours = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging/6a1b";
    let other = "arn:aws:cloudformation:us-east-1:123456789012:stack/shop-staging-db/7c2d";
    let events = [
        stack_status_event(ours, "UPDATE_IN_PROGRESS", None),
        stack_status_event(ours, "UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", None),
        stack_status_event(other, "UPDATE_COMPLETE", None),
        stack_status_event(ours, "UPDATE_ROLLBACK_COMPLETE", Some("Role not found")),
        amplify_status_event("d1abc", "staging", "3", "STARTED"),
        amplify_status_event("d1abc", "main", "4", "SUCCEED"),
        amplify_status_event("d1abc", "staging", "3", "SUCCEED"),
    ];
    for e in &events {
        moto.put_event(e).await;
    }
    let got = moto.receive(&queue, Duration::from_secs(5)).await;
    let mut seen: Vec<String> = got
        .iter()
        .map(|m| {
            let e: serde_json::Value = serde_json::from_str(m).unwrap();
            format!(
                "{} {}",
                e["source"].as_str().unwrap_or_default(),
                e["detail"]["status-details"]["status"]
                    .as_str()
                    .or(e["detail"]["jobStatus"].as_str())
                    .unwrap_or_default()
            )
        })
        .collect();
    seen.sort();
    assert_eq!(
        seen,
        vec![
            "aws.amplify SUCCEED".to_string(),
            "aws.cloudformation UPDATE_ROLLBACK_COMPLETE".to_string()
        ]
    );
}

//! The bake and the rollback in production: a promotion is watched as staging's
//! releases are, and one whose bake fails goes back to the previous promotion (its
//! staging run's pinned template, its commit rebuilt by Amplify).

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::Artifacts as _;
use stagegate_paths::promotion::ProductionSite;

const ALARM: &str = "app-production-5xx";
const SMOKE_URL: &str = "https://production.example.test/auth";

/// Production with a 10-minute bake, a round a minute, auth as its smoke suite;
/// staging bakes not at all.
fn flow() -> Flow {
    let mut production = ProductionSite::new().settings;
    production.bake.seconds = 600;
    production.bake.interval_seconds = 60;
    production.bake.smoke_suites = vec!["auth".into()];
    let flow = Flow::with_production(production);
    flow.alarms.define(&[ALARM, "app-staging-5xx"]);
    flow
}

/// Stages and promotes `tag` (`v…`) at `sha`, approved by the production quorum;
/// the production run.
async fn promote(flow: &Flow, tag: &str, sha: &str) -> String {
    let rc = format!("rc-{}", tag.trim_start_matches('v'));
    flow.stage(&rc, sha).await;
    let arn = flow.promote(tag, sha);
    flow.approve_production(tag).await;
    arn
}

/// v1.3.0 (SHA2) is live in production; v1.4.0 (SHA) is promoted and baking.
async fn baking_after_a_live_promotion(flow: &Flow) -> String {
    let first = promote(flow, "v1.3.0", SHA2).await;
    let (done, _) = flow.finish(&first).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let arn = promote(flow, "v1.4.0", SHA).await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    arn
}

pub async fn a_promotion_that_bakes_clean_is_promoted_after_its_bake_time() {
    let flow = flow();
    let arn = promote(&flow, "v1.4.0", SHA).await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let order = [
        "Test Results",
        "Start Bake",
        "Bake",
        "Wait to Bake",
        "Baked?",
        "Mark Promoted",
        "Promoted",
    ];
    assert_passes_through(&route(&h), &order);
    let bake = &output(&done)["bake"];
    assert_eq!(
        (bake["rounds"].as_u64(), bake["alarms"].clone()),
        (Some(11), json!([ALARM]))
    );
    let smoke = flow
        .production
        .http
        .requests()
        .iter()
        .filter(|q| q.url == SMOKE_URL)
        .count();
    assert_eq!(smoke, 1 + 11, "the smoke tests, then each round");
    let live = flow
        .artifacts
        .get("live/production.json")
        .await
        .unwrap_or_default();
    let live: Value = serde_json::from_slice(&live.unwrap_or_default()).unwrap_or_default();
    let got = (live["tag"].as_str(), live["templateRun"].as_str());
    assert_eq!(
        got,
        (Some("v1.4.0"), Some("rc-1.4.0--0123456789ab")),
        "staging's template"
    );
}

pub async fn a_promotion_whose_bake_trips_an_alarm_goes_back_to_the_previous_promotion() {
    let flow = flow();
    let arn = baking_after_a_live_promotion(&flow).await;
    let (stacks, hosting) = (&flow.production.stacks, &flow.production.hosting);
    stacks.set_pending_polls(1);
    stacks.events.miss();
    stacks.events.set_every(Duration::from_secs(500));
    hosting.events.miss();
    hosting.events.set_every(Duration::from_secs(400));
    flow.alarms.trip(ALARM, 30.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    let r = route(&h);
    let order = [
        "Bake Failed",
        "Find Previous Release",
        "Wait for Rollback Change Set",
        "Execute Rollback",
        "Await Rollback Stack",
        "Capture Rollback Outputs",
        "Redeploy Previous Frontend",
        "Await Previous Frontend",
        "Notify Rolled Back",
        "Rolled Back",
    ];
    assert_passes_through(&r, &order);
    assert!(
        r.iter().filter(|s| *s == "Await Rollback Stack").count() >= 2,
        "{r:#?}"
    );
    assert!(
        r.iter().filter(|s| *s == "Await Previous Frontend").count() >= 2,
        "{r:#?}"
    );
    // v1.3.0's staging template on production's stack; its commit on production's site.
    let request = stacks.last_request().expect("a rollback change set");
    assert_eq!(
        request.template_uri,
        "runs/rc-1.3.0--fedcba987654/packaged.yaml"
    );
    assert_eq!(request.stack_name, "app-production");
    assert_eq!(hosting.jobs().last().map(String::as_str), Some(SHA2));
    let notice = flow.outcome_messages().pop().expect("a notice");
    assert_eq!(notice.attributes["outcome"], "rolledback");
    assert_eq!(
        notice.subject,
        "↩️ acme/shop v1.4.0 was rolled back on production; v1.3.0 is live again"
    );
    let rollbacks = flow.world.metrics.of("Rollbacks");
    assert_eq!(
        (rollbacks.len(), &rollbacks[0]["Stage"]),
        (1, &json!("production"))
    );
}

pub async fn a_previous_promotion_with_the_same_template_needs_only_its_frontend() {
    let flow = flow();
    let arn = baking_after_a_live_promotion(&flow).await;
    flow.production.stacks.set_no_changes();
    flow.alarms.trip(ALARM, 30.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    let r = route(&h);
    assert_passes_through(
        &r,
        &["Rollback Change Set Ready?", "Capture Rollback Outputs"],
    );
    assert_never_enters(&r, &["Execute Rollback"]);
}

pub async fn a_first_promotion_whose_bake_fails_cannot_roll_back_and_says_so() {
    let flow = flow();
    let arn = promote(&flow, "v1.4.0", SHA).await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    flow.production.http.route(SMOKE_URL, 500, "boom");
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RollbackFailed"), "{done:#?}");
    let order = [
        "Bake Failed",
        "Find Previous Release",
        "Rollback Failed",
        "Notify Rollback Failed",
        "Rollback Incomplete",
    ];
    assert_passes_through(&route(&h), &order);
    let notice = flow.outcome_messages().pop().expect("a notice");
    assert_eq!(outcome_at(&notice), ("failure", "Roll Back"));
    assert!(
        notice
            .body
            .contains("no earlier release went live on production"),
        "{}",
        notice.body
    );
    assert!(
        notice.body.contains("v1.4.0 stays deployed on production"),
        "{}",
        notice.body
    );
}

pub async fn a_promotions_bake_that_cannot_look_fails_without_rolling_back() {
    let flow = flow();
    flow.stage("rc-1.4.0", SHA).await;
    let arn = flow.promote("v1.4.0", SHA);
    flow.approve_production("v1.4.0").await;
    // After its change set read them (as rollback triggers), before the bake does.
    flow.faults
        .arm("cloudwatch:DescribeAlarms", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    let r = route(&h);
    assert_passes_through(&r, &["Bake", "Bake Could Not Run", "Notify Failure"]);
    assert_never_enters(&r, &["Roll Back", "Mark Promoted"]);
}

pub async fn a_production_rollback_told_to_nobody_still_ends_by_name() {
    let flow = flow();
    let arn = baking_after_a_live_promotion(&flow).await;
    flow.alarms.trip(ALARM, 30.0);
    flow.faults.arm("sns:Publish", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    assert_passes_through(&route(&h), &["Notify Rolled Back", "Rolled Back"]);
    let flow = self::flow();
    let arn = promote(&flow, "v1.4.0", SHA).await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    flow.alarms.trip(ALARM, 30.0);
    flow.faults.arm("sns:Publish", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RollbackFailed"), "{done:#?}");
    assert_passes_through(
        &route(&h),
        &["Notify Rollback Failed", "Rollback Incomplete"],
    );
}

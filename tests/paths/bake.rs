//! The bake after the deploy, and the rollback a failed one starts, on staging: a
//! clean bake, an alarm or a smoke case that trips it (the previous release is live
//! again), and a rollback that cannot be made (loud, the release stays).

use crate::*;
use asl_engine::ExecutionStatus;
use stagegate::ports::Artifacts as _;

/// The app's alarm the tests trip (named with the stack's prefix, `app-staging-`).
pub const ALARM: &str = "app-staging-5xx";
const SMOKE_URL: &str = "https://staging.example.test/auth";
const PREVIOUS_RUN: &str = "rc-1.3.0--fedcba987654";

/// The example app's settings with a 10-minute bake, a round a minute, the auth
/// suite as its smoke suite.
pub fn baking() -> Settings {
    let mut s = example_settings();
    s.bake.seconds = 600;
    s.bake.interval_seconds = 60;
    s.bake.smoke_suites = vec!["auth".into()];
    s
}

/// A flow whose app has two alarms, all OK.
fn flow() -> Flow {
    let flow = Flow::with_settings(baking());
    flow.alarms
        .define(&[ALARM, "app-staging-latency", "other-app-5xx"]);
    flow
}

/// rc-1.3.0 (SHA2) went live on staging; rc-1.4.0 (SHA) is approved, deployed,
/// tested and baking. Its run.
async fn baking_after_a_live_release(flow: &Flow) -> String {
    flow.stage("rc-1.3.0", SHA2).await;
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    arn
}

const ROLLED_BACK: &[&str] = &[
    "Bake",
    "Bake Failed",
    "Roll Back",
    "Find Previous Release",
    "Create Rollback Change Set",
    "Describe Rollback Change Set",
    "Capture Rollback Outputs",
    "Redeploy Previous Frontend",
    "Notify Rolled Back",
    "Rolled Back",
];

pub async fn a_release_that_bakes_clean_is_ready_after_its_bake_time() {
    let flow = flow();
    let (done, h) = flow.approved_run("rc-1.4.0").await;
    assert_eq!(done.status, ExecutionStatus::Succeeded, "{done:#?}");
    let r = route(&h);
    let order = [
        "Performance Tests",
        "Start Bake",
        "Bake",
        "Baked?",
        "Wait to Bake",
        "Mark Release Ready",
    ];
    assert_passes_through(&r, &order);
    assert_never_enters(&r, &["Bake Failed", "Roll Back"]);
    // A round a minute for ten minutes: the first at once, the last at 600 s.
    let bake = &output(&done)["bake"];
    assert_eq!(
        (bake["rounds"].as_u64(), bake["done"].as_bool()),
        (Some(11), Some(true))
    );
    assert_eq!(
        bake["alarms"],
        json!([ALARM, "app-staging-latency"]),
        "only the app's"
    );
    let smoke = flow
        .http
        .requests()
        .iter()
        .filter(|q| q.url == SMOKE_URL)
        .count();
    assert_eq!(smoke, 1 + 11, "the integration run, then each round");
    let bakes = flow.world.metrics.of("Bakes");
    assert_eq!((bakes.len(), &bakes[0]["Result"]), (1, &json!("passed")));
    assert_eq!(only_outcome(&flow).attributes["outcome"], "success");
    // It is what is live on staging now.
    let live = flow
        .artifacts
        .get("live/staging.json")
        .await
        .unwrap_or_default();
    let live: Value = serde_json::from_slice(&live.unwrap_or_default()).unwrap_or_default();
    assert_eq!(
        (live["tag"].as_str(), live["commit"].as_str()),
        (Some("rc-1.4.0"), Some(SHA))
    );
}

pub async fn an_alarm_during_the_bake_rolls_the_release_back_to_the_previous_one() {
    let flow = flow();
    let arn = baking_after_a_live_release(&flow).await;
    flow.alarms.trip(ALARM, 12.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    assert_eq!(done.error.as_deref(), Some("RolledBack"));
    let r = route(&h);
    assert_passes_through(&r, ROLLED_BACK);
    assert_passes_through(&r, &["Rollback Change Set Ready?", "Execute Rollback"]);
    // The previous release's pinned template, on the same stack; its commit on the site.
    let request = flow.stacks.last_request().expect("a rollback change set");
    assert_eq!(
        request.template_uri,
        format!("runs/{PREVIOUS_RUN}/packaged.yaml")
    );
    assert_eq!(request.stack_name, "app-staging");
    assert_eq!(flow.hosting.jobs().last().map(String::as_str), Some(SHA2));
    let notices = flow.outcome_messages();
    let notice = notices.last().expect("the rollback's notice");
    assert_eq!(notice.attributes["outcome"], "rolledback");
    assert_eq!(
        notice.subject,
        "↩️ acme/shop rc-1.4.0 was rolled back on staging; rc-1.3.0 is live again"
    );
    for part in [
        ALARM,
        "value 12",
        "Threshold Crossed",
        "Live again: rc-1.3.0 (fedcba987654)",
    ] {
        assert!(
            notice.body.contains(part),
            "{part:?} not in\n{}",
            notice.body
        );
    }
    rolled_back_on_the_record(&flow).await;
}

/// The evidence names both releases, the metrics count the rollback, and what is
/// live on staging is still the previous release.
async fn rolled_back_on_the_record(flow: &Flow) {
    let held = stagegate::manifest::evidence::verify(&flow.artifacts, &flow.signer, RUN).await;
    let e = held
        .unwrap_or_else(|e| panic!("{e}"))
        .unwrap_or_else(|d| panic!("{d:?}"));
    assert_eq!(e.outcome, "rolledback");
    let to = e.rolled_back_to.unwrap_or_default();
    assert_eq!(
        (to["tag"].as_str(), to["runId"].as_str()),
        (Some("rc-1.3.0"), Some(PREVIOUS_RUN))
    );
    assert_eq!(flow.world.metrics.of("Rollbacks").len(), 1);
    assert_eq!(
        flow.world
            .metrics
            .of("Bakes")
            .last()
            .map(|b| b["Result"].clone()),
        Some(json!("failed"))
    );
    let live = flow
        .artifacts
        .get("live/staging.json")
        .await
        .unwrap_or_default();
    let live: Value = serde_json::from_slice(&live.unwrap_or_default()).unwrap_or_default();
    assert_eq!(live["tag"], "rc-1.3.0", "a rolled-back release is not live");
}

pub async fn a_failed_smoke_case_rolls_back_through_missed_events_and_a_slow_change_set() {
    let flow = flow();
    let arn = baking_after_a_live_release(&flow).await;
    // The rollback's change set takes two reads; the stack and the site lose their
    // events, and the stack is slower than the rollback's first wait.
    flow.stacks.set_pending_polls(1);
    flow.stacks.events.miss();
    flow.stacks.events.set_every(Duration::from_secs(500));
    flow.hosting.events.miss();
    flow.hosting.events.set_every(Duration::from_secs(400));
    flow.http.route(SMOKE_URL, 503, "down");
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    let r = route(&h);
    assert_passes_through(&r, ROLLED_BACK);
    let again = [
        "Wait for Rollback Change Set",
        "Await Rollback Stack",
        "Await Previous Frontend",
    ];
    assert_passes_through(&r, &again);
    // Events lost, the stack settled at 1000 s: read at 900 s, 960 s, then 1020 s.
    let reads = r.iter().filter(|s| *s == "Await Rollback Stack").count();
    assert_eq!(reads, 3, "{r:#?}");
    let reads = r.iter().filter(|s| *s == "Await Previous Frontend").count();
    assert!(reads >= 2, "the job outlived the first read: {r:#?}");
    let notice = flow.outcome_messages().pop().expect("a notice");
    assert!(
        notice.body.contains("smoke suite auth: "),
        "{}",
        notice.body
    );
    assert!(flow.table.waiters().is_empty());
}

pub async fn a_previous_release_with_the_same_template_needs_only_its_frontend() {
    let flow = flow();
    let arn = baking_after_a_live_release(&flow).await;
    flow.stacks.set_no_changes();
    flow.alarms.trip(ALARM, 9.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    let r = route(&h);
    assert_passes_through(
        &r,
        &[
            "Rollback Change Set Ready?",
            "Capture Rollback Outputs",
            "Redeploy Previous Frontend",
        ],
    );
    assert_never_enters(&r, &["Execute Rollback"]);
    assert_eq!(flow.hosting.jobs().last().map(String::as_str), Some(SHA2));
}

pub async fn nothing_live_before_is_a_loud_rollback_failure_and_the_release_stays() {
    let flow = flow();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    flow.alarms.trip(ALARM, 12.0);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    assert_eq!(done.error.as_deref(), Some("RollbackFailed"));
    let r = route(&h);
    let order = [
        "Bake Failed",
        "Roll Back",
        "Find Previous Release",
        "Rollback Failed",
        "Notify Rollback Failed",
        "Rollback Incomplete",
    ];
    assert_passes_through(&r, &order);
    assert_never_enters(&r, &["Create Rollback Change Set", "Notify Rolled Back"]);
    let notice = only_outcome(&flow);
    assert_eq!(outcome_at(&notice), ("failure", "Roll Back"));
    for part in [
        "no earlier release went live on staging",
        "It was being rolled back because its bake failed: BakeFailed: round 2 of the bake: alarm app-staging-5xx",
        "stays deployed",
    ] {
        assert!(notice.body.contains(part), "{part:?} not in\n{}", notice.body);
    }
    assert_eq!(flow.hosting.jobs(), [SHA], "the site was not touched again");
}

pub async fn a_bake_that_cannot_read_the_alarms_fails_without_rolling_back() {
    let flow = flow();
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    // After its change set read them (as rollback triggers), before the bake does.
    flow.faults
        .arm("cloudwatch:DescribeAlarms", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed);
    let r = route(&h);
    assert_passes_through(&r, &["Bake", "Bake Could Not Run", "Notify Failure"]);
    assert_never_enters(&r, &["Roll Back", "Mark Release Ready"]);
    let m = assert_failed_at(&flow, "Bake", "DependencyRefused");
    assert!(
        m.body.contains("describe alarms") || m.body.contains("cloudwatch"),
        "{}",
        m.body
    );
}

pub async fn a_rollback_whose_notices_cannot_be_sent_still_ends_by_name() {
    let flow = flow();
    let arn = baking_after_a_live_release(&flow).await;
    flow.alarms.trip(ALARM, 12.0);
    flow.faults.arm("sns:Publish", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RolledBack"), "{done:#?}");
    assert_passes_through(&route(&h), &["Notify Rolled Back", "Rolled Back"]);
    // And a rollback that failed, told to nobody, still ends RollbackFailed.
    let flow = Flow::with_settings(baking());
    flow.alarms.define(&[ALARM]);
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    flow.wait_for_state(&arn, "Wait to Bake").await;
    flow.alarms.trip(ALARM, 12.0);
    flow.faults.arm("sns:Publish", Fault::AccessDenied);
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.error.as_deref(), Some("RollbackFailed"), "{done:#?}");
    assert_passes_through(
        &route(&h),
        &["Notify Rollback Failed", "Rollback Incomplete"],
    );
}

pub async fn an_alarm_during_the_stack_update_is_undone_by_cloudformation_and_reported() {
    let mut settings = baking();
    settings.bake.monitoring_minutes = 10;
    let flow = Flow::with_settings(settings);
    flow.alarms
        .define(&[ALARM, "app-staging-latency", "other-app-5xx"]);
    // The change set carries the app's alarms as CloudFormation's rollback triggers;
    // one goes off while the stack updates, and CloudFormation undoes the update (its
    // stack events say why; here the double's).
    flow.stacks.after_execute(&[
        "UPDATE_IN_PROGRESS",
        "UPDATE_ROLLBACK_IN_PROGRESS",
        "UPDATE_ROLLBACK_COMPLETE",
    ]);
    let why = "rollback trigger arn:aws:cloudwatch:eu-west-1:123456789012:alarm:app-staging-5xx is in ALARM";
    flow.stacks.set_failure_reason(why);
    let arn = flow.start("rc-1.4.0", SHA).await;
    flow.approve("rc-1.4.0").await;
    let (done, h) = flow.finish(&arn).await;
    assert_eq!(done.status, ExecutionStatus::Failed, "{done:#?}");
    let r = route(&h);
    assert_passes_through(
        &r,
        &["Deploy Infrastructure", "Deploy Infrastructure Failed"],
    );
    assert_never_enters(&r, &["Bake", "Roll Back"]);
    let request = flow.stacks.last_request().expect("the change set");
    let arn_of = |n: &str| format!("arn:aws:cloudwatch:eu-west-1:123456789012:alarm:{n}");
    assert_eq!(
        request.rollback_triggers,
        [arn_of(ALARM), arn_of("app-staging-latency")],
        "the app's alarms, not another app's"
    );
    assert_eq!(request.monitoring_minutes, 10);
    let m = assert_failed_at(&flow, "Deploy Infrastructure", "StackDeployFailed");
    assert!(m.body.contains(why), "{}", m.body);
}

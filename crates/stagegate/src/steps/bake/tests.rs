//! The bake's rounds: how long, what each reads, what ends it and how it says why.

use super::*;
use crate::testing::{
    candidate, now, FixedClock, MemoryAlarms, MemoryArtifacts, MemoryHttp, MemoryMetrics,
};
use chrono::Duration;

type TestBake = Bake<MemoryAlarms, MemoryHttp, MemoryArtifacts, FixedClock, MemoryMetrics>;

fn settings(seconds: u64, smoke: &[&str]) -> Settings {
    let mut s = Settings {
        stack_name: "shop-staging".into(),
        ..Settings::default()
    };
    s.bake.seconds = seconds;
    s.bake.interval_seconds = 60;
    s.bake.smoke_suites = smoke.iter().map(|x| x.to_string()).collect();
    s
}

fn bake(
    settings: Settings,
    alarms: &MemoryAlarms,
    http: &MemoryHttp,
    at: chrono::DateTime<chrono::Utc>,
) -> TestBake {
    let suite = r#"{"cases": [{"name": "health", "request": {"url": "${outputs.ApiUrl}/health"}, "expect": {"status": 200}}]}"#;
    Bake {
        settings,
        alarms: alarms.clone(),
        http: http.clone(),
        artifacts: MemoryArtifacts::holding("runs/r/suites/smoke.json", "application/json", suite),
        clock: FixedClock(at),
        metrics: MemoryMetrics::default(),
    }
}

fn input(bake: Option<Baking>) -> Input {
    Input {
        candidate: candidate(),
        artifacts_prefix: "runs/r/".into(),
        frontend_url: "http://web".into(),
        outputs: BTreeMap::from([("ApiUrl".into(), "http://api".into())]),
        bake: bake.map(|b| serde_json::to_value(b).unwrap()),
    }
}

fn healthy() -> MemoryHttp {
    let http = MemoryHttp::default();
    http.route("http://api/health", 200, "ok");
    http
}

#[tokio::test]
async fn a_bake_watches_the_apps_alarms_and_smoke_suites_until_its_time_is_up() {
    let alarms = MemoryAlarms::with(&["shop-staging-5xx", "shop-staging-latency", "other-app-5xx"]);
    let http = healthy();
    let first = bake(settings(150, &["smoke"]), &alarms, &http, now());
    let round = first.run(input(None)).await.unwrap();
    assert_eq!(
        round.alarms,
        ["shop-staging-5xx", "shop-staging-latency"],
        "only the app's"
    );
    assert_eq!(
        (round.rounds, round.done, round.wait_seconds),
        (1, false, 60)
    );
    assert_eq!(round.until, now() + Duration::seconds(150));
    assert_eq!(http.requests().len(), 1, "the smoke suite ran");
    // Two minutes on: 30 s are left, so the last wait is 30 s, not the interval.
    let later = bake(
        settings(150, &["smoke"]),
        &alarms,
        &http,
        now() + Duration::seconds(120),
    );
    let round = later.run(input(Some(round))).await.unwrap();
    assert_eq!(
        (round.rounds, round.done, round.wait_seconds),
        (2, false, 30)
    );
    assert!(later.metrics.of("Bakes").is_empty(), "not over yet");
    let last = bake(
        settings(150, &["smoke"]),
        &alarms,
        &http,
        now() + Duration::seconds(150),
    );
    let round = last.run(input(Some(round))).await.unwrap();
    assert_eq!((round.rounds, round.done), (3, true));
    let bakes = last.metrics.of("Bakes");
    assert_eq!(
        (bakes.len(), &bakes[0]["Result"]),
        (1, &serde_json::json!("passed"))
    );
}

#[tokio::test]
async fn no_bake_time_reads_the_alarms_and_smoke_suites_once() {
    let step = bake(
        settings(0, &["smoke"]),
        &MemoryAlarms::default(),
        &healthy(),
        now(),
    );
    let round = step.run(input(None)).await.unwrap();
    assert_eq!((round.rounds, round.done), (1, true));
    assert!(round.alarms.is_empty());
}

#[tokio::test]
async fn an_alarm_that_goes_off_fails_the_bake_naming_it_its_metric_threshold_and_value() {
    let alarms = MemoryAlarms::with(&["shop-staging-5xx", "shop-staging-latency"]);
    let step = bake(settings(600, &[]), &alarms, &healthy(), now());
    let round = step.run(input(None)).await.unwrap();
    alarms.trip("shop-staging-5xx", 12.0);
    let e = step.run(input(Some(round))).await.unwrap_err();
    assert_eq!(e.name, "BakeFailed");
    for part in [
        "round 2 of the bake",
        "alarm shop-staging-5xx (AWS/Lambda Errors (FunctionName=api) Sum over 60 s > 5)",
        "value 12",
        "Threshold Crossed: 1 datapoint [12] was greater than the threshold (5.0).",
    ] {
        assert!(e.message.contains(part), "{part:?} not in {}", e.message);
    }
    assert!(
        !e.message.contains("latency"),
        "an alarm that is OK is not named"
    );
    let bakes = step.metrics.of("Bakes");
    assert_eq!(bakes[0]["Result"], "failed");
}

#[tokio::test]
async fn a_failed_smoke_case_fails_the_bake_naming_the_suite_and_case() {
    let http = MemoryHttp::default();
    http.route("http://api/health", 503, "down");
    let step = bake(
        settings(600, &["smoke"]),
        &MemoryAlarms::default(),
        &http,
        now(),
    );
    let e = step.run(input(None)).await.unwrap_err();
    assert_eq!(e.name, "BakeFailed");
    assert!(
        e.message.contains("smoke suite smoke: health:"),
        "{}",
        e.message
    );
    assert!(e.message.contains("503"), "{}", e.message);
}

#[tokio::test]
async fn a_round_that_cannot_read_the_alarms_is_a_dependency_failure_not_a_failed_bake() {
    let faults = crate::testing::Faults::default();
    faults.arm(
        "cloudwatch:DescribeAlarms",
        crate::testing::Fault::Throttled { times: 1 },
    );
    let plain = bake(
        settings(600, &[]),
        &MemoryAlarms::default(),
        &healthy(),
        now(),
    );
    let step = Bake {
        settings: plain.settings,
        alarms: crate::testing::Faulty::new(MemoryAlarms::default(), faults),
        http: plain.http,
        artifacts: plain.artifacts,
        clock: plain.clock,
        metrics: plain.metrics,
    };
    let e = step.run(input(None)).await.unwrap_err();
    assert_eq!(e.name, "DependencyFailed");
    assert!(
        step.metrics.lines().is_empty(),
        "a bake that could not look is not counted"
    );
}

#[tokio::test]
async fn the_definitions_first_round_marker_starts_the_bake_and_a_malformed_one_is_named() {
    let step = bake(
        settings(60, &[]),
        &MemoryAlarms::default(),
        &healthy(),
        now(),
    );
    let mut first = input(None);
    first.bake = Some(serde_json::json!({"rounds": 0}));
    let round = step.run(first).await.unwrap();
    assert_eq!((round.rounds, round.started_at), (1, now()));
    let mut bad = input(None);
    bad.bake = Some(serde_json::json!({"startedAt": "yesterday"}));
    let e = step.run(bad).await.unwrap_err();
    assert_eq!(e.name, "InvalidInput");
    assert!(e.message.contains("bake:"), "{}", e.message);
}

#[tokio::test]
async fn ten_thousand_alarms_going_off_are_named_five_and_counted() {
    let names: Vec<String> = (0..10_000)
        .map(|i| format!("shop-staging-{i:05}"))
        .collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let alarms = MemoryAlarms::with(&refs);
    for n in &names {
        alarms.trip(n, 9.0);
    }
    let step = bake(settings(600, &[]), &alarms, &healthy(), now());
    let e = step.run(input(None)).await.unwrap_err();
    assert_eq!(e.name, "BakeFailed");
    assert_eq!(
        e.message.matches("alarm shop-staging-").count(),
        5,
        "{}",
        &e.message[..200]
    );
    assert!(
        e.message.ends_with("and 9995 more alarms in ALARM"),
        "{}",
        e.message
    );
    assert!(e.message.len() < 32_768, "{} characters", e.message.len());
}

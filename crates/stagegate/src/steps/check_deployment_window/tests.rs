//! Check Deployment Window: open, wait until the next opening, freeze, break-glass.

use super::*;
use crate::records::Vote;
use crate::testing::FixedClock;
use crate::windows::Calendar;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Mon-Thu 09:00-16:00 UTC; a freeze over Christmas (waiting, or ending runs).
fn step(now: &str, during: &str) -> CheckDeploymentWindow<FixedClock> {
    let json = format!(
        r#"{{"timeZone": "UTC", "windows": [{{"days": "Mon-Thu", "from": "09:00", "to": "16:00"}}],
            "freezes": [{{"from": "2026-12-24", "to": "2026-12-27", "reason": "holidays"}}], "duringFreeze": "{during}"}}"#
    );
    CheckDeploymentWindow {
        settings: Settings {
            calendar: Some(Calendar::parse(&json).unwrap()),
            ..Settings::production()
        },
        clock: FixedClock(utc(now)),
    }
}

fn vote(who: &str, break_glass: bool, reason: Option<&str>) -> Vote {
    Vote {
        reason: reason.map(str::to_string),
        at: utc("2026-12-07T10:00:00Z"),
        break_glass,
        ..crate::testing::vote(who, true)
    }
}

fn input(votes: Vec<Vote>, started: &str) -> Input {
    Input {
        approval: Approval {
            votes,
            ..Approval::default()
        },
        started_at: utc(started),
    }
}

#[tokio::test]
async fn inside_a_window_it_is_open_and_outside_it_waits_for_the_next_opening() {
    let open = step("2026-12-08T10:00:00Z", "wait")
        .run(input(vec![], "2026-12-08T00:00:00Z"))
        .await
        .unwrap();
    assert!(
        open.open && open.why.starts_with("inside Mon-Thu 09:00-16:00 (UTC)"),
        "{open:?}"
    );
    let closed = step("2026-12-11T10:00:00Z", "wait")
        .run(input(vec![], "2026-12-10T00:00:00Z"))
        .await
        .unwrap();
    assert!(!closed.open);
    assert_eq!(
        closed.wait_until,
        Some(utc("2026-12-14T09:00:00Z")),
        "Friday waits for Monday"
    );
    assert!(closed.why.contains("outside"), "{}", closed.why);
}

#[tokio::test]
async fn a_freeze_waits_for_its_end_or_ends_the_run_as_configured() {
    let wait = step("2026-12-24T10:00:00Z", "wait")
        .run(input(vec![], "2026-12-24T00:00:00Z"))
        .await
        .unwrap();
    assert_eq!(wait.wait_until, Some(utc("2026-12-28T09:00:00Z")));
    assert!(wait.why.contains("holidays"), "{}", wait.why);
    let e = step("2026-12-24T10:00:00Z", "end")
        .run(input(vec![], "2026-12-24T00:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(e.name, "DeploymentFrozen");
    assert!(
        e.message
            .contains("2026-12-24 through 2026-12-27: holidays"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn an_opening_after_the_runs_seven_days_ends_it_naming_when() {
    // Started six and a half days ago, on a Friday evening: Monday 09:00 is too late.
    let e = step("2026-12-11T20:00:00Z", "wait")
        .run(input(vec![], "2026-12-05T08:00:00Z"))
        .await
        .unwrap_err();
    assert_eq!(e.name, "WindowUnreachable");
    assert!(
        e.message.contains("2026-12-14 09:00:00 UTC"),
        "{}",
        e.message
    );
}

#[tokio::test]
async fn two_distinct_break_glass_approvals_with_reasons_open_a_freeze_on_the_record() {
    let glass = vec![
        vote("dana", true, Some("security fix")),
        vote("erin", true, Some("CVE-2026-1")),
    ];
    let out = step("2026-12-24T10:00:00Z", "end")
        .run(input(glass, "2026-12-24T00:00:00Z"))
        .await
        .unwrap();
    assert!(out.open);
    let bg = out.break_glass.expect("on the record");
    assert_eq!(bg.approvers, ["dana", "erin"]);
    assert_eq!(bg.reasons, ["dana: security fix", "erin: CVE-2026-1"]);
    assert!(
        out.why.starts_with("break-glass by dana and erin: frozen"),
        "{}",
        out.why
    );
    // One person twice, or one without break-glass, is not two.
    for votes in [
        vec![vote("dana", true, Some("a")), vote("dana", true, Some("b"))],
        vec![
            vote("dana", true, Some("a")),
            vote("erin", false, Some("b")),
        ],
        vec![vote("dana", true, Some("a")), vote("erin", true, None)],
    ] {
        let e = step("2026-12-24T10:00:00Z", "end")
            .run(input(votes, "2026-12-24T00:00:00Z"))
            .await
            .unwrap_err();
        assert_eq!(e.name, "DeploymentFrozen");
    }
}

#[tokio::test]
async fn without_a_calendar_any_time_is_open() {
    let step = CheckDeploymentWindow {
        settings: Settings::production(),
        clock: FixedClock(utc("2026-12-25T03:00:00Z")),
    };
    let out = step
        .run(input(vec![], "2026-12-25T00:00:00Z"))
        .await
        .unwrap();
    assert!(out.open && out.break_glass.is_none());
}

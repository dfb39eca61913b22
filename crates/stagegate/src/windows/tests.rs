//! Windows and freezes: the next opening, in the calendar's own zone.

use super::*;

fn utc(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

/// Mon-Thu 09:00-16:00 in Berlin, a year-end freeze.
fn berlin() -> Calendar {
    Calendar::parse(
        r#"{"timeZone": "Europe/Berlin",
            "windows": [{"days": "Mon-Thu", "from": "09:00", "to": "16:00"}],
            "freezes": [{"from": "2026-12-21", "to": "2027-01-04", "reason": "year end"}]}"#,
    )
    .unwrap()
}

#[test]
fn inside_a_window_it_is_open_and_outside_it_opens_at_the_next_start_in_its_zone() {
    let c = berlin();
    // Tuesday 2026-12-08 10:00 in Berlin is 09:00 UTC (winter: UTC+1).
    assert_eq!(c.at(utc("2026-12-08T09:00:00Z")), Verdict::Open);
    // Tuesday 17:00 Berlin: next is Wednesday 09:00 Berlin = 08:00 UTC.
    assert_eq!(
        c.at(utc("2026-12-08T16:00:00Z")),
        Verdict::Closed {
            opens_at: utc("2026-12-09T08:00:00Z")
        }
    );
    // Friday: next is Monday.
    assert_eq!(
        c.at(utc("2026-12-11T12:00:00Z")),
        Verdict::Closed {
            opens_at: utc("2026-12-14T08:00:00Z")
        }
    );
    // Summer time: 09:00 Berlin is 07:00 UTC.
    assert_eq!(
        c.at(utc("2026-07-06T06:00:00Z")),
        Verdict::Closed {
            opens_at: utc("2026-07-06T07:00:00Z")
        }
    );
}

#[test]
fn in_a_freeze_the_next_opening_is_after_it() {
    let c = berlin();
    match c.at(utc("2026-12-22T10:00:00Z")) {
        Verdict::Frozen { freeze, opens_at } => {
            assert_eq!(freeze.reason, "year end");
            // 2027-01-04 is frozen (inclusive); Tuesday 2027-01-05 09:00 Berlin.
            assert_eq!(opens_at, Some(utc("2027-01-05T08:00:00Z")));
        }
        other => panic!("{other:?}"),
    }
    // The Friday before: closed, and the next opening skips the freeze.
    assert_eq!(
        c.at(utc("2026-12-18T12:00:00Z")),
        Verdict::Closed {
            opens_at: utc("2027-01-05T08:00:00Z")
        }
    );
}

#[test]
fn without_windows_any_time_outside_a_freeze_is_open() {
    let c = Calendar::parse(r#"{"timeZone": "UTC", "freezes": [{"from": "2026-12-24", "to": "2026-12-26", "reason": "holidays"}], "duringFreeze": "end"}"#).unwrap();
    assert_eq!(c.at(utc("2026-12-23T23:59:00Z")), Verdict::Open);
    assert!(
        matches!(c.at(utc("2026-12-24T00:00:00Z")), Verdict::Frozen { opens_at: Some(t), .. } if t == utc("2026-12-27T00:00:00Z"))
    );
    assert_eq!(c.during_freeze, DuringFreeze::End);
    assert_eq!(c.describe(), "any time (UTC)");
}

#[test]
fn every_problem_names_its_field() {
    for (json, field) in [
        (r#"{"timeZone": "Mars/Olympus"}"#, "timeZone"),
        (
            r#"{"timeZone": "UTC", "windows": [{"days": "Mon-Fry", "from": "09:00", "to": "16:00"}]}"#,
            "windows[0].days",
        ),
        (
            r#"{"timeZone": "UTC", "windows": [{"days": "Mon", "from": "9am", "to": "16:00"}]}"#,
            "windows[0].from",
        ),
        (
            r#"{"timeZone": "UTC", "windows": [{"days": "Mon", "from": "22:00", "to": "02:00"}]}"#,
            "windows[0].to",
        ),
        (
            r#"{"timeZone": "UTC", "freezes": [{"from": "2026-12-24", "to": "2026-12-20", "reason": "x"}]}"#,
            "freezes[0].to",
        ),
        (
            r#"{"timeZone": "UTC", "freezes": [{"from": "2026-12-24", "to": "2026-12-26", "reason": " "}]}"#,
            "freezes[0].reason",
        ),
        (r#"{"timeZone": "UTC", "windowz": []}"#, "windowz"),
    ] {
        let e = Calendar::parse(json).unwrap_err();
        assert!(e.contains(field), "{json}: {e}");
    }
}

#[test]
fn day_ranges_may_wrap_and_list() {
    let c = Calendar::parse(r#"{"timeZone": "UTC", "windows": [{"days": "Fri-Mon", "from": "10:00", "to": "11:00"}, {"days": "wed", "from": "10:00", "to": "11:00"}]}"#).unwrap();
    assert_eq!(
        c.windows[0].days,
        [true, false, false, false, true, true, true]
    );
    assert_eq!(
        c.windows[1].days,
        [false, false, true, false, false, false, false]
    );
    assert_eq!(c.describe(), "Fri-Mon 10:00-11:00, wed 10:00-11:00 (UTC)");
}

#[test]
fn ten_thousand_freezes_are_read_and_a_year_without_an_opening_says_so() {
    let start = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let freezes: Vec<serde_json::Value> = (0..10_000)
        .map(|n| {
            let day = start + Duration::days(n);
            serde_json::json!({"from": day.to_string(), "to": day.to_string(), "reason": format!("freeze {n}")})
        })
        .collect();
    let json = serde_json::json!({"timeZone": "UTC", "freezes": freezes}).to_string();
    let c = Calendar::parse(&json).unwrap();
    assert_eq!(c.freezes.len(), 10_000);
    match c.at(utc("2026-06-01T12:00:00Z")) {
        Verdict::Frozen { freeze, opens_at } => {
            assert_eq!(freeze.reason, "freeze 151");
            assert_eq!(opens_at, None, "every day of the next year is frozen");
        }
        other => panic!("{other:?}"),
    }
}

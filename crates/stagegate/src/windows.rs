//! Deployment windows and freezes for production (`STAGEGATE_DEPLOY_WINDOWS`): when an
//! approved promotion may deploy. Days and hours in one named time zone; freezes are
//! date ranges (inclusive, in that zone) with a reason. Outside every window the run
//! waits for the next opening; during a freeze it waits for the freeze to end, or
//! ends, as configured. Two distinct approvers who each approved with break-glass
//! and a reason override both (recorded in the evidence and the notices).
//!
//! ```json
//! {"timeZone": "Europe/Berlin",
//!  "windows": [{"days": "Mon-Thu", "from": "09:00", "to": "16:00"}],
//!  "freezes": [{"from": "2026-12-21", "to": "2027-01-04", "reason": "year end"}],
//!  "duringFreeze": "wait"}
//! ```
//!
//! No `windows` means any time (only the freezes apply). A window ends the day it
//! starts (`to` after `from`); a night window is two windows.

use chrono::{DateTime, Datelike, Duration, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// What to do when an approved promotion meets a freeze.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DuringFreeze {
    /// Wait until the freeze (and any closed hours after it) are over.
    Wait,
    /// End the run (`DeploymentFrozen`).
    End,
}

/// Days of the week (Monday first) and the hours between `from` and `to`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Window {
    pub days: [bool; 7],
    pub from: NaiveTime,
    pub to: NaiveTime,
    /// As configured, for people (`Mon-Thu 09:00-16:00`).
    pub text: String,
}

/// A freeze: no deploys from `from` through `to` (local dates, inclusive).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub reason: String,
}

/// Production's deployment calendar.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Calendar {
    pub time_zone: Tz,
    pub windows: Vec<Window>,
    pub freezes: Vec<Freeze>,
    pub during_freeze: DuringFreeze,
}

/// Whether a deploy may start now, and if not, why and until when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    Open,
    /// Outside every window: the next opening.
    Closed {
        opens_at: DateTime<Utc>,
    },
    /// In a freeze: the freeze, and the first opening after it (`None`: none within
    /// a year).
    Frozen {
        freeze: Freeze,
        opens_at: Option<DateTime<Utc>>,
    },
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Raw {
    time_zone: String,
    #[serde(default)]
    windows: Vec<RawWindow>,
    #[serde(default)]
    freezes: Vec<Freeze>,
    #[serde(default = "wait")]
    during_freeze: DuringFreeze,
}

fn wait() -> DuringFreeze {
    DuringFreeze::Wait
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawWindow {
    days: String,
    from: String,
    to: String,
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

fn day(name: &str) -> Result<usize, String> {
    DAYS.iter()
        .position(|d| d.eq_ignore_ascii_case(name.trim()))
        .ok_or_else(|| format!("'{}' is not a day (Mon … Sun)", name.trim()))
}

/// `Mon-Fri`, `Sat,Sun`, `Mon-Wed,Fri`: wrapping ranges (`Fri-Mon`) included.
fn days(text: &str) -> Result<[bool; 7], String> {
    let mut set = [false; 7];
    for part in text.split(',') {
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b) = (day(a)?, day(b)?);
                let mut d = a;
                loop {
                    set[d] = true;
                    if d == b {
                        break;
                    }
                    d = (d + 1) % 7;
                }
            }
            None => set[day(part)?] = true,
        }
    }
    Ok(set)
}

fn time(text: &str) -> Result<NaiveTime, String> {
    NaiveTime::parse_from_str(text, "%H:%M").map_err(|_| format!("'{text}' is not a time (HH:MM)"))
}

impl Calendar {
    /// Parses the configuration; every problem names its field (`windows[0].days`).
    pub fn parse(json: &str) -> Result<Calendar, String> {
        let raw: Raw =
            serde_json::from_str(json).map_err(|e| format!("not a deployment calendar: {e}"))?;
        let time_zone: Tz = raw.time_zone.parse().map_err(|_| {
            format!(
                "timeZone: '{}' is not an IANA time zone (e.g. Europe/Berlin)",
                raw.time_zone
            )
        })?;
        let mut windows = Vec::new();
        for (i, w) in raw.windows.iter().enumerate() {
            let at = |field: &str, e: String| format!("windows[{i}].{field}: {e}");
            let window = Window {
                days: days(&w.days).map_err(|e| at("days", e))?,
                from: time(&w.from).map_err(|e| at("from", e))?,
                to: time(&w.to).map_err(|e| at("to", e))?,
                text: format!("{} {}-{}", w.days, w.from, w.to),
            };
            if window.to <= window.from {
                return Err(at(
                    "to",
                    format!(
                        "'{}' must be after from ('{}'); a night window is two windows",
                        w.to, w.from
                    ),
                ));
            }
            windows.push(window);
        }
        for (i, f) in raw.freezes.iter().enumerate() {
            if f.to < f.from {
                return Err(format!(
                    "freezes[{i}].to: {} is before from ({})",
                    f.to, f.from
                ));
            }
            if f.reason.trim().is_empty() {
                return Err(format!("freezes[{i}].reason: a freeze says why"));
            }
        }
        Ok(Calendar {
            time_zone,
            windows,
            freezes: raw.freezes,
            during_freeze: raw.during_freeze,
        })
    }

    /// The freeze covering `at`'s local date, if any.
    fn freeze_on(&self, date: NaiveDate) -> Option<&Freeze> {
        self.freezes.iter().find(|f| f.from <= date && date <= f.to)
    }

    /// `date` at `t` in the calendar's zone (a time skipped by a clock change: the
    /// first instant after it).
    fn instant(&self, date: NaiveDate, t: NaiveTime) -> Option<DateTime<Utc>> {
        let mut local = date.and_time(t);
        for _ in 0..4 {
            if let Some(at) = self.time_zone.from_local_datetime(&local).earliest() {
                return Some(at.with_timezone(&Utc));
            }
            local += Duration::minutes(30);
        }
        None
    }

    /// The open intervals of local date `date` (the whole day without windows).
    fn openings(&self, date: NaiveDate) -> Vec<(DateTime<Utc>, DateTime<Utc>)> {
        if self.freeze_on(date).is_some() {
            return Vec::new();
        }
        if self.windows.is_empty() {
            let (start, end) = (
                self.instant(date, NaiveTime::MIN),
                date.succ_opt()
                    .and_then(|d| self.instant(d, NaiveTime::MIN)),
            );
            return start.zip(end).into_iter().collect();
        }
        let weekday = date.weekday().num_days_from_monday() as usize;
        self.windows
            .iter()
            .filter(|w| w.days[weekday])
            .filter_map(|w| Some((self.instant(date, w.from)?, self.instant(date, w.to)?)))
            .collect()
    }

    /// The first instant at or after `now` inside a window and outside every freeze,
    /// looking a year ahead.
    pub fn next_opening(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let today = now.with_timezone(&self.time_zone).date_naive();
        (0..=366)
            .filter_map(|n| today.checked_add_signed(Duration::days(n)))
            .flat_map(|d| self.openings(d))
            .filter(|(_, end)| *end > now)
            .map(|(start, _)| start.max(now))
            .min()
    }

    /// Whether a deploy may start at `now`.
    pub fn at(&self, now: DateTime<Utc>) -> Verdict {
        let today = now.with_timezone(&self.time_zone).date_naive();
        if let Some(f) = self.freeze_on(today) {
            return Verdict::Frozen {
                freeze: f.clone(),
                opens_at: self.next_opening(now),
            };
        }
        match self.next_opening(now) {
            Some(at) if at <= now => Verdict::Open,
            Some(opens_at) => Verdict::Closed { opens_at },
            None => Verdict::Frozen {
                freeze: Freeze {
                    from: today,
                    to: today,
                    reason: "no window opens within a year".into(),
                },
                opens_at: None,
            },
        }
    }

    /// The windows, for people: `Mon-Thu 09:00-16:00, Fri 09:00-12:00 (Europe/Berlin)`.
    pub fn describe(&self) -> String {
        let windows: Vec<&str> = self.windows.iter().map(|w| w.text.as_str()).collect();
        match windows.is_empty() {
            true => format!("any time ({})", self.time_zone),
            false => format!("{} ({})", windows.join(", "), self.time_zone),
        }
    }
}

#[cfg(test)]
mod tests;

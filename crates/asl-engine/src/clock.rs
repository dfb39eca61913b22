//! Time for executions: wall-clock timestamps for history and `$$`, and sleeps for
//! Wait states, retries and timeouts.
//!
//! The clock is tokio's clock plus a wall-clock anchor. Under a paused runtime
//! (`#[tokio::test(start_paused = true)]`, or [`crate::virtual_runtime`]) tokio
//! auto-advances time whenever every task is blocked on a timer, so a 24-hour
//! approval timeout or a polling Wait loop completes instantly, in a deterministic
//! order, and `tokio::time::advance` moves time explicitly. Under a normal runtime
//! the same code waits for real.

use chrono::{DateTime, SecondsFormat, TimeZone, Utc};
use std::time::Duration;
use tokio::time::Instant;

#[derive(Clone, Debug)]
pub struct Clock {
    wall_anchor: DateTime<Utc>,
    instant_anchor: Instant,
}

impl Clock {
    /// A clock reading the real wall time (anchored now).
    pub fn system() -> Self {
        Clock {
            wall_anchor: Utc::now(),
            instant_anchor: Instant::now(),
        }
    }

    /// A clock whose current time is `start`; time then moves with tokio's clock.
    /// Tests use a fixed start so timestamps in outputs are reproducible.
    pub fn starting_at(start: DateTime<Utc>) -> Self {
        Clock {
            wall_anchor: start,
            instant_anchor: Instant::now(),
        }
    }

    /// A fixed, well-known start (2026-01-01T00:00:00Z) for reproducible runs.
    pub fn fixed() -> Self {
        Self::starting_at(
            Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .single()
                .unwrap_or_default(),
        )
    }

    pub fn now(&self) -> DateTime<Utc> {
        let elapsed = Instant::now().saturating_duration_since(self.instant_anchor);
        self.wall_anchor + chrono::Duration::from_std(elapsed).unwrap_or(chrono::Duration::MAX)
    }

    pub async fn sleep(&self, d: Duration) {
        tokio::time::sleep(d).await
    }

    /// Sleeps until the wall-clock time `t` (returns at once if it has passed).
    pub async fn sleep_until(&self, t: DateTime<Utc>) {
        let remaining = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        tokio::time::sleep(remaining).await
    }
}

/// Step Functions' timestamp format: RFC 3339, UTC, milliseconds, `Z`.
pub fn format_timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Parses a timestamp as Step Functions accepts it: RFC 3339 with an uppercase `T`
/// and, when no numeric offset is given, an uppercase `Z`.
pub fn parse_timestamp(s: &str) -> Option<DateTime<Utc>> {
    if s.as_bytes().get(10) != Some(&b'T') || s.contains('z') || s.contains('t') {
        return None;
    }
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_rfc3339_with_uppercase_t_and_z() {
        assert!(parse_timestamp("2016-03-14T01:59:00Z").is_some());
        assert!(parse_timestamp("2016-03-14T01:59:00.123+02:00").is_some());
    }

    #[test]
    fn rejects_lowercase_separators_and_non_timestamps() {
        assert!(parse_timestamp("2016-03-14t01:59:00Z").is_none());
        assert!(parse_timestamp("2016-03-14T01:59:00z").is_none());
        assert!(parse_timestamp("2016-03-14 01:59:00Z").is_none());
        assert!(parse_timestamp("yesterday").is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn paused_time_advances_the_wall_clock() {
        let clock = Clock::fixed();
        let t0 = clock.now();
        clock.sleep(Duration::from_secs(86_400)).await;
        assert_eq!(clock.now() - t0, chrono::Duration::seconds(86_400));
        assert_eq!(format_timestamp(t0), "2026-01-01T00:00:00.000Z");
    }
}

//! The bake after every deploy: how long the release is watched, how often, which
//! alarms are the app's, which smoke suites run again, and how long CloudFormation
//! watches the same alarms while it updates the stack (its rollback triggers).

use super::{number, suite_list, Vars};

/// CloudFormation's longest rollback-trigger monitoring time, in minutes.
pub const MAX_MONITORING_MINUTES: u64 = 180;

/// The longest bake: a day (it must fit the 7-day run after its approval).
pub const MAX_BAKE_SECONDS: u64 = 86_400;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bake {
    /// How long the release is watched after its tests pass (0: alarms and smoke
    /// suites are read once).
    pub seconds: u64,
    /// How often the alarms are read and the smoke suites run during the bake.
    pub interval_seconds: u64,
    /// The app's alarms are those whose names start with this; `None`: the stack's
    /// name and a hyphen (`shop-staging-…`).
    pub alarm_prefix: Option<String>,
    /// Suites run again at each interval of the bake (read-only ones: they hit a live
    /// release).
    pub smoke_suites: Vec<String>,
    /// How long CloudFormation watches the alarms after updating the stack, rolling
    /// the update back if one goes off (0: only during the update).
    pub monitoring_minutes: u64,
}

impl Default for Bake {
    fn default() -> Self {
        Bake {
            seconds: 0,
            interval_seconds: 60,
            alarm_prefix: None,
            smoke_suites: Vec::new(),
            monitoring_minutes: 0,
        }
    }
}

impl Bake {
    /// The app's alarms' name prefix for stack `stack_name`.
    pub fn alarm_prefix(&self, stack_name: &str) -> String {
        self.alarm_prefix
            .clone()
            .unwrap_or_else(|| format!("{stack_name}-"))
    }
}

/// `STAGEGATE_BAKE_*`, `STAGEGATE_ALARM_PREFIX`, `STAGEGATE_SMOKE_SUITES`,
/// `STAGEGATE_ROLLBACK_MONITORING_MINUTES`.
pub fn read<G: Fn(&str) -> Option<String>>(vars: &mut Vars<G>, bake: &mut Bake) {
    vars.read("STAGEGATE_BAKE_SECONDS", &mut bake.seconds, |v| {
        number(v, 0, MAX_BAKE_SECONDS, "seconds")
    });
    vars.read(
        "STAGEGATE_BAKE_INTERVAL_SECONDS",
        &mut bake.interval_seconds,
        |v| number(v, 10, 3600, "seconds"),
    );
    vars.read(
        "STAGEGATE_ALARM_PREFIX",
        &mut bake.alarm_prefix,
        |v| match v.trim() {
            "" => Ok(None),
            p if p.len() <= 255 && !p.contains(char::is_whitespace) => Ok(Some(p.to_string())),
            _ => Err(format!(
                "'{v}' is not an alarm name prefix (up to 255 characters, no spaces)"
            )),
        },
    );
    vars.read("STAGEGATE_SMOKE_SUITES", &mut bake.smoke_suites, suite_list);
    vars.read(
        "STAGEGATE_ROLLBACK_MONITORING_MINUTES",
        &mut bake.monitoring_minutes,
        |v| number(v, 0, MAX_MONITORING_MINUTES, "minutes"),
    );
}

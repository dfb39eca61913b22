//! The rehearsal's bake: the app's bake settings (`stagegate.json` `bake`; a short one
//! by default), each local stack's health alarm evaluated while the rehearsal runs
//! ([`crate::adapters::alarms`]), and `--fail bake`: the candidate's backend stops
//! answering once it starts baking, so its alarm goes off and the run rolls back.

use crate::adapters::{alarms, Faults, LocalStacks};
use crate::app::App;
use stagegate::settings::Bake;
use stagegate::testing::MemoryAlarms;
use tokio::task::JoinHandle;

/// The bake the app asks for.
pub(super) fn settings(app: &App) -> Bake {
    let b = &app.config.bake;
    Bake {
        seconds: b.seconds,
        interval_seconds: b.interval_seconds.max(1),
        alarm_prefix: None,
        smoke_suites: b.smoke_suites.clone(),
        monitoring_minutes: 0,
    }
}

/// The local alarms' evaluators, stopped when dropped.
pub(super) struct Watches(Vec<JoinHandle<()>>);

impl Drop for Watches {
    fn drop(&mut self) {
        for w in &self.0 {
            w.abort();
        }
    }
}

/// Evaluates the `<stack>-health` alarm of staging's stack, and of production's
/// when the rehearsal promotes, into `alarms`.
pub(super) fn watch(
    c: &super::Candidate,
    alarms: &MemoryAlarms,
    staging: &LocalStacks,
    production: Option<&LocalStacks>,
) -> Watches {
    let threshold = c.app.config.bake.error_rate_percent;
    let mut watched = vec![(staging, c.app.config.stack_name.clone())];
    if let (Some(stacks), Some(p)) = (production, &c.production) {
        watched.push((stacks, p.stack_name.clone()));
    }
    Watches(
        watched
            .into_iter()
            .map(|(s, name)| alarms::evaluate(s.clone(), alarms.clone(), name, threshold))
            .collect(),
    )
}

/// With `--fail bake`, says (once its run starts baking) that the backend stops
/// answering: the alarms port stops it on the bake's first read.
pub(super) fn on_state(faults: &Faults, state: Option<&str>, said: &mut bool) {
    if faults.has("bake") && state == Some("Bake") && !*said {
        *said = true;
        super::say("  ✗ --fail bake: the backend stops answering while it bakes");
    }
}

/// The stacks whose candidate `--fail bake` breaks: staging's (a failed staging bake
/// ends the rehearsal before any promotion).
pub(super) fn sabotaged(c: &super::Candidate, staging: &LocalStacks) -> Vec<LocalStacks> {
    match c.faults.has("bake") {
        true => vec![staging.clone()],
        false => Vec::new(),
    }
}

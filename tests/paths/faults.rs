//! Every AWS call the happy path makes, failed in turn: throttled once and a server
//! error twice (retried, and the run goes on to ready, told once), and access denied
//! (not retried: the run ends, and its one notice names the call). The exceptions are
//! listed in [`EXCEPTIONS`] with what happens instead, and docs/performance.md says
//! why.

use stagegate_paths::drills::{calls_of_the_happy_path, drill, Drilled, FAULTS};

/// Refusals that do not end the run with a notice naming the call, and why.
pub const EXCEPTIONS: &[(&str, &str)] = &[
    (
        "sns:Publish",
        "the notice itself cannot be sent: the run fails (DependencyRefused), with no notice",
    ),
    (
        "dynamodb:DeleteItem (waiter)",
        "clean-up after a deploy wait: the run goes on, the waiter expires with its TTL",
    ),
    (
        "dynamodb:PutItem (claim)",
        "the notice is sent without its once-only claim: the run succeeds, told (at least) once",
    ),
];

/// What `d` should have ended in, or why not.
pub fn expected(d: &Drilled) -> Result<(), String> {
    let exception = EXCEPTIONS.iter().find(|(c, _)| *c == d.call);
    let ok = match (d.fault.is_transient(), exception) {
        // Retried (made again after it failed), except the best-effort clean-up.
        (true, _) => {
            let retried = d.calls > d.fired || d.call == "dynamodb:DeleteItem (waiter)";
            d.succeeded_and_told() && d.fired >= 1 && retried
        }
        (false, None) => d.ended_and_named_the_call() && d.fired >= 1,
        (false, Some(("sns:Publish", _))) => {
            d.run.status == asl_engine::ExecutionStatus::Failed && d.notices.is_empty()
        }
        (false, Some(_)) => d.succeeded_and_told(),
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{} {}: {:?} {:?}, calls {} fired {}, notices {:#?}",
            d.call,
            d.fault.label(),
            d.run.status,
            d.run.error,
            d.calls,
            d.fired,
            d.notices
        ))
    }
}

pub async fn every_call_of_the_happy_path_survives_transient_faults_and_names_refusals() {
    let calls = calls_of_the_happy_path().await;
    assert!(calls.len() >= 20, "the happy path's calls: {calls:#?}");
    let mut wrong = Vec::new();
    for call in calls.keys() {
        for fault in FAULTS {
            if let Err(e) = expected(&drill(call, fault).await) {
                wrong.push(e);
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n\n"));
}

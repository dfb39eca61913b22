//! Fault drills: the example's happy path (rc-1.4.0, approved by bob) with one AWS
//! call made to fail — throttled once, a server error twice, access denied always —
//! for every call the route makes. The path test `paths/faults.rs` holds what each
//! must end in; the load harness (`load/main.rs`) writes the same drills as a table
//! into `docs/performance.md`. Run them under a paused Tokio runtime (virtual time):
//! a 24-hour wait takes none.

use crate::flow::{Flow, SHA};
use asl_engine::{ExecutionDescription, ExecutionStatus};
use stagegate::desk::Decided;
use stagegate::ports::Message;
use stagegate::testing::Fault;
use std::collections::BTreeMap;
use std::time::Duration;

/// The faults every call is drilled with, in turn.
pub const FAULTS: [Fault; 3] = [
    Fault::Throttled { times: 1 },
    Fault::ServerError { times: 2 },
    Fault::AccessDenied,
];

/// How one drilled run ended.
#[derive(Debug)]
pub struct Drilled {
    pub call: String,
    pub fault: Fault,
    pub run: ExecutionDescription,
    /// Whether bob's approval was asked for and given.
    pub approved: bool,
    /// How many times the call was made, and how many of those failed.
    pub calls: u32,
    pub fired: u32,
    /// The outcome notifications sent (not approval requests).
    pub notices: Vec<Message>,
}

impl Drilled {
    /// `true` when the run ended ready for production, told once.
    pub fn succeeded_and_told(&self) -> bool {
        self.run.status == ExecutionStatus::Succeeded
            && self.notices.len() == 1
            && self.notices[0]
                .attributes
                .get("outcome")
                .map(String::as_str)
                == Some("success")
    }

    /// `true` when the run did not succeed and exactly one notice says why, naming
    /// the call that failed.
    pub fn ended_and_named_the_call(&self) -> bool {
        self.run.status != ExecutionStatus::Succeeded
            && self.notices.len() == 1
            && self.notices[0].body.contains(&self.call)
    }
}

/// Runs rc-1.4.0 to its end: bob approves it as soon as he is asked.
pub async fn happy_path(flow: &Flow) -> (ExecutionDescription, bool) {
    let arn = flow.start("rc-1.4.0", SHA).await;
    let mut approved = false;
    loop {
        let running = flow
            .engine
            .describe_execution(&arn)
            .is_ok_and(|d| d.status.is_running());
        if !running {
            break;
        }
        if !approved {
            if let Some(id) = flow.sent_link("rc-1.4.0", "approval-request", "bob") {
                approved = flow.decide(&id, true, None).await == Ok(Decided::Approved);
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (run, _) = flow.finish(&arn).await;
    (run, approved)
}

/// Every call the happy path makes, with how many times, from a run without faults.
pub async fn calls_of_the_happy_path() -> BTreeMap<&'static str, u32> {
    let flow = Flow::new();
    happy_path(&flow).await;
    flow.faults.made()
}

/// The happy path with `fault` on `call`.
pub async fn drill(call: &str, fault: Fault) -> Drilled {
    let flow = Flow::new();
    flow.faults.arm(call, fault);
    let (run, approved) = happy_path(&flow).await;
    Drilled {
        call: call.to_string(),
        fault,
        run,
        approved,
        calls: flow.faults.calls(call),
        fired: flow.faults.fired(call),
        notices: flow.outcome_messages(),
    }
}

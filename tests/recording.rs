//! Which engines a path test created, for the route coverage test
//! (`paths/coverage.rs`): every [`crate::Flow`] calls [`record`]; nothing is kept
//! unless the coverage test [`begin`]s a recording on this thread.

use asl_engine::Engine;
use std::cell::RefCell;

thread_local! {
    /// The engines (and state machines) created while a route runs under the
    /// coverage test; `None` outside it.
    static RECORDING: RefCell<Option<Vec<(Engine, String)>>> = const { RefCell::new(None) };
}

/// Called by every `Flow`: remembers its engine while the coverage test records.
pub fn record(engine: &Engine, state_machine: &str) {
    RECORDING.with(|r| {
        if let Some(list) = r.borrow_mut().as_mut() {
            list.push((engine.clone(), state_machine.to_string()));
        }
    });
}

/// Starts recording on this thread.
pub fn begin() {
    RECORDING.with(|r| *r.borrow_mut() = Some(Vec::new()));
}

/// Stops recording and returns what was recorded.
pub fn take() -> Vec<(Engine, String)> {
    RECORDING
        .with(|r| r.borrow_mut().take())
        .unwrap_or_default()
}

//! Step Functions error names and the rules by which `Retry`/`Catch` match them.

use std::fmt;

/// The `States.*` error names this engine raises or matches.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const RUNTIME: &str = "States.Runtime";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
}

/// An error raised while running a state: what `Catch` sees as `Error` and `Cause`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateError {
    pub error: String,
    pub cause: String,
}

impl StateError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        StateError {
            error: error.into(),
            cause: cause.into(),
        }
    }

    /// A `States.Runtime` error: never retried, never caught, fails the execution.
    pub fn runtime(cause: impl Into<String>) -> Self {
        Self::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Self::new(names::INTRINSIC_FAILURE, cause)
    }
}

impl fmt::Display for StateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for StateError {}

/// Whether an `ErrorEquals` entry matches an error, with AWS's wildcard rules:
/// - `States.Runtime` is matched by nothing (it always fails the execution);
/// - `States.DataLimitExceeded` is matched only by its own name, not by wildcards;
/// - `States.ALL` matches every other error;
/// - `States.TaskFailed` matches every other error except `States.Timeout`.
pub fn error_matches(pattern: &str, error: &str) -> bool {
    if error == names::RUNTIME {
        return false;
    }
    if pattern == error {
        return true;
    }
    if error == names::DATA_LIMIT_EXCEEDED {
        return false;
    }
    match pattern {
        names::ALL => true,
        names::TASK_FAILED => error != names::TIMEOUT,
        _ => false,
    }
}

/// Whether any entry of an `ErrorEquals` list matches.
pub fn any_matches(patterns: &[String], error: &str) -> bool {
    patterns.iter().any(|p| error_matches(p, error))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_matches_custom_and_states_errors() {
        assert!(error_matches("States.ALL", "ChangeSetFailed"));
        assert!(error_matches("States.ALL", "States.Timeout"));
    }

    #[test]
    fn runtime_errors_are_never_matched() {
        assert!(!error_matches("States.ALL", "States.Runtime"));
        assert!(!error_matches("States.TaskFailed", "States.Runtime"));
        assert!(!error_matches("States.Runtime", "States.Runtime"));
    }

    #[test]
    fn data_limit_is_matched_only_by_name() {
        assert!(!error_matches("States.ALL", "States.DataLimitExceeded"));
        assert!(error_matches(
            "States.DataLimitExceeded",
            "States.DataLimitExceeded"
        ));
    }

    #[test]
    fn task_failed_matches_everything_but_timeout() {
        assert!(error_matches("States.TaskFailed", "Lambda.Unknown"));
        assert!(error_matches(
            "States.TaskFailed",
            "States.HeartbeatTimeout"
        ));
        assert!(!error_matches("States.TaskFailed", "States.Timeout"));
    }

    #[test]
    fn names_match_exactly_and_case_sensitively() {
        assert!(error_matches("Rejected", "Rejected"));
        assert!(!error_matches("rejected", "Rejected"));
        assert!(!error_matches("Reject", "Rejected"));
    }
}

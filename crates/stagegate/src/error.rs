//! The error contract of the steps. The state machine routes on these names, so they
//! are stable and listed in the README: change one and the definition must change too.

use std::fmt;

/// A step's failure: a stable `name` the state machine catches, and a message for
/// people (it becomes the notification's reason).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StepError {
    pub name: &'static str,
    pub message: String,
}

impl StepError {
    pub fn new(name: &'static str, message: impl Into<String>) -> Self {
        StepError {
            name,
            message: message.into(),
        }
    }
}

impl fmt::Display for StepError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.message)
    }
}

impl std::error::Error for StepError {}

/// Every error name a step can raise.
pub mod names {
    /// The state input is not what the step needs (a bug or a tampered start).
    pub const INVALID_INPUT: &str = "InvalidInput";
    /// The tag, commit or repository of the candidate is not acceptable.
    pub const INVALID_CANDIDATE: &str = "InvalidCandidate";
    /// A port (AWS service, local store) failed; retrying may help.
    pub const DEPENDENCY_FAILED: &str = "DependencyFailed";
    /// The change set could not be created or described.
    pub const CHANGE_SET_FAILED: &str = "ChangeSetFailed";
    /// What was approved is no longer what would be deployed.
    pub const VALIDATION_FAILED: &str = "ValidationFailed";
    /// The stack update failed or rolled back.
    pub const STACK_DEPLOY_FAILED: &str = "StackDeployFailed";
    /// A bounded wait (change set, stack, Amplify job) ran out of polls.
    pub const WAIT_EXHAUSTED: &str = "WaitExhausted";
    /// The Amplify job failed or was cancelled.
    pub const AMPLIFY_JOB_FAILED: &str = "AmplifyJobFailed";
    /// At least one integration test failed.
    pub const INTEGRATION_TESTS_FAILED: &str = "IntegrationTestsFailed";
    /// A performance budget was exceeded.
    pub const PERFORMANCE_BUDGET_EXCEEDED: &str = "PerformanceBudgetExceeded";
    /// A human rejected the candidate (sent through the task token).
    pub const REJECTED: &str = "Rejected";
    /// A newer candidate replaced this one while it waited (sent through the token).
    pub const SUPERSEDED: &str = "Superseded";
    /// No (or not enough) approvers are configured to decide an approval.
    pub const NO_APPROVERS: &str = "NoApprovers";
    /// An artifact the approval bound (its manifest) differs from what was approved.
    pub const ARTIFACT_CHANGED: &str = "ArtifactChanged";
    /// The package build's output is missing something its template names, or names
    /// another build's output.
    pub const PACKAGE_INCOMPLETE: &str = "PackageIncomplete";

    /// All of them, for documentation checks.
    pub const ALL: &[&str] = &[
        INVALID_INPUT,
        INVALID_CANDIDATE,
        DEPENDENCY_FAILED,
        CHANGE_SET_FAILED,
        VALIDATION_FAILED,
        STACK_DEPLOY_FAILED,
        WAIT_EXHAUSTED,
        AMPLIFY_JOB_FAILED,
        INTEGRATION_TESTS_FAILED,
        PERFORMANCE_BUDGET_EXCEEDED,
        REJECTED,
        SUPERSEDED,
        NO_APPROVERS,
        ARTIFACT_CHANGED,
        PACKAGE_INCOMPLETE,
    ];
}

/// A port's failure, with what was being attempted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct PortError {
    pub operation: String,
    pub message: String,
}

impl PortError {
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        PortError {
            operation: operation.into(),
            message: message.into(),
        }
    }
}

impl From<PortError> for StepError {
    fn from(e: PortError) -> Self {
        StepError::new(names::DEPENDENCY_FAILED, e.to_string())
    }
}

/// `InvalidInput` naming the field.
pub fn invalid_input(msg: impl Into<String>) -> StepError {
    StepError::new(names::INVALID_INPUT, msg)
}

#[cfg(test)]
mod tests {
    /// The names are a contract: the README must list every one.
    #[test]
    fn the_readme_lists_every_error_name() {
        let readme = include_str!("../../../README.md");
        for name in super::names::ALL {
            assert!(
                readme.contains(&format!("`{name}`")),
                "README.md does not document the error name {name}"
            );
        }
    }
}

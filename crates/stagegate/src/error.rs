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
    /// A port (AWS service, local store) failed in a way retrying may cure
    /// (throttling, a 5xx, a timeout): the state machine retries it.
    pub const DEPENDENCY_FAILED: &str = "DependencyFailed";
    /// A port refused the call in a way retrying will not change (access denied, not
    /// found, an invalid request): not retried, the run ends naming the call.
    pub const DEPENDENCY_REFUSED: &str = "DependencyRefused";
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
    /// A commit to promote has no staging run that ended ready with signed evidence.
    pub const NOT_STAGED: &str = "NotStaged";
    /// The staging evidence of a commit to promote does not verify.
    pub const EVIDENCE_INVALID: &str = "EvidenceInvalid";
    /// A commit to promote has not been ready on staging for the soak time yet, and
    /// the production run is configured to refuse rather than wait.
    pub const SOAK_INCOMPLETE: &str = "SoakIncomplete";
    /// An approved promotion met a freeze and the calendar ends runs in freezes.
    pub const DEPLOYMENT_FROZEN: &str = "DeploymentFrozen";
    /// The next deployment window opens after the run's 7 days end.
    pub const WINDOW_UNREACHABLE: &str = "WindowUnreachable";
    /// One of the app's alarms went off, or a smoke suite failed, while the deployed
    /// release baked: the run rolls it back.
    pub const BAKE_FAILED: &str = "BakeFailed";
    /// The automatic rollback could not be made: no earlier release on this stage, its
    /// evidence does not hold, or its redeploy failed. The failed release stays.
    pub const ROLLBACK_FAILED: &str = "RollbackFailed";
    /// A run's ending: its release was rolled back to the previous one (the run's
    /// `Fail` state; Notify says what tripped it).
    pub const ROLLED_BACK: &str = "RolledBack";
    /// A rollback on request names a release that never went live on the stage
    /// through stagegate (or another commit under its tag), or the one live now.
    pub const ROLLBACK_REFUSED: &str = "RollbackRefused";

    /// All of them, for documentation checks.
    pub const ALL: &[&str] = &[
        INVALID_INPUT,
        INVALID_CANDIDATE,
        DEPENDENCY_FAILED,
        DEPENDENCY_REFUSED,
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
        NOT_STAGED,
        EVIDENCE_INVALID,
        SOAK_INCOMPLETE,
        DEPLOYMENT_FROZEN,
        WINDOW_UNREACHABLE,
        BAKE_FAILED,
        ROLLBACK_FAILED,
        ROLLED_BACK,
        ROLLBACK_REFUSED,
    ];
}

/// A port's failure, with what was being attempted and whether trying again may
/// cure it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{operation}: {message}")]
pub struct PortError {
    pub operation: String,
    pub message: String,
    /// `true`: throttling, a server error, a timeout — the step fails
    /// `DependencyFailed` and the state machine retries it. `false`: a refusal
    /// (access denied, not found, invalid request) — `DependencyRefused`, not retried.
    pub transient: bool,
}

impl PortError {
    /// A failure trying again may cure (the default where the cause is unknown).
    pub fn new(operation: impl Into<String>, message: impl Into<String>) -> Self {
        PortError {
            operation: operation.into(),
            message: message.into(),
            transient: true,
        }
    }

    /// A refusal trying again will not change.
    pub fn refused(operation: impl Into<String>, message: impl Into<String>) -> Self {
        PortError {
            transient: false,
            ..Self::new(operation, message)
        }
    }

    /// An HTTP API's answer `status`: transient for 408, 429 and 5xx, else a refusal.
    pub fn http(operation: impl Into<String>, status: u16, message: impl Into<String>) -> Self {
        PortError {
            transient: is_transient_status(status),
            ..Self::new(operation, message)
        }
    }
}

impl PortError {
    /// This failure as a step's error: a transient one stays `DependencyFailed`, which
    /// the state machine retries; a refusal becomes `refusal`, the step's own failure
    /// (`ChangeSetFailed`, `StackDeployFailed`, …), which it does not.
    pub fn refused_as(self, refusal: &'static str) -> StepError {
        if self.transient {
            self.into()
        } else {
            StepError::new(refusal, self.to_string())
        }
    }
}

/// Whether an HTTP status says "try again later": request timeout, too many
/// requests, or a server error.
pub fn is_transient_status(status: u16) -> bool {
    status == 408 || status == 429 || status >= 500
}

impl From<PortError> for StepError {
    fn from(e: PortError) -> Self {
        let name = if e.transient {
            names::DEPENDENCY_FAILED
        } else {
            names::DEPENDENCY_REFUSED
        };
        StepError::new(name, e.to_string())
    }
}

/// `InvalidInput` naming the field.
pub fn invalid_input(msg: impl Into<String>) -> StepError {
    StepError::new(names::INVALID_INPUT, msg)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What may pass is retried, what was refused is not: the names say which.
    #[test]
    fn transient_failures_are_dependency_failed_and_refusals_dependency_refused() {
        let e: StepError = PortError::new("publish", "ThrottlingException: slow down").into();
        assert_eq!(e.name, "DependencyFailed");
        let e: StepError = PortError::refused("publish", "AuthorizationError: no").into();
        assert_eq!(e.name, "DependencyRefused");
        assert_eq!(e.message, "publish: AuthorizationError: no");
        for (status, transient) in [(500, true), (503, true), (429, true), (408, true)] {
            assert_eq!(PortError::http("GET /", status, "x").transient, transient);
        }
        for status in [400, 401, 403, 404, 409, 422] {
            assert!(!PortError::http("GET /", status, "x").transient, "{status}");
        }
        let throttled = PortError::new("create change set", "Throttling: slow down");
        assert_eq!(
            throttled.refused_as(names::CHANGE_SET_FAILED).name,
            "DependencyFailed"
        );
        let invalid = PortError::refused("create change set", "ValidationError: bad");
        assert_eq!(
            invalid.refused_as(names::CHANGE_SET_FAILED).name,
            "ChangeSetFailed"
        );
    }

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

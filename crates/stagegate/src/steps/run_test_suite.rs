//! Integration Tests (`run-test-suite`): one HTTP suite, one Map iteration, run
//! against the deployed URLs. Test results go to Test Results (`test-report`).
//! The suite runs as [`crate::suite_run`] runs every suite.

use crate::error::StepError;
use crate::flow::SuiteResult;
use crate::ports::{Artifacts, Http};
use crate::results;
use crate::step::Step;
use crate::suite_run::run_suite;

/// The `run-test-suite` function's name.
pub const NAME: &str = "run-test-suite";

/// The suite and the deployment it runs against.
pub type Input = crate::suite_run::Target;

/// Run Test Suite: one HTTP suite against the deployed URLs.
pub struct RunTestSuite<H, A> {
    pub http: H,
    pub artifacts: A,
}

impl<H: Http, A: Artifacts> Step<Input, SuiteResult> for RunTestSuite<H, A> {
    const NAME: &'static str = NAME;

    /// The whole result goes to the run's prefix; the state carries its counts and
    /// first failures (`crate::results`).
    async fn run(&self, input: Input) -> Result<SuiteResult, StepError> {
        let prefix = input.artifacts_prefix.clone();
        let whole = run_suite(&self.http, &self.artifacts, input).await?;
        results::store(&self.artifacts, &prefix, whole).await
    }
}

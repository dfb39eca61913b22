//! What a step of the staging flow is: a value that owns exactly the ports it needs,
//! with a stable name, a typed input and a typed output.
//!
//! The same step value runs in three places: a Lambda binary serves it
//! (`stagegate_lambda::serve`), the embedded engine registers it under its name (the
//! rehearsal and the path tests), and unit tests call [`Step::run`] directly. A port
//! is a constructor argument, so a step cannot exist without the ports it uses:
//!
//! ```compile_fail
//! use stagegate::steps::suites::TestReport;
//! // No artifact store: this does not compile.
//! let step = TestReport::new();
//! ```
//!
//! ```
//! use stagegate::ports::{Artifacts, PortResult};
//! use stagegate::steps::suites::TestReport;
//! use stagegate::Step;
//! struct Nowhere;
//! impl Artifacts for Nowhere {
//!     async fn put(&self, key: &str, _: &str, _: Vec<u8>) -> PortResult<String> {
//!         Ok(format!("nowhere://{key}"))
//!     }
//!     async fn get(&self, _: &str) -> PortResult<Option<Vec<u8>>> {
//!         Ok(None)
//!     }
//! }
//! let step = TestReport::new(Nowhere);
//! assert_eq!(<TestReport<Nowhere> as Step>::NAME, "test-report");
//! # drop(step);
//! ```

use crate::error::{invalid_input, StepError};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;

/// One function of the staging flow.
pub trait Step: Send + Sync {
    /// The stable name: the crate under `functions/`, the Lambda function, the
    /// `${<Name>FunctionArn}` substitution (see [`substitution_key`]) and the name the
    /// engine registers it under.
    const NAME: &'static str;
    type Input: DeserializeOwned + Send;
    type Output: Serialize + Send;

    fn run(
        &self,
        input: Self::Input,
    ) -> impl Future<Output = Result<Self::Output, StepError>> + Send;
}

/// Runs `step` on a JSON event, as Lambda and the engine deliver it: input that does
/// not fit the step's type is `InvalidInput` naming the step and the field.
pub async fn invoke<S: Step>(step: &S, event: Value) -> Result<Value, StepError> {
    let input: S::Input = serde_json::from_value(event).map_err(|e| {
        invalid_input(format!(
            "{}: the input does not match what the step needs: {e}",
            S::NAME
        ))
    })?;
    let output = step.run(input).await?;
    // Our own types: serialising cannot fail in practice, but would still be an error.
    serde_json::to_value(&output)
        .map_err(|e| invalid_input(format!("{}: cannot serialise the output: {e}", S::NAME)))
}

/// `DeployFrontendFunctionArn` for `deploy-frontend`: the substitution that
/// `template.yaml` gives the definition for each function.
pub fn substitution_key(name: &str) -> String {
    let mut key = String::with_capacity(name.len() + 11);
    for word in name.split('-') {
        let mut chars = word.chars();
        if let Some(first) = chars.next() {
            key.extend(first.to_uppercase());
            key.push_str(chars.as_str());
        }
    }
    key.push_str("FunctionArn");
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn substitution_keys_follow_the_function_names() {
        assert_eq!(
            substitution_key("deploy-frontend"),
            "DeployFrontendFunctionArn"
        );
        assert_eq!(substitution_key("notify"), "NotifyFunctionArn");
    }
}

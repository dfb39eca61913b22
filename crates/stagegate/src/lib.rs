//! # stagegate — the domain
//!
//! The staging flow's steps as pure logic ([`steps`]) over ports ([`ports`]): no
//! Lambda, no Step Functions, no AWS SDK here. Each step is a type ([`Step`]) that owns
//! exactly its ports; the Lambda binaries (`functions/`), the local rehearsal and the
//! path tests all run these same step values.

pub mod approvals;
pub mod candidate;
pub mod error;
pub mod memory;
pub mod ports;
#[cfg(test)]
mod proptests;
pub mod settings;
pub mod step;
pub mod steps;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod web;
pub mod webhook;

pub use error::{PortError, StepError};
pub use settings::Settings;
pub use step::Step;

//! # stagegate — the domain
//!
//! The staging flow's steps as pure logic ([`steps`]) over ports ([`ports`]): no
//! Lambda, no Step Functions, no AWS SDK here. The Lambda binaries (`functions/`), the
//! local rehearsal and the path tests all call these same functions.

pub mod candidate;
pub mod error;
pub mod functions;
pub mod memory;
pub mod ports;
pub mod settings;
pub mod steps;
pub mod testing;
pub mod webhook;

pub use error::{PortError, StepError};
pub use settings::Settings;

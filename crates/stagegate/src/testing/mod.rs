//! Test support, behind the `testing` feature (and always in this crate's own
//! tests): in-memory doubles for every port and shared fixtures. Nothing here is in
//! a Lambda binary or the rehearsal.

mod doubles;
mod fixtures;

pub use doubles::*;
pub use fixtures::*;

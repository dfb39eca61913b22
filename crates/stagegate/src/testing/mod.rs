//! Test support, behind the `testing` feature (and always in this crate's own
//! tests): in-memory doubles for every port, shared fixtures, fault injection over any
//! adapter ([`Faulty`]), and [`MemoryTable`],
//! the in-memory approvals table (which the local rehearsal also keeps). Nothing
//! here is in a Lambda binary.

mod chat;
mod doubles;
mod events;
mod faults;
mod fixtures;
mod hosting;
mod stacks;
mod table;

pub use chat::*;
pub use doubles::*;
pub use events::*;
pub use faults::*;
pub use fixtures::*;
pub use hosting::*;
pub use stacks::*;
pub use table::*;

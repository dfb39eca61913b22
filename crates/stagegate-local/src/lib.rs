//! stagegate on a laptop: the staging flow in the embedded engine, with local
//! adapters.
//!
//! - [`world`]: one [`LocalWorld`] — the real definition, every function registered
//!   as the same step value a Lambda binary serves, the template's rules — that the
//!   rehearsal and the path tests both start.
//! - [`adapters`]: what each port means locally, one file per port.
//! - [`stepfunctions`]: the engine as Step Functions' token, execution and history
//!   APIs.
//! - [`server`]: HTTP on 127.0.0.1 (hyper), in the ecosystem's `http` types.
//! - [`rehearsal`]: `stagegate rehearse`; [`app`]: the app it deploys; [`procs`]: the
//!   processes it starts, all ended with it; [`private`]: its files that hold links
//!   and tokens, owner-only.

pub mod adapters;
pub mod app;
pub mod private;
pub mod procs;
pub mod rehearsal;
pub mod server;
pub mod slack;
pub mod stepfunctions;
pub mod world;

pub use stepfunctions::LocalStepFunctions;
pub use world::{LocalWorld, Ports, Production, Setup, Time};

//! # stagegate — the domain
//!
//! Every function of stagegate as pure logic over ports: no Lambda, no Step
//! Functions, no AWS SDK here. Four layers, each importing only the ones below it:
//!
//! 1. values: [`error`], [`records`] (what ports exchange), [`suite_spec`], [`text`]
//!    (strangers' text, rendered so it cannot forge structure);
//! 2. rules on them: [`ports`] (the traits), [`candidate`], [`step`] (what a function
//!    is), [`links`], [`changelog`], [`flow`] (what travels between states),
//!    [`status_events`] (the stack and frontend events the waits listen to),
//!    [`windows`] (production's deployment windows and freezes), [`wording`] (what an
//!    approval asks, and when, as people read it);
//! 3. what several functions share: [`settings`], [`desk`] (deciding approvals),
//!    [`waiting`] (event-driven deploy waits), [`timeline`], [`manifest`] (what an
//!    approval binds), [`results`] (what grows with the input, kept out of the
//!    state), [`metrics`] (stagegate's own, as EMF lines), [`suite_run`] (an HTTP
//!    suite against a deployment), [`slack`] (asking in Slack, its signatures, keeping
//!    its messages true);
//! 4. the functions themselves: [`steps`], one module per function, none naming
//!    another; and the in-memory doubles ([`testing`], behind the `testing` feature).
//!
//! `tests/layers.rs` holds the code to this plan.
//!
//! The Lambda binaries (`functions/`), the local rehearsal and the path tests all
//! run the same step values.

pub mod candidate;
pub mod changelog;
pub mod desk;
pub mod error;
pub mod flow;
pub mod links;
pub mod manifest;
pub mod metrics;
pub mod ports;
pub mod records;
pub mod results;
pub mod settings;
pub mod slack;
pub mod status_events;
pub mod step;
pub mod steps;
pub mod suite_run;
pub mod suite_spec;
pub mod summary;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod text;
pub mod timeline;
pub mod waiting;
pub mod windows;
pub mod wording;

pub use error::{PortError, StepError};
pub use settings::Settings;
pub use step::Step;

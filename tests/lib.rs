//! What the workspace-level tests (`paths/`, `template/`, `moto/`) and the load drill
//! (`load/`) share: [`Flow`], the staging flow on in-memory doubles with a fault
//! plan; [`ScriptedBuilds`], CodeBuild's stand-in; the fault [`drills`] and the
//! [`load`] drills; the approvals [`table`]'s drills; and the coverage [`recording`].

pub mod builds;
pub mod drills;
pub mod flow;
pub mod load;
pub mod promotion;
pub mod recording;
pub mod remote;
pub mod table;

pub use builds::ScriptedBuilds;
pub use flow::Flow;

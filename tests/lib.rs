//! Workspace-level tests live in `paths/` (the state machine's routes); this library
//! is empty on purpose: Cargo needs a target to hang the tests on.

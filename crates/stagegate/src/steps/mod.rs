//! One module per function, named as the function (`deploy_frontend` for
//! `deploy-frontend`, whose state is "Deploy Frontend"): its step or endpoint type,
//! its input and output, and its unit tests. A step owns exactly its ports, takes
//! typed input and returns typed output or a [`crate::error::StepError`] whose name the
//! state machine routes on. No step module imports another; what they share lives
//! below them ([`crate::flow`], [`crate::waiting`], [`crate::desk`], ...). Nothing
//! here knows about Lambda, Step Functions or AWS SDKs.

pub mod approval_page;
pub mod await_frontend;
pub mod await_stack;
pub mod bake;
pub mod capture_outputs;
pub mod check_deployment_window;
pub mod create_change_set;
pub mod deploy_frontend;
pub mod deploy_infrastructure;
pub mod describe_change_set;
pub mod generate_checklist;
pub mod mark_release_ready;
pub mod notify;
pub mod performance_tests;
pub mod preflight;
pub mod read_suite_report;
pub mod reconcile_approvals;
pub mod request_approval;
pub mod resume_wait;
pub mod roll_back;
pub mod run_test_suite;
pub mod slack_interactivity;
pub mod test_report;
pub mod validate_infrastructure;
pub mod verify_staged;
pub mod webhook;

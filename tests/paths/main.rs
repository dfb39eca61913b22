//! Path tests: `statemachine/staging.asl.json`, run by the embedded engine with the
//! real step code and in-memory ports, one test per route of the seed's decision
//! points. Time is virtual: a 24-hour approval timeout takes no real time.

mod acceptance;
mod approvals;
mod bake;
mod bake_production;
mod candidates;
mod commands;
mod coverage;
mod failures;
mod faults;
mod limits;
mod load;
mod promotion;
mod promotion_failures;
mod rollback_request;
mod routes;
mod unavailable;
mod waits;
mod windows;

/// Each route is a test of its own, and one entry of [`ROUTES`], which the coverage
/// test runs to see that every state and every Catch and Choice edge of the
/// definition is taken by some route.
macro_rules! routes {
    ($($module:ident :: $name:ident),* $(,)?) => {
        mod route {
            $(
                #[tokio::test(start_paused = true)]
                async fn $name() {
                    crate::$module::$name().await
                }
            )*
        }

        /// Every route: its name and its body.
        pub const ROUTES: &[(&str, fn() -> std::pin::Pin<Box<dyn std::future::Future<Output = ()>>>)] = &[
            $((stringify!($name), || Box::pin(crate::$module::$name())),)*
        ];
    };
}

routes! {
    rollback_request::a_rollback_asked_for_on_staging_is_previewed_approved_and_redeploys_the_release,
    rollback_request::a_rollback_to_a_release_that_never_went_live_is_refused_before_anyone_is_asked,
    rollback_request::a_rejected_rollback_is_cancelled_and_the_live_release_stays,
    rollback_request::a_rollback_asked_for_twice_runs_once,
    rollback_request::a_requested_rollback_whose_bake_fails_is_not_rolled_back_again,
    rollback_request::a_production_rollback_is_approved_by_the_quorum_and_redeploys_without_a_second_soak,
    rollback_request::a_production_rollback_rejected_by_one_approver_is_cancelled,
    bake::a_release_that_bakes_clean_is_ready_after_its_bake_time,
    bake::an_alarm_during_the_bake_rolls_the_release_back_to_the_previous_one,
    bake::a_failed_smoke_case_rolls_back_through_missed_events_and_a_slow_change_set,
    bake::a_previous_release_with_the_same_template_needs_only_its_frontend,
    bake::nothing_live_before_is_a_loud_rollback_failure_and_the_release_stays,
    bake::a_bake_that_cannot_read_the_alarms_fails_without_rolling_back,
    bake::a_rollback_whose_notices_cannot_be_sent_still_ends_by_name,
    bake::an_alarm_during_the_stack_update_is_undone_by_cloudformation_and_reported,
    bake_production::a_promotion_that_bakes_clean_is_promoted_after_its_bake_time,
    bake_production::a_promotion_whose_bake_trips_an_alarm_goes_back_to_the_previous_promotion,
    bake_production::a_previous_promotion_with_the_same_template_needs_only_its_frontend,
    bake_production::a_first_promotion_whose_bake_fails_cannot_roll_back_and_says_so,
    bake_production::a_promotions_bake_that_cannot_look_fails_without_rolling_back,
    bake_production::a_production_rollback_told_to_nobody_still_ends_by_name,
    windows::an_approved_promotion_outside_its_window_waits_for_the_next_opening,
    windows::a_freeze_that_ends_runs_cancels_an_approved_promotion_and_says_why,
    windows::two_approvers_breaking_the_glass_with_reasons_deploy_in_a_freeze_on_the_record,
    windows::a_window_the_run_cannot_live_to_see_ends_it_naming_when,
    windows::a_tampered_approval_answer_fails_the_window_check_by_name,
    promotion::a_staged_commit_soaks_is_approved_by_a_quorum_and_is_promoted,
    promotion::a_commit_no_staging_run_made_ready_is_not_staged_and_nothing_deploys,
    promotion::one_changed_byte_of_a_staged_object_is_evidence_invalid_before_anything_deploys,
    promotion::a_promotion_before_the_soak_is_refused_when_configured,
    promotion::a_staged_record_that_cannot_be_read_fails_verification_by_name,
    promotion::a_commit_soaked_long_ago_goes_straight_to_its_preview_and_a_rejection_cancels,
    promotion::no_production_decision_times_out_and_is_cancelled,
    promotion::a_newer_promotion_supersedes_one_waiting_and_a_newer_rc_does_not,
    promotion::too_few_production_approvers_fail_the_approval_by_name,
    promotion::a_staged_object_changed_after_the_production_approval_is_artifact_changed,
    promotion::a_production_stack_changed_after_approval_fails_validation,
    promotion_failures::a_production_change_set_that_cannot_be_created_fails_before_approval,
    promotion_failures::a_failed_production_change_set_fails_before_approval,
    promotion_failures::a_production_checklist_that_cannot_be_written_fails_before_approval,
    promotion_failures::a_rolled_back_production_stack_read_after_a_missed_event_fails_the_deploy,
    promotion_failures::a_rolled_back_production_stack_fails_the_deploy,
    promotion_failures::slow_production_waits_are_read_again_until_they_end_and_no_change_skips_the_deploy,
    promotion_failures::a_slow_production_stack_is_read_again_until_it_settles,
    promotion_failures::production_outputs_that_cannot_be_recorded_fail_the_deploy,
    promotion_failures::a_failed_production_frontend_job_fails_the_frontend_stage,
    promotion_failures::a_failed_production_frontend_job_read_after_a_missed_event_fails_the_frontend_stage,
    promotion_failures::a_failing_smoke_test_fails_the_promotion_by_name,
    promotion_failures::smoke_suites_that_cannot_be_read_fail_the_smoke_tests,
    promotion_failures::a_v_tag_that_is_not_a_version_fails_preflight_and_a_second_start_is_ignored,
    promotion_failures::production_notices_that_fail_still_end_each_run,
    promotion_failures::a_production_cancellation_notice_that_fails_still_ends_the_run,
    promotion_failures::a_release_that_cannot_be_published_fails_the_promotion_after_the_deploy,
    promotion_failures::evidence_that_cannot_be_recorded_leaves_the_release_without_it_and_the_run_promoted,
    load::ten_candidates_at_once_all_deploy_one_at_a_time_and_are_each_told,
    load::a_storm_of_tags_leaves_the_newest_and_tells_the_rest_once,
    load::a_burst_of_duplicate_deliveries_starts_one_run,
    faults::every_call_of_the_happy_path_survives_transient_faults_and_names_refusals,
    limits::ten_thousand_cases_keep_every_state_under_64_kb,
    limits::a_thousand_resource_changes_keep_every_state_under_64_kb,
    limits::ten_thousand_commits_keep_every_state_under_64_kb,
    limits::twenty_tags_in_a_minute_leave_one_waiting_and_tell_the_rest,
    limits::fifty_deliveries_of_one_push_start_one_run,
    unavailable::a_check_that_could_not_run_ends_the_run_as_checks_unavailable,
    unavailable::a_failed_check_without_a_cause_is_still_a_failed_check,
    unavailable::a_command_suite_that_could_not_run_is_checks_unavailable,
    unavailable::a_cancellation_without_a_cause_is_still_cancelled_and_told,
    failures::a_failed_package_build_ends_the_run_before_approval,
    failures::a_change_set_that_cannot_be_created_ends_the_run_before_approval,
    failures::a_failed_change_set_ends_the_run_before_approval,
    failures::a_change_set_still_being_computed_is_waited_for,
    failures::every_failed_check_is_recorded_and_approving_over_them_needs_a_reason,
    failures::no_infrastructure_change_skips_the_deploy,
    failures::a_change_set_that_cannot_execute_fails_the_infrastructure_stage,
    failures::outputs_that_cannot_be_recorded_fail_the_infrastructure_stage,
    failures::a_stack_that_never_settles_fails_with_wait_exhausted,
    failures::a_frontend_missing_its_stack_output_fails_the_frontend_stage,
    failures::suites_that_cannot_be_read_fail_the_integration_tests,
    failures::a_response_time_over_budget_fails_the_performance_stage,
    failures::a_checklist_that_cannot_be_written_fails_before_approval,
    failures::a_release_that_cannot_be_published_fails_the_release_stage,
    failures::no_approver_for_deployments_fails_by_name,
    failures::a_cancellation_notice_that_fails_still_ends_the_run_and_is_sent_by_the_rule,
    failures::a_failure_notice_that_fails_still_ends_the_run_and_is_sent_by_the_rule,
    routes::approved_candidate_is_deployed_tested_and_ready_for_production,
    routes::rejected_candidate_is_cancelled_and_notified,
    routes::no_decision_for_24_hours_times_out_and_is_cancelled,
    routes::a_failed_check_can_be_approved_with_a_reason_and_deployed,
    routes::a_stack_changed_after_approval_fails_validation,
    routes::an_artifact_changed_after_approval_is_artifact_changed_and_nothing_deploys,
    routes::a_rolled_back_stack_fails_the_infrastructure_stage,
    routes::a_failed_amplify_job_fails_the_frontend_stage,
    routes::a_failing_integration_test_fails_the_run_with_a_report,
    routes::an_invalid_tag_fails_preflight_and_is_notified,
    acceptance::user_acceptance_sign_off_completes_the_release,
    acceptance::rejected_user_acceptance_cancels_before_release,
    acceptance::user_acceptance_is_skipped_unless_configured,
    acceptance::no_approver_for_user_acceptance_fails_at_that_stage,
    acceptance::user_acceptance_without_a_decision_times_out,
    acceptance::a_newer_candidate_supersedes_one_in_user_acceptance,
    candidates::a_newer_candidate_supersedes_one_waiting_for_approval,
    candidates::a_newer_candidate_supersedes_one_still_in_its_checks,
    candidates::a_duplicate_trigger_does_not_start_a_second_deployment,
    candidates::two_starts_of_one_candidate_at_the_same_moment_run_once,
    approvals::an_approval_through_the_review_page_continues_the_run,
    approvals::a_decision_recorded_while_step_functions_is_down_is_delivered_by_the_reconcile,
    approvals::two_approvers_at_once_continue_the_run_once,
    approvals::a_run_stopped_while_waiting_for_approval_is_notified,
    approvals::a_run_that_exceeds_the_execution_timeout_is_notified,
    approvals::a_run_whose_own_notification_failed_is_notified_by_the_end_of_run_rule,
    waits::a_missed_stack_event_is_caught_by_one_status_read,
    waits::a_stack_slower_than_the_first_wait_is_resumed_by_its_event,
    waits::a_missed_frontend_event_is_caught_by_one_job_read,
    waits::a_frontend_job_that_never_ends_fails_with_wait_exhausted,
    waits::a_run_stopped_mid_deploy_does_not_block_the_next_one,
    commands::a_command_suite_runs_in_codebuild_and_its_report_joins_the_tests,
    commands::a_failing_command_suite_fails_the_run_naming_its_tests,
    commands::a_command_suite_report_that_cannot_be_read_fails_the_integration_tests,
}

use serde_json::{json, Value};
use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::ports::Topic;
use stagegate::testing::*;
use stagegate::Settings;
pub use stagegate_paths::builds::ScriptedBuilds;
pub use stagegate_paths::flow::*;
pub use stagegate_paths::flow::{SHA, SHA2};
use std::collections::BTreeMap;
use std::time::Duration;

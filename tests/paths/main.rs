//! Path tests: `statemachine/staging.asl.json`, run by the embedded engine with the
//! real step code and in-memory ports, one test per route of the seed's decision
//! points. Time is virtual: a 24-hour approval timeout takes no real time.

mod acceptance;
mod approvals;
mod builds;
mod candidates;
mod commands;
mod coverage;
mod failures;
mod limits;
mod routes;
mod unavailable;
mod waits;

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

use asl_engine::{Engine, ExecutionDescription, HistoryEvent};
use builds::ScriptedBuilds;
use serde_json::{json, Value};
use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::links::{form_token, hash_id};
use stagegate::ports::{Message, Topic};
use stagegate::testing::*;
use stagegate::Settings;
use stagegate_local::{LocalStepFunctions, LocalWorld, Ports, Setup, Time};
use std::collections::BTreeMap;
use std::time::Duration;

pub const SHA: &str = "0123456789abcdef0123456789abcdef01234567";
pub const SHA2: &str = "fedcba9876543210fedcba9876543210fedcba98";
pub const SUITES: &[&str] = &["auth", "content", "oauth", "ai"];

/// One staging deployment world: the local world the rehearsal also runs (the real
/// definition, the same step values), on in-memory doubles the tests inspect and
/// virtual time.
pub struct Flow {
    pub world: LocalWorld,
    pub engine: Engine,
    pub state_machine: String,
    pub settings: Settings,
    pub sfn: LocalStepFunctions,
    pub table: MemoryTable,
    pub artifacts: MemoryArtifacts,
    pub notifier: MemoryNotifier,
    pub stacks: MemoryStacks,
    pub hosting: MemoryHosting,
    pub http: MemoryHttp,
    pub repository: MemoryRepository,
    pub builds: ScriptedBuilds,
    /// The key the run's evidence is signed with.
    pub signer: stagegate_local::adapters::LocalSigner,
}

impl Default for Flow {
    fn default() -> Self {
        Self::new()
    }
}

impl Flow {
    pub fn new() -> Flow {
        Self::with_settings(Settings {
            suites: SUITES.iter().map(|s| s.to_string()).collect(),
            frontend_env: BTreeMap::from([("ApiUrl".to_string(), "VITE_API_URL".to_string())]),
            ..Settings::default()
        })
    }

    pub fn with_settings(settings: Settings) -> Flow {
        Self::with_approvers(settings, approvers())
    }

    /// A flow whose deployments and sign-offs these people decide.
    pub fn with_approvers(settings: Settings, people: Vec<stagegate::ports::Approver>) -> Flow {
        let commit = stagegate::ports::Commit {
            sha: SHA.into(),
            subject: "Add checkout".into(),
            author: "ana".into(),
        };
        let ports = Ports {
            artifacts: MemoryArtifacts::default(),
            notifier: MemoryNotifier::default(),
            stacks: MemoryStacks::default(),
            hosting: MemoryHosting::default(),
            http: MemoryHttp::default(),
            repository: MemoryRepository::new(Some("rc-1.3.0"), vec![commit]),
            signer: stagegate_local::adapters::LocalSigner::ephemeral()
                .unwrap_or_else(|e| panic!("{e}")),
        };
        for s in SUITES {
            let url = format!("https://staging.example.test/{s}");
            ports.http.route(&url, 200, &format!("{s} ok"));
        }
        let builds = ScriptedBuilds::uploading_to(ports.artifacts.clone());
        let world = LocalWorld::start(Setup {
            settings: settings.clone(),
            approvers: people,
            ports: ports.clone(),
            builds: builds.clone(),
            time: Time::Virtual,
            status_events: vec![ports.stacks.subscribe(), ports.hosting.subscribe()],
            reconcile_every: None,
        })
        .unwrap_or_else(|e| panic!("{e}"));
        coverage::record(&world.engine, &world.state_machine);
        Flow {
            engine: world.engine.clone(),
            state_machine: world.state_machine.clone(),
            sfn: world.runs.clone(),
            table: world.table.clone(),
            world,
            settings,
            artifacts: ports.artifacts,
            notifier: ports.notifier,
            stacks: ports.stacks,
            hosting: ports.hosting,
            http: ports.http,
            repository: ports.repository,
            signer: ports.signer,
            builds,
        }
    }

    /// Declares the app's suites in the run's artifacts, as its package step would.
    pub async fn publish_suites(&self, run: &str) {
        for s in SUITES {
            let spec = json!({"cases": [{"name": format!("{s} responds"), "request": {"url": format!("${{frontendUrl}}/{s}")}, "expect": {"status": 200, "bodyContains": "ok"}}]});
            let body = serde_json::to_vec(&spec).unwrap_or_default();
            stagegate::ports::Artifacts::put(
                &self.artifacts,
                &format!("runs/{run}/suites/{s}.json"),
                "application/json",
                body,
            )
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        }
    }

    /// Starts a run for `tag` at `sha`, named as stagegate names runs.
    pub async fn start(&self, tag: &str, sha: &str) -> String {
        let name = format!("{tag}--{}", &sha[..12]);
        self.publish_suites(&name).await;
        self.engine
            .start_execution(
                &self.state_machine,
                Some(&name),
                json!({"repository": "acme/shop", "tag": tag, "sha": sha, "pushedBy": "ana", "pusher": github_pusher("ana")}),
            )
            .unwrap_or_else(|e| panic!("start: {e}"))
    }

    /// Waits (in virtual time) for bob's approval email of `tag`; his link id.
    pub async fn approval_link(&self, tag: &str) -> String {
        self.link(tag, "approval-request", "bob").await
    }

    /// Waits for carol's user-acceptance (sign-off) email of `tag`.
    pub async fn acceptance_link(&self, tag: &str) -> String {
        self.link(tag, "acceptance-request", "carol").await
    }

    /// Waits for `approver`'s email of `kind` for `tag` and returns its link id.
    pub async fn link(&self, tag: &str, kind: &str, approver: &str) -> String {
        for _ in 0..100_000 {
            let found = self.notifier.messages().into_iter().rev().find(|(t, m)| {
                *t == Topic::Approvals
                    && m.attributes.get("tag").map(String::as_str) == Some(tag)
                    && m.attributes.get("kind").map(String::as_str) == Some(kind)
                    && m.attributes.get("approver").map(String::as_str) == Some(approver)
            });
            if let Some((_, m)) = found {
                let start = m
                    .body
                    .find("/approvals/")
                    .map(|i| i + "/approvals/".len())
                    .unwrap_or_default();
                return m.body[start..start + 43].to_string();
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
        panic!("no {kind} for {tag} was sent to {approver}");
    }

    /// Approves the deployment of `tag` as bob (the common case of most routes).
    pub async fn approve(&self, tag: &str) {
        let id = self.approval_link(tag).await;
        let decided = self.decide(&id, true, None).await;
        assert_eq!(decided, Ok(Decided::Approved), "approving {tag}");
    }

    /// The approval desk, as the page and the CLI use it.
    pub fn desk(&self) -> Desk<'_, MemoryTable, LocalStepFunctions, LocalStepFunctions> {
        self.world.desk()
    }

    /// The form token the review page gives the holder of link `id`.
    pub fn form_token(&self, id: &str) -> String {
        let hash = hash_id(id);
        self.table
            .links()
            .into_iter()
            .find(|l| l.id_hash == hash)
            .and_then(|link| {
                let record = self
                    .table
                    .records()
                    .into_iter()
                    .find(|r| r.id == link.approval_id)?;
                Some(form_token(&record, &link))
            })
            .unwrap_or_default()
    }

    /// Decides through the link `id`, with the form token its review page carries.
    pub async fn decide(
        &self,
        id: &str,
        approve: bool,
        reason: Option<&str>,
    ) -> Result<Decided, Refusal> {
        let token = self.form_token(id);
        let form = Form {
            approve,
            reason: reason.map(str::to_string),
            from: "203.0.113.9".into(),
        };
        self.desk()
            .decide_by_link(id, &token, form)
            .await
            .unwrap_or_else(|e| panic!("decide: {e}"))
    }

    pub async fn finish(&self, arn: &str) -> (ExecutionDescription, Vec<HistoryEvent>) {
        let done = self
            .engine
            .wait_for_execution(arn)
            .await
            .unwrap_or_else(|e| panic!("wait: {e}"));
        let history = self.engine.get_execution_history(arn).unwrap_or_default();
        // Let the end-of-run rule see the execution's end, as EventBridge would.
        tokio::time::sleep(Duration::from_secs(1)).await;
        (done, history)
    }

    /// The outcome notification (not approval requests).
    pub fn outcome_messages(&self) -> Vec<Message> {
        self.notifier
            .messages()
            .into_iter()
            .filter(|(t, _)| *t == Topic::Notifications)
            .map(|(_, m)| m)
            .collect()
    }

    pub fn artifact_keys(&self, run_prefix: &str) -> Vec<String> {
        self.artifacts
            .keys()
            .into_iter()
            .filter(|k| k.starts_with(run_prefix))
            .map(|k| k[run_prefix.len()..].to_string())
            .collect()
    }
}

/// Names of the states entered, in order.
pub fn route(history: &[HistoryEvent]) -> Vec<String> {
    asl_engine::history::states_entered(history)
}

/// Asserts `expected` appears in `route` in this order (other states may interleave).
pub fn assert_passes_through(route: &[String], expected: &[&str]) {
    let mut it = route.iter();
    for want in expected {
        assert!(
            it.any(|s| s == want),
            "route does not pass through {want:?} in order; route was {route:#?}"
        );
    }
}

pub fn assert_never_enters(route: &[String], states: &[&str]) {
    for s in states {
        assert!(
            !route.iter().any(|r| r == s),
            "route entered {s:?}: {route:#?}"
        );
    }
}

pub fn output(done: &ExecutionDescription) -> Value {
    done.output.clone().unwrap_or(Value::Null)
}

/// The artifacts prefix of the run of rc-1.4.0 at SHA.
pub const RUN: &str = "runs/rc-1.4.0--0123456789ab/";

/// Asserts which artifacts the run wrote, and which it must not have.
pub fn assert_artifacts(flow: &Flow, run: &str, present: &[&str], absent: &[&str]) {
    let keys = flow.artifact_keys(run);
    for a in present {
        assert!(
            keys.iter().any(|k| k == a),
            "artifact {a} missing: {keys:?}"
        );
    }
    for a in absent {
        assert!(
            !keys.iter().any(|k| k == a),
            "artifact {a} should not exist: {keys:?}"
        );
    }
}

pub fn only_outcome(flow: &Flow) -> Message {
    let msgs = flow.outcome_messages();
    assert_eq!(msgs.len(), 1, "exactly one outcome notification: {msgs:#?}");
    msgs.into_iter().next().unwrap_or_else(|| unreachable!())
}

/// A flow with User Acceptance Testing on.
pub fn with_user_acceptance() -> Flow {
    let flow = Flow::new();
    let settings = Settings {
        user_acceptance: true,
        ..flow.settings.clone()
    };
    Flow::with_settings(settings)
}

/// Asserts the run ended with one failure notice, at `stage`, naming `error`.
pub fn assert_failed_at(flow: &Flow, stage: &str, error: &str) -> Message {
    let m = only_outcome(flow);
    assert_eq!(
        (
            m.attributes["outcome"].as_str(),
            m.attributes["stage"].as_str(),
            m.attributes.get("error").map(String::as_str)
        ),
        ("failure", stage, Some(error)),
        "{m:#?}"
    );
    assert_eq!(
        m.subject,
        format!("❌ acme/shop rc-1.4.0 failed at {stage}")
    );
    m
}

/// The outcome and the stage an outcome notification reports.
pub fn outcome_at(m: &Message) -> (&str, &str) {
    (
        m.attributes["outcome"].as_str(),
        m.attributes["stage"].as_str(),
    )
}

/// The text of artifact `name` of the run of rc-1.4.0 at SHA (empty when absent).
pub fn run_artifact(flow: &Flow, name: &str) -> String {
    let bytes = flow.artifacts.get_sync(&format!("{RUN}{name}"));
    String::from_utf8(bytes.unwrap_or_default()).unwrap_or_default()
}

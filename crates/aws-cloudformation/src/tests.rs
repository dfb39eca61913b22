//! The adapter against the SDK's own mocks: each call's success, its errors, the
//! SDK's retries on throttling, and "no changes".

use super::*;
use aws_sdk_cloudformation::operation::create_change_set::CreateChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_change_set::DescribeChangeSetOutput;
use aws_sdk_cloudformation::operation::describe_stack_events::DescribeStackEventsOutput;
use aws_sdk_cloudformation::operation::describe_stacks::DescribeStacksOutput;
use aws_sdk_cloudformation::operation::execute_change_set::ExecuteChangeSetOutput;
use aws_sdk_cloudformation::operation::get_template_summary::GetTemplateSummaryOutput;
use aws_sdk_cloudformation::types::{
    Change, ChangeAction, Output, ParameterDeclaration, Replacement, ResourceChange as Rc,
    ResourceStatus, Stack, StackEvent, StackStatus,
};
use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};
use aws_smithy_types::DateTime;

fn stacks(rules: &[&Rule]) -> CfnStacks {
    let client = mock_client!(aws_sdk_cloudformation, RuleMode::MatchAny, rules, |c| c
        .retry_config(aws_common::fast_retries()));
    CfnStacks::new(client, "artifacts-bucket", "eu-west-1")
}

/// An awsQuery error body, as CloudFormation sends it.
fn query_error(code: &str, message: &str) -> String {
    format!(
        "<ErrorResponse><Error><Type>Sender</Type><Code>{code}</Code>\
         <Message>{message}</Message></Error><RequestId>r</RequestId></ErrorResponse>"
    )
}

fn missing_stack() -> Rule {
    mock!(Client::describe_stacks)
        .sequence()
        .http_status(
            400,
            Some(query_error(
                "ValidationError",
                "Stack with id app does not exist",
            )),
        )
        .repeatedly()
        .build()
}

fn existing_stack(status: StackStatus) -> Rule {
    mock!(Client::describe_stacks).then_output(move || {
        DescribeStacksOutput::builder()
            .stacks(
                Stack::builder()
                    .stack_name("app")
                    .stack_id("arn:aws:cloudformation:eu-west-1:1:stack/app/1")
                    .stack_status(status.clone())
                    .creation_time(DateTime::from_secs(1_700_000_000))
                    .last_updated_time(DateTime::from_secs(1_700_000_600))
                    .parameters(
                        aws_sdk_cloudformation::types::Parameter::builder()
                            .parameter_key("Stage")
                            .parameter_value("staging")
                            .build(),
                    )
                    .outputs(
                        Output::builder()
                            .output_key("ApiUrl")
                            .output_value("https://api.example")
                            .build(),
                    )
                    .build(),
            )
            .build()
    })
}

fn summary(params: &'static [&'static str]) -> Rule {
    mock!(Client::get_template_summary).then_output(move || {
        let mut b = GetTemplateSummaryOutput::builder();
        for p in params {
            b = b.parameters(ParameterDeclaration::builder().parameter_key(*p).build());
        }
        b.build()
    })
}

fn request() -> ChangeSetRequest {
    ChangeSetRequest {
        stack_name: "app".into(),
        change_set_name: "stagegate-rc-1".into(),
        template_uri: "runs/rc-1/packaged.yaml".into(),
        parameters: BTreeMap::from([("Version".to_string(), "1.4.0".to_string())]),
        rollback_triggers: vec!["arn:aws:cloudwatch:eu-west-1:1:alarm:app-5xx".into()],
        monitoring_minutes: 10,
    }
}

#[tokio::test]
async fn a_new_stack_gets_a_create_change_set_with_sam_capabilities() {
    let create = mock!(Client::create_change_set)
        .match_requests(|r| {
            r.change_set_type() == Some(&ChangeSetType::Create)
                && r.capabilities()
                    == [
                        Capability::CapabilityIam,
                        Capability::CapabilityNamedIam,
                        Capability::CapabilityAutoExpand,
                    ]
                && r.template_url()
                    == Some("https://artifacts-bucket.s3.eu-west-1.amazonaws.com/runs/rc-1/packaged.yaml")
                && r.parameters().len() == 1
                && r.parameters()[0].parameter_value() == Some("1.4.0")
                // The app's alarms as rollback triggers, with the monitoring time.
                && r.rollback_configuration().is_some_and(|c| {
                    c.monitoring_time_in_minutes() == Some(10)
                        && c.rollback_triggers().len() == 1
                        && c.rollback_triggers()[0].arn() == Some("arn:aws:cloudwatch:eu-west-1:1:alarm:app-5xx")
                        && c.rollback_triggers()[0].r#type() == Some("AWS::CloudWatch::Alarm")
                })
        })
        .then_output(|| CreateChangeSetOutput::builder().id("cs-1").build());
    let s = stacks(&[&missing_stack(), &summary(&["Version", "Stage"]), &create]);
    assert_eq!(s.create_change_set(&request()).await.unwrap(), "cs-1");
    assert_eq!(create.num_calls(), 1);
}

#[tokio::test]
async fn an_existing_stack_gets_an_update_that_keeps_previous_parameter_values() {
    let create = mock!(Client::create_change_set)
        .match_requests(|r| {
            let p = r.parameters();
            r.change_set_type() == Some(&ChangeSetType::Update)
                && p.len() == 2
                && p[0].parameter_key() == Some("Version")
                && p[0].parameter_value() == Some("1.4.0")
                && p[1].parameter_key() == Some("Stage")
                && p[1].use_previous_value() == Some(true)
        })
        .then_output(|| CreateChangeSetOutput::builder().id("cs-2").build());
    let s = stacks(&[
        &existing_stack(StackStatus::UpdateComplete),
        &summary(&["Version", "Stage", "New"]),
        &create,
    ]);
    assert_eq!(s.create_change_set(&request()).await.unwrap(), "cs-2");
}

#[tokio::test]
async fn the_deployment_role_is_passed_to_cloudformation() {
    let create = mock!(Client::create_change_set)
        .match_requests(|r| r.role_arn() == Some("arn:aws:iam::1:role/deployer"))
        .then_output(|| CreateChangeSetOutput::builder().id("cs-5").build());
    let s = stacks(&[&missing_stack(), &summary(&[]), &create])
        .with_deployment_role(Some("arn:aws:iam::1:role/deployer".into()));
    assert_eq!(s.create_change_set(&request()).await.unwrap(), "cs-5");
}

#[tokio::test]
async fn a_stack_under_review_is_still_created() {
    let create = mock!(Client::create_change_set)
        .match_requests(|r| r.change_set_type() == Some(&ChangeSetType::Create))
        .then_output(|| CreateChangeSetOutput::builder().id("cs-3").build());
    let s = stacks(&[
        &existing_stack(StackStatus::ReviewInProgress),
        &summary(&[]),
        &create,
    ]);
    assert_eq!(s.create_change_set(&request()).await.unwrap(), "cs-3");
}

#[tokio::test]
async fn a_refused_change_set_names_the_code_and_message() {
    let create = mock!(Client::create_change_set)
        .sequence()
        .http_status(
            400,
            Some(query_error(
                "AlreadyExistsException",
                "ChangeSet stagegate-rc-1 already exists",
            )),
        )
        .build();
    let s = stacks(&[&missing_stack(), &summary(&[]), &create]);
    let e = s.create_change_set(&request()).await.unwrap_err();
    assert_eq!(e.operation, "create change set stagegate-rc-1");
    assert!(
        e.message.starts_with("AlreadyExistsException: ChangeSet"),
        "{e}"
    );
}

#[tokio::test]
async fn throttling_is_retried_by_the_sdk_then_succeeds() {
    let create = mock!(Client::create_change_set)
        .sequence()
        .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
        .times(2)
        .output(|| CreateChangeSetOutput::builder().id("cs-4").build())
        .build();
    let s = stacks(&[&missing_stack(), &summary(&[]), &create]);
    assert_eq!(s.create_change_set(&request()).await.unwrap(), "cs-4");
    assert_eq!(create.num_calls(), 3);
}

#[tokio::test]
async fn throttling_that_outlasts_the_retries_is_reported_as_throttling() {
    let create = mock!(Client::create_change_set)
        .sequence()
        .http_status(400, Some(query_error("Throttling", "Rate exceeded")))
        .repeatedly()
        .build();
    let s = stacks(&[&missing_stack(), &summary(&[]), &create]);
    let e = s.create_change_set(&request()).await.unwrap_err();
    assert!(e.message.contains("Throttling: Rate exceeded"), "{e}");
    assert!(e.message.contains("throttled"), "{e}");
    assert_eq!(create.num_calls(), 3);
}

#[test]
fn template_locations_become_https_urls() {
    let s = stacks(&[]);
    assert_eq!(
        s.template_url("s3://other/k/t.yaml").unwrap(),
        "https://other.s3.eu-west-1.amazonaws.com/k/t.yaml"
    );
    assert_eq!(s.template_url("https://x/y").unwrap(), "https://x/y");
    for bad in ["", "s3://bucket-only", "ftp://x/y"] {
        let e = s.template_url(bad).unwrap_err();
        assert!(e.message.contains(bad), "{e}");
    }
}

fn change(action: ChangeAction, id: &str, replacement: Option<Replacement>) -> Change {
    Change::builder()
        .resource_change(
            Rc::builder()
                .action(action)
                .logical_resource_id(id)
                .resource_type("AWS::Lambda::Function")
                .set_replacement(replacement)
                .build(),
        )
        .build()
}

#[tokio::test]
async fn a_ready_change_set_lists_every_change_across_pages() {
    let describe = mock!(Client::describe_change_set)
        .sequence()
        .output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_id("cs-1")
                .stack_name("app")
                .status(CfnStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .changes(change(ChangeAction::Add, "Api", None))
                .next_token("page-2")
                .build()
        })
        .output(|| {
            DescribeChangeSetOutput::builder()
                .change_set_id("cs-1")
                .stack_name("app")
                .status(CfnStatus::CreateComplete)
                .execution_status(ExecutionStatus::Available)
                .changes(change(ChangeAction::Modify, "Db", Some(Replacement::True)))
                .build()
        })
        .build();
    let cs = stacks(&[&describe])
        .describe_change_set("cs-1")
        .await
        .unwrap();
    assert_eq!(cs.status, ChangeSetStatus::Ready);
    assert!(cs.executable);
    assert_eq!(cs.stack_name, "app");
    let summary: Vec<_> = cs
        .changes
        .iter()
        .map(|c| {
            (
                c.action.as_str(),
                c.logical_id.as_str(),
                c.replacement.as_str(),
            )
        })
        .collect();
    assert_eq!(summary, [("Add", "Api", ""), ("Modify", "Db", "True")]);
}

#[tokio::test]
async fn a_change_set_being_computed_is_pending() {
    let describe = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .change_set_id("cs-1")
            .status(CfnStatus::CreateInProgress)
            .execution_status(ExecutionStatus::Unavailable)
            .build()
    });
    let cs = stacks(&[&describe])
        .describe_change_set("cs-1")
        .await
        .unwrap();
    assert_eq!(cs.status, ChangeSetStatus::Pending);
    assert!(!cs.executable);
}

#[tokio::test]
async fn a_change_set_without_changes_is_no_changes_not_a_failure() {
    let describe = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .change_set_id("cs-1")
            .status(CfnStatus::Failed)
            .status_reason("The submitted information didn't contain changes. Submit different information to create a change set.")
            .execution_status(ExecutionStatus::Unavailable)
            .build()
    });
    let cs = stacks(&[&describe])
        .describe_change_set("cs-1")
        .await
        .unwrap();
    assert_eq!(cs.status, ChangeSetStatus::NoChanges);
    assert!(cs.changes.is_empty());
}

#[tokio::test]
async fn a_failed_change_set_keeps_its_reason() {
    let describe = mock!(Client::describe_change_set).then_output(|| {
        DescribeChangeSetOutput::builder()
            .change_set_id("cs-1")
            .status(CfnStatus::Failed)
            .status_reason("Template format error: Unresolved resource dependencies [Db]")
            .build()
    });
    let cs = stacks(&[&describe])
        .describe_change_set("cs-1")
        .await
        .unwrap();
    assert_eq!(cs.status, ChangeSetStatus::Failed);
    assert!(cs.status_reason.unwrap().contains("Unresolved resource"));
}

#[tokio::test]
async fn describing_a_deleted_change_set_is_an_error() {
    let describe = mock!(Client::describe_change_set)
        .sequence()
        .http_status(
            404,
            Some(query_error(
                "ChangeSetNotFound",
                "ChangeSet [cs-1] does not exist",
            )),
        )
        .build();
    let e = stacks(&[&describe])
        .describe_change_set("cs-1")
        .await
        .unwrap_err();
    assert!(e.message.starts_with("ChangeSetNotFound"), "{e}");
}

#[tokio::test]
async fn executing_a_change_set() {
    let ok = mock!(Client::execute_change_set)
        .match_requests(|r| r.change_set_name() == Some("cs-1"))
        .then_output(|| ExecuteChangeSetOutput::builder().build());
    stacks(&[&ok]).execute_change_set("cs-1").await.unwrap();
    assert_eq!(ok.num_calls(), 1);

    let stale = mock!(Client::execute_change_set)
        .sequence()
        .http_status(
            400,
            Some(query_error(
                "InvalidChangeSetStatus",
                "ChangeSet [cs-1] cannot be executed in its current status of [OBSOLETE]",
            )),
        )
        .build();
    let e = stacks(&[&stale])
        .execute_change_set("cs-1")
        .await
        .unwrap_err();
    assert!(e.message.contains("OBSOLETE"), "{e}");
}

#[tokio::test]
async fn a_stack_reports_status_version_and_outputs() {
    let info = stacks(&[&existing_stack(StackStatus::UpdateRollbackComplete)])
        .stack("app")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(info.status, "UPDATE_ROLLBACK_COMPLETE");
    assert_eq!(info.outputs["ApiUrl"], "https://api.example");
    assert!(info
        .version
        .starts_with("arn:aws:cloudformation:eu-west-1:1:stack/app/1@"));
    assert!(
        info.version.contains("2023-11-14T22:23:20Z"),
        "{}",
        info.version
    );
}

#[tokio::test]
async fn a_missing_stack_is_none_and_other_errors_are_errors() {
    assert_eq!(
        stacks(&[&missing_stack()]).stack("app").await.unwrap(),
        None
    );
    let denied = mock!(Client::describe_stacks)
        .sequence()
        .http_status(
            403,
            Some(query_error(
                "AccessDenied",
                "not authorized to perform: cloudformation:DescribeStacks",
            )),
        )
        .build();
    let e = stacks(&[&denied]).stack("app").await.unwrap_err();
    assert!(e.message.starts_with("AccessDenied"), "{e}");
}

fn event(id: &str, ty: &str, status: ResourceStatus, reason: &str) -> StackEvent {
    StackEvent::builder()
        .stack_id("s")
        .event_id(format!("{id}-{}", status.as_str()))
        .stack_name("app")
        .logical_resource_id(id)
        .resource_type(ty)
        .resource_status(status)
        .resource_status_reason(reason)
        .timestamp(DateTime::from_secs(0))
        .build()
}

#[tokio::test]
async fn the_failure_reason_is_the_first_failed_resource_of_the_latest_operation() {
    let events = mock!(Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            // newest first
            .stack_events(event(
                "app",
                "AWS::CloudFormation::Stack",
                ResourceStatus::UpdateRollbackComplete,
                "",
            ))
            .stack_events(event(
                "Api",
                "AWS::Lambda::Function",
                ResourceStatus::UpdateFailed,
                "Resource update cancelled",
            ))
            .stack_events(event(
                "Db",
                "AWS::DynamoDB::Table",
                ResourceStatus::UpdateFailed,
                "Table already exists",
            ))
            .stack_events(event(
                "app",
                "AWS::CloudFormation::Stack",
                ResourceStatus::UpdateInProgress,
                "User Initiated",
            ))
            .stack_events(event(
                "Old",
                "AWS::S3::Bucket",
                ResourceStatus::CreateFailed,
                "an older operation",
            ))
            .build()
    });
    let reason = stacks(&[&events]).failure_reason("app").await.unwrap();
    assert_eq!(
        reason.as_deref(),
        Some("Db (AWS::DynamoDB::Table): Table already exists")
    );
}

#[tokio::test]
async fn no_failed_resource_means_no_reason() {
    let events = mock!(Client::describe_stack_events).then_output(|| {
        DescribeStackEventsOutput::builder()
            .stack_events(event(
                "app",
                "AWS::CloudFormation::Stack",
                ResourceStatus::UpdateComplete,
                "",
            ))
            .build()
    });
    assert_eq!(
        stacks(&[&events]).failure_reason("app").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn unreadable_stack_events_are_an_error() {
    let events = mock!(Client::describe_stack_events)
        .sequence()
        .http_status(
            400,
            Some(query_error("ValidationError", "Stack [app] does not exist")),
        )
        .build();
    let e = stacks(&[&events]).failure_reason("app").await.unwrap_err();
    assert_eq!(e.operation, "describe stack events of app");
    assert!(e.message.starts_with("ValidationError"), "{e}");
}

#[tokio::test]
async fn an_unreadable_packaged_template_stops_before_any_change_set() {
    let summary = mock!(Client::get_template_summary)
        .sequence()
        .http_status(
            400,
            Some(query_error("ValidationError", "S3 error: Access Denied")),
        )
        .build();
    let create = mock!(Client::create_change_set)
        .then_output(|| CreateChangeSetOutput::builder().id("never").build());
    let s = stacks(&[&missing_stack(), &summary, &create]);
    let e = s.create_change_set(&request()).await.unwrap_err();
    assert_eq!(e.operation, "read the packaged template's parameters");
    assert!(e.message.contains("Access Denied"), "{e}");
    assert_eq!(create.num_calls(), 0);
}

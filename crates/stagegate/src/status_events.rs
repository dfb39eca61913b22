//! The resource status events stagegate's waits listen to, as EventBridge carries
//! them: CloudFormation's "Stack Status Change" and Amplify's "Deployment Status
//! Change". Building them (the local stack and hosting, the doubles), reading them
//! (`resume-wait`), and what a stack status means for a deployment.

use crate::error::{invalid_input, StepError};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{json, Value};

/// The function status events go to (the name in refusals of a malformed event).
const RESUME_WAIT: &str = "resume-wait";

/// CloudFormation's stack status events on EventBridge.
pub const STACK_STATUS_CHANGE: &str = "CloudFormation Stack Status Change";
/// Amplify's job status events on EventBridge.
pub const AMPLIFY_STATUS_CHANGE: &str = "Amplify Deployment Status Change";

/// The event CloudFormation sends when stack `stack_id` (an ARN, or a bare name
/// locally) reaches `status`.
pub fn stack_status_event(stack_id: &str, status: &str, reason: Option<&str>) -> Value {
    json!({
        "version": "0", "detail-type": STACK_STATUS_CHANGE, "source": "aws.cloudformation",
        "resources": [stack_id],
        "detail": {
            "stack-id": stack_id,
            "status-details": {"status": status, "status-reason": reason.unwrap_or_default()},
        },
    })
}

/// The event Amplify sends when job `job` of `app`'s `branch` changes status
/// (`STARTED`, `SUCCEED`, `FAILED`).
pub fn amplify_status_event(app: &str, branch: &str, job: &str, status: &str) -> Value {
    json!({
        "version": "0", "detail-type": AMPLIFY_STATUS_CHANGE, "source": "aws.amplify",
        "resources": [format!("arn:aws:amplify:::apps/{app}/branches/{branch}/jobs/{job}")],
        "detail": {"appId": app, "branchName": branch, "jobId": job, "jobStatus": status},
    })
}

/// `event` with its `time`: when the status changed, as every EventBridge event
/// carries it (the local stack and hosting stamp theirs; the doubles leave it out).
pub fn stamped(mut event: Value, time: DateTime<Utc>) -> Value {
    event["time"] = Value::String(time.to_rfc3339_opts(SecondsFormat::Millis, true));
    event
}

/// A resource status event, as `resume-wait` reads it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StatusEvent {
    Stack {
        name: String,
        status: String,
        reason: Option<String>,
    },
    Amplify {
        app: String,
        branch: String,
        job: String,
        status: String,
    },
}

/// Reads a status event; anything else is `InvalidInput` naming what is missing.
pub fn parse_status_event(event: &Value) -> Result<StatusEvent, StepError> {
    let text = |v: Option<&Value>, what: &str| {
        v.and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .ok_or_else(|| invalid_input(format!("{RESUME_WAIT}: the event has no {what}")))
    };
    let detail = event.get("detail");
    match event.get("detail-type").and_then(Value::as_str) {
        Some(STACK_STATUS_CHANGE) => {
            let id = text(detail.and_then(|d| d.get("stack-id")), "detail.stack-id")?;
            let details = detail.and_then(|d| d.get("status-details"));
            Ok(StatusEvent::Stack {
                name: stack_name(&id).to_string(),
                status: text(
                    details.and_then(|d| d.get("status")),
                    "status-details.status",
                )?,
                reason: details
                    .and_then(|d| d.get("status-reason"))
                    .and_then(Value::as_str)
                    .filter(|r| !r.is_empty())
                    .map(str::to_string),
            })
        }
        Some(AMPLIFY_STATUS_CHANGE) => Ok(StatusEvent::Amplify {
            app: text(detail.and_then(|d| d.get("appId")), "detail.appId")?,
            branch: text(
                detail.and_then(|d| d.get("branchName")),
                "detail.branchName",
            )?,
            job: text(detail.and_then(|d| d.get("jobId")), "detail.jobId")?,
            status: text(detail.and_then(|d| d.get("jobStatus")), "detail.jobStatus")?,
        }),
        other => Err(invalid_input(format!(
            "{}: not a stack or Amplify status event (detail-type {other:?})",
            RESUME_WAIT
        ))),
    }
}

/// When the event says its status changed (`time`), if it says so.
pub fn event_time(event: &Value) -> Option<DateTime<Utc>> {
    let t = event.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// The stack name in a stack id (`arn:…:stack/<name>/<uuid>`), or the id itself.
fn stack_name(id: &str) -> &str {
    id.split_once(":stack/")
        .map(|(_, rest)| rest.split('/').next().unwrap_or(rest))
        .unwrap_or(id)
}

/// Where a stack status leaves its deployment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackState {
    Complete,
    InProgress,
    /// Rolled back or failed: the deployment did not happen.
    Failed,
    /// Not a status a deployment ends or passes through (e.g. `DELETE_COMPLETE`).
    Unexpected,
}

pub fn stack_state(status: &str) -> StackState {
    if status.ends_with("_IN_PROGRESS") {
        StackState::InProgress
    } else if status.contains("ROLLBACK") || status.ends_with("_FAILED") {
        StackState::Failed
    } else if matches!(
        status,
        "CREATE_COMPLETE" | "UPDATE_COMPLETE" | "IMPORT_COMPLETE"
    ) {
        StackState::Complete
    } else {
        StackState::Unexpected
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{documented_stack_event, STACK_ARN};

    #[test]
    fn status_events_are_read_as_aws_documents_them() {
        assert_eq!(
            parse_status_event(&documented_stack_event("UPDATE_COMPLETE")).unwrap(),
            StatusEvent::Stack {
                name: "shop-staging".into(),
                status: "UPDATE_COMPLETE".into(),
                reason: None
            }
        );
        let amplify = json!({
            "version": "0", "detail-type": "Amplify Deployment Status Change",
            "source": "aws.amplify", "account": "123456789012", "region": "eu-west-1",
            "resources": ["arn:aws:amplify:eu-west-1:123456789012:apps/d1example/branches/staging/jobs/0000000042"],
            "detail": {"appId": "d1example", "branchName": "staging", "jobId": "0000000042", "jobStatus": "SUCCEED"}
        });
        assert_eq!(
            parse_status_event(&amplify).unwrap(),
            StatusEvent::Amplify {
                app: "d1example".into(),
                branch: "staging".into(),
                job: "0000000042".into(),
                status: "SUCCEED".into()
            }
        );
        // Our builders make the same shapes.
        assert_eq!(
            parse_status_event(&stack_status_event(STACK_ARN, "UPDATE_COMPLETE", None)).unwrap(),
            parse_status_event(&documented_stack_event("UPDATE_COMPLETE")).unwrap()
        );
        assert_eq!(
            parse_status_event(&amplify_status_event(
                "d1example",
                "staging",
                "0000000042",
                "SUCCEED"
            ))
            .unwrap(),
            parse_status_event(&amplify).unwrap()
        );
    }
    #[test]
    fn anything_else_is_refused_by_name() {
        for bad in [
            json!(null),
            json!({"detail-type": "Object Created"}),
            json!({"detail-type": STACK_STATUS_CHANGE, "detail": {}}),
            json!({"detail-type": AMPLIFY_STATUS_CHANGE, "detail": {"appId": "d1", "branchName": "b", "jobId": "1"}}),
        ] {
            let e = parse_status_event(&bad).unwrap_err();
            assert_eq!(e.name, "InvalidInput", "{bad}");
            assert!(e.message.starts_with("resume-wait:"), "{}", e.message);
        }
    }
    #[test]
    fn stack_statuses_are_classified() {
        use StackState::*;
        for (status, want) in [
            ("CREATE_COMPLETE", Complete),
            ("UPDATE_COMPLETE", Complete),
            ("UPDATE_IN_PROGRESS", InProgress),
            ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", InProgress),
            ("UPDATE_ROLLBACK_IN_PROGRESS", InProgress),
            ("UPDATE_ROLLBACK_COMPLETE", Failed),
            ("ROLLBACK_COMPLETE", Failed),
            ("UPDATE_FAILED", Failed),
            ("DELETE_COMPLETE", Unexpected),
        ] {
            assert_eq!(stack_state(status), want, "{status}");
        }
    }
}

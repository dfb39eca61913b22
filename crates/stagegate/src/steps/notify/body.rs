//! What a notice says: its first line and subject, then where everything is, who
//! decided, and for a promotion the staging → production record.

use super::{reason, requested_rollback, text, Outcome};
use crate::flow::{Approval, PhaseTime};
use crate::settings::{Settings, Stage};
use crate::text::quoted;
use crate::timeline::text_gantt;
use serde_json::Value;
use std::fmt::Write as _;

/// The first line of the message (what happened to `what`, and why), and the
/// subject.
pub(super) fn headline(
    body: &mut String,
    settings: &Settings,
    outcome: Outcome,
    s: &Value,
    what: &str,
    stage: &str,
) -> String {
    match outcome {
        Outcome::Success if requested_rollback(s) => {
            let env = &settings.environment;
            let by = text(s, &["preflight", "candidate", "pushedBy"]).unwrap_or("someone");
            let was =
                text(s, &["staged", "replaces", "tag"]).unwrap_or("the release that was live");
            let _ = writeln!(
                body,
                "{env} is rolled back to {what} on request of {by}, replacing {was}: {what}'s staged objects, checked against its signed evidence (no rebuild), previewed, approved, deployed, tested and baked."
            );
            format!("↩️ {env} is rolled back to {what} (was {was})")
        }
        Outcome::Success if settings.stage == Stage::Production => {
            let from = text(s, &["staged", "stagingTag"]).unwrap_or("staging");
            let _ = writeln!(
                body,
                "{what} is promoted to {}: staging's backend objects of {from} deployed (no rebuild); the frontend built by Amplify from the same commit (not staging's bundle bytes); smoke-tested.",
                settings.environment
            );
            format!("🚀 {what} is live in {}", settings.environment)
        }
        Outcome::Success => {
            let _ = writeln!(
                body,
                "{what} is deployed to {}, tested, and ready for production.",
                settings.environment
            );
            format!("✅ {what} is ready for production")
        }
        Outcome::Failure => {
            let why = failure_reason(s);
            let _ = writeln!(body, "{what} failed at {stage}.\n\nReason: {why}");
            if let Some(bake) = s.get("failure").and_then(|f| f.get("bake")) {
                let _ = writeln!(
                    body,
                    "\nIt was being rolled back because its bake failed: {}\nThe rollback did not finish: {what} stays deployed. Fix forward with a new candidate, or deploy the last good release by hand.",
                    reason(bake)
                );
            }
            format!("❌ {what} failed at {stage}")
        }
        Outcome::RolledBack => {
            let why = failure_reason(s);
            let back = text(s, &["rollback", "tag"]).unwrap_or("the previous release");
            let commit = text(s, &["rollback", "commit"]).unwrap_or_default();
            let short = commit.get(..12).unwrap_or(commit);
            let env = &settings.environment;
            let _ = writeln!(
                body,
                "{what} was rolled back on {env}: it failed its bake.\n\nReason: {why}\n\nLive again: {back} ({short}): its objects were checked against its signed evidence, then redeployed (its stack through a change set; its frontend built again from its commit)."
            );
            format!("↩️ {what} was rolled back on {env}; {back} is live again")
        }
        Outcome::Cancelled => {
            let kind = text(s, &["cancellation", "reason"]).unwrap_or("cancelled");
            let why = s
                .get("cancellation")
                .and_then(|c| c.get("error"))
                .map(reason)
                .unwrap_or_default();
            let _ = writeln!(body, "{what} was not deployed: {kind}.\n\n{why}");
            format!("🚫 {what} was cancelled ({kind})")
        }
    }
}

/// Why the run failed, in words: its recorded error, or that none was recorded.
fn failure_reason(s: &Value) -> String {
    s.get("failure")
        .and_then(|f| f.get("error"))
        .map(reason)
        .unwrap_or_else(|| "no reason recorded".into())
}

/// Where everything is, the timeline, who approved and over what.
pub(super) fn details(body: &mut String, s: &Value, production: bool) {
    let site = if production { "Production" } else { "Staging" };
    // A rollback on request redeploys the staging run's objects; a promotion promotes them.
    let rollback = requested_rollback(s);
    let deploys = if rollback { "Redeploys" } else { "Promotes" };
    for (label, path) in [
        ("Artifacts", &["preflight", "artifactsPrefix"][..]),
        (deploys, &["staged", "stagingRun"]),
        ("Staging evidence", &["staged", "evidence", "digest"]),
        ("Ready on staging since", &["staged", "firstReadyAt"]),
        ("Soak until", &["staged", "soakUntil"]),
        ("Deployment window", &["window", "why"]),
        (site, &["frontend", "url"]),
        ("Checklist", &["checklist", "markdownUri"]),
        ("Release notes", &["release", "notesUri"]),
    ] {
        if let Some(v) = text(s, path) {
            let _ = writeln!(body, "{label}: {v}");
        }
    }
    let timeline: Vec<PhaseTime> = s
        .get("release")
        .and_then(|r| r.get("timeline"))
        .and_then(|t| serde_json::from_value(t.clone()).ok())
        .unwrap_or_default();
    if !timeline.is_empty() {
        let _ = writeln!(body, "\nTimeline:\n{}", text_gantt(&timeline));
        if let Some(u) = text(s, &["release", "timelineUri"]) {
            let _ = writeln!(body, "Timeline picture: {u}");
        }
    }
    if let Some(approvers) = s
        .get("approval")
        .and_then(|a| a.get("approvers"))
        .and_then(Value::as_array)
    {
        let names: Vec<&str> = approvers.iter().filter_map(Value::as_str).collect();
        let _ = writeln!(body, "Approved by: {}", names.join(", "));
    }
    let gate = |key: &str| {
        s.get(key)
            .and_then(|a| serde_json::from_value::<Approval>(a.clone()).ok())
    };
    if let Some(approval) = gate("approval") {
        for line in approval.overrides(quoted) {
            let _ = writeln!(body, "{line}");
        }
    }
    // Every decision at both gates, as the approval record holds them.
    let approval = if production {
        "Production approval"
    } else {
        "Deployment approval"
    };
    for (title, key) in [(approval, "approval"), ("User acceptance", "acceptance")] {
        let decisions = gate(key).map(|g| g.decisions(quoted)).unwrap_or_default();
        if !decisions.is_empty() {
            let _ = writeln!(body, "{title}:");
            for line in decisions {
                let _ = writeln!(body, "  {line}");
            }
        }
    }
    if s.get("validation").and_then(|v| v.get("noChanges")) == Some(&Value::Bool(true)) {
        let _ = writeln!(body, "Infrastructure: no changes: deploy skipped");
    }
    break_glass(body, s);
    if production {
        promotion_record(body, s);
    }
}

/// A promotion, from staging to production, one step per line: when the commit was
/// first ready on staging, when its soak ended, each production decision, the
/// deployment window, the production deploy.
fn promotion_record(body: &mut String, s: &Value) {
    let Some(staged) = s.get("staged") else {
        return;
    };
    let field = |k: &str| staged.get(k).and_then(Value::as_str).unwrap_or("?");
    let mut lines = vec![
        format!(
            "{} ready on staging ({})",
            field("firstReadyAt"),
            field("stagingTag")
        ),
        format!("{} soak done", field("soakUntil")),
    ];
    let approval: Option<Approval> = s
        .get("approval")
        .and_then(|a| serde_json::from_value(a.clone()).ok());
    for v in approval.map(|a| a.votes).unwrap_or_default() {
        let verb = if v.approve { "approved" } else { "rejected" };
        lines.push(format!(
            "{} {verb} by {} ({})",
            v.at.to_rfc3339(),
            v.approver,
            v.via
        ));
    }
    if let Some(why) = text(s, &["window", "why"]) {
        lines.push(format!("deployment window: {why}"));
    }
    if let Some(status) = text(s, &["infrastructure", "status"]) {
        lines.push(format!("production stack: {status}"));
    }
    let _ = writeln!(body, "\nStaging → production:");
    for line in lines {
        let _ = writeln!(body, "  {line}");
    }
}

/// Whose break-glass overrode production's deployment window, and why.
fn break_glass(body: &mut String, s: &Value) {
    let Some(glass) = s
        .get("window")
        .and_then(|w| w.get("breakGlass"))
        .and_then(|g| serde_json::from_value::<crate::flow::BreakGlass>(g.clone()).ok())
    else {
        return;
    };
    let _ = writeln!(
        body,
        "Break-glass: the deployment window was overridden by {}:",
        glass.approvers.join(" and ")
    );
    for reason in glass.reasons {
        let _ = writeln!(body, "  {}", quoted(&reason));
    }
}

//! What a rehearsal shows: each phase as it starts, each check and suite with its
//! result, and at the end the timeline, where everything went and the result line.

use super::{Finished, Rehearsal, Summary};
use crate::adapters::OutboxListener;
use serde_json::Value;
use stagegate::flow::{CheckResult, PHASES, PRODUCTION_PHASES};
use stagegate::ports::{Candidate, Hosting};
use stagegate::ports::{Message, Topic};
use stagegate::steps::notify::reason;
use std::io::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Instant;
use tokio::sync::mpsc;

/// A line on the terminal, at once.
pub(super) fn say(line: &str) {
    println!("{line}");
    let _ = std::io::stdout().flush();
}

/// How an execution ended, as `DescribeExecution` says it.
pub(super) struct Ending {
    /// `SUCCEEDED`, `FAILED`, `TIMED_OUT`, `ABORTED`.
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// The whole description, for `execution.json`.
    pub description: Value,
}

impl Ending {
    /// From the engine's description of the execution.
    pub(super) fn of(d: impl serde::Serialize) -> Ending {
        let description = serde_json::to_value(&d).unwrap_or_default();
        let text = |k: &str| {
            description
                .get(k)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        Ending {
            status: text("status").unwrap_or_default(),
            output: description.get("output").cloned(),
            error: text("error"),
            cause: text("cause"),
            description,
        }
    }
}

impl Rehearsal {
    /// Phase 4: the timeline, where everything went, and the result in one line.
    pub(super) async fn report(&self, f: Finished) -> Summary {
        let c = &self.c;
        say("");
        say("Timeline");
        let width = f
            .timeline
            .iter()
            .map(|(n, _)| n.len())
            .max()
            .unwrap_or(0)
            .max(26);
        for (i, (name, at)) in f.timeline.iter().enumerate() {
            let end = f
                .timeline
                .get(i + 1)
                .map(|m| m.1)
                .unwrap_or_else(Instant::now);
            say(&format!(
                "  {:<width$} {:>8.1}s",
                name,
                end.duration_since(*at).as_secs_f64()
            ));
        }
        say(&format!(
            "  {:<width$} {:>8.1}s",
            "total",
            f.started.elapsed().as_secs_f64()
        ));
        say("");
        say(&format!("Artifacts: {}", f.spec_dir.display()));
        say(&format!(
            "Outbox:    {}",
            c.run_dir.join("outbox").display()
        ));
        say(&format!(
            "History:   {}",
            f.spec_dir.join("history.json").display()
        ));
        let (site, hosting) = match (&self.production, f.production) {
            (Some((_, hosting)), true) => ("Production", hosting),
            _ => ("Staging", &self.hosting),
        };
        if f.done.status == "SUCCEEDED" {
            if let Ok(url) = hosting.url().await {
                let label = format!("{site}:");
                say(&format!(
                    "{label:<10} {url} (served until this command exits; --serve keeps it up)"
                ));
            }
        }
        let outcome = outcome(&c.candidate, &f.done, &f.history, f.production);
        say("");
        say(&format!("Result: {outcome}"));
        Summary {
            status: f.done.status,
            outcome,
            error: f.done.error,
            run_dir: f.spec_dir.clone(),
        }
    }
}

/// The result line: ready, duplicate, cancelled (why) or failed (where, why).
fn outcome(candidate: &Candidate, done: &Ending, history: &Value, production: bool) -> String {
    let out = done.output.clone().unwrap_or(Value::Null);
    match done.status.as_str() {
        "SUCCEEDED"
            if out
                .get("preflight")
                .and_then(|p| p.get("duplicateOf"))
                .is_some() =>
        {
            "duplicate: another run handles this tag and commit".to_string()
        }
        "SUCCEEDED" if production => {
            let tag = out
                .get("preflight")
                .and_then(|p| p.get("candidate"))
                .and_then(|c| c.get("tag"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            format!(
                "{} {} ({}) is promoted to production",
                candidate.repository, tag, candidate.tag
            )
        }
        "SUCCEEDED" => format!(
            "{} {} is ready for production",
            candidate.repository, candidate.tag
        ),
        "ABORTED" => format!(
            "stopped: {}",
            done.cause
                .clone()
                .unwrap_or_else(|| "the run was stopped".into())
        ),
        _ => {
            let state = last_state_input(history);
            if let Some(reason) = state
                .get("cancellation")
                .and_then(|c| c.get("reason"))
                .and_then(Value::as_str)
            {
                return format!("cancelled: {reason}");
            }
            if done.error.as_deref() == Some("RolledBack") {
                let back = state.pointer("/rollback/tag").and_then(Value::as_str);
                let why = state
                    .pointer("/failure/error")
                    .map(reason)
                    .unwrap_or_default();
                let back = back.unwrap_or("the previous release");
                return format!("rolled back ({why}); {back} is live again");
            }
            let stage = state
                .get("failure")
                .and_then(|f| f.get("stage"))
                .and_then(Value::as_str)
                .unwrap_or("?");
            let why = state
                .get("failure")
                .and_then(|f| f.get("error"))
                .map(reason)
                .unwrap_or_else(|| done.error.clone().unwrap_or_default());
            format!("failed at {stage}: {why}")
        }
    }
}

/// The state the last state-entered event of `history` (as `GetExecutionHistory`
/// returns it) saw with a failure or a cancellation in it.
fn last_state_input(history: &Value) -> Value {
    history
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .filter_map(|e| e.get("stateEnteredEventDetails")?.get("input")?.as_str())
        .filter_map(|input| serde_json::from_str::<Value>(input).ok())
        .find(|input| input.get("failure").is_some() || input.get("cancellation").is_some())
        .unwrap_or(Value::Null)
}

/// The progress people follow, as the history happens: each phase once, in the order
/// it starts; each check with ✓ or ✗ (and the failed one's log excerpt); each suite
/// with its counts; a skipped deploy said as such.
pub(super) fn report_event(
    state: Option<&str>,
    input: Option<Value>,
    output: Option<Value>,
    timeline: &Mutex<Vec<(String, Instant)>>,
    production: bool,
) {
    let name = state.unwrap_or_default().to_string();
    let phases = if production {
        PRODUCTION_PHASES
    } else {
        PHASES
    };
    let is_phase = phases.contains(&name.as_str());
    match (input, output) {
        (Some(_), _) if is_phase => {
            if let Ok(mut t) = timeline.lock() {
                if !t.iter().any(|(n, _)| *n == name) {
                    t.push((name.clone(), Instant::now()));
                    say(&format!("▶ {name}"));
                }
            }
        }
        (Some(input), _) if name == "No Package or Preview" => {
            let why = reason(&input);
            say(&format!("  ✗ Package & Preview: {why}"));
        }
        (Some(_), _) if name.ends_with(" Failed") && is_phase_failure(&name) => {
            say(&format!("  ✗ {name}"))
        }
        (_, Some(output)) if name == "Preview Ready" => {
            let changes = preview_changes(&output["preview"]);
            say(&format!("  · change preview: {changes} resource change(s)"));
        }
        (_, Some(output)) if name == "Pre-Deployment Checks" => report_checks(&output),
        (_, Some(output))
            if name == "Validate Infrastructure"
                && output["validation"]["noChanges"] == Value::Bool(true) =>
        {
            say("  · no changes: deploy skipped");
        }
        (_, Some(output)) if name == "Integration Tests" => {
            report_suites(&output["tests"]["suites"]);
        }
        (_, Some(output)) if name == "Command Suites" => {
            report_suites(&output["tests"]["commands"]);
        }
        (_, Some(output)) if name == "Performance Tests" => report_load(&output),
        (_, Some(output)) if name == "Smoke Tests" => report_suites(&output["tests"]["suites"]),
        (_, Some(output)) if name == "Verify Staged Release" => {
            let staged = &output["staged"];
            say(&format!(
                "  ✓ staged by {} (evidence verified); soak until {}",
                staged["stagingRun"].as_str().unwrap_or("?"),
                staged["soakUntil"].as_str().unwrap_or("?")
            ));
        }
        (_, Some(output)) if name == "Check Deployment Window" => {
            say(&format!(
                "  · {}",
                output["window"]["why"].as_str().unwrap_or("?")
            ));
        }
        _ => {}
    }
}

/// `<Stage> Failed` states of the top level (not the checks' own `ESLint Failed`...,
/// which the ✓/✗ lines report).
fn is_phase_failure(name: &str) -> bool {
    let stage = name.trim_end_matches(" Failed");
    PHASES.contains(&stage) || PRODUCTION_PHASES.contains(&stage) || stage == "Package & Preview"
}

fn report_checks(output: &Value) {
    let Some(checks) = output["checks"].as_array() else {
        return;
    };
    let passed = checks.iter().filter(|c| c["status"] == "SUCCEEDED").count();
    say(&format!("  checks: {passed}/{} passed", checks.len()));
    for c in checks {
        let Ok(check) = serde_json::from_value::<CheckResult>(c.clone()) else {
            continue;
        };
        if check.passed() {
            say(&format!("  ✓ {}", check.name));
            continue;
        }
        say(&format!("  ✗ {} ({})", check.name, check.status));
        if let Some(log) = check.log_link() {
            for line in log_excerpt(Path::new(&log), 4) {
                say(&format!("      │ {line}"));
            }
            say(&format!("      log: {log}"));
        }
    }
}

/// The last `n` non-empty lines of a log (the part that says why it failed).
fn log_excerpt(path: &Path, n: usize) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..]
        .iter()
        .map(|l| l.chars().take(160).collect())
        .collect()
}

/// Each load test's figures (a broken budget fails the state: its notification says
/// which and by how much).
fn report_load(output: &Value) {
    for m in output["performance"]["measurements"]
        .as_array()
        .into_iter()
        .flatten()
    {
        say(&format!(
            "  ✓ load {}: {} requests by {} users, p50 {} ms, p95 {} ms, p99 {} ms, {} errors",
            m["name"].as_str().unwrap_or("?"),
            m["requests"],
            m["users"],
            m["p50Ms"],
            m["p95Ms"],
            m["p99Ms"],
            m["errors"]
        ));
    }
}

fn report_suites(suites: &Value) {
    for suite in suites.as_array().into_iter().flatten() {
        let name = suite["suite"].as_str().unwrap_or("?");
        let passed = suite["passed"].as_u64().unwrap_or(0);
        let failed = suite["failed"].as_u64().unwrap_or(0);
        let mark = if failed == 0 { "✓" } else { "✗" };
        say(&format!(
            "  {mark} suite {name}: {passed}/{} passed",
            passed + failed
        ));
        for case in suite["cases"].as_array().into_iter().flatten() {
            if case["passed"] == Value::Bool(false) {
                say(&format!(
                    "      ✗ {}: {}",
                    case["name"].as_str().unwrap_or("?"),
                    case["message"].as_str().unwrap_or("")
                ));
            }
        }
    }
}

/// The outbox's listener: each message echoed to the terminal; approval emails also
/// handed to the decider.
pub(super) fn outbox_listener(approvals: mpsc::UnboundedSender<Message>) -> OutboxListener {
    Arc::new(move |topic, message, path| {
        let to = if topic == Topic::Approvals {
            "approvers"
        } else {
            "everyone"
        };
        say(&format!(
            "  ✉  [{to}] {}  ({})",
            message.subject,
            path.display()
        ));
        if topic == Topic::Approvals {
            let _ = approvals.send(message.clone());
        }
    })
}

impl super::Rehearsal {
    /// What is rehearsed, said before it starts.
    pub(super) fn introduce(&self) {
        let c = &self.c;
        let sha = &c.candidate.sha;
        say(&format!(
            "stagegate rehearsal of {} {} ({} {}, pushed by {})",
            c.candidate.repository,
            c.candidate.tag,
            c.sha_note,
            &sha[..12],
            c.candidate.pushed_by
        ));
        say(&format!("  app: {}", c.app.dir.display()));
        if c.tree_changed {
            let commit = &sha[..12];
            say(&format!("  · tracked files of the app differ from {commit}: the working tree is what runs and what the evidence binds, under {commit}'s name"));
        }
        say(&format!("  run: {}", c.run_dir.display()));
        for f in c.faults.stages() {
            let what = super::FAULTS.iter().find(|x| x.0 == f).map(|x| x.1);
            say(&format!("  --fail {f}: {}", what.unwrap_or_default()));
        }
        let production = self.production.as_ref().map(|(stacks, _)| stacks);
        for why in [Some(&self.stacks), production]
            .into_iter()
            .flatten()
            .filter_map(|s| s.not_resumed())
        {
            say(&format!("  · {why}"));
        }
    }
}

/// How many resources a preview changes: the ones the state carries and the `more`
/// it leaves in the artifacts bucket (`stagegate::results`).
fn preview_changes(preview: &Value) -> u64 {
    let carried = preview["changes"].as_array().map_or(0, Vec::len) as u64;
    carried + preview["more"].as_u64().unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_preview_counts_the_changes_it_does_not_carry() {
        let carried: Vec<Value> = (0..50)
            .map(|i| json!({"logicalId": format!("T{i}")}))
            .collect();
        assert_eq!(
            preview_changes(&json!({"changes": carried, "more": 450})),
            500
        );
        assert_eq!(preview_changes(&json!({"changes": [{}, {}]})), 2);
        assert_eq!(preview_changes(&json!({})), 0);
    }
}

//! The happy path's states and events, from a rehearsal's `history.json`.

use anyhow::{bail, Context, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// States entered and events of the happy path: `stagegate rehearse --approve` in a
/// scratch directory, its `history.json` read back.
/// What the happy path's history says: states entered (in total and per state),
/// events, and when the approval was requested.
pub(crate) struct HappyPath {
    pub(crate) states: usize,
    pub(crate) events: usize,
    pub(crate) entered: BTreeMap<String, usize>,
    /// Execution start → `Wait for Approval` entered (its task sends the emails).
    pub(crate) to_approval_ms: i64,
    /// `Pre-Deployment Checks` entered → exited: the part of the above that the
    /// app's own check commands take.
    pub(crate) checks_ms: i64,
    /// The stack's terminal status event (its `time`, in `$.infrastructure.settledAt`)
    /// → `Deploy Infrastructure` exited: how late the flow notices a finished stack.
    pub(crate) stack_noticed_ms: i64,
    /// The same for the frontend job (`$.frontend.endedAt` → `Deploy Frontend` exited).
    pub(crate) frontend_noticed_ms: i64,
}

/// Milliseconds from the time `state`'s output records at `key.field` (the status
/// event's `time`) to the moment `state` exited, from the history.
pub(crate) fn noticed(events: &[Value], state: &str, (key, field): (&str, &str)) -> Option<i64> {
    let exited = events.iter().find(|e| {
        e["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("StateExited"))
            && e["stateExitedEventDetails"]["name"].as_str() == Some(state)
    })?;
    let output = &exited["stateExitedEventDetails"]["output"];
    let output: Value = match output.as_str() {
        Some(text) => serde_json::from_str(text).ok()?,
        None => output.clone(),
    };
    let at = chrono::DateTime::parse_from_rfc3339(output[key][field].as_str()?).ok()?;
    let exit = chrono::DateTime::parse_from_rfc3339(exited["timestamp"].as_str()?).ok()?;
    Some((exit - at).num_milliseconds())
}

/// Milliseconds between the first event named `from` and the first named `to`
/// (`type`, or `type` + state name), from the history's own timestamps.
pub(crate) fn between(
    events: &[Value],
    from: (&str, Option<&str>),
    to: (&str, Option<&str>),
) -> Option<i64> {
    let at = |(ty, name): (&str, Option<&str>)| {
        events.iter().find_map(|e| {
            let same_type = e["type"].as_str() == Some(ty);
            let same_name = name.is_none_or(|n| {
                e["stateEnteredEventDetails"]["name"].as_str() == Some(n)
                    || e["stateExitedEventDetails"]["name"].as_str() == Some(n)
            });
            (same_type && same_name)
                .then(|| chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str()?).ok())
                .flatten()
        })
    };
    Some((at(to)? - at(from)?).num_milliseconds())
}

pub(crate) fn happy_path(cli: &Path) -> Result<HappyPath> {
    let dir = std::env::temp_dir().join(format!("stagegate-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let app = testkit::workspace().join("examples/shop");
    let status = Command::new(cli)
        .args(["rehearse", "--approve", "--app"])
        .arg(&app)
        .current_dir(&dir)
        .stdout(std::process::Stdio::null())
        .status()
        .context("run the rehearsal")?;
    if !status.success() {
        bail!("the happy-path rehearsal ended with {status}");
    }
    let history = find(&dir, "history.json").context("the rehearsal wrote no history.json")?;
    let events: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(&history)?)?;
    let _ = std::fs::remove_dir_all(&dir);
    let mut entered = BTreeMap::new();
    for e in &events {
        if e["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("StateEntered"))
        {
            let name = e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap_or("?");
            *entered.entry(name.to_string()).or_insert(0) += 1;
        }
    }
    let to_approval_ms = between(
        &events,
        ("ExecutionStarted", None),
        ("TaskStateEntered", Some("Wait for Approval")),
    )
    .context("the happy path's history has no start or no Wait for Approval")?;
    let checks_ms = between(
        &events,
        ("ParallelStateEntered", Some("Pre-Deployment Checks")),
        ("ParallelStateExited", Some("Pre-Deployment Checks")),
    )
    .context("the happy path's history has no Pre-Deployment Checks")?;
    let stack_noticed_ms = noticed(
        &events,
        "Deploy Infrastructure",
        ("infrastructure", "settledAt"),
    )
    .context("Deploy Infrastructure was not resumed by the stack's event (no settledAt)")?;
    let frontend_noticed_ms = noticed(&events, "Deploy Frontend", ("frontend", "endedAt"))
        .context("Deploy Frontend was not resumed by the job's event (no endedAt)")?;
    Ok(HappyPath {
        states: entered.values().sum(),
        events: events.len(),
        entered,
        to_approval_ms,
        checks_ms,
        stack_noticed_ms,
        frontend_noticed_ms,
    })
}

pub(crate) fn find(dir: &Path, name: &str) -> Option<PathBuf> {
    for e in std::fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(found) = find(&p, name) {
                return Some(found);
            }
        } else if p.file_name().is_some_and(|n| n == name) {
            return Some(p);
        }
    }
    None
}

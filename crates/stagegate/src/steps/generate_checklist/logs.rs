//! The failed checks' logs: each build wrote its whole log into its own scratch
//! ([`crate::manifest::CHECK_LOG`]); for a failed check it is copied into the run
//! (`logs/<check>.log`, its last MiB when longer), where the review page links it,
//! and its last lines go into the checklist, where the approver reads why it failed.
//! A log is the check's own output, untrusted: it is text in a code block, never
//! Markdown, and the review page escapes every character of it.

use super::Input;
use crate::error::StepError;
use crate::flow::CheckResult;
use crate::manifest::{log_key, scratch_prefix, CHECK_LOG};
use crate::ports::Artifacts;
use std::fmt::Write as _;

/// The end of a failed check's log in the checklist: at most this many lines…
pub const LOG_LINES: usize = 30;
/// …and this many characters.
const LOG_CHARS: usize = 4000;
/// The most of a log kept in the run (its end).
const LOG_KEPT: usize = 1024 * 1024;

/// A failed check's log: the check, where the run keeps it, its last lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedLog {
    pub check: String,
    pub key: String,
    pub excerpt: String,
}

/// The build a check ran as: recorded when it passed, in the caught error's cause
/// (the failed build) when it did not.
fn build_id(check: &CheckResult) -> Option<String> {
    check.build.clone().or_else(|| {
        let cause = check.caught.as_ref()?.cause.as_deref()?;
        let cause: serde_json::Value = serde_json::from_str(cause).ok()?;
        cause["Build"]["Id"].as_str().map(str::to_string)
    })
}

/// Each failed check's log that its build left, copied into the run.
pub(super) async fn failed<A: Artifacts>(
    artifacts: &A,
    role_id: &str,
    input: &Input,
) -> Result<Vec<FailedLog>, StepError> {
    let mut logs = Vec::new();
    for check in input.checks.iter().filter(|c| !c.passed()) {
        let Some(scratch) = build_id(check).and_then(|b| scratch_prefix(role_id, &b).ok()) else {
            continue;
        };
        let Some(log) = artifacts.get(&format!("{scratch}{CHECK_LOG}")).await? else {
            continue;
        };
        let kept = &log[log.len().saturating_sub(LOG_KEPT)..];
        let key = log_key(&input.preflight.artifacts_prefix, &check.name);
        artifacts
            .put(&key, "text/plain; charset=utf-8", kept.to_vec())
            .await?;
        logs.push(FailedLog {
            check: check.name.clone(),
            key,
            excerpt: excerpt(&String::from_utf8_lossy(kept)),
        });
    }
    Ok(logs)
}

/// The last lines of `log`, as text that cannot leave its code block: control
/// characters (terminal colours) dropped, tabs as spaces, no three backticks.
pub fn excerpt(log: &str) -> String {
    let lines: Vec<String> = log
        .lines()
        .map(|l| {
            strip_escapes(l)
                .replace('\t', "    ")
                .chars()
                .filter(|c| !c.is_control())
                .collect::<String>()
                .replace("```", "'''")
        })
        .collect();
    let mut tail = lines[lines.len().saturating_sub(LOG_LINES)..].join("\n");
    let extra = tail.chars().count().saturating_sub(LOG_CHARS);
    if extra > 0 {
        tail = tail.chars().skip(extra).collect();
    }
    tail.trim_matches('\n').to_string()
}

/// `line` without ANSI escape sequences (`ESC [ … letter`): npm and test runners
/// colour their output.
fn strip_escapes(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' && chars.peek() == Some(&'[') {
            chars.next();
            for d in chars.by_ref() {
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The excerpts, after the checks: a heading and a code block each.
pub(super) fn excerpts(markdown: &mut String, logs: &[FailedLog]) {
    let Some(at) = markdown.find("\n## Infrastructure changes") else {
        return;
    };
    let mut section = String::new();
    for log in logs.iter().filter(|l| !l.excerpt.is_empty()) {
        let _ = write!(
            section,
            "\n### {}: the end of its log\n\n```text\n{}\n```\n",
            crate::text::md(&log.check),
            log.excerpt
        );
    }
    markdown.insert_str(at, &section);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_excerpt_is_the_last_lines_without_colours_or_fences() {
        let log: String = (1..=100).map(|i| format!("line {i}\n")).collect();
        let e = excerpt(&(log + "\u{1b}[31merror\u{1b}[0m: ``` broke\tout\r\n"));
        assert_eq!(e.lines().count(), LOG_LINES);
        assert!(e.starts_with("line 72\n"), "{e}");
        assert!(e.ends_with("error: ''' broke    out"), "{e}");
        let long = "x".repeat(10_000);
        assert_eq!(excerpt(&long).chars().count(), LOG_CHARS);
    }

    #[test]
    fn a_check_keeps_its_log_under_its_own_name() {
        assert_eq!(log_key("runs/r/", "ESLint"), "runs/r/logs/eslint.log");
        assert_eq!(
            log_key("runs/r/", "Package & Preview"),
            "runs/r/logs/package-preview.log"
        );
        assert_eq!(
            log_key("runs/r/", "Unit Tests"),
            "runs/r/logs/unit-tests.log"
        );
    }
}

//! The changes since the previous candidate, as release notes show them: commit
//! subjects read as conventional commits and grouped by type, breaking changes
//! first; anything else listed as it is.

use crate::records::Commit;
use crate::text::md;
use std::fmt::Write as _;

/// A commit subject read as a conventional commit (`type(scope)!: description`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Conventional<'a> {
    pub kind: &'a str,
    pub scope: Option<&'a str>,
    pub breaking: bool,
    pub description: &'a str,
}

/// `subject` as a conventional commit, if it is one.
pub fn conventional(subject: &str) -> Option<Conventional<'_>> {
    let (head, description) = subject.split_once(": ")?;
    let (head, breaking) = match head.strip_suffix('!') {
        Some(h) => (h, true),
        None => (head, false),
    };
    let (kind, scope) = match head.split_once('(') {
        Some((k, rest)) => {
            let scope = rest.strip_suffix(')')?;
            if scope.is_empty() || scope.contains(['(', ')']) {
                return None;
            }
            (k, Some(scope))
        }
        None => (head, None),
    };
    let plain =
        !kind.is_empty() && kind.len() <= 12 && kind.chars().all(|c| c.is_ascii_lowercase());
    (plain && !description.trim().is_empty()).then_some(Conventional {
        kind,
        scope,
        breaking,
        description: description.trim(),
    })
}

/// The sections of the changes, in the order they are shown.
const SECTIONS: &[(&str, &[&str])] = &[
    ("Features", &["feat"]),
    ("Fixes", &["fix"]),
    ("Performance", &["perf"]),
    ("Reverts", &["revert"]),
    ("Documentation", &["docs"]),
    ("Refactoring", &["refactor"]),
    ("Tests", &["test", "tests"]),
    ("Build and CI", &["build", "ci"]),
    ("Chores", &["chore", "style"]),
];

/// The changes as Markdown: breaking changes first, then one section per
/// conventional-commit type, then everything else; without conventional commits, one
/// plain list.
pub fn changes(commits: &[Commit]) -> String {
    // Subjects, scopes and authors are whoever committed: escaped (crate::text).
    let line = |c: &Commit, scope: Option<&str>, text: &str| {
        let scope = scope
            .map(|s| format!("**{}:** ", md(s)))
            .unwrap_or_default();
        format!(
            "- {scope}{} ({}, {})\n",
            md(text),
            md(&c.sha[..c.sha.len().min(7)]),
            md(&c.author)
        )
    };
    let parsed: Vec<(&Commit, Option<Conventional>)> = commits
        .iter()
        .map(|c| (c, conventional(&c.subject)))
        .collect();
    if parsed.iter().all(|(_, p)| p.is_none()) {
        return commits.iter().map(|c| line(c, None, &c.subject)).collect();
    }
    let mut out = String::new();
    let mut section = |title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            let _ = write!(out, "### {title}\n\n{}\n", lines.concat());
        }
    };
    section(
        "Breaking changes",
        parsed
            .iter()
            .filter_map(|(c, p)| {
                p.as_ref()
                    .filter(|p| p.breaking)
                    .map(|p| line(c, p.scope, p.description))
            })
            .collect(),
    );
    for (title, kinds) in SECTIONS {
        section(
            title,
            parsed
                .iter()
                .filter_map(|(c, p)| {
                    p.as_ref()
                        .filter(|p| !p.breaking && kinds.contains(&p.kind))
                        .map(|p| line(c, p.scope, p.description))
                })
                .collect(),
        );
    }
    let known = |k: &str| SECTIONS.iter().any(|(_, kinds)| kinds.contains(&k));
    section(
        "Other changes",
        parsed
            .iter()
            .filter(|(_, p)| p.as_ref().is_none_or(|p| !p.breaking && !known(p.kind)))
            .map(|(c, _)| line(c, None, &c.subject))
            .collect(),
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn commit(sha: char, subject: &str) -> Commit {
        Commit {
            sha: sha.to_string().repeat(40),
            subject: subject.into(),
            author: "ana".into(),
        }
    }

    #[test]
    fn conventional_commits_are_read_and_anything_else_is_not() {
        let c = conventional("feat(checkout)!: pay with a saved card").unwrap();
        assert_eq!(
            (c.kind, c.scope, c.breaking, c.description),
            ("feat", Some("checkout"), true, "pay with a saved card")
        );
        assert_eq!(conventional("fix: a typo").unwrap().scope, None);
        for not in [
            "Add login",
            "Fix: capital type",
            "feat(): empty scope",
            "feat:no space",
            "feat: ",
        ] {
            assert_eq!(conventional(not), None, "{not}");
        }
    }
    #[test]
    fn changes_are_grouped_by_type_with_breaking_ones_first() {
        let text = changes(&[
            commit('1', "fix(cart): rounding of totals"),
            commit('2', "feat(checkout)!: pay with a saved card"),
            commit('3', "feat: wish lists"),
            commit('4', "Merge branch 'main'"),
            commit('5', "chore: bump deps"),
            commit('6', "wip: half a thing"),
        ]);
        let order: Vec<&str> = text.lines().filter(|l| l.starts_with("### ")).collect();
        assert_eq!(
            order,
            [
                "### Breaking changes",
                "### Features",
                "### Fixes",
                "### Chores",
                "### Other changes"
            ]
        );
        assert!(
            text.contains("- **checkout:** pay with a saved card (2222222, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- **cart:** rounding of totals (1111111, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- Merge branch 'main' (4444444, ana)"),
            "{text}"
        );
        assert!(
            text.contains("- wip: half a thing (6666666, ana)"),
            "{text}"
        );
        assert_eq!(
            text.matches("saved card").count(),
            1,
            "breaking changes are listed once"
        );
        // No conventional commits at all: one plain list, no headings.
        let plain = changes(&[commit('a', "Add login"), commit('b', "Fix the build")]);
        assert!(!plain.contains("###"), "{plain}");
    }
}

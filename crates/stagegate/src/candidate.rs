//! A release candidate: the rules a trigger must meet to become one (repository,
//! tag, commit, pusher), its run's name, and version order between candidates.

use crate::error::{names, StepError};
use crate::records::{Candidate, Trigger};
use std::cmp::Ordering;

impl Trigger {
    /// Checks the trigger against the tag prefix (`rc-`). Every problem is named.
    pub fn validate(&self, tag_prefix: &str) -> Result<Candidate, StepError> {
        let bad = |m: String| StepError::new(names::INVALID_CANDIDATE, m);
        if !is_repository(&self.repository) {
            return Err(bad(format!(
                "repository '{}' is not of the form owner/name",
                self.repository
            )));
        }
        let version = self.tag.strip_prefix(tag_prefix).ok_or_else(|| {
            bad(format!(
                "tag '{}' does not start with '{tag_prefix}'",
                self.tag
            ))
        })?;
        if !is_semver(version) {
            return Err(bad(format!(
                "tag '{}' must be '{tag_prefix}' followed by a version like 1.4.0 or 1.4.0-beta.2",
                self.tag
            )));
        }
        if !is_commit_sha(&self.sha) {
            return Err(bad(format!(
                "commit '{}' must be a full 40-character lowercase hex SHA",
                self.sha
            )));
        }
        let pushed_by = self
            .pushed_by
            .clone()
            .filter(|p| !p.trim().is_empty())
            .unwrap_or_else(|| "unknown".into());
        if pushed_by.len() > 100 || pushed_by.chars().any(char::is_control) {
            return Err(bad("pushedBy must be a short, printable name".into()));
        }
        Ok(Candidate {
            repository: self.repository.clone(),
            tag: self.tag.clone(),
            version: version.to_string(),
            sha: self.sha.clone(),
            pushed_by,
            pusher: self.pusher.clone(),
            rollback: self.rollback,
        })
    }
}

/// `MAJOR.MINOR.PATCH` with an optional `-prerelease` of dot-separated identifiers.
/// `owner/name`, as GitHub spells repositories.
/// A commit as stagegate names it: the full SHA-1, 40 lowercase hexadecimal digits.
pub fn is_commit_sha(sha: &str) -> bool {
    sha.len() == 40
        && sha
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
}

pub fn is_repository(r: &str) -> bool {
    r.split_once('/').is_some_and(|(owner, name)| {
        !owner.is_empty()
            && !name.is_empty()
            && !name.contains('/')
            && r.len() <= 140
            && r.chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
    })
}

fn is_semver(v: &str) -> bool {
    let (core, pre) = match v.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (v, None),
    };
    let nums: Vec<&str> = core.split('.').collect();
    let num_ok = |n: &&str| {
        !n.is_empty()
            && n.chars().all(|c| c.is_ascii_digit())
            && (n.len() == 1 || !n.starts_with('0'))
    };
    nums.len() == 3
        && nums.iter().all(num_ok)
        && pre.is_none_or(|p| {
            !p.is_empty()
                && p.split('.').all(|id| {
                    !id.is_empty() && id.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                })
        })
}

impl Candidate {
    /// A Step Functions execution name that is the same for the same tag and commit,
    /// so a repeated start is the same run: `rc-1.4.0--0123456789ab`.
    pub fn execution_name(&self) -> String {
        let mut tag = crate::text::safe_name(&self.tag);
        tag.truncate(60); // ASCII: a character is a byte
        format!("{tag}--{}", &self.sha[..12])
    }

    /// A rollback's execution name, `rollback--rc-1.3.0--0123456789ab--20261207T1105`
    /// (the minute it was asked, UTC; at most 80 characters): asking twice in a
    /// minute is the same run, and asking again while one runs is a duplicate of its
    /// claim (Preflight), so one request never deploys twice.
    pub fn rollback_execution_name(&self, asked: chrono::DateTime<chrono::Utc>) -> String {
        let name = self.execution_name();
        let (tag, sha) = name.rsplit_once("--").unwrap_or((&name, ""));
        let tag: String = tag.chars().take(40).collect();
        format!("rollback--{tag}--{sha}--{}", asked.format("%Y%m%dT%H%M"))
    }
}

/// The version in `tag`, if it is a candidate tag.
pub fn version_of<'a>(tag: &'a str, prefix: &str) -> Option<&'a str> {
    tag.strip_prefix(prefix)
}

/// Semantic-version precedence (`1.4.0-beta.2 < 1.4.0 < 1.4.1`).
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    fn split(v: &str) -> (Vec<u64>, Option<Vec<&str>>) {
        let (core, pre) = match v.split_once('-') {
            Some((c, p)) => (c, Some(p.split('.').collect())),
            None => (v, None),
        };
        (
            core.split('.').map(|n| n.parse().unwrap_or(0)).collect(),
            pre,
        )
    }
    let (ac, ap) = split(a);
    let (bc, bp) = split(b);
    ac.cmp(&bc).then_with(|| match (ap, bp) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(x), Some(y)) => {
            for (p, q) in x.iter().zip(&y) {
                let ord = match (p.parse::<u64>(), q.parse::<u64>()) {
                    (Ok(m), Ok(n)) => m.cmp(&n),
                    (Ok(_), Err(_)) => Ordering::Less,
                    (Err(_), Ok(_)) => Ordering::Greater,
                    (Err(_), Err(_)) => p.cmp(q),
                };
                if ord != Ordering::Equal {
                    return ord;
                }
            }
            x.len().cmp(&y.len())
        }
    })
}

/// The release-candidate tag just before `tag` among `tags`, by version order (so
/// `rc-1.10.0` comes after `rc-1.9.0`). Tags without the prefix are not candidates.
pub fn previous_candidate<'a>(
    tags: impl IntoIterator<Item = &'a str>,
    tag: &str,
    tag_prefix: &str,
) -> Option<String> {
    let version = tag.strip_prefix(tag_prefix)?;
    tags.into_iter()
        .filter_map(|t| t.strip_prefix(tag_prefix).map(|v| (t, v)))
        .filter(|(_, v)| compare_versions(v, version).is_lt())
        .max_by(|a, b| compare_versions(a.1, b.1))
        .map(|(t, _)| t.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trigger(tag: &str, sha: &str) -> Trigger {
        Trigger {
            repository: "acme/shop".into(),
            tag: tag.into(),
            sha: sha.into(),
            pushed_by: Some("ana".into()),
            pusher: None,
            rollback: false,
        }
    }
    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn accepts_rc_tags_with_semver() {
        let c = trigger("rc-1.4.0", SHA).validate("rc-").unwrap();
        assert_eq!(c.version, "1.4.0");
        assert!(trigger("rc-2.0.0-beta.2", SHA).validate("rc-").is_ok());
    }

    #[test]
    fn rejects_other_tags_naming_the_problem() {
        for tag in [
            "v1.4.0",
            "rc-1.4",
            "rc-01.4.0",
            "rc-1.4.0-",
            "rc-",
            "rc-1.4.0-be ta",
        ] {
            let e = trigger(tag, SHA).validate("rc-").unwrap_err();
            assert_eq!(e.name, "InvalidCandidate", "{tag}");
            assert!(e.message.contains(tag), "{tag}: {}", e.message);
        }
    }

    #[test]
    fn rejects_short_or_uppercase_shas() {
        assert!(trigger("rc-1.0.0", "abc123")
            .validate("rc-")
            .unwrap_err()
            .message
            .contains("40-character"));
        assert!(trigger("rc-1.0.0", &SHA.to_uppercase())
            .validate("rc-")
            .is_err());
    }

    #[test]
    fn rejects_bad_repositories() {
        for repo in ["shop", "/shop", "acme/", "a/b/c", "acme/sh op"] {
            let t = Trigger {
                repository: repo.into(),
                ..trigger("rc-1.0.0", SHA)
            };
            assert!(t.validate("rc-").is_err(), "{repo}");
        }
    }

    #[test]
    fn unknown_pusher_is_explicit() {
        let t = Trigger {
            pushed_by: None,
            ..trigger("rc-1.0.0", SHA)
        };
        assert_eq!(t.validate("rc-").unwrap().pushed_by, "unknown");
    }

    #[test]
    fn execution_name_is_deterministic_and_valid() {
        let c = trigger("rc-1.4.0", SHA).validate("rc-").unwrap();
        assert_eq!(c.execution_name(), "rc-1.4.0--0123456789ab");
    }

    #[test]
    fn a_rollback_is_named_by_its_release_and_the_minute_it_was_asked() {
        let asked = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, 7, 11, 5, 59)
            .single()
            .unwrap_or_default();
        let c = trigger("rc-1.3.0", SHA).validate("rc-").unwrap();
        assert_eq!(
            c.rollback_execution_name(asked),
            "rollback--rc-1.3.0--0123456789ab--20261207T1105"
        );
        let long = format!("rc-1.0.0-{}", "a".repeat(80));
        let c = trigger(&long, SHA).validate("rc-").unwrap();
        let name = c.rollback_execution_name(asked);
        assert!(name.len() <= 80, "{name}: Step Functions' limit");
        assert!(name.ends_with("--0123456789ab--20261207T1105"), "{name}");
    }

    #[test]
    fn unknown_trigger_fields_are_refused() {
        let e = serde_json::from_str::<Trigger>(
            r#"{"repository":"a/b","tag":"rc-1.0.0","sha":"x","extra":1}"#,
        )
        .unwrap_err();
        assert!(e.to_string().contains("extra"));
    }

    #[test]
    fn versions_compare_by_semver_precedence() {
        assert_eq!(compare_versions("1.4.0", "1.4.1"), Ordering::Less);
        assert_eq!(compare_versions("1.10.0", "1.9.9"), Ordering::Greater);
        assert_eq!(compare_versions("1.4.0-beta.2", "1.4.0"), Ordering::Less);
        assert_eq!(
            compare_versions("1.4.0-beta.2", "1.4.0-beta.10"),
            Ordering::Less
        );
        assert_eq!(
            compare_versions("1.4.0-alpha", "1.4.0-beta"),
            Ordering::Less
        );
        assert_eq!(compare_versions("1.4.0-1", "1.4.0-alpha"), Ordering::Less);
        assert_eq!(compare_versions("1.4.0", "1.4.0"), Ordering::Equal);
    }

    #[test]
    fn the_previous_candidate_is_by_version_not_by_text() {
        let tags = ["rc-1.9.0", "rc-1.10.0", "v2.0.0", "rc-1.11.0", "rc-1.2.0"];
        assert_eq!(
            previous_candidate(tags, "rc-1.11.0", "rc-").as_deref(),
            Some("rc-1.10.0")
        );
        assert_eq!(previous_candidate(tags, "rc-1.2.0", "rc-"), None);
        assert_eq!(previous_candidate(tags, "v3", "rc-"), None);
    }
}

//! Local adapters, one file per port: what each port means on a laptop, honestly.
//!
//! | Port | Local meaning |
//! |---|---|
//! | Artifacts | files under `.stagegate/` (`runs/<run>/...`) |
//! | Notifier | one file per message in the run's `outbox/` (subject, attributes, body), echoed to the terminal |
//! | Builds (CodeBuild) | the check's command, `sh -c` in the app directory, log in `logs/` |
//! | Stacks (CloudFormation) | the preview diffs the packaged template's resources against the last rehearsed template, with Replacement `True`/`False`/`Conditional` from the resource types' create-only properties (CloudFormation's registry schemas, `data/`); "executing" starts the app's declared backend command and waits for its health path; outputs are the ones the app declares |
//! | Hosting (Amplify) | the frontend directory copied to the run's `site/` with `env.json`, served on 127.0.0.1 |
//! | Http | the Lambdas' own client (`stagegate_https::HttpsClient`), against 127.0.0.1 |
//! | SourceHistory + Releases | `git` in the app directory (tags `rc-*`, log between them); no release is published: no GitHub token is used locally, and the notes say so |
//! | Approvals, Approvers, Claims, Candidates, Waits | `stagegate::testing::MemoryTable`: the table in memory, for the rehearsal's one process |
//! | TaskCallbacks, Executions, Timelines | the embedded engine itself ([`crate::LocalStepFunctions`]) |
//! | Signer (KMS) | an ECDSA P-256 key in `.stagegate/evidence-key.p8` (0600), made on first use |
//!
//! Nothing here reports a success it did not observe: a backend that does not answer
//! its health path is a rolled-back stack, with its own output as the reason.

pub mod alarms;
mod artifacts;
mod backend;
mod builds;
mod changes;
mod hosting;
mod outbox;
mod repository;
mod signer;
mod stacks;

pub use alarms::LocalAlarms;
pub use artifacts::DirArtifacts;
pub use builds::ProcessBuilds;
pub use changes::replacement;
pub use hosting::{LocalHosting, LOCAL_APP, LOCAL_BRANCH};
pub use outbox::{Outbox, OutboxListener};
pub use repository::GitRepository;
pub use signer::{LocalSigner, EVIDENCE_KEY};
pub use stacks::LocalStacks;

use stagegate::PortError;
use std::collections::BTreeSet;
use std::path::{Component, Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Stages `--fail` can break, and how.
pub const FAULTS: &[(&str, &str)] = &[
    ("eslint", "the ESLint check's command fails"),
    ("typescript", "the TypeScript check's command fails"),
    ("unit-tests", "the unit tests' command fails"),
    ("security-scan", "the security scan's command fails"),
    ("package", "Package & Preview's build fails (no change preview)"),
    ("tamper", "one byte of the approved package changes while it waits for approval: Validate Infrastructure ends the run ArtifactChanged, nothing deployed"),
    ("validate-infrastructure", "another deployment changes the stack after the preview, just before Validate Infrastructure"),
    ("deploy-infrastructure", "the candidate adds a resource and its backend does not start: the stack rolls back"),
    ("deploy-frontend", "the frontend job fails"),
    ("integration-tests", "the backend runs with STAGEGATE_FAULT=integration-tests (the example app breaks its AI endpoint)"),
    ("performance-tests", "the local site answers slowly, over the performance budget"),
    ("bake", "the candidate's backend stops answering while it bakes: its health alarm goes off and the run rolls back to the previous release"),
];

/// The stages made to fail in this rehearsal.
#[derive(Clone, Debug, Default)]
pub struct Faults(BTreeSet<String>);

impl Faults {
    pub fn parse(stages: &[String]) -> Result<Faults, String> {
        let mut set = BTreeSet::new();
        for s in stages {
            if !FAULTS.iter().any(|f| f.0 == s) {
                return Err(format!(
                    "unknown stage '{s}' for --fail; choose one of: {}",
                    FAULTS.iter().map(|f| f.0).collect::<Vec<_>>().join(", ")
                ));
            }
            set.insert(s.clone());
        }
        Ok(Faults(set))
    }
    pub fn has(&self, stage: &str) -> bool {
        self.0.contains(stage)
    }
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
    /// Every stage made to fail, in name order.
    pub fn stages(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

/// Refuses keys that could escape the artifacts root.
fn safe_join(root: &Path, key: &str) -> Result<PathBuf, PortError> {
    let rel = Path::new(key);
    if key.is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(PortError::new(
            "artifacts",
            format!("'{key}' is not a relative artifact key"),
        ));
    }
    Ok(root.join(rel))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn artifact_keys_cannot_escape_the_root() {
        let root = Path::new("/tmp/x");
        assert!(safe_join(root, "runs/a/b.md").is_ok());
        for bad in ["../etc/passwd", "/etc/passwd", "runs/../../x", ""] {
            assert!(safe_join(root, bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn unknown_fault_stages_list_the_valid_ones() {
        let e = Faults::parse(&["deploy-frontnd".into()]).unwrap_err();
        assert!(e.contains("deploy-frontend") && e.contains("unknown stage 'deploy-frontnd'"));
        assert!(Faults::parse(&["deploy-frontend".into()])
            .unwrap()
            .has("deploy-frontend"));
    }
}

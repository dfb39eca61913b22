//! `stagegate verify RUN`: a run's signed evidence, checked — the signature, the
//! bundle's digest, the approved manifest and every artifact it lists, every record —
//! against the artifacts bucket on AWS (`--bucket`, `--key`) or a rehearsal's
//! `.stagegate/` here. Each difference is named; the exit status is 1 if there is one.
//! `stagegate verify --commit SHA`: what a promotion of the commit checks first — a
//! staging run of it ended ready, and that run's evidence holds (`NotStaged`,
//! `EvidenceInvalid` otherwise).

use anyhow::{bail, Context, Result};
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use stagegate::manifest::evidence::{self, Evidence};
use stagegate::manifest::staged::{self, Staged, Unproven};
use stagegate::ports::{Artifacts, Signer};
use stagegate_local::adapters::{DirArtifacts, LocalSigner, EVIDENCE_KEY};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The run's id, as its notices and `stagegate status` name it
    /// (rc-1.4.0--0123456789ab).
    #[arg(required_unless_present = "commit")]
    run: Option<String>,
    /// Instead of a run: the commit (40 hexadecimal digits) a promotion would deploy —
    /// checked as staged (a staging run of it ended ready) with evidence that holds.
    #[arg(long, conflicts_with = "run")]
    commit: Option<String>,
    /// The artifacts bucket (the stack's ArtifactsBucketName output); without it, a
    /// rehearsal's runs in --dir are checked.
    #[arg(long, env = "STAGEGATE_ARTIFACTS_BUCKET")]
    bucket: Option<String>,
    /// The evidence key (the stack's EvidenceKeyArn output); needs kms:Verify.
    #[arg(long, env = "STAGEGATE_EVIDENCE_KEY_ARN")]
    key: Option<String>,
    /// A rehearsal's directory.
    #[arg(long, default_value = ".stagegate")]
    dir: PathBuf,
}

/// A run id is one path segment: never a way out of the run's prefix.
fn check_run(run: &str) -> Result<()> {
    if !stagegate::flow::is_run_id(run) {
        bail!("'{run}' is not a run id (letters, digits, '.', '_' and '-', as in rc-1.4.0--0123456789ab)");
    }
    Ok(())
}

/// What is checked: one run's evidence, or a commit's staging.
enum Subject {
    Run(String),
    Commit(String),
}

/// What the check found: the evidence that holds, or what is wrong.
type Found = Result<(Evidence, Option<Staged>), (String, Vec<String>)>;

pub fn run(args: VerifyArgs) -> Result<ExitCode> {
    let subject = match (&args.run, &args.commit) {
        (Some(run), _) => {
            check_run(run)?;
            Subject::Run(run.clone())
        }
        (None, Some(commit)) => Subject::Commit(commit.clone()),
        (None, None) => bail!("name a run, or a commit with --commit"),
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")?;
    let found = match (&args.bucket, &args.key) {
        (Some(bucket), Some(key)) => rt.block_on(async {
            let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
            let artifacts = S3Artifacts::from_config(&config, bucket);
            check(&artifacts, &KmsSigner::from_config(&config, key), &subject).await
        })?,
        (Some(_), None) => bail!("--bucket needs --key (or STAGEGATE_EVIDENCE_KEY_ARN): the stack's EvidenceKeyArn output"),
        (None, _) => {
            let key = args.dir.join(EVIDENCE_KEY);
            if !key.exists() {
                bail!("{}: no evidence key: is {} a rehearsal's directory? (or pass --bucket and --key for AWS)", key.display(), args.dir.display());
            }
            let signer = LocalSigner::open(&key).map_err(anyhow::Error::msg)?;
            let artifacts = DirArtifacts { root: args.dir.clone() };
            let found = rt.block_on(check(&artifacts, &signer, &subject))?;
            found.map_err(|(what, mut found)| {
                if let Subject::Run(run) = &subject {
                    found.extend(runs_of_tag(&args.dir, run));
                }
                (what, found)
            })
        }
    };
    Ok(match found {
        Ok((e, staged)) => {
            if let Some(s) = staged {
                println!(
                    "✔ {} is staged: run {} ended ready, on staging since {}",
                    s.commit,
                    s.run_id,
                    s.first_ready_at.to_rfc3339()
                );
            }
            print!("{}", verified(&e));
            ExitCode::SUCCESS
        }
        Err((what, found)) => {
            println!("✗ {what}:");
            for f in &found {
                println!("  ✗ {f}");
            }
            ExitCode::from(1)
        }
    })
}

/// When `run` is a tag rather than a run id, the rehearsal's runs of that tag, as a
/// line that names them (a run id is the tag, `--` and the commit's first 12 digits).
fn runs_of_tag(dir: &std::path::Path, run: &str) -> Option<String> {
    let prefix = format!("{run}--");
    let mut runs: Vec<String> = std::fs::read_dir(dir.join("runs"))
        .ok()?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.starts_with(&prefix))
        .collect();
    runs.sort();
    (!runs.is_empty()).then(|| {
        format!(
            "{run} is a tag; its runs here are {}: name one",
            runs.join(", ")
        )
    })
}

async fn check(
    artifacts: &impl Artifacts,
    signer: &impl Signer,
    subject: &Subject,
) -> Result<Found> {
    Ok(match subject {
        Subject::Run(run) => evidence::verify(artifacts, signer, &format!("runs/{run}/"))
            .await?
            .map(|e| (e, None))
            .map_err(|found| (format!("the evidence of {run} does not hold"), found)),
        Subject::Commit(commit) => match staged::staged_release(artifacts, signer, commit).await? {
            Ok((s, e)) => Ok((e, Some(s))),
            Err(Unproven::NotStaged(why)) => Err((
                format!("{commit} cannot be promoted (NotStaged)"),
                vec![why],
            )),
            Err(Unproven::EvidenceInvalid(found)) => Err((
                format!("{commit} cannot be promoted (EvidenceInvalid)"),
                found,
            )),
        },
    })
}

/// What holds, as people read it.
fn verified(e: &Evidence) -> String {
    let mut out = format!(
        "✔ the evidence of {} holds: signed, and every digest matches\n  {} {} at {}: {} ({})\n",
        e.run_id, e.repository, e.tag, e.commit, e.outcome, e.stage
    );
    if let Some(m) = &e.manifest {
        out.push_str(&format!("  manifest {} sha256 {}\n", m.key, m.digest));
    }
    for d in &e.decisions {
        out.push_str(&format!(
            "  {} {} by {} ({}, {})\n",
            d.gate,
            if d.approve { "approved" } else { "rejected" },
            d.approver,
            d.channel,
            d.at.to_rfc3339()
        ));
    }
    out.push_str(&format!("  {} record(s) bound\n", e.records.len()));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tag_given_for_a_run_is_answered_with_its_runs() {
        let dir = std::env::temp_dir().join(format!("stagegate-verify-{}", std::process::id()));
        for run in [
            "rc-1.4.0--0123456789ab-2",
            "rc-1.4.0--0123456789ab",
            "rc-1.4.1--0123456789ab",
        ] {
            std::fs::create_dir_all(dir.join("runs").join(run)).unwrap();
        }
        assert_eq!(
            runs_of_tag(&dir, "rc-1.4.0").as_deref(),
            Some("rc-1.4.0 is a tag; its runs here are rc-1.4.0--0123456789ab, rc-1.4.0--0123456789ab-2: name one")
        );
        assert_eq!(
            runs_of_tag(&dir, "rc-1.4"),
            None,
            "a prefix of a tag is not the tag"
        );
        assert_eq!(runs_of_tag(&dir, "rc-1.4.0--0123456789ab"), None);
        assert_eq!(runs_of_tag(&dir.join("nothing"), "rc-1.4.0"), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_run_id_cannot_leave_its_prefix() {
        assert!(check_run("rc-1.4.0--0123456789ab").is_ok());
        for bad in ["", "..", "../x", "a/b", "a b"] {
            assert!(check_run(bad).is_err(), "{bad}");
        }
    }
}

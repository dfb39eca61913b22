//! `stagegate rollback ENV [--to TAG]`: asks for a rollback of staging or production
//! to a release that went live there before (without `--to`: the one live before the
//! current one), read from the artifacts bucket's `live/` records. It starts the
//! environment's own state machine with the release's tag and commit, flagged as a
//! rollback, as the caller's AWS principal: the run verifies the release again,
//! previews its change set and asks the environment's approvers (staging: one;
//! production: its quorum; never the caller) before anything deploys.

use crate::aws::{git, runtime, start_as_caller};
use anyhow::{anyhow, Result};
use aws_s3_port::S3Artifacts;
use stagegate::manifest::live::{rollback_target, Live};
use stagegate::ports::{Artifacts, Candidate, Trigger};
use std::process::ExitCode;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Env {
    Staging,
    Production,
}

#[derive(clap::Args)]
pub struct RollbackArgs {
    /// Which environment to roll back.
    #[arg(value_enum)]
    env: Env,
    /// The release to go back to (rc-1.3.0 on staging, v1.3.0 in production); it must
    /// have gone live there through stagegate. Default: the one live before the
    /// current one.
    #[arg(long, value_name = "TAG")]
    to: Option<String>,
    /// The artifacts bucket (the stack's ArtifactsBucketName output): where what went
    /// live is recorded.
    #[arg(long, env = "STAGEGATE_ARTIFACTS_BUCKET")]
    bucket: Option<String>,
    /// The staging state machine (StateMachineArn), for `staging`.
    #[arg(long, env = "STAGEGATE_STATE_MACHINE_ARN")]
    state_machine: Option<String>,
    /// The production state machine (ProductionStateMachineArn), for `production`.
    #[arg(long, env = "STAGEGATE_PRODUCTION_STATE_MACHINE_ARN")]
    production_state_machine: Option<String>,
    /// The environment's tag prefix (the deployment's TagPrefix or
    /// ProductionTagPrefix); default: STAGEGATE_TAG_PREFIX, else rc-, on staging;
    /// STAGEGATE_PRODUCTION_TAG_PREFIX, else v, in production (as start and promote).
    #[arg(long)]
    tag_prefix: Option<String>,
}

impl Env {
    fn name(self) -> &'static str {
        match self {
            Env::Staging => "staging",
            Env::Production => "production",
        }
    }
}

/// The trigger of a rollback to `target` (as it went live), asked by whoever runs
/// this (shown by their git name; the pusher is set from STS when it starts), and
/// its candidate. Refused before any AWS call when the tag is not of the prefix.
pub fn rollback_trigger(target: &Live, prefix: &str) -> Result<(Trigger, Candidate)> {
    let t = Trigger {
        repository: target.repository.clone(),
        tag: target.tag.clone(),
        sha: target.commit.clone(),
        pushed_by: git(&["config", "user.name"]),
        pusher: None,
        rollback: true,
    };
    let candidate = t.validate(prefix).map_err(|e| anyhow!("{}", e.message))?;
    Ok((t, candidate))
}

/// `--to TAG` must be one of the environment's tags: refused before anything is read.
fn check_to(to: Option<&str>, prefix: &str, env: Env) -> Result<()> {
    match to {
        Some(tag) if !tag.starts_with(prefix) || tag.len() == prefix.len() => Err(anyhow!(
            "--to {tag}: {}'s releases are tagged {prefix}… (give the tag that went live there, or --tag-prefix)",
            env.name()
        )),
        _ => Ok(()),
    }
}

/// What `env` goes back to, read from `artifacts`.
pub async fn target(artifacts: &impl Artifacts, env: Env, to: Option<&str>) -> Result<Live> {
    rollback_target(artifacts, env.name(), to)
        .await?
        .map_err(|why| anyhow!("cannot roll {} back: {why}", env.name()))
}

pub fn run(args: RollbackArgs) -> Result<ExitCode> {
    use crate::stack::resolve;
    let machine = match args.env {
        Env::Staging => resolve(
            &args.state_machine,
            "StateMachineArn",
            "--state-machine",
            "STAGEGATE_STATE_MACHINE_ARN",
        )?,
        Env::Production => resolve(
            &args.production_state_machine,
            "ProductionStateMachineArn",
            "--production-state-machine",
            "STAGEGATE_PRODUCTION_STATE_MACHINE_ARN",
        )?,
    };
    let (var, default) = match args.env {
        Env::Staging => ("STAGEGATE_TAG_PREFIX", "rc-"),
        Env::Production => ("STAGEGATE_PRODUCTION_TAG_PREFIX", "v"),
    };
    let prefix = &args
        .tag_prefix
        .clone()
        .or_else(|| std::env::var(var).ok())
        .unwrap_or_else(|| default.into());
    check_to(args.to.as_deref(), prefix, args.env)?;
    let bucket = resolve(
        &args.bucket,
        "ArtifactsBucketName",
        "--bucket",
        "STAGEGATE_ARTIFACTS_BUCKET",
    )?;
    let live = runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        target(
            &S3Artifacts::from_config(&config, &bucket),
            args.env,
            args.to.as_deref(),
        )
        .await
    })?;
    let (mut trigger, candidate) = rollback_trigger(&live, prefix)?;
    let name = candidate.rollback_execution_name(chrono::Utc::now());
    let started = start_as_caller(&machine, &name, &mut trigger)?;
    let what = if started.new {
        "asked"
    } else {
        "already asked (the same request is the same run)"
    };
    println!(
        "rollback of {} to {} ({}) {what}: the run previews it and waits for the {} approvers\n  {}",
        args.env.name(),
        live.tag,
        &live.commit[..12.min(live.commit.len())],
        args.env.name(),
        started.execution_arn
    );
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate::testing::MemoryArtifacts;

    fn live(tag: &str, commit: &str, previous: Option<&str>) -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "stage": "staging", "repository": "acme/shop", "tag": tag, "commit": commit,
            "runId": format!("{tag}--{}", &commit[..12]), "templateRun": "x",
            "evidence": {"key": "k", "digest": "d"}, "since": "2026-12-07T10:00:00Z",
            "previous": previous,
        }))
        .unwrap_or_default()
    }

    #[tokio::test]
    async fn without_to_it_goes_back_to_the_release_live_before_and_names_it_as_a_rollback() {
        let store = MemoryArtifacts::default();
        let (c13, c14) = ("1".repeat(40), "2".repeat(40));
        store.put_sync(
            "live/staging.json",
            "json",
            live("rc-1.4.0", &c14, Some("rc-1.3.0")),
        );
        store.put_sync(
            "live/staging/released/rc-1.3.0.json",
            "json",
            live("rc-1.3.0", &c13, None),
        );
        let back = target(&store, Env::Staging, None)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let (t, c) = rollback_trigger(&back, "rc-").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            (t.tag.as_str(), t.sha.as_str(), t.rollback),
            ("rc-1.3.0", c13.as_str(), true)
        );
        let input = serde_json::to_value(&t).unwrap_or_default();
        assert_eq!(input["rollback"], true, "the definitions route on it");
        let name = c.rollback_execution_name(chrono::Utc::now());
        assert!(
            name.starts_with("rollback--rc-1.3.0--111111111111--"),
            "{name}"
        );
        // A release that never went live, refused before anything starts.
        let e = target(&store, Env::Staging, Some("rc-1.2.0"))
            .await
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot roll staging back: rc-1.2.0 never went live"),
            "{e}"
        );
        // Production's prefix is not staging's.
        let e = rollback_trigger(&back, "v").unwrap_err();
        assert!(e.to_string().contains("'v'"), "{e}");
    }

    #[test]
    fn without_a_state_machine_or_a_bucket_it_says_which_before_calling_aws() {
        let args = |env, machine: Option<&str>| RollbackArgs {
            env,
            to: None,
            bucket: None,
            state_machine: machine.map(str::to_string),
            production_state_machine: None,
            tag_prefix: None,
        };
        let e = run(args(Env::Production, Some("arn:staging"))).unwrap_err();
        assert!(
            e.to_string()
                .contains("STAGEGATE_PRODUCTION_STATE_MACHINE_ARN"),
            "{e}"
        );
        let e = run(args(Env::Staging, Some("arn:staging"))).unwrap_err();
        assert!(e.to_string().contains("STAGEGATE_ARTIFACTS_BUCKET"), "{e}");
    }

    #[test]
    fn a_to_tag_of_another_environment_is_refused_before_anything_is_read() {
        // No bucket is configured: the tag is refused first, naming the prefix.
        let e = run(RollbackArgs {
            env: Env::Production,
            to: Some("rc-1.3.0".into()),
            bucket: None,
            state_machine: None,
            production_state_machine: Some("arn:production".into()),
            tag_prefix: None,
        })
        .unwrap_err();
        assert!(
            e.to_string()
                .contains("--to rc-1.3.0: production's releases are tagged v…"),
            "{e}"
        );
        assert!(check_to(Some("v"), "v", Env::Production).is_err());
        assert!(check_to(Some("v1.3.0"), "v", Env::Production).is_ok());
        assert!(check_to(None, "v", Env::Production).is_ok());
    }
}

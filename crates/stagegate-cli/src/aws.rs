//! `stagegate start` and `stagegate status`: the deployed state machine, from a
//! terminal. Credentials and region come from the usual AWS chain (profile, env,
//! SSO); `AWS_ENDPOINT_URL` points them at an emulator.

use anyhow::{anyhow, bail, Context, Result};
use aws_sfn_port::{ExecutionView, Runs, StepFunctions};
use stagegate::ports::{Candidate, Pusher, Trigger};
use std::process::{Command, ExitCode};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("candidate_tag").required(true).args(["tag", "tag_flag"]))]
pub struct StartArgs {
    /// The release-candidate tag, e.g. rc-1.4.0 (as `promote` takes it).
    tag: Option<String>,
    /// The same, as a flag (`--tag rc-1.4.0`, as `rehearse` takes it).
    #[arg(long = "tag", value_name = "TAG")]
    tag_flag: Option<String>,
    #[command(flatten)]
    candidate: CandidateArgs,
    #[command(flatten)]
    target: Target,
}

/// A candidate's commit and repository, and the prefix its tag must have: `start`'s
/// and `promote`'s flags alike.
#[derive(clap::Args)]
pub struct CandidateArgs {
    /// The commit (40 hex digits); default: what the candidate tag points at in this
    /// checkout.
    #[arg(long)]
    sha: Option<String>,
    /// owner/name; default: STAGEGATE_REPOSITORY, else this checkout's origin.
    #[arg(long)]
    repository: Option<String>,
    /// The candidates' tag prefix (the deployment's `TagPrefix`).
    #[arg(long, env = "STAGEGATE_TAG_PREFIX", default_value = "rc-")]
    tag_prefix: String,
}

#[derive(clap::Args)]
pub struct StatusArgs {
    /// An execution ARN, or a run name (rc-1-4-0--0123456789ab) under the state machine.
    #[arg(required_unless_present = "recent", conflicts_with = "recent")]
    execution: Option<String>,
    /// Instead of one run: the state machine's N most recent runs, with the figures
    /// stagegate's metrics carry (outcomes, approval waits, phase durations).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(i32).range(1..=1000))]
    recent: Option<i32>,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

#[derive(clap::Args)]
struct Target {
    /// The staging state machine (the stack's StateMachineArn output).
    #[arg(long, env = "STAGEGATE_STATE_MACHINE_ARN")]
    state_machine: Option<String>,
}

impl Target {
    /// The flag or its variable, else the deployed stack's StateMachineArn output.
    fn arn(&self) -> Result<String> {
        let (flag, env) = ("--state-machine", "STAGEGATE_STATE_MACHINE_ARN");
        crate::stack::resolve(&self.state_machine, "StateMachineArn", flag, env)
    }
}

pub(crate) fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// `owner/name` from a GitHub remote URL (https or ssh).
pub fn repository_of(remote: &str) -> Option<String> {
    let path = remote
        .strip_prefix("git@github.com:")
        .or_else(|| remote.split_once("github.com/").map(|(_, p)| p))?;
    let path = path.trim_end_matches('/').trim_end_matches(".git");
    (path.split('/').count() == 2).then(|| path.to_string())
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("start the async runtime")
}

/// The caller's ARN, as STS vouches for it.
pub async fn caller_arn(config: &aws_config::SdkConfig) -> Result<String> {
    aws_sdk_sts::Client::new(config)
        .get_caller_identity()
        .send()
        .await
        .context("who are you? (sts:GetCallerIdentity)")?
        .arn()
        .map(str::to_string)
        .ok_or_else(|| anyhow!("sts:GetCallerIdentity returned no ARN"))
}

async fn client(state_machine: &str) -> StepFunctions {
    let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
    StepFunctions::from_config(&config, state_machine)
}

/// The trigger `start` sends for `tag` (the same shape the webhook publishes),
/// validated into its candidate.
pub fn trigger(tag: &str, args: &CandidateArgs) -> Result<(Trigger, Candidate)> {
    let sha = match &args.sha {
        Some(s) => s.clone(),
        None => git(&["rev-parse", &format!("{tag}^{{commit}}")])
            .ok_or_else(|| anyhow!("tag {tag} is not in this checkout: pass --sha"))?,
    };
    let repository = match &args.repository {
        Some(r) => r.clone(),
        None => std::env::var("STAGEGATE_REPOSITORY")
            .ok()
            .or_else(|| git(&["remote", "get-url", "origin"]).and_then(|u| repository_of(&u)))
            .ok_or_else(|| anyhow!("cannot tell the repository: pass --repository owner/name"))?,
    };
    // Who starts it is who pushes it: shown by their git name; the pusher rule
    // compares the AWS principal `start` records (see `start`), never a typed name.
    let t = Trigger {
        repository,
        tag: tag.to_string(),
        sha,
        pushed_by: git(&["config", "user.name"]),
        pusher: None,
        rollback: false,
    };
    let candidate = t
        .validate(&args.tag_prefix)
        .map_err(|e| anyhow!("{}", e.message))?;
    Ok((t, candidate))
}

/// Starts run `name` of state machine `arn` with `trigger`, whose pusher is the
/// caller, by the principal AWS vouches for.
pub(crate) fn start_as_caller(
    arn: &str,
    name: &str,
    trigger: &mut Trigger,
) -> Result<aws_sfn_port::Started> {
    runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let principal = caller_arn(&config).await?;
        trigger.pusher = Some(Pusher::Aws { principal });
        let input = serde_json::to_value(&*trigger)?;
        StepFunctions::from_config(&config, arn)
            .start(name, &input)
            .await
            .map_err(anyhow::Error::from)
    })
}

pub fn start(args: StartArgs) -> Result<ExitCode> {
    // The group makes exactly one of the two present.
    let tag = args.tag.or(args.tag_flag).unwrap_or_default();
    let (mut trigger, candidate) = trigger(&tag, &args.candidate)?;
    let name = candidate.execution_name();
    let arn = args.target.arn()?;
    let started = start_as_caller(&arn, &name, &mut trigger)?;
    if started.new {
        println!("started {name}\n  {}", started.execution_arn);
    } else {
        println!(
            "{name} already exists (a repeated start is the same run)\n  {}",
            started.execution_arn
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(clap::Args)]
pub struct PromoteArgs {
    /// The staged release-candidate tag, e.g. rc-1.4.0 (its commit is what is promoted).
    rc: String,
    /// The production tag, e.g. v1.4.0: same version as the candidate.
    #[arg(long = "as", value_name = "TAG")]
    as_tag: String,
    #[command(flatten)]
    candidate: CandidateArgs,
    /// The production tags' prefix (the deployment's `ProductionTagPrefix`).
    #[arg(long, env = "STAGEGATE_PRODUCTION_TAG_PREFIX", default_value = "v")]
    production_tag_prefix: String,
    /// The production state machine (the stack's ProductionStateMachineArn output).
    #[arg(long, env = "STAGEGATE_PRODUCTION_STATE_MACHINE_ARN")]
    state_machine: Option<String>,
}

/// The production trigger `promote` sends: the candidate's commit under the
/// production tag. Refused before any AWS call when either tag is not of its prefix,
/// or the versions differ (rc-1.4.0 is promoted as v1.4.0, never as v1.5.0).
pub fn promotion(args: &PromoteArgs) -> Result<(Trigger, Candidate)> {
    let (mut t, rc) = trigger(&args.rc, &args.candidate)?;
    t.tag = args.as_tag.clone();
    let v = t
        .validate(&args.production_tag_prefix)
        .map_err(|e| anyhow!("{}", e.message))?;
    if v.version != rc.version {
        bail!(
            "{} is version {}, {} is {}: a promotion keeps the version",
            rc.tag,
            rc.version,
            v.tag,
            v.version
        );
    }
    Ok((t, v))
}

pub fn promote(args: PromoteArgs) -> Result<ExitCode> {
    let (mut trigger, production) = promotion(&args)?;
    let (flag, env) = ("--state-machine", "STAGEGATE_PRODUCTION_STATE_MACHINE_ARN");
    let arn = crate::stack::resolve(&args.state_machine, "ProductionStateMachineArn", flag, env)?;
    let name = production.execution_name();
    let started = start_as_caller(&arn, &name, &mut trigger)?;
    let what = if started.new {
        "promoting"
    } else {
        "already promoting (a repeated promote is the same run)"
    };
    println!(
        "{what} {} ({}) as {}\n  {}",
        args.rc, production.sha, production.tag, started.execution_arn
    );
    Ok(ExitCode::SUCCESS)
}

pub fn status(args: StatusArgs) -> Result<ExitCode> {
    let Some(execution) = &args.execution else {
        return recent(&args);
    };
    check_reference(execution)?;
    let arn = if execution.starts_with("arn:") {
        execution.clone()
    } else {
        aws_sfn_port::execution_arn(&args.target.arn()?, execution)
    };
    let view = runtime()?.block_on(async { client("").await.view(&arn).await })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&view)?);
    } else {
        print!("{}", render(&view));
    }
    Ok(match view.status.as_str() {
        "SUCCEEDED" | "RUNNING" => ExitCode::SUCCESS,
        _ => ExitCode::from(1),
    })
}

/// `status --recent N`: the machine's last N runs and their figures.
fn recent(args: &StatusArgs) -> Result<ExitCode> {
    let machine = &args.target.arn()?;
    let views = runtime()?.block_on(async {
        let sfn = client(machine).await;
        let mut views = Vec::new();
        for arn in sfn.recent(args.recent.unwrap_or(10)).await? {
            views.push(sfn.view(&arn).await?);
        }
        Ok::<_, stagegate::PortError>(views)
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&views)?);
    } else {
        print!(
            "{}",
            crate::figures::render(machine, &views, chrono::Utc::now())
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn seconds(s: i64) -> String {
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{:02}s", s / 60, s % 60),
        s => format!("{}h{:02}m", s / 3600, (s % 3600) / 60),
    }
}

/// The status as people read it: outcome, then each phase and how long it took.
/// Repeated entries of a state (a polling loop) are one line with a count.
pub fn render(v: &ExecutionView) -> String {
    let mut out = format!(
        "{}\n  status   {}\n  started  {}\n",
        v.arn, v.status, v.started
    );
    if let Some(stop) = v.stopped {
        out.push_str(&format!(
            "  stopped  {stop} ({})\n",
            seconds((stop - v.started).num_seconds())
        ));
    }
    if let Some(e) = &v.error {
        out.push_str(&format!("  error    {e}\n"));
    }
    if let Some(c) = &v.cause {
        out.push_str(&format!("  cause    {c}\n"));
    }
    out.push_str("\n  phase                                   time  \n");
    let mut rows: Vec<(String, i64, u32, bool)> = Vec::new();
    for p in &v.phases {
        let took = p.exited.map(|x| (x - p.entered).num_seconds()).unwrap_or(0);
        match rows.iter_mut().find(|r| r.0 == p.state) {
            Some(r) => {
                r.1 += took;
                r.2 += 1;
                r.3 |= p.exited.is_none();
            }
            None => rows.push((p.state.clone(), took, 1, p.exited.is_none())),
        }
    }
    for (state, took, n, running) in rows {
        let times = if n > 1 {
            format!(" x{n}")
        } else {
            String::new()
        };
        let now = if running { " (running)" } else { "" };
        out.push_str(&format!("  {state:<38} {:>6}{times}{now}\n", seconds(took)));
    }
    out
}

/// Refuses a malformed execution reference early.
pub fn check_reference(r: &str) -> Result<()> {
    if r.is_empty() || r.chars().any(char::is_whitespace) {
        bail!("'{r}' is neither an execution ARN nor a run name");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sfn_port::Phase;
    use chrono::{TimeZone, Utc};

    #[test]
    fn repositories_come_from_github_remotes() {
        assert_eq!(
            repository_of("git@github.com:acme/shop.git").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(
            repository_of("https://github.com/acme/shop").as_deref(),
            Some("acme/shop")
        );
        assert_eq!(repository_of("https://gitlab.com/acme/shop"), None);
    }

    #[test]
    fn start_refuses_a_bad_candidate_before_calling_aws() {
        let e = trigger("v1.4.0", &candidate_args())
            .unwrap_err()
            .to_string();
        assert!(e.contains("rc-"), "{e}");
    }

    #[test]
    fn the_status_groups_polling_loops_and_shows_durations() {
        let t = |s: i64| Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap();
        let phase = |state: &str, a: i64, b: Option<i64>| Phase {
            state: state.into(),
            entered: t(a),
            exited: b.map(t),
        };
        let v = ExecutionView {
            arn: "arn:e".into(),
            status: "RUNNING".into(),
            input: serde_json::Value::Null,
            started: t(0),
            stopped: None,
            error: None,
            cause: None,
            phases: vec![
                phase("Preflight", 0, Some(2)),
                phase("Stack Status", 2, Some(3)),
                phase("Stack Status", 33, Some(34)),
                phase("Wait for Approval", 34, None),
            ],
        };
        let out = render(&v);
        assert!(out.contains("Preflight"), "{out}");
        assert!(
            out.lines()
                .any(|l| l.contains("Stack Status") && l.contains("2s x2")),
            "{out}"
        );
        assert!(
            out.lines()
                .any(|l| l.contains("Wait for Approval") && l.contains("(running)")),
            "{out}"
        );
    }

    fn promote_args(rc: &str, as_tag: &str) -> PromoteArgs {
        PromoteArgs {
            rc: rc.into(),
            as_tag: as_tag.into(),
            candidate: candidate_args(),
            production_tag_prefix: "v".into(),
            state_machine: None,
        }
    }

    /// A candidate of acme/shop at a fixed commit, tagged `rc-…`.
    fn candidate_args() -> CandidateArgs {
        CandidateArgs {
            sha: Some("0123456789abcdef0123456789abcdef01234567".into()),
            repository: Some("acme/shop".into()),
            tag_prefix: "rc-".into(),
        }
    }

    #[test]
    fn promote_sends_the_candidates_commit_under_the_production_tag() {
        let (t, v) = promotion(&promote_args("rc-1.4.0", "v1.4.0")).unwrap();
        assert_eq!((t.tag.as_str(), t.sha.as_str()), ("v1.4.0", v.sha.as_str()));
        assert_eq!(v.execution_name(), "v1.4.0--0123456789ab");
    }

    #[test]
    fn promote_refuses_a_changed_version_or_a_wrong_tag_before_calling_aws() {
        let e = promotion(&promote_args("rc-1.4.0", "v1.5.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("keeps the version"), "{e}");
        let e = promotion(&promote_args("rc-1.4.0", "release-1.4.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("'v'"), "{e}");
        let e = promotion(&promote_args("1.4.0", "v1.4.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("rc-"), "{e}");
        // No state machine: named, still before any AWS call.
        let e = promote(promote_args("rc-1.4.0", "v1.4.0"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("STAGEGATE_PRODUCTION_STATE_MACHINE_ARN"), "{e}");
    }
}

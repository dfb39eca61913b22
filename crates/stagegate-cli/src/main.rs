//! `stagegate`: the command line. `rehearse` runs the staging flow on this machine;
//! `test-case` runs Step Functions Local mock-config test cases on the embedded engine;
//! `start`, `promote`, `rollback` and `status` drive the state machines deployed on
//! AWS; `approvals` lists what waits on the caller, `approve` and `reject` decide a
//! waiting run as the caller's AWS identity; `approvers` manages who decides;
//! `verify` checks a run's signed evidence.

mod approvers;
mod aws;
mod figures;
mod rehearse;
mod rollback;
mod stack;
mod test_case;
mod verify;
mod waiting;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "stagegate",
    version,
    about = "Approval-gated staging deployments on AWS"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// The deployed stagegate stack whose outputs the AWS commands read (default: the
    /// stack_name samconfig.toml gives --config-env, as `sam deploy` uses).
    #[arg(long, global = true, env = "STAGEGATE_STACK")]
    stack: Option<String>,
    /// The samconfig.toml environment whose stack_name and region to use.
    #[arg(long, global = true, default_value = "default")]
    config_env: String,
    /// The SAM configuration file.
    #[arg(long, global = true, default_value = "samconfig.toml")]
    samconfig: std::path::PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Rehearse the staging flow on this machine: the real state machine, the app's
    /// own checks, a local backend and frontend, approvals on 127.0.0.1.
    Rehearse(rehearse::Args),
    /// Run one mock-config test case (Step Functions Local format) on the embedded
    /// engine and print the final status, output, error, cause and history as JSON.
    TestCase(test_case::Args),
    /// Start a staging run on AWS for a tag (the same run for a repeated start).
    Start(aws::StartArgs),
    /// Promote a staged candidate to production on AWS: `promote rc-1.4.0 --as v1.4.0`
    /// starts the production state machine for the candidate's commit.
    Promote(aws::PromoteArgs),
    /// Roll staging or production back on request: `rollback staging [--to rc-1.3.0]`
    /// starts the environment's state machine for a release that went live there
    /// before; it is previewed and approved like a deploy before anything changes.
    Rollback(rollback::RollbackArgs),
    /// Show a run on AWS: status, error, and each phase with its duration; or, with
    /// --recent N, the last N runs with their outcomes, approval waits and phase times.
    Status(aws::StatusArgs),
    /// Approve a run waiting on AWS, as your AWS identity (the STS caller ARN).
    Approve(approvers::DecideArgs),
    /// Reject a run waiting on AWS, as your AWS identity; --comment says why.
    Reject(approvers::DecideArgs),
    /// What waits on you: the pending approvals of the repository that ask your AWS
    /// identity, each with its summary and the commands that decide it.
    Approvals(waiting::ApprovalsArgs),
    /// Who decides approvals: add, remove, list (each gets their own emails).
    Approvers(approvers::ApproversArgs),
    /// Check a run's signed evidence: the signature and every digest, against the
    /// artifacts bucket (--bucket, --key) or a rehearsal's .stagegate/ here.
    Verify(verify::VerifyArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Err(e) = stack::configure(cli.stack, &cli.config_env, cli.samconfig) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        Command::Rehearse(args) => rehearse::run(args),
        Command::TestCase(args) => test_case::run(args),
        Command::Start(args) => aws::start(args),
        Command::Promote(args) => aws::promote(args),
        Command::Rollback(args) => rollback::run(args),
        Command::Status(args) => aws::status(args),
        Command::Approve(args) => approvers::decide(args, true),
        Command::Reject(args) => approvers::decide(args, false),
        Command::Approvals(args) => waiting::run(args),
        Command::Approvers(args) => approvers::approvers(args),
        Command::Verify(args) => verify::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

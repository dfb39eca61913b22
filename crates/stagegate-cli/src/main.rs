//! `stagegate`: the command line. `rehearse` runs the staging flow on this machine;
//! `test-case` runs Step Functions Local mock-config test cases on the embedded engine;
//! `start` and `status` drive the state machine deployed on AWS.

mod aws;
mod rehearse;
mod test_case;

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
    /// Show a run on AWS: status, error, and each phase with its duration.
    Status(aws::StatusArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rehearse(args) => rehearse::run(args),
        Command::TestCase(args) => test_case::run(args),
        Command::Start(args) => aws::start(args),
        Command::Status(args) => aws::status(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

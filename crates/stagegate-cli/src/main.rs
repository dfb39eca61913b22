//! `stagegate`: the command line. Today it runs Step Functions Local mock-config test
//! cases on the embedded engine (`stagegate test-case`); the rehearsal and the AWS
//! commands arrive with the staging flow.

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
    /// Run one mock-config test case (Step Functions Local format) on the embedded
    /// engine and print the final status, output, error, cause and history as JSON.
    TestCase(test_case::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::TestCase(args) => test_case::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

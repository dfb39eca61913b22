//! `stagegate rehearse`: the whole staging flow on this machine.

use anyhow::{bail, Context, Result};
use stagegate_local::rehearsal::{self, Decision, Options};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct Args {
    /// The application to deploy (a directory with stagegate.json).
    #[arg(long, default_value = "examples/shop")]
    app: PathBuf,
    /// The release-candidate tag to rehearse.
    #[arg(long, default_value = "rc-0.1.0")]
    tag: String,
    /// Approve when asked (as "rehearsal-approver"; with a reason if checks failed).
    #[arg(long, conflicts_with_all = ["reject", "timeout"])]
    approve: bool,
    /// Reject when asked, with this reason.
    #[arg(long, value_name = "REASON", conflicts_with = "timeout")]
    reject: Option<String>,
    /// Let the approval time out (the window is shortened to a few seconds).
    #[arg(long)]
    timeout: bool,
    /// Make a stage fail (repeatable): eslint, typescript, unit-tests, security-scan,
    /// package, tamper, validate-infrastructure, deploy-infrastructure,
    /// deploy-frontend, integration-tests, performance-tests.
    #[arg(long, value_name = "STAGE")]
    fail: Vec<String>,
    /// Port for the approval page on 127.0.0.1 (default: any free port).
    #[arg(long, default_value_t = 0)]
    approval_port: u16,
    /// After a run that ends ready, keep the staged frontend and backend up until
    /// Ctrl-C (the printed Staging URL keeps working).
    #[arg(long)]
    serve: bool,
}

pub fn run(args: Args) -> Result<ExitCode> {
    let decision = match (args.approve, args.reject, args.timeout) {
        (true, _, _) => Decision::Approve,
        (_, Some(r), _) if r.trim().is_empty() => bail!("--reject needs a reason"),
        (_, Some(r), _) => Decision::Reject(r),
        (_, _, true) => Decision::Timeout,
        _ => Decision::Interactive,
    };
    let work_dir = std::env::current_dir().context("cannot read the current directory")?;
    // Whatever happens — a panic included — no process of the rehearsal outlives it.
    stagegate_local::procs::end_all_on_panic();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the runtime")?;
    let summary = runtime.block_on(rehearsal::run(Options {
        app_dir: args.app,
        tag: args.tag,
        decision,
        fail: args.fail,
        work_dir,
        approval_port: args.approval_port,
        serve: args.serve,
    }));
    // The runtime's tasks are gone; end any process group a task still held.
    drop(runtime);
    stagegate_local::procs::end_all();
    let summary = summary.map_err(anyhow::Error::msg)?;
    Ok(match summary.status.as_str() {
        "SUCCEEDED" if summary.outcome.ends_with("ready for production") => ExitCode::SUCCESS,
        // Stopped with Ctrl-C: the shell's convention for SIGINT.
        "ABORTED" => ExitCode::from(130),
        _ => ExitCode::from(1),
    })
}

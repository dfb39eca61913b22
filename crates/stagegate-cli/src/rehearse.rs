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
    /// Ask the approvers in Slack too, and decide there: a stand-in for Slack's Web
    /// API on 127.0.0.1 takes the messages, and --approve / --reject press the
    /// buttons and submit the forms as Slack would (signed).
    #[arg(long)]
    slack: bool,
    /// After the staging run ends ready, promote it: the production run of the same
    /// commit as v<version>, on a second local backend and site (the app's
    /// `production` in stagegate.json), decided by its production approvers.
    #[arg(long)]
    promote: bool,
    /// With --promote: the soak, in seconds (production's default is a day).
    #[arg(
        long,
        value_name = "SECONDS",
        default_value_t = 5,
        requires = "promote"
    )]
    soak: u64,
    /// With --promote: production may deploy only in a window that opens at the next
    /// full minute (UTC), so the approved run waits for it.
    #[arg(long, requires = "promote")]
    outside_window: bool,
    /// With --promote: production is frozen today (the run ends DeploymentFrozen
    /// unless the glass is broken).
    #[arg(long, requires = "promote")]
    freeze: bool,
    /// With --promote: the production approvers approve with break-glass (a reason
    /// each): deploys in a freeze or outside the window, on the record.
    #[arg(long, requires = "promote")]
    break_glass: bool,
}

/// The deployment calendar `--outside-window` and `--freeze` ask for, at `now`.
pub fn calendar(
    outside_window: bool,
    freeze: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Option<String> {
    use chrono::{Duration, DurationRound};
    if !outside_window && !freeze {
        return None;
    }
    let mut c = serde_json::json!({"timeZone": "UTC", "duringFreeze": "end"});
    if outside_window {
        let minute = Duration::minutes(1);
        let from = now.duration_trunc(minute).unwrap_or(now) + minute;
        // A window ends the day it starts: at 23:59 the next one is 00:00-00:01.
        let from = if from.format("%H:%M").to_string() == "23:59" {
            from + minute
        } else {
            from
        };
        let to = from + minute;
        c["windows"] = serde_json::json!([{"days": "Mon-Sun", "from": from.format("%H:%M").to_string(), "to": to.format("%H:%M").to_string()}]);
    }
    if freeze {
        let today = now.date_naive();
        let until = today + Duration::days(1);
        c["freezes"] = serde_json::json!([{"from": today.to_string(), "to": until.to_string(), "reason": "rehearsal --freeze"}]);
    }
    Some(c.to_string())
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
        slack: args.slack,
        promote: args.promote.then(|| rehearsal::Promote {
            soak_seconds: args.soak,
            calendar: calendar(args.outside_window, args.freeze, chrono::Utc::now()),
            break_glass: args.break_glass,
        }),
    }));
    // The runtime's tasks are gone; end any process group a task still held.
    drop(runtime);
    stagegate_local::procs::end_all();
    let summary = summary.map_err(anyhow::Error::msg)?;
    Ok(match summary.status.as_str() {
        "SUCCEEDED"
            if summary.outcome.ends_with("ready for production")
                || summary.outcome.ends_with("promoted to production") =>
        {
            ExitCode::SUCCESS
        }
        // Stopped with Ctrl-C: the shell's convention for SIGINT.
        "ABORTED" => ExitCode::from(130),
        _ => ExitCode::from(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> chrono::DateTime<chrono::Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn the_rehearsal_calendars_are_valid_and_close_or_freeze_now() {
        use stagegate::windows::{Calendar, Verdict};
        assert_eq!(calendar(false, false, at("2026-12-07T10:00:30Z")), None);
        for now in [
            "2026-12-07T10:00:30Z",
            "2026-12-07T23:58:10Z",
            "2026-12-07T23:59:59Z",
        ] {
            let c = Calendar::parse(&calendar(true, false, at(now)).unwrap()).unwrap();
            match c.at(at(now)) {
                Verdict::Closed { opens_at } => {
                    let wait = opens_at - at(now);
                    assert!(
                        wait <= chrono::Duration::seconds(120),
                        "{now}: opens {opens_at}"
                    );
                }
                other => panic!("{now}: {other:?}"),
            }
        }
        let c =
            Calendar::parse(&calendar(false, true, at("2026-12-07T23:59:00Z")).unwrap()).unwrap();
        assert!(matches!(
            c.at(at("2026-12-07T23:59:00Z")),
            Verdict::Frozen { .. }
        ));
        assert!(
            matches!(c.at(at("2026-12-08T00:30:00Z")), Verdict::Frozen { .. }),
            "still frozen after midnight"
        );
    }
}

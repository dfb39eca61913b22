//! `stagegate approvers add|remove|list` and `stagegate approve|reject RUN`: the
//! people who decide, and operators deciding from a terminal under their AWS
//! identity.
//!
//! An approver is stored in the approvals table (one `approvers` item) and subscribed
//! to the approvals topic with a filter policy on their id, so their personal links
//! reach them and nobody else. `approve`/`reject` record the decision through the
//! same desk as the review page (one decision, a reason to reject or to approve over
//! failed checks), under the caller's STS ARN.

use crate::aws::runtime;
use anyhow::{anyhow, bail, Result};
use aws_dynamodb_port::{Directory, DynamoTable};
use aws_sfn_port::{ExecutionView, Runs, StepFunctions};
use aws_sns_port::{ApproverSubscriptions, Confirmation};
use stagegate::desk::{Decided, Desk, Form, Refusal};
use stagegate::links::{check_distinct, validate_approver};
use stagegate::ports::{ApprovalKind, ApprovalState, Approvals, Approver, SystemClock};
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ApproversArgs {
    #[command(subcommand)]
    command: ApproversCommand,
    #[command(flatten)]
    target: Stack,
}

#[derive(clap::Subcommand)]
enum ApproversCommand {
    /// Add an approver: stored, and subscribed to their own approval emails.
    Add {
        /// Stable id: a-z, 0-9, '.', '_', '-' (decisions are recorded under it).
        id: String,
        #[arg(long)]
        email: String,
        /// Their GitHub login, shown (with --github-id).
        #[arg(long, requires = "github_id")]
        github: Option<String>,
        /// Their GitHub account's numeric id (`gh api users/<login> --jq .id`): the
        /// pusher rule compares it with the pushing account's, so they may not approve
        /// tags they pushed. Without it they cannot approve a tag pushed on GitHub.
        #[arg(long, requires = "github")]
        github_id: Option<u64>,
        /// An AWS principal they decide through with `stagegate approve|reject` (and
        /// start runs with): an IAM user's ARN or an IAM Identity Center session's
        /// (repeat the flag for several).
        #[arg(long = "principal")]
        principals: Vec<String>,
        /// Their Slack member id (`U0123ABCD`: Slack profile > ⋮ > Copy member ID):
        /// with Slack configured, they are also asked in a direct message and decide
        /// there as themselves.
        #[arg(long)]
        slack: Option<String>,
        /// What they decide: deployment (staging's approval), acceptance (the
        /// user-acceptance sign-off), production (promotions and production
        /// rollbacks); repeat the flag for several.
        #[arg(long, value_parser = parse_kind, default_values = ["deployment", "acceptance"])]
        decides: Vec<ApprovalKind>,
    },
    /// Remove an approver and their subscription (links already sent stop working
    /// only when their approval ends).
    Remove { id: String },
    /// List the approvers and their subscriptions (with --topic: whether each is
    /// confirmed, and whether only AWS credentials can cancel it).
    List,
    /// Confirm an approver's subscription with the confirmation link AWS emailed them
    /// (they forward it instead of clicking it): then only AWS credentials can
    /// unsubscribe them, not whoever follows an email's unsubscribe link.
    Confirm {
        /// The "Confirm subscription" link, whole (quote it for the shell).
        #[arg(long)]
        url: String,
    },
}

#[derive(clap::Args)]
struct Stack {
    /// The approvals table (the stack's ApprovalsTableName output).
    #[arg(long, env = "STAGEGATE_APPROVALS_TABLE")]
    table: Option<String>,
    /// The approvals topic (the stack's ApprovalsTopicArn output).
    #[arg(long, env = "STAGEGATE_APPROVALS_TOPIC_ARN")]
    topic: Option<String>,
}

fn parse_kind(s: &str) -> Result<ApprovalKind, String> {
    match s {
        "deployment" => Ok(ApprovalKind::Deployment),
        "acceptance" => Ok(ApprovalKind::Acceptance),
        "production" => Ok(ApprovalKind::Production),
        other => Err(format!(
            "'{other}' is not deployment, acceptance or production"
        )),
    }
}

/// `v` (a flag or its environment variable), else the deployed stack's `output`.
fn required(v: &Option<String>, output: &str, flag: &str, env: &str) -> Result<String> {
    crate::stack::resolve(v, output, flag, env)
}

/// The approvals topic's ARN: `--topic`, its environment variable, or the stack's output.
fn topic(target: &Stack) -> Result<String> {
    required(
        &target.topic,
        "ApprovalsTopicArn",
        "--topic",
        "STAGEGATE_APPROVALS_TOPIC_ARN",
    )
}

/// The approvers' subscriptions on the approvals topic the flags or environment name.
fn subscriptions(target: &Stack, aws: &aws_config::SdkConfig) -> Result<ApproverSubscriptions> {
    Ok(ApproverSubscriptions::from_config(aws, topic(target)?))
}

pub fn approvers(args: ApproversArgs) -> Result<ExitCode> {
    // What needs the table needs it named; `confirm` needs only the topic (and
    // refuses a link of another topic before any AWS call).
    let table_name = match &args.command {
        ApproversCommand::Confirm { .. } => String::new(),
        _ => required(
            &args.target.table,
            "ApprovalsTableName",
            "--table",
            "STAGEGATE_APPROVALS_TABLE",
        )?,
    };
    runtime()?.block_on(async {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let table = DynamoTable::from_config(&aws, table_name);
        match args.command {
            ApproversCommand::List => {
                let directory = table.directory().await?;
                print!("{}", render(&directory));
                if args.target.topic.is_some() {
                    let sns = subscriptions(&args.target, &aws)?;
                    print!("{}", confirmations(&sns, &directory).await);
                }
                Ok(ExitCode::SUCCESS)
            }
            ApproversCommand::Add {
                id,
                email,
                github,
                github_id,
                principals,
                slack,
                decides,
            } => {
                let sns = subscriptions(&args.target, &aws)?;
                let mut decides = decides;
                decides.sort();
                decides.dedup();
                let approver = Approver {
                    id,
                    email,
                    github,
                    github_id,
                    principals,
                    decides,
                    slack,
                };
                add(&table, &sns, approver).await?;
                Ok(ExitCode::SUCCESS)
            }
            ApproversCommand::Remove { id } => {
                let sns = subscriptions(&args.target, &aws)?;
                remove(&table, &sns, &id).await?;
                Ok(ExitCode::SUCCESS)
            }
            ApproversCommand::Confirm { url } => confirm(&args.target, &aws, &url).await,
        }
    })
}

/// Stores `approver` and subscribes their email, filtered on their id. If the store
/// cannot be written the subscription is removed again.
pub async fn add(
    table: &DynamoTable,
    sns: &ApproverSubscriptions,
    approver: Approver,
) -> Result<()> {
    validate_approver(&approver).map_err(|e| anyhow!(e))?;
    let mut directory = table.directory().await?;
    if directory.approvers.iter().any(|a| a.id == approver.id) {
        bail!(
            "{} is already an approver: remove them first to change their details",
            approver.id
        );
    }
    let mut all = directory.approvers.clone();
    all.push(approver.clone());
    check_distinct(&all).map_err(|e| anyhow!(e))?;
    let subscription = sns
        .subscribe_approver(&approver.id, &approver.email)
        .await?;
    let id = approver.id.clone();
    for _ in 0..3 {
        let mut next = directory.clone();
        next.approvers.push(approver.clone());
        next.subscriptions.insert(id.clone(), subscription.clone());
        if table.save_directory(&next).await? {
            println!(
                "added {id} <{}>: AWS emails them a confirmation link. Ask them to forward it \
                 to you rather than click it, and run `stagegate approvers confirm --url '<link>'`: \
                 a subscription confirmed by its link can be cancelled by anyone holding one \
                 of its emails",
                approver.email
            );
            return Ok(());
        }
        // Someone changed the approvers meanwhile: read again and retry.
        directory = table.directory().await?;
        if directory.approvers.iter().any(|a| a.id == id) {
            break;
        }
    }
    let _ = sns.unsubscribe(&subscription).await;
    bail!("the approvers changed while adding {id}; nothing was added, try again")
}

/// Removes approver `id` and their subscription.
pub async fn remove(table: &DynamoTable, sns: &ApproverSubscriptions, id: &str) -> Result<()> {
    for _ in 0..3 {
        let directory = table.directory().await?;
        if !directory.approvers.iter().any(|a| a.id == id) {
            bail!("{id} is not an approver");
        }
        let mut next = directory.clone();
        next.approvers.retain(|a| a.id != id);
        let subscription = next.subscriptions.remove(id);
        if table.save_directory(&next).await? {
            if let Some(arn) = subscription.filter(|a| a.starts_with("arn:")) {
                sns.unsubscribe(&arn).await?;
            }
            println!("removed {id}");
            return Ok(());
        }
    }
    bail!("the approvers kept changing while removing {id}; try again")
}

/// `approvers confirm`: the forwarded link's token, confirmed so that only AWS
/// credentials can unsubscribe.
async fn confirm(target: &Stack, aws: &aws_config::SdkConfig, url: &str) -> Result<ExitCode> {
    let topic = topic(target)?;
    let token = aws_sns_port::confirmation_token(url, &topic).map_err(|e| anyhow!(e))?;
    let arn = subscriptions(target, aws)?
        .confirm_authenticated(&token)
        .await?;
    println!("confirmed {arn}: only AWS credentials can unsubscribe it now");
    Ok(ExitCode::SUCCESS)
}

/// Each subscription's confirmation, one line per approver that has one.
async fn confirmations(sns: &ApproverSubscriptions, d: &Directory) -> String {
    let mut out = String::new();
    for (id, arn) in d
        .subscriptions
        .iter()
        .filter(|(_, a)| a.starts_with("arn:"))
    {
        let line = match sns.confirmation(arn).await {
            Ok(Confirmation::Authenticated) => "confirmed; only AWS credentials can unsubscribe it".to_string(),
            Ok(Confirmation::Pending) => "waiting for its confirmation (`stagegate approvers confirm --url '<link>'`)".to_string(),
            Ok(Confirmation::ByLink) => "confirmed by its link: anyone with one of its emails can unsubscribe it; remove and add again, then confirm with `stagegate approvers confirm`".to_string(),
            Err(e) => format!("cannot be read: {e}"),
        };
        out.push_str(&format!("{id}: {line}\n"));
    }
    out
}

/// The approvers as a table.
pub fn render(d: &Directory) -> String {
    if d.approvers.is_empty() {
        return "no approvers: add one with `stagegate approvers add ID --email ADDRESS`\n".into();
    }
    let mut out = format!(
        "{:<20} {:<32} {:<20} {:<12} {:<24} subscription\n",
        "id", "email", "github", "slack", "decides"
    );
    for a in &d.approvers {
        let decides: Vec<&str> = a
            .decides
            .iter()
            .map(|k| match k {
                ApprovalKind::Deployment => "deployment",
                ApprovalKind::Acceptance => "acceptance",
                ApprovalKind::Production => "production",
            })
            .collect();
        out.push_str(&format!(
            "{:<20} {:<32} {:<20} {:<12} {:<24} {}\n",
            a.id,
            a.email,
            a.github.as_deref().unwrap_or("-"),
            a.slack.as_deref().unwrap_or("-"),
            decides.join(","),
            d.subscriptions
                .get(&a.id)
                .map(String::as_str)
                .unwrap_or("none")
        ));
    }
    out
}

#[derive(clap::Args)]
pub struct DecideArgs {
    /// An execution ARN, or a run name (rc-1-4-0--0123456789ab) under the state machine.
    run: String,
    /// Why: goes to the notifications and the release notes. Required to reject, and
    /// to approve over failed checks.
    #[arg(long)]
    comment: Option<String>,
    /// A production approval that also overrides the deployment window or freeze
    /// (needs --comment; counts when two distinct approvers give it).
    #[arg(long)]
    break_glass: bool,
    /// The staging state machine (the stack's StateMachineArn output).
    #[arg(long, env = "STAGEGATE_STATE_MACHINE_ARN")]
    state_machine: Option<String>,
    /// The approvals table (the stack's ApprovalsTableName output).
    #[arg(long, env = "STAGEGATE_APPROVALS_TABLE")]
    table: Option<String>,
}

/// `stagegate approve` (`approve = true`) and `stagegate reject`.
pub fn decide(args: DecideArgs, approve: bool) -> Result<ExitCode> {
    crate::aws::check_reference(&args.run)?;
    let table_name = required(
        &args.table,
        "ApprovalsTableName",
        "--table",
        "STAGEGATE_APPROVALS_TABLE",
    )?;
    let (state_machine, arn) = match aws_sfn_port::state_machine_of(&args.run) {
        Some(sm) => (sm, args.run.clone()),
        None => {
            let sm = required(
                &args.state_machine,
                "StateMachineArn",
                "--state-machine",
                "STAGEGATE_STATE_MACHINE_ARN",
            )?;
            let arn = aws_sfn_port::execution_arn(&sm, &args.run);
            (sm, arn)
        }
    };
    let settings = stagegate::Settings::from_env()?;
    runtime()?.block_on(async {
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let caller = crate::aws::caller_arn(&aws).await?;
        let sfn = StepFunctions::from_config(&aws, state_machine);
        let view = sfn.view(&arn).await?;
        let table = DynamoTable::from_config(&aws, table_name);
        let desk =
            Desk::new(&table, &sfn, SystemClock).pusher_may_approve(settings.pusher_may_approve);
        let (code, message) = decide_run(
            &desk,
            &table,
            &view,
            &caller,
            approve,
            args.comment,
            args.break_glass,
        )
        .await?;
        println!("{message}");
        Ok(code)
    })
}

/// Decides the pending approval of execution `view` as the operator `caller_arn`.
pub async fn decide_run<A, C, K>(
    desk: &Desk<'_, A, C, K>,
    approvals: &impl Approvals,
    view: &ExecutionView,
    caller_arn: &str,
    approve: bool,
    comment: Option<String>,
    break_glass: bool,
) -> Result<(ExitCode, String)>
where
    A: Approvals + stagegate::ports::Approvers,
    C: stagegate::ports::TaskCallbacks,
    K: stagegate::ports::Clock + Clone,
{
    let repository = view
        .input
        .get("repository")
        .and_then(|r| r.as_str())
        .ok_or_else(|| anyhow!("{}: its input names no repository", view.arn))?;
    let record = approvals
        .pending(repository)
        .await?
        .into_iter()
        .find(|r| r.execution_id == view.arn && r.state == ApprovalState::Pending)
        .ok_or_else(|| {
            anyhow!(
                "{} is not waiting for a decision (status {})",
                view.arn,
                view.status
            )
        })?;
    let what = match record.kind {
        ApprovalKind::Deployment => "deployment",
        ApprovalKind::Acceptance => "user acceptance",
        ApprovalKind::Production => "production",
    };
    let form = Form {
        approve,
        reason: comment,
        from: "cli".into(),
        break_glass,
    };
    let outcome = desk
        .decide_by_principal(&record.id, caller_arn, form)
        .await?;
    let who = record
        .approvers
        .iter()
        .find(|a| a.principals.iter().any(|p| p == caller_arn))
        .map_or_else(|| caller_arn.to_string(), |a| a.id.clone());
    Ok(match outcome {
        Ok(Decided::Approved) => (
            ExitCode::SUCCESS,
            format!("{what} of {} approved by {who}", record.tag),
        ),
        Ok(Decided::Rejected) => (
            ExitCode::SUCCESS,
            format!("{what} of {} rejected by {who}", record.tag),
        ),
        Ok(Decided::Recorded { remaining }) => (
            ExitCode::SUCCESS,
            format!("recorded; {remaining} more approval(s) needed"),
        ),
        Ok(Decided::Undelivered { .. }) => (
            ExitCode::SUCCESS,
            "recorded; it could not reach the workflow yet and is delivered by the reconcile within minutes".into(),
        ),
        Err(refusal @ Refusal::ReasonRequired { .. }) => (
            ExitCode::from(2),
            format!("{}: {} (pass --comment)", refusal.title(), refusal.detail()),
        ),
        Err(refusal) => (
            ExitCode::from(1),
            format!("{}: {}", refusal.title(), refusal.detail()),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Utc;
    use stagegate::testing::{now, pending_record, FixedClock, MemoryRuns, MemoryTable};

    fn view(arn: &str) -> ExecutionView {
        ExecutionView {
            arn: arn.into(),
            status: "RUNNING".into(),
            input: serde_json::json!({"repository": "acme/shop", "tag": "rc-1.4.0"}),
            started: Utc::now(),
            stopped: None,
            error: None,
            cause: None,
            phases: vec![],
        }
    }

    async fn world(failed: &[&str]) -> (MemoryTable, MemoryRuns) {
        let mut r = pending_record("a1", "rc-1.4.0", "tok");
        r.failed_checks = failed.iter().map(|s| s.to_string()).collect();
        // bob decides from the CLI through his Identity Center session.
        r.approvers[0].principals = vec![ME.into()];
        let approvals = MemoryTable::with_approvers(r.approvers.clone());
        approvals.create(&r, &[]).await.unwrap();
        (approvals, MemoryRuns::default())
    }

    const ME: &str =
        "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_Admin_0123456789abcdef/bob@example.com";

    /// `ME` decides execution `arn` through the CLI, without a comment.
    async fn decide(
        approvals: &MemoryTable,
        callbacks: &MemoryRuns,
        arn: &str,
        approve: bool,
    ) -> anyhow::Result<(ExitCode, String)> {
        let desk = Desk {
            pusher_may_approve: false,
            approvals,
            runs: callbacks,
            clock: FixedClock(now()),
        };
        decide_run(&desk, approvals, &view(arn), ME, approve, None, false).await
    }

    #[tokio::test]
    async fn an_operator_approval_is_recorded_as_the_approver_they_are() {
        let (approvals, callbacks) = world(&[]).await;
        let (code, msg) = decide(&approvals, &callbacks, "arn:exec:rc-1.4.0", true)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::SUCCESS, "{msg}");
        assert!(msg.contains("approved by bob"), "{msg}");
        let vote = &approvals.records()[0].votes[0];
        assert_eq!((vote.approver.as_str(), vote.via.as_str()), ("bob", "cli"));
        assert_eq!(callbacks.successes().len(), 1);
    }

    #[tokio::test]
    async fn a_caller_who_is_no_approvers_principal_is_refused_by_name() {
        let (approvals, callbacks) = world(&[]).await;
        let desk = Desk::new(&approvals, &callbacks, FixedClock(now()));
        let stranger = "arn:aws:sts::123456789012:assumed-role/Admin/bob";
        let view = view("arn:exec:rc-1.4.0");
        let (code, msg) = decide_run(&desk, &approvals, &view, stranger, true, None, false)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::from(1));
        assert!(msg.contains(stranger), "{msg}");
        assert!(approvals.records()[0].votes.is_empty());
        assert!(callbacks.successes().is_empty());
    }

    #[tokio::test]
    async fn rejecting_without_a_comment_is_refused_and_says_how() {
        let (approvals, callbacks) = world(&[]).await;
        let (code, msg) = decide(&approvals, &callbacks, "arn:exec:rc-1.4.0", false)
            .await
            .unwrap();
        assert_eq!(code, ExitCode::from(2));
        assert!(msg.contains("--comment"), "{msg}");
        assert!(callbacks.failures().is_empty());
    }

    #[tokio::test]
    async fn a_run_that_is_not_waiting_is_an_error_naming_it() {
        let (approvals, callbacks) = world(&[]).await;
        let e = decide(&approvals, &callbacks, "arn:exec:other", true)
            .await
            .unwrap_err();
        assert!(
            e.to_string().contains("arn:exec:other is not waiting"),
            "{e}"
        );
    }

    #[test]
    fn the_list_shows_each_approver_and_their_subscription() {
        let d = Directory {
            approvers: stagegate::testing::slack_approvers(),
            subscriptions: [("bob".to_string(), "arn:sub:1".to_string())].into(),
            version: 1,
        };
        let out = render(&d);
        assert!(
            out.contains("bob@example.com") && out.contains("arn:sub:1"),
            "{out}"
        );
        assert!(
            out.contains("U0CAROL")
                && out
                    .lines()
                    .any(|l| l.starts_with("dave") && l.contains(" - ")),
            "{out}"
        );
        assert!(render(&Directory::default()).contains("no approvers"));
    }
}

//! `stagegate approvals`: what waits on you. Your AWS identity (the STS caller ARN) is
//! matched to the approvers each pending approval of the repository asked (by their
//! `--principal`); every one you have not decided yet is listed with its summary —
//! who asks for what, the commit, the checks, the manifest, the expiry as people read
//! it, the votes so far — and the commands that decide it.

use crate::aws::{caller_arn, git, repository_of, runtime};
use anyhow::{anyhow, Result};
use aws_dynamodb_port::DynamoTable;
use chrono::{DateTime, Utc};
use stagegate::ports::{ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver};
use std::fmt::Write as _;
use std::process::ExitCode;

#[derive(clap::Args)]
pub struct ApprovalsArgs {
    /// owner/name; default: STAGEGATE_REPOSITORY, else this checkout's origin.
    #[arg(long, env = "STAGEGATE_REPOSITORY")]
    repository: Option<String>,
    /// The approvals table (the stack's ApprovalsTableName output).
    #[arg(long, env = "STAGEGATE_APPROVALS_TABLE")]
    table: Option<String>,
}

/// The pending, unexpired approvals of `records` that ask `caller` (one of their
/// approvers has that AWS principal) and that approver has not voted on; with who
/// the caller is in each.
pub fn waiting_on<'a>(
    records: &'a [ApprovalRecord],
    caller: &str,
    now: DateTime<Utc>,
) -> Vec<(&'a ApprovalRecord, &'a Approver)> {
    records
        .iter()
        .filter(|r| r.state == ApprovalState::Pending && r.expires_at > now)
        .filter_map(|r| {
            let me = r
                .approvers
                .iter()
                .find(|a| a.principals.iter().any(|p| p == caller))?;
            let voted = r.votes.iter().any(|v| v.approver == me.id);
            (!voted).then_some((r, me))
        })
        .collect()
}

/// The list, as printed.
pub fn render(
    waiting: &[(&ApprovalRecord, &Approver)],
    (repository, caller): (&str, &str),
    now: DateTime<Utc>,
) -> String {
    if waiting.is_empty() {
        return format!("nothing in {repository} waits on you ({caller})\n");
    }
    let mut out = String::new();
    for (r, me) in waiting {
        let kind = match (r.kind, r.rollback) {
            (ApprovalKind::Deployment, true) => "rollback of staging",
            (ApprovalKind::Production, true) => "rollback of production",
            (ApprovalKind::Deployment, false) => "deployment approval (staging)",
            (ApprovalKind::Acceptance, _) => "user-acceptance sign-off (staging)",
            (ApprovalKind::Production, false) => "production approval",
        };
        let run = stagegate::flow::run_id(&r.execution_id);
        let checks = match r.failed_checks.as_slice() {
            [] => "all passed".to_string(),
            failed => format!("FAILED: {} (approving needs --comment)", failed.join(", ")),
        };
        let approved = r.votes.iter().filter(|v| v.approve).count();
        let _ = writeln!(
            out,
            "{} of {} — {kind}, asked of you as {}",
            r.tag, r.repository, me.id
        );
        let _ = writeln!(
            out,
            "  Pushed by: {}",
            stagegate::text::one_line(&r.pushed_by)
        );
        let _ = writeln!(out, "  Commit:    {}", r.sha);
        let _ = writeln!(out, "  Checks:    {checks}");
        if let Some(digest) = &r.manifest_digest {
            let _ = writeln!(out, "  Manifest:  sha256 {digest}");
        }
        let _ = writeln!(
            out,
            "  Expires:   {} ({approved} of {} approvals so far)",
            stagegate::summary::when(r.expires_at, now),
            r.required_approvals
        );
        let _ = writeln!(out, "  Checklist: {}", r.checklist_uri);
        let _ = writeln!(
            out,
            "  Decide:    stagegate approve {run} [--comment WHY]  |  stagegate reject {run} --comment WHY\n"
        );
    }
    out
}

pub fn run(args: ApprovalsArgs) -> Result<ExitCode> {
    let repository = match &args.repository {
        Some(r) => r.clone(),
        None => git(&["remote", "get-url", "origin"])
            .and_then(|u| repository_of(&u))
            .ok_or_else(|| anyhow!("cannot tell the repository: pass --repository owner/name"))?,
    };
    let (flag, env) = ("--table", "STAGEGATE_APPROVALS_TABLE");
    let table = crate::stack::resolve(&args.table, "ApprovalsTableName", flag, env)?;
    let text = runtime()?.block_on(async {
        let config = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let caller = caller_arn(&config).await?;
        let records = DynamoTable::from_config(&config, table)
            .pending(&repository)
            .await?;
        let now = Utc::now();
        Ok::<_, anyhow::Error>(render(
            &waiting_on(&records, &caller, now),
            (&repository, &caller),
            now,
        ))
    })?;
    print!("{text}");
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use stagegate::testing::{now, pending_record, vote};

    const BOB: &str = "arn:aws:iam::123456789012:user/bob";

    #[test]
    fn what_waits_on_you_is_listed_with_its_summary_and_how_to_decide() {
        let mut asked = pending_record("a1", "rc-1.4.0", "t1");
        asked.execution_id =
            "arn:aws:states:us-east-1:1:execution:stagegate-staging:rc-1.4.0--0123456789ab".into();
        asked.approvers[0].principals = vec![BOB.into()];
        asked.failed_checks = vec!["eslint".into()];
        // Decided by bob already; expired; another's: not listed.
        let mut voted = asked.clone();
        voted.tag = "rc-1.3.0".into();
        voted.votes.push(vote(&asked.approvers[0].id, true));
        let mut expired = asked.clone();
        expired.tag = "rc-1.2.0".into();
        expired.expires_at = now() - chrono::Duration::minutes(1);
        let mut others = asked.clone();
        others.tag = "rc-1.1.0".into();
        others.approvers[0].principals = vec!["arn:aws:iam::123456789012:user/carol".into()];
        let records = [asked.clone(), voted, expired, others];
        let waiting = waiting_on(&records, BOB, now());
        assert_eq!(waiting.len(), 1);
        assert_eq!(waiting[0].0.tag, "rc-1.4.0");
        let text = render(&waiting, ("acme/shop", BOB), now());
        for part in [
            "rc-1.4.0 of acme/shop — deployment approval (staging), asked of you as bob",
            "Checks:    FAILED: eslint (approving needs --comment)",
            "Expires:   in 24 h — Fri 2 Jan, 09:00 UTC (0 of 1 approvals so far)",
            "stagegate approve rc-1.4.0--0123456789ab [--comment WHY]",
        ] {
            assert!(text.contains(part), "{part:?} not in\n{text}");
        }
        let none = render(&[], ("acme/shop", BOB), now());
        assert_eq!(none, format!("nothing in acme/shop waits on you ({BOB})\n"));
    }
}

/// Against DynamoDB and STS as moto implements them: the approvals table as the
/// template declares it, a pending approval stored through the real port, and the
/// caller moto's STS vouches for.
#[cfg(all(test, feature = "e2e"))]
mod moto {
    use super::*;
    use stagegate::testing::pending_record;

    #[tokio::test]
    async fn the_approval_waiting_on_the_caller_is_read_from_the_table() {
        let moto = testkit::Moto::start();
        moto.create_approvals_table("approvals").await;
        let config = moto.sdk_config().await;
        let caller = caller_arn(&config)
            .await
            .unwrap_or_else(|e| panic!("{e:#}"));
        let table = DynamoTable::from_config(&config, "approvals");
        let mut asked = pending_record("a1", "rc-1.4.0", "t1");
        asked.expires_at = Utc::now() + chrono::Duration::hours(3);
        asked.approvers[0].principals = vec![caller.clone()];
        let mut other = pending_record("a2", "rc-1.3.0", "t2");
        other.expires_at = asked.expires_at;
        for r in [&asked, &other] {
            table.create(r, &[]).await.unwrap_or_else(|e| panic!("{e}"));
        }
        let records = table
            .pending("acme/shop")
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(records.len(), 2, "{records:?}");
        let waiting = waiting_on(&records, &caller, Utc::now());
        let tags: Vec<&str> = waiting.iter().map(|(r, _)| r.tag.as_str()).collect();
        assert_eq!(tags, ["rc-1.4.0"], "only the one that asks the caller");
    }
}

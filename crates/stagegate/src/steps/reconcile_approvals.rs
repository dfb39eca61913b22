//! Reconcile Approvals (`reconcile-approvals`, every five minutes): delivers
//! decisions that were recorded but not sent to their waiting task (a failed
//! `SendTask*`, or a function that stopped between writing and sending). The
//! approval desk does the work ([`crate::desk::Desk::reconcile`]); this bounds it.
//! Then it brings Slack messages up to date ([`crate::slack::sync`]): approvals
//! decided by email or the CLI, expired or superseded since their message was posted.

use crate::desk::{Desk, Reconciled};
use crate::error::StepError;
use crate::ports::{Approvals, Chat, Clock, TaskCallbacks};
use crate::settings::Settings;
use crate::step::Step;
use serde::Deserialize;

/// The `reconcile-approvals` function's name.
pub const NAME: &str = "reconcile-approvals";

/// Decisions sent per reconcile run, at most: the run is bounded, the next one (five
/// minutes later on AWS) takes the rest.
pub const LIMIT: usize = 25;

/// Any JSON object (on AWS, the scheduled EventBridge event): the reconcile needs no
/// input, but refuses what is not an event.
#[derive(Clone, Debug, Deserialize)]
pub struct Tick {}

/// Reconcile Approvals: outstanding decisions, delivered; Slack messages, true.
pub struct ReconcileApprovals<T, R, S, C> {
    pub settings: Settings,
    /// The approval records.
    pub store: T,
    /// Step Functions: where decisions are delivered.
    pub runs: R,
    /// Slack (`None` when not configured).
    pub chat: Option<S>,
    pub clock: C,
}

impl<T: Approvals, R: TaskCallbacks, S: Chat, C: Clock + Clone> Step<Tick, Reconciled>
    for ReconcileApprovals<T, R, S, C>
{
    const NAME: &'static str = NAME;

    async fn run(&self, _: Tick) -> Result<Reconciled, StepError> {
        let desk = Desk::new(&self.store, &self.runs, self.clock.clone())
            .pusher_may_approve(self.settings.pusher_may_approve);
        let mut report = desk.reconcile(LIMIT).await?;
        if let Some(chat) = &self.chat {
            let now = self.clock.now();
            for record in self.store.chat_due(LIMIT).await? {
                let synced = crate::slack::sync(&self.store, chat, &record, now).await?;
                report.chat_updated += synced.updated;
                report.chat_failed += synced.failed;
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::{ApprovalState, Delivery, Update};
    use crate::testing::*;
    use chrono::Duration;

    /// `n` approvals of `n` candidates, each decided but never delivered.
    async fn undelivered(table: &MemoryTable, n: usize) {
        for i in 0..n {
            let tag = format!("rc-1.0.{i}");
            let record = pending_record(&format!("a{i}"), &tag, &format!("tok-{i}"));
            table.create(&record, &[]).await.unwrap();
            let mut decided = record.clone();
            decided.revision += 1;
            decided.state = ApprovalState::Approved;
            decided.votes.push(vote("bob", true));
            decided.delivery = Delivery::Failed {
                at: now(),
                attempts: 3,
                error: "ServiceUnavailable".into(),
            };
            assert_eq!(table.update(&record, &decided).await.unwrap(), Update::Done);
        }
    }

    #[tokio::test]
    async fn each_run_delivers_at_most_its_limit_and_the_next_takes_the_rest() {
        let (table, runs) = (MemoryTable::default(), MemoryRuns::default());
        undelivered(&table, LIMIT + 3).await;
        let step = ReconcileApprovals {
            settings: Settings::default(),
            store: table.clone(),
            runs: runs.clone(),
            chat: None::<MemoryChat>,
            clock: FixedClock(now() + Duration::minutes(5)),
        };
        assert_eq!(step.run(Tick {}).await.unwrap().delivered, LIMIT as u32);
        assert_eq!(step.run(Tick {}).await.unwrap().delivered, 3);
        assert_eq!(step.run(Tick {}).await.unwrap(), Reconciled::default());
        assert_eq!(runs.successes().len(), LIMIT + 3);
    }
}

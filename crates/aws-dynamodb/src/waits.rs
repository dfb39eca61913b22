//! Waiters: the task waiting on a stack or a frontend job, one per subject.

use super::{conditional, n, number, s, DynamoTable, Item, Written};
use aws_common::port_error;
use chrono::{DateTime, Utc};
use stagegate::error::PortError;
use stagegate::ports::{PortResult, Waiter, Waits};

fn waiter_from(item: &Item) -> PortResult<Waiter> {
    let text = |a: &str| {
        item.get(a)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| PortError::new("read waiter", format!("the item has no {a}")))
    };
    let number = |a: &str| {
        number::<i64>(item, a)
            .ok_or_else(|| PortError::new("read waiter", format!("the item has no number {a}")))
    };
    Ok(Waiter {
        token: text("token")?,
        execution_id: text("executionId")?,
        subject: text("subject")?,
        reads: u32::try_from(number("reads")?).unwrap_or(u32::MAX),
        expires_at: DateTime::from_timestamp(number("expiresAt")?, 0).unwrap_or_default(),
    })
}

impl Waits for DynamoTable {
    async fn waiter(&self, key: &str) -> PortResult<Option<Waiter>> {
        let item = self.item(key.into(), format!("read {key}")).await?;
        item.as_ref().map(waiter_from).transpose()
    }

    async fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> PortResult<Option<Waiter>> {
        let put = self
            .put(key)
            .item("token", s(&waiter.token))
            .item("executionId", s(&waiter.execution_id))
            .item("subject", s(&waiter.subject))
            .item("reads", n(waiter.reads))
            .item("expiresAt", n(waiter.expires_at.timestamp()))
            // Free, this run's own, or left behind by a run that is long gone.
            .condition_expression(
                "attribute_not_exists(pk) OR executionId = :execution OR expiresAt < :now",
            )
            .expression_attribute_values(":execution", s(&waiter.execution_id))
            .expression_attribute_values(":now", n(now.timestamp()));
        match conditional(put, true, format!("register {key}")).await? {
            Written::Yes => Ok(None),
            Written::Refused(Some(item)) => waiter_from(&item).map(Some),
            Written::Refused(None) => Err(PortError::new(
                format!("register {key}"),
                "refused, and DynamoDB did not say by whom",
            )),
        }
    }

    async fn done(&self, key: &str, token: &str) -> PortResult<()> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .condition_expression("#token = :token")
            .expression_attribute_names("#token", "token")
            .expression_attribute_values(":token", s(token))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Already gone, or another token's now: nothing of ours to delete.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(e) => Err(port_error(format!("remove {key}"), &e)),
        }
    }
}

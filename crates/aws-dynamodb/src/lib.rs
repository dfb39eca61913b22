//! [`Approvals`], [`Approvers`] and [`Claims`] in one DynamoDB table (`pk` string key,
//! TTL on `expiresAt`).
//!
//! | Item | `pk` | What it holds |
//! |---|---|---|
//! | approval | `approval#<id>` | the record as JSON (`record`), and what conditions and indexes read: `revision`, `state`, `deliveryStatus`, `pendingRepository` (only while pending: the sparse `pending-by-repository` index), `undelivered` (the reconcile's work list, the sparse `undelivered-decisions` index: `outstanding` while a decision is recorded but not delivered, then `chat` while its Slack messages may need an update) |
//! | link | `link#<sha256 of the link id>` | the approval and the approver it belongs to, and its expiry |
//! | approvers | `approvers` | the configured approvers (`stagegate approvers`), their SNS subscriptions, and a `version` |
//! | newest | `newest#<repository>` | the repository's newest candidate, and a `revision` |
//! | waiter | `wait#stack#<stack>`, `wait#amplify#<app>#<branch>` | the task waiting on that stack or frontend job: its `token`, `executionId`, `subject` (stack or job id), `reads`, expiry |
//! | claim | any other key | a once-only claim (webhook deliveries, runs, notifications), with its `owner` for runs |
//!
//! An approval and its links are written in one transaction. An update is a put
//! conditioned on the `revision` that was read: of two concurrent decisions exactly
//! one is written; the other gets the record as it now is.
//!
//! Items expire ([`RETENTION_DAYS`] after the approval's own expiry): the decision is
//! also in the execution output and the artifacts, so the table is not the audit
//! log.

mod approvals;
mod approvers;
mod claims;
mod waits;

pub use approvers::Directory;

use aws_common::port_error;
use aws_sdk_dynamodb::operation::put_item::builders::PutItemFluentBuilder;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use stagegate::error::PortError;
use stagegate::ports::PortResult;
use std::collections::HashMap;

/// The sparse index of pending approvals, by repository.
pub const PENDING_INDEX: &str = "pending-by-repository";
/// The sparse index of decisions recorded but not yet delivered to their task.
pub const UNDELIVERED_INDEX: &str = "undelivered-decisions";
/// Days an item outlives its approval's expiry before DynamoDB's TTL removes it.
pub const RETENTION_DAYS: i64 = 30;
/// The key of the approvers item.
pub const APPROVERS_KEY: &str = "approvers";

#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

/// What a conditional put came to.
enum Written {
    Yes,
    /// The condition failed; the item that failed it, when the put asked for it.
    Refused(Option<Item>),
}

impl DynamoTable {
    pub fn from_config(config: &aws_types::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoTable {
            client,
            table: table.into(),
        }
    }

    /// The item under `key`, read consistently.
    async fn item(&self, key: String, what: impl Into<String>) -> PortResult<Option<Item>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(what, &e))?;
        Ok(out.item)
    }

    /// A put into this table, of an item keyed `key`.
    fn put(&self, key: impl Into<String>) -> PutItemFluentBuilder {
        self.client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
    }
}

/// Sends a conditional `put`: a failed condition is an answer, not an error. With
/// `refuser`, the answer carries the item that failed the condition.
async fn conditional(
    put: PutItemFluentBuilder,
    refuser: bool,
    what: impl Into<String>,
) -> PortResult<Written> {
    let put = if refuser {
        put.return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    } else {
        put
    };
    match put.send().await {
        Ok(_) => Ok(Written::Yes),
        Err(e) => match e.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(c)) => {
                Ok(Written::Refused(c.item().cloned()))
            }
            _ => Err(port_error(what, &e)),
        },
    }
}

/// The approvals table, from the deployment.
impl From<&aws_common::Context> for DynamoTable {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.approvals_table)
    }
}

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// A number attribute, if the item has one.
fn number<T: std::str::FromStr>(item: &Item, attr: &str) -> Option<T> {
    item.get(attr)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
}

fn ttl(at: DateTime<Utc>) -> AttributeValue {
    n((at + Duration::days(RETENTION_DAYS)).timestamp())
}

fn json_attr<T: serde::de::DeserializeOwned>(item: &Item, attr: &str, what: &str) -> PortResult<T> {
    let json = item.get(attr).and_then(|v| v.as_s().ok()).ok_or_else(|| {
        PortError::new(format!("read {what}"), format!("the item has no '{attr}'"))
    })?;
    serde_json::from_str(json)
        .map_err(|e| PortError::new(format!("read {what}"), format!("malformed {what}: {e}")))
}

fn to_json(value: &impl serde::Serialize, what: &str) -> PortResult<String> {
    serde_json::to_string(value)
        .map_err(|e| PortError::new(format!("encode {what}"), e.to_string()))
}

#[cfg(test)]
mod tests;

//! [`Approvals`] and webhook [`Claims`] in one DynamoDB table (`pk` string key, TTL
//! on `expiresAt`).
//!
//! An approval item is the record as JSON (`record`) plus the attributes conditions
//! and queries need: `state`, `voteCount`, and `pendingRepository`, which exists only
//! while the approval is pending, so the `pending-by-repository` index is sparse and
//! holds exactly the approvals a newer candidate may supersede. An update is a put
//! conditioned on the `state` and `voteCount` that were read: of two concurrent
//! decisions exactly one is written; the other gets the record as it now is.
//!
//! Items expire ([`RETENTION_DAYS`] after the approval's own expiry): the decision is
//! also in the execution output and the artifacts, so the table is not the audit
//! log.

use aws_common::port_error;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use stagegate::error::PortError;
use stagegate::ports::{ApprovalRecord, ApprovalState, Approvals, PortResult, Update};
use stagegate::webhook::Claims;
use std::collections::HashMap;

/// The sparse index of pending approvals, by repository.
pub const PENDING_INDEX: &str = "pending-by-repository";
/// Days an item outlives its approval's expiry before DynamoDB's TTL removes it.
pub const RETENTION_DAYS: i64 = 30;

#[derive(Clone, Debug)]
pub struct DynamoTable {
    client: Client,
    table: String,
}

type Item = HashMap<String, AttributeValue>;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

fn state_name(state: ApprovalState) -> &'static str {
    match state {
        ApprovalState::Pending => "PENDING",
        ApprovalState::Approved => "APPROVED",
        ApprovalState::Rejected => "REJECTED",
        ApprovalState::Superseded => "SUPERSEDED",
    }
}

fn approval_key(id_hash: &str) -> String {
    format!("approval#{id_hash}")
}

fn to_item(r: &ApprovalRecord) -> PortResult<Item> {
    let json = serde_json::to_string(r)
        .map_err(|e| PortError::new("encode approval record", e.to_string()))?;
    let mut item = Item::from([
        ("pk".to_string(), s(approval_key(&r.id_hash))),
        ("record".to_string(), s(json)),
        ("state".to_string(), s(state_name(r.state))),
        ("voteCount".to_string(), n(r.votes.len())),
        ("repository".to_string(), s(&r.repository)),
        (
            "expiresAt".to_string(),
            n((r.expires_at + Duration::days(RETENTION_DAYS)).timestamp()),
        ),
    ]);
    if r.state == ApprovalState::Pending {
        item.insert("pendingRepository".into(), s(&r.repository));
    }
    Ok(item)
}

fn from_item(item: &Item) -> PortResult<ApprovalRecord> {
    let json = item
        .get("record")
        .and_then(|v| v.as_s().ok())
        .ok_or_else(|| PortError::new("read approval record", "the item has no 'record'"))?;
    serde_json::from_str(json)
        .map_err(|e| PortError::new("read approval record", format!("malformed record: {e}")))
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
}

impl Approvals for DynamoTable {
    async fn create(&self, record: &ApprovalRecord) -> PortResult<()> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception())
                {
                    PortError::new("create approval", "an approval with this id already exists")
                } else {
                    port_error("create approval", &e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, id_hash: &str) -> PortResult<Option<ApprovalRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(approval_key(id_hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("read approval", &e))?;
        out.item().map(from_item).transpose()
    }

    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(new)?))
            .condition_expression("#state = :state AND voteCount = :votes")
            .expression_attribute_names("#state", "state")
            .expression_attribute_values(":state", s(state_name(expected.state)))
            .expression_attribute_values(":votes", n(expected.votes.len()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Update::Done),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let current = match c.item() {
                        Some(item) => Some(from_item(item)?),
                        None => self.get(&expected.id_hash).await?,
                    };
                    current
                        .map(|r| Update::Conflict(Box::new(r)))
                        .ok_or_else(|| PortError::new("update approval", "the approval no longer exists"))
                }
                _ => Err(port_error("update approval", &e)),
            },
        }
    }

    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(PENDING_INDEX)
                .key_condition_expression("pendingRepository = :r")
                .expression_attribute_values(":r", s(repository))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(format!("list pending approvals of {repository}"), &e))?;
            for item in page.items() {
                let record = from_item(item)?;
                // The index is eventually consistent; the record is the truth.
                if record.state == ApprovalState::Pending {
                    out.push(record);
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }
}

impl Claims for DynamoTable {
    async fn claim(&self, key: &str, expires_at: DateTime<Utc>) -> PortResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("expiresAt", n(expires_at.timestamp()))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error("claim the delivery", &e)),
        }
    }

    async fn release(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .send()
            .await
            .map_err(|e| port_error("release the delivery claim", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;

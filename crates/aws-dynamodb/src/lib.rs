//! [`Approvals`], [`Approvers`] and [`Claims`] in one DynamoDB table (`pk` string key,
//! TTL on `expiresAt`).
//!
//! | Item | `pk` | What it holds |
//! |---|---|---|
//! | approval | `approval#<id>` | the record as JSON (`record`), and what conditions and indexes read: `revision`, `state`, `deliveryStatus`, `pendingRepository` (only while pending: the sparse `pending-by-repository` index), `undelivered` (only while a decision is recorded but not delivered: the sparse `undelivered-decisions` index) |
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

use aws_common::port_error;
use aws_sdk_dynamodb::types::{
    AttributeValue, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use aws_sdk_dynamodb::Client;
use chrono::{DateTime, Duration, Utc};
use stagegate::error::PortError;
use stagegate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Candidates, Claim,
    Claims, Link, Newest, PortResult, Update, Waiter, Waits,
};
use std::collections::{BTreeMap, HashMap};

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

fn approval_key(id: &str) -> String {
    format!("approval#{id}")
}

fn link_key(id_hash: &str) -> String {
    format!("link#{id_hash}")
}

fn ttl(at: DateTime<Utc>) -> AttributeValue {
    n((at + Duration::days(RETENTION_DAYS)).timestamp())
}

fn to_item(r: &ApprovalRecord) -> PortResult<Item> {
    let json = serde_json::to_string(r)
        .map_err(|e| PortError::new("encode approval record", e.to_string()))?;
    let mut item = Item::from([
        ("pk".to_string(), s(approval_key(&r.id))),
        ("record".to_string(), s(json)),
        ("revision".to_string(), n(r.revision)),
        ("state".to_string(), s(state_name(r.state))),
        ("deliveryStatus".to_string(), s(r.delivery.status())),
        ("repository".to_string(), s(&r.repository)),
        ("expiresAt".to_string(), ttl(r.expires_at)),
    ]);
    if r.state == ApprovalState::Pending {
        item.insert("pendingRepository".into(), s(&r.repository));
    }
    if r.delivery.outstanding() {
        item.insert("undelivered".into(), s("outstanding"));
    }
    Ok(item)
}

fn link_item(link: &Link) -> PortResult<Item> {
    let json = serde_json::to_string(link)
        .map_err(|e| PortError::new("encode approval link", e.to_string()))?;
    Ok(Item::from([
        ("pk".to_string(), s(link_key(&link.id_hash))),
        ("link".to_string(), s(json)),
        ("expiresAt".to_string(), ttl(link.expires_at)),
    ]))
}

fn json_attr<T: serde::de::DeserializeOwned>(item: &Item, attr: &str, what: &str) -> PortResult<T> {
    let json = item.get(attr).and_then(|v| v.as_s().ok()).ok_or_else(|| {
        PortError::new(format!("read {what}"), format!("the item has no '{attr}'"))
    })?;
    serde_json::from_str(json)
        .map_err(|e| PortError::new(format!("read {what}"), format!("malformed {what}: {e}")))
}

fn from_item(item: &Item) -> PortResult<ApprovalRecord> {
    json_attr(item, "record", "approval record")
}

/// The approvers as stored: who they are, and the SNS subscription of each (the
/// email subscription filtered on their id), and the item's version.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Directory {
    pub approvers: Vec<Approver>,
    /// Approver id → subscription ARN (or `pending confirmation`).
    pub subscriptions: BTreeMap<String, String>,
    /// Bumped on every change: a change is written only over the version it read.
    pub version: u64,
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

    /// The approvers item (empty when none was ever written).
    pub async fn directory(&self) -> PortResult<Directory> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(APPROVERS_KEY))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("read the approvers", &e))?;
        let Some(item) = out.item() else {
            return Ok(Directory::default());
        };
        let version = item
            .get("version")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Directory {
            approvers: json_attr(item, "approvers", "approvers")?,
            subscriptions: json_attr(item, "subscriptions", "approver subscriptions")?,
            version,
        })
    }

    /// Writes `directory` if the stored version is still `directory.version`; the
    /// stored version becomes one more. `false` when someone changed it meanwhile.
    pub async fn save_directory(&self, directory: &Directory) -> PortResult<bool> {
        let approvers = serde_json::to_string(&directory.approvers)
            .map_err(|e| PortError::new("encode approvers", e.to_string()))?;
        let subscriptions = serde_json::to_string(&directory.subscriptions)
            .map_err(|e| PortError::new("encode approvers", e.to_string()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(APPROVERS_KEY))
            .item("approvers", s(approvers))
            .item("subscriptions", s(subscriptions))
            .item("version", n(directory.version + 1));
        put = if directory.version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :v")
                .expression_attribute_values(":v", n(directory.version))
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error("save the approvers", &e)),
        }
    }

    async fn query_index(
        &self,
        index: &str,
        key: &str,
        value: &str,
        limit: Option<usize>,
        what: &str,
    ) -> PortResult<Vec<ApprovalRecord>> {
        let mut out = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(index)
                .key_condition_expression("#k = :v")
                .expression_attribute_names("#k", key)
                .expression_attribute_values(":v", s(value))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| port_error(what, &e))?;
            for item in page.items() {
                out.push(from_item(item)?);
                if limit.is_some_and(|l| out.len() >= l) {
                    return Ok(out);
                }
            }
            match page.last_evaluated_key() {
                Some(k) if !k.is_empty() => start = Some(k.clone()),
                _ => return Ok(out),
            }
        }
    }
}

/// The approvals table, from the deployment.
impl From<&aws_common::Context> for DynamoTable {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.approvals_table)
    }
}

impl Approvals for DynamoTable {
    async fn create(&self, record: &ApprovalRecord, links: &[Link]) -> PortResult<()> {
        let put = |item: Item| -> PortResult<TransactWriteItem> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| PortError::new("create approval", e.to_string()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        let mut items = vec![put(to_item(record)?)?];
        for link in links {
            items.push(put(link_item(link)?)?);
        }
        self.client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|s| s.is_transaction_canceled_exception())
                {
                    PortError::new(
                        "create approval",
                        "an approval or link with this id already exists",
                    )
                } else {
                    port_error("create approval", &e)
                }
            })?;
        Ok(())
    }

    async fn get(&self, id: &str) -> PortResult<Option<ApprovalRecord>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(approval_key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("read approval", &e))?;
        out.item().map(from_item).transpose()
    }

    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(link_key(id_hash)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error("read approval link", &e))?;
        out.item()
            .map(|item| json_attr(item, "link", "approval link"))
            .transpose()
    }

    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(new)?))
            .condition_expression("revision = :revision")
            .expression_attribute_values(":revision", n(expected.revision))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Update::Done),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let current = match c.item() {
                        Some(item) => Some(from_item(item)?),
                        None => self.get(&expected.id).await?,
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
        let records = self
            .query_index(
                PENDING_INDEX,
                "pendingRepository",
                repository,
                None,
                &format!("list pending approvals of {repository}"),
            )
            .await?;
        // The index is eventually consistent; the record is the truth.
        Ok(records
            .into_iter()
            .filter(|r| r.state == ApprovalState::Pending)
            .collect())
    }

    async fn undelivered(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        let records = self
            .query_index(
                UNDELIVERED_INDEX,
                "undelivered",
                "outstanding",
                Some(limit),
                "list undelivered decisions",
            )
            .await?;
        Ok(records
            .into_iter()
            .filter(|r| r.delivery.outstanding())
            .collect())
    }
}

impl Approvers for DynamoTable {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        Ok(self
            .directory()
            .await?
            .approvers
            .into_iter()
            .filter(|a| a.decides.contains(&kind))
            .collect())
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
            Err(e) => Err(port_error(format!("claim {key}"), &e)),
        }
    }

    async fn release(&self, key: &str) -> PortResult<()> {
        self.client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .send()
            .await
            .map_err(|e| port_error(format!("release {key}"), &e))?;
        Ok(())
    }

    async fn claim_for(
        &self,
        key: &str,
        owner: &str,
        expires_at: DateTime<Utc>,
    ) -> PortResult<Claim> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("owner", s(owner))
            .item("expiresAt", n(expires_at.timestamp()))
            // Free, or already ours (a retried call).
            .condition_expression("attribute_not_exists(pk) OR #owner = :owner")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":owner", s(owner))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Mine),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    let holder = c
                        .item()
                        .and_then(|i| i.get("owner"))
                        .and_then(|o| o.as_s().ok())
                        .cloned()
                        .unwrap_or_default();
                    Ok(Claim::HeldBy(holder))
                }
                _ => Err(port_error(format!("claim {key}"), &e)),
            },
        }
    }

    async fn take_over(
        &self,
        key: &str,
        from: &str,
        to: &str,
        expires_at: DateTime<Utc>,
    ) -> PortResult<bool> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
            .item("owner", s(to))
            .item("expiresAt", n(expires_at.timestamp()))
            .condition_expression("#owner = :from")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":from", s(from))
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
            Err(e) => Err(port_error(format!("take over {key}"), &e)),
        }
    }
}

fn newest_key(repository: &str) -> String {
    format!("newest#{repository}")
}

impl Candidates for DynamoTable {
    async fn newest(&self, repository: &str) -> PortResult<Option<(Newest, u64)>> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(newest_key(repository)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("read the newest candidate of {repository}"), &e))?;
        let Some(item) = out.item() else {
            return Ok(None);
        };
        let revision = item
            .get("revision")
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        Ok(Some((
            json_attr(item, "newest", "newest candidate")?,
            revision,
        )))
    }

    async fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> PortResult<bool> {
        let json = serde_json::to_string(newest)
            .map_err(|e| PortError::new("encode the newest candidate", e.to_string()))?;
        let mut put = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(newest_key(repository)))
            .item("newest", s(json))
            .item("revision", n(revision.map_or(1, |r| r + 1)));
        put = match revision {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(r) => put
                .condition_expression("revision = :r")
                .expression_attribute_values(":r", n(r)),
        };
        match put.send().await {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error(
                format!("record the newest candidate of {repository}"),
                &e,
            )),
        }
    }
}

#[cfg(test)]
mod tests;

fn waiter_from(item: &Item) -> PortResult<Waiter> {
    let text = |a: &str| {
        item.get(a)
            .and_then(|v| v.as_s().ok())
            .cloned()
            .ok_or_else(|| PortError::new("read waiter", format!("the item has no {a}")))
    };
    let number = |a: &str| {
        item.get(a)
            .and_then(|v| v.as_n().ok())
            .and_then(|v| v.parse::<i64>().ok())
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
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(key))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| port_error(format!("read {key}"), &e))?;
        out.item().map(waiter_from).transpose()
    }

    async fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> PortResult<Option<Waiter>> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .item("pk", s(key))
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
            .expression_attribute_values(":now", n(now.timestamp()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(None),
            Err(e) => match e.as_service_error() {
                Some(aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(c)) => {
                    match c.item() {
                        Some(item) => waiter_from(item).map(Some),
                        None => Err(PortError::new(
                            format!("register {key}"),
                            "refused, and DynamoDB did not say by whom",
                        )),
                    }
                }
                _ => Err(port_error(format!("register {key}"), &e)),
            },
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

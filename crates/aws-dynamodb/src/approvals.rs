//! Approval records and their links: created together in one transaction, updated
//! over the revision that was read, listed through the two sparse indexes.

use super::{conditional, json_attr, n, s, to_json, ttl, DynamoTable, Item, Written};
use super::{PENDING_INDEX, UNDELIVERED_INDEX};
use aws_common::port_error;
use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use stagegate::error::PortError;
use stagegate::ports::{ApprovalRecord, ApprovalState, Approvals, Link, PortResult, Update};

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

pub(crate) fn to_item(r: &ApprovalRecord) -> PortResult<Item> {
    let mut item = Item::from([
        ("pk".to_string(), s(approval_key(&r.id))),
        ("record".to_string(), s(to_json(r, "approval record")?)),
        ("revision".to_string(), n(r.revision)),
        ("state".to_string(), s(state_name(r.state))),
        ("deliveryStatus".to_string(), s(r.delivery.status())),
        ("repository".to_string(), s(&r.repository)),
        ("expiresAt".to_string(), ttl(r.expires_at)),
    ]);
    if r.state == ApprovalState::Pending {
        item.insert("pendingRepository".into(), s(&r.repository));
    }
    // The reconcile's work list: a decision to deliver first, then chat messages to
    // bring up to date (the same sparse index, under another key).
    if r.delivery.outstanding() {
        item.insert("undelivered".into(), s("outstanding"));
    } else if r.chat_due() {
        item.insert("undelivered".into(), s("chat"));
    }
    Ok(item)
}

pub(crate) fn link_item(link: &Link) -> PortResult<Item> {
    Ok(Item::from([
        ("pk".to_string(), s(link_key(&link.id_hash))),
        ("link".to_string(), s(to_json(link, "approval link")?)),
        ("expiresAt".to_string(), ttl(link.expires_at)),
    ]))
}

fn from_item(item: &Item) -> PortResult<ApprovalRecord> {
    json_attr(item, "record", "approval record")
}

impl DynamoTable {
    async fn query_index(
        &self,
        index: &str,
        key: &str,
        value: &str,
        limit: Option<usize>,
        what: &str,
    ) -> PortResult<Vec<ApprovalRecord>> {
        let mut items = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(index)
            .key_condition_expression("#k = :v")
            .expression_attribute_names("#k", key)
            .expression_attribute_values(":v", s(value))
            .into_paginator()
            .items()
            .send();
        let mut out = Vec::new();
        while let Some(item) = items.next().await {
            out.push(from_item(&item.map_err(|e| port_error(what, &e))?)?);
            if limit.is_some_and(|l| out.len() >= l) {
                break;
            }
        }
        Ok(out)
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
        let item = self.item(approval_key(id), "read approval").await?;
        item.as_ref().map(from_item).transpose()
    }

    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        let item = self.item(link_key(id_hash), "read approval link").await?;
        item.map(|item| json_attr(&item, "link", "approval link"))
            .transpose()
    }

    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let put = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(new)?))
            .condition_expression("revision = :revision")
            .expression_attribute_values(":revision", n(expected.revision));
        let current = match conditional(put, true, "update approval").await? {
            Written::Yes => return Ok(Update::Done),
            Written::Refused(Some(item)) => Some(from_item(&item)?),
            Written::Refused(None) => self.get(&expected.id).await?,
        };
        current
            .map(|r| Update::Conflict(Box::new(r)))
            .ok_or_else(|| PortError::new("update approval", "the approval no longer exists"))
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

    async fn chat_due(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        let records = self
            .query_index(
                UNDELIVERED_INDEX,
                "undelivered",
                "chat",
                Some(limit),
                "list approvals whose chat messages are due an update",
            )
            .await?;
        Ok(records.into_iter().filter(|r| r.chat_due()).collect())
    }
}

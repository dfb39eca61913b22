//! In-memory stores: what the rehearsal uses (one process, one run, so nothing needs
//! to outlive it) and what unit tests use. DynamoDB is the store on AWS.

use crate::error::PortError;
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Claims, Link,
    PortResult, Update,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Approval records and their links.
#[derive(Default)]
pub struct MemoryApprovals {
    records: Mutex<BTreeMap<String, ApprovalRecord>>,
    links: Mutex<BTreeMap<String, Link>>,
}

impl MemoryApprovals {
    pub fn all(&self) -> Vec<ApprovalRecord> {
        lock(&self.records).values().cloned().collect()
    }
    pub fn links(&self) -> Vec<Link> {
        lock(&self.links).values().cloned().collect()
    }
}

impl Approvals for MemoryApprovals {
    async fn create(&self, record: &ApprovalRecord, links: &[Link]) -> PortResult<()> {
        let mut r = lock(&self.records);
        if r.contains_key(&record.id) {
            return Err(PortError::new(
                "create approval",
                "a record with this id already exists",
            ));
        }
        r.insert(record.id.clone(), record.clone());
        let mut l = lock(&self.links);
        for link in links {
            l.insert(link.id_hash.clone(), link.clone());
        }
        Ok(())
    }
    async fn get(&self, id: &str) -> PortResult<Option<ApprovalRecord>> {
        Ok(lock(&self.records).get(id).cloned())
    }
    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        Ok(lock(&self.links).get(id_hash).cloned())
    }
    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let mut r = lock(&self.records);
        let Some(current) = r.get(&expected.id) else {
            return Err(PortError::new("update approval", "no such record"));
        };
        if current.revision != expected.revision {
            return Ok(Update::Conflict(Box::new(current.clone())));
        }
        r.insert(new.id.clone(), new.clone());
        Ok(Update::Done)
    }
    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        Ok(lock(&self.records)
            .values()
            .filter(|r| r.repository == repository && r.state == ApprovalState::Pending)
            .cloned()
            .collect())
    }
    async fn undelivered(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        Ok(lock(&self.records)
            .values()
            .filter(|r| r.delivery.outstanding())
            .take(limit)
            .cloned()
            .collect())
    }
}

/// A fixed list of approvers (the rehearsal's, from the app's `stagegate.json`).
#[derive(Clone, Debug, Default)]
pub struct StaticApprovers(pub Vec<Approver>);

impl Approvers for StaticApprovers {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        Ok(self
            .0
            .iter()
            .filter(|a| a.decides.contains(&kind))
            .cloned()
            .collect())
    }
}

/// Once-only claims in memory (expiry is not modelled: one process, one run).
#[derive(Default)]
pub struct MemoryClaims(Mutex<BTreeSet<String>>);

impl MemoryClaims {
    pub fn contains(&self, key: &str) -> bool {
        lock(&self.0).contains(key)
    }
}

impl Claims for MemoryClaims {
    async fn claim(&self, key: &str, _expires_at: DateTime<Utc>) -> PortResult<bool> {
        Ok(lock(&self.0).insert(key.to_string()))
    }
    async fn release(&self, key: &str) -> PortResult<()> {
        lock(&self.0).remove(key);
        Ok(())
    }
}

//! In-memory stores: what the rehearsal uses (one process, one run, so nothing needs
//! to outlive it) and what unit tests use. DynamoDB is the store on AWS.

use crate::error::PortError;
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Candidates, Claim,
    Claims, Link, Newest, PortResult, Update, Waiter, Waits,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
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

/// Once-only claims in memory, each with its owner (expiry is not modelled: one
/// process, one run).
#[derive(Default)]
pub struct MemoryClaims(Mutex<BTreeMap<String, String>>);

impl MemoryClaims {
    pub fn contains(&self, key: &str) -> bool {
        lock(&self.0).contains_key(key)
    }
    pub fn owner(&self, key: &str) -> Option<String> {
        lock(&self.0).get(key).cloned()
    }
}

impl Claims for MemoryClaims {
    async fn claim(&self, key: &str, _expires_at: DateTime<Utc>) -> PortResult<bool> {
        let mut claims = lock(&self.0);
        if claims.contains_key(key) {
            return Ok(false);
        }
        claims.insert(key.to_string(), String::new());
        Ok(true)
    }
    async fn release(&self, key: &str) -> PortResult<()> {
        lock(&self.0).remove(key);
        Ok(())
    }
    async fn claim_for(
        &self,
        key: &str,
        owner: &str,
        _expires_at: DateTime<Utc>,
    ) -> PortResult<Claim> {
        let mut claims = lock(&self.0);
        match claims.get(key) {
            Some(holder) if holder != owner => Ok(Claim::HeldBy(holder.clone())),
            _ => {
                claims.insert(key.to_string(), owner.to_string());
                Ok(Claim::Mine)
            }
        }
    }
    async fn take_over(
        &self,
        key: &str,
        from: &str,
        to: &str,
        _expires_at: DateTime<Utc>,
    ) -> PortResult<bool> {
        let mut claims = lock(&self.0);
        if claims.get(key).map(String::as_str) != Some(from) {
            return Ok(false);
        }
        claims.insert(key.to_string(), to.to_string());
        Ok(true)
    }
}

/// The newest candidate of each repository, in memory.
#[derive(Default)]
pub struct MemoryCandidates(Mutex<BTreeMap<String, (Newest, u64)>>);

impl Candidates for MemoryCandidates {
    async fn newest(&self, repository: &str) -> PortResult<Option<(Newest, u64)>> {
        Ok(lock(&self.0).get(repository).cloned())
    }
    async fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> PortResult<bool> {
        let mut all = lock(&self.0);
        let current = all.get(repository).map(|(_, r)| *r);
        if current != revision {
            return Ok(false);
        }
        all.insert(
            repository.to_string(),
            (newest.clone(), revision.map_or(1, |r| r + 1)),
        );
        Ok(true)
    }
}

/// Waiting tasks in memory (the rehearsal's and the path tests' stand-in for the
/// approvals table's `wait#` items), with the table's conditions.
#[derive(Default)]
pub struct MemoryWaits(Mutex<BTreeMap<String, Waiter>>);

impl MemoryWaits {
    /// Every waiter, by key.
    pub fn all(&self) -> BTreeMap<String, Waiter> {
        lock(&self.0).clone()
    }
}

impl Waits for MemoryWaits {
    async fn waiter(&self, key: &str) -> PortResult<Option<Waiter>> {
        Ok(lock(&self.0).get(key).cloned())
    }
    async fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> PortResult<Option<Waiter>> {
        let mut all = lock(&self.0);
        match all.get(key) {
            Some(other) if other.execution_id != waiter.execution_id && other.expires_at > now => {
                Ok(Some(other.clone()))
            }
            _ => {
                all.insert(key.to_string(), waiter.clone());
                Ok(None)
            }
        }
    }
    async fn done(&self, key: &str, token: &str) -> PortResult<()> {
        let mut all = lock(&self.0);
        if all.get(key).is_some_and(|w| w.token == token) {
            all.remove(key);
        }
        Ok(())
    }
}

//! The in-memory approval store: what the rehearsal uses (one process, one run, so
//! nothing needs to outlive it) and what unit tests use. DynamoDB is the store on AWS.

use crate::error::PortError;
use crate::ports::{ApprovalRecord, ApprovalState, Approvals, PortResult, Update};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[derive(Default)]
pub struct MemoryApprovals {
    records: Mutex<BTreeMap<String, ApprovalRecord>>,
}

impl MemoryApprovals {
    pub fn all(&self) -> Vec<ApprovalRecord> {
        lock(&self.records).values().cloned().collect()
    }
}

impl Approvals for MemoryApprovals {
    async fn create(&self, record: &ApprovalRecord) -> PortResult<()> {
        let mut r = lock(&self.records);
        if r.contains_key(&record.id_hash) {
            return Err(PortError::new(
                "create approval",
                "a record with this id already exists",
            ));
        }
        r.insert(record.id_hash.clone(), record.clone());
        Ok(())
    }
    async fn get(&self, id_hash: &str) -> PortResult<Option<ApprovalRecord>> {
        Ok(lock(&self.records).get(id_hash).cloned())
    }
    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let mut r = lock(&self.records);
        let Some(current) = r.get(&expected.id_hash) else {
            return Err(PortError::new("update approval", "no such record"));
        };
        if current.state != expected.state || current.votes.len() != expected.votes.len() {
            return Ok(Update::Conflict(Box::new(current.clone())));
        }
        r.insert(new.id_hash.clone(), new.clone());
        Ok(Update::Done)
    }
    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        Ok(lock(&self.records)
            .values()
            .filter(|r| r.repository == repository && r.state == ApprovalState::Pending)
            .cloned()
            .collect())
    }
}

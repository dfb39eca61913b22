//! [`MemoryTable`]: the in-memory twin of the DynamoDB table (`aws-dynamodb`'s
//! `DynamoTable`): approval records and their links, the configured approvers,
//! once-only claims, the newest candidate of each repository, the tasks waiting on a
//! stack or a frontend job — with the table's conditions. The rehearsal keeps it for
//! its one process (nothing needs to outlive a run); unit and path tests use it and
//! look inside afterwards through a clone.

use crate::error::PortError;
use crate::ports::{
    ApprovalKind, ApprovalRecord, ApprovalState, Approvals, Approver, Approvers, Candidates, Claim,
    Claims, Hold, Link, Newest, PortResult, Update, Waiter, Waits,
};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

/// Everything the table holds. One lock: every operation is atomic, as DynamoDB's
/// conditional writes are.
#[derive(Default)]
struct Items {
    records: BTreeMap<String, ApprovalRecord>,
    links: BTreeMap<String, Link>,
    approvers: Vec<Approver>,
    /// Claim key → owner ("" for an ownerless claim). Expiry is not modelled: one
    /// process, one run.
    claims: BTreeMap<String, String>,
    newest: BTreeMap<String, (Newest, u64)>,
    waiters: BTreeMap<String, Waiter>,
    /// Told every approval record written, as written (the rehearsal keeps each on
    /// disk, so a decision outlives a rehearsal that is killed).
    on_write: Option<OnWrite>,
}

/// What [`MemoryTable::on_write`] calls.
type OnWrite = Arc<dyn Fn(&ApprovalRecord) + Send + Sync>;

/// The approvals table in memory. A cheap handle: clones share the items.
#[derive(Clone, Default)]
pub struct MemoryTable(Arc<Mutex<Items>>);

impl MemoryTable {
    /// A table whose approvers are `approvers` (as `stagegate approvers` stores them).
    pub fn with_approvers(approvers: Vec<Approver>) -> Self {
        let table = MemoryTable::default();
        table.items().approvers = approvers;
        table
    }

    /// Calls `f` with every approval record written from now on (created or
    /// updated), under the table's lock: in the order they were written.
    pub fn on_write(&self, f: impl Fn(&ApprovalRecord) + Send + Sync + 'static) {
        self.items().on_write = Some(Arc::new(f));
    }

    /// Removes approver `id`, as `stagegate approvers remove` does.
    pub fn remove_approver(&self, id: &str) {
        self.items().approvers.retain(|a| a.id != id);
    }

    fn items(&self) -> MutexGuard<'_, Items> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Every approval record.
    pub fn records(&self) -> Vec<ApprovalRecord> {
        self.items().records.values().cloned().collect()
    }

    /// Every personal link.
    pub fn links(&self) -> Vec<Link> {
        self.items().links.values().cloned().collect()
    }

    /// Who holds claim `key` ("" for an ownerless claim).
    pub fn claim_owner(&self, key: &str) -> Option<String> {
        self.items().claims.get(key).cloned()
    }

    /// Every waiter, by key.
    pub fn waiters(&self) -> BTreeMap<String, Waiter> {
        self.items().waiters.clone()
    }
}

impl Approvals for MemoryTable {
    async fn create(&self, record: &ApprovalRecord, links: &[Link]) -> PortResult<()> {
        let mut items = self.items();
        if items.records.contains_key(&record.id) {
            return Err(PortError::new(
                "create approval",
                "a record with this id already exists",
            ));
        }
        items.records.insert(record.id.clone(), record.clone());
        for link in links {
            items.links.insert(link.id_hash.clone(), link.clone());
        }
        if let Some(f) = &items.on_write {
            f(record);
        }
        Ok(())
    }
    async fn get(&self, id: &str) -> PortResult<Option<ApprovalRecord>> {
        Ok(self.items().records.get(id).cloned())
    }
    async fn link(&self, id_hash: &str) -> PortResult<Option<Link>> {
        Ok(self.items().links.get(id_hash).cloned())
    }
    async fn update(&self, expected: &ApprovalRecord, new: &ApprovalRecord) -> PortResult<Update> {
        let mut items = self.items();
        let Some(current) = items.records.get(&expected.id) else {
            return Err(PortError::new("update approval", "no such record"));
        };
        if current.revision != expected.revision {
            return Ok(Update::Conflict(Box::new(current.clone())));
        }
        items.records.insert(new.id.clone(), new.clone());
        if let Some(f) = &items.on_write {
            f(new);
        }
        Ok(Update::Done)
    }
    async fn pending(&self, repository: &str) -> PortResult<Vec<ApprovalRecord>> {
        Ok(self
            .items()
            .records
            .values()
            .filter(|r| r.repository == repository && r.state == ApprovalState::Pending)
            .cloned()
            .collect())
    }
    async fn undelivered(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        Ok(self
            .items()
            .records
            .values()
            .filter(|r| r.delivery.outstanding())
            .take(limit)
            .cloned()
            .collect())
    }
    async fn chat_due(&self, limit: usize) -> PortResult<Vec<ApprovalRecord>> {
        Ok(self
            .items()
            .records
            .values()
            .filter(|r| !r.delivery.outstanding() && r.chat_due())
            .take(limit)
            .cloned()
            .collect())
    }
}

impl Approvers for MemoryTable {
    async fn deciding(&self, kind: ApprovalKind) -> PortResult<Vec<Approver>> {
        Ok(self
            .items()
            .approvers
            .iter()
            .filter(|a| a.decides.contains(&kind))
            .cloned()
            .collect())
    }
}

impl Claims for MemoryTable {
    async fn claim(&self, key: &str, _expires_at: DateTime<Utc>) -> PortResult<bool> {
        let claims = &mut self.items().claims;
        if claims.contains_key(key) {
            return Ok(false);
        }
        claims.insert(key.to_string(), String::new());
        Ok(true)
    }
    async fn release(&self, key: &str) -> PortResult<()> {
        self.items().claims.remove(key);
        Ok(())
    }
    async fn claim_for(&self, hold: &Hold<'_>) -> PortResult<Claim> {
        let claims = &mut self.items().claims;
        match claims.get(hold.key) {
            Some(holder) if holder != hold.owner => Ok(Claim::HeldBy(holder.clone())),
            _ => {
                claims.insert(hold.key.to_string(), hold.owner.to_string());
                Ok(Claim::Mine)
            }
        }
    }
    async fn take_over(&self, hold: &Hold<'_>, from: &str) -> PortResult<bool> {
        let claims = &mut self.items().claims;
        if claims.get(hold.key).map(String::as_str) != Some(from) {
            return Ok(false);
        }
        claims.insert(hold.key.to_string(), hold.owner.to_string());
        Ok(true)
    }
}

impl Candidates for MemoryTable {
    async fn newest(&self, repository: &str) -> PortResult<Option<(Newest, u64)>> {
        Ok(self.items().newest.get(repository).cloned())
    }
    async fn set_newest(
        &self,
        repository: &str,
        newest: &Newest,
        revision: Option<u64>,
    ) -> PortResult<bool> {
        let all = &mut self.items().newest;
        if all.get(repository).map(|(_, r)| *r) != revision {
            return Ok(false);
        }
        let next = revision.map_or(1, |r| r + 1);
        all.insert(repository.to_string(), (newest.clone(), next));
        Ok(true)
    }
}

impl Waits for MemoryTable {
    async fn waiter(&self, key: &str) -> PortResult<Option<Waiter>> {
        Ok(self.items().waiters.get(key).cloned())
    }
    async fn wait(
        &self,
        key: &str,
        waiter: &Waiter,
        now: DateTime<Utc>,
    ) -> PortResult<Option<Waiter>> {
        let all = &mut self.items().waiters;
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
        let all = &mut self.items().waiters;
        if all.get(key).is_some_and(|w| w.token == token) {
            all.remove(key);
        }
        Ok(())
    }
}

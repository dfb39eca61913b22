//! Whole runs through real AWS APIs where an emulator implements them: the flow's
//! artifacts and notices go through the S3 and SNS adapters (against moto in the load
//! drill and its test), while the in-memory doubles keep a copy the drills inspect.
//!
//! - [`Mirrored`] artifacts: every step's write goes to the remote store first (an
//!   error there is the step's error) and then to memory; a key the steps wrote is
//!   read back from the remote store, with its version id, so the run's reads of its
//!   own manifest, checklist and results are the remote store's. What the scripted
//!   builds upload goes to memory only (CodeBuild's stand-in), and is read there.
//! - [`Relayed`] notices: published to the remote topic first, then recorded in memory
//!   (where the robot approver reads its email), so a notice the remote refused is not
//!   there either.
//!
//! [`Mirrored::verify`] then reads every key back from both and counts what differs.

use crate::flow::Flow;
use aws_s3_port::S3Artifacts;
use aws_sns_port::SnsNotifier;
use stagegate::ports::{Artifacts, Message, Notifier, PortResult, Stored, Topic};
use stagegate::testing::{MemoryArtifacts, MemoryNotifier};
use stagegate_local::Time;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use testkit::{Moto, Remote};

/// Artifacts in a remote store `R`, copied to memory.
#[derive(Clone)]
pub struct Mirrored<R> {
    pub memory: MemoryArtifacts,
    pub remote: R,
    written: Arc<Mutex<BTreeSet<String>>>,
}

/// What [`Mirrored::verify`] found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Verified {
    /// Keys the steps wrote, each read back from the remote store.
    pub objects: usize,
    /// Of those, missing remotely or not byte-for-byte the memory copy.
    pub lost: Vec<String>,
}

impl<R: Artifacts> Mirrored<R> {
    pub fn new(memory: MemoryArtifacts, remote: R) -> Self {
        Mirrored {
            memory,
            remote,
            written: Default::default(),
        }
    }

    fn remote_has(&self, key: &str) -> bool {
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(key)
    }

    /// Reads every key the steps wrote from both stores; lists what differs.
    pub async fn verify(&self) -> Verified {
        let keys: Vec<String> = self
            .written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect();
        let mut v = Verified {
            objects: keys.len(),
            ..Verified::default()
        };
        for key in keys {
            let remote = self.remote.get(&key).await.ok().flatten();
            let memory = self.memory.get(&key).await.ok().flatten();
            if remote.is_none() || remote != memory {
                v.lost.push(key);
            }
        }
        v
    }
}

impl<R: Artifacts> Artifacts for Mirrored<R> {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> PortResult<String> {
        let link = self.remote.put(key, content_type, body.clone()).await?;
        self.memory.put(key, content_type, body).await?;
        self.written
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(key.to_string());
        Ok(link)
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        if self.remote_has(key) {
            self.remote.get(key).await
        } else {
            self.memory.get(key).await
        }
    }

    async fn read(&self, key: &str) -> PortResult<Option<Stored>> {
        if self.remote_has(key) {
            self.remote.read(key).await
        } else {
            self.memory.read(key).await
        }
    }
}

/// Notices through a remote notifier `R`, recorded in memory once it took them.
#[derive(Clone)]
pub struct Relayed<R> {
    pub memory: MemoryNotifier,
    pub remote: R,
    published: Arc<AtomicUsize>,
}

impl<R: Notifier> Relayed<R> {
    pub fn new(memory: MemoryNotifier, remote: R) -> Self {
        Relayed {
            memory,
            remote,
            published: Default::default(),
        }
    }

    /// How many notices the remote notifier accepted.
    pub fn published(&self) -> usize {
        self.published.load(Ordering::SeqCst)
    }
}

impl<R: Notifier> Notifier for Relayed<R> {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        let id = self.remote.publish(topic, message).await?;
        self.published.fetch_add(1, Ordering::SeqCst);
        self.memory.publish(topic, message).await?;
        Ok(id)
    }
}

impl Flow {
    /// The example's flow on the system clock with its artifacts and notices through
    /// remote adapters (S3's and SNS's against moto, in the load drill): the steps'
    /// writes and reads of their own artifacts and every notice go through them, the
    /// memory doubles keep the copies the drills read ([`crate::remote`]).
    pub fn real_time_through<A, N>(
        aws_time: Duration,
        artifacts: A,
        notifier: N,
    ) -> (Flow, Mirrored<A>, Relayed<N>)
    where
        A: Artifacts + Clone + 'static,
        N: Notifier + Clone + 'static,
    {
        let mut kept = None;
        let flow = Self::build_through(
            (
                crate::flow::example_settings(),
                stagegate::testing::approvers(),
            ),
            Time::Real,
            aws_time,
            crate::promotion::ProductionSite::new(),
            |a: &MemoryArtifacts, n: &MemoryNotifier| {
                let through = (
                    Mirrored::new(a.clone(), artifacts),
                    Relayed::new(n.clone(), notifier),
                );
                kept = Some(through.clone());
                through
            },
        );
        flow.stacks.events.set_every(aws_time);
        flow.hosting.events.set_every(aws_time);
        let (a, n) = kept.expect("build_through calls its `through` once");
        (flow, a, n)
    }
}

/// A flow whose remote stores are moto's S3 and SNS (see [`Moto::artifacts_and_topics`]
/// for the bucket, the topics and the queue that counts what was published), on the
/// system clock, what AWS does taking no time.
pub async fn on_moto(moto: &Moto) -> (Flow, Mirrored<S3Artifacts>, Relayed<SnsNotifier>, Remote) {
    let remote = moto.artifacts_and_topics().await;
    let sdk = moto.sdk_config().await;
    let (flow, artifacts, notices) = Flow::real_time_through(
        Duration::ZERO,
        S3Artifacts::from_config(&sdk, &remote.bucket),
        SnsNotifier::from_config(&sdk, &remote.approvals_topic, &remote.notifications_topic),
    );
    (flow, artifacts, notices, remote)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A write the remote store refuses is the step's error and is not in memory; a
    /// key written through the mirror is read from the remote store.
    #[tokio::test]
    async fn the_remote_store_comes_first_and_answers_for_what_it_holds() {
        let remote = MemoryArtifacts::default();
        let m = Mirrored::new(MemoryArtifacts::default(), remote.clone());
        m.put("runs/r/a", "text/plain", b"one".to_vec())
            .await
            .unwrap();
        // Changed behind the mirror's back: the remote answers.
        remote
            .put("runs/r/a", "text/plain", b"two".to_vec())
            .await
            .unwrap();
        assert_eq!(m.get("runs/r/a").await.unwrap(), Some(b"two".to_vec()));
        // Not written through the mirror (a scripted build's upload): memory answers.
        m.memory
            .put("scratch/b", "text/plain", b"build".to_vec())
            .await
            .unwrap();
        assert_eq!(m.get("scratch/b").await.unwrap(), Some(b"build".to_vec()));
        let v = m.verify().await;
        assert_eq!((v.objects, v.lost), (1, vec!["runs/r/a".to_string()]));
    }

    #[tokio::test]
    async fn what_the_remote_refuses_is_an_error_and_kept_nowhere() {
        use stagegate::testing::{Fault, Faults, Faulty};
        let faults = Faults::default();
        faults.arm("s3:PutObject", Fault::AccessDenied);
        faults.arm("sns:Publish", Fault::AccessDenied);
        let m = Mirrored::new(
            MemoryArtifacts::default(),
            Faulty::new(MemoryArtifacts::default(), faults.clone()),
        );
        assert!(m
            .put("runs/r/a", "text/plain", b"x".to_vec())
            .await
            .is_err());
        assert_eq!(m.memory.get("runs/r/a").await.unwrap(), None);
        assert_eq!(m.verify().await, Verified::default());
        let n = Relayed::new(
            MemoryNotifier::default(),
            Faulty::new(MemoryNotifier::default(), faults),
        );
        let message = Message {
            subject: "subject".into(),
            body: "body".into(),
            attributes: Default::default(),
            machine: None,
        };
        assert!(n.publish(Topic::Notifications, &message).await.is_err());
        assert_eq!((n.published(), n.memory.messages().len()), (0, 0));
    }
}

//! [`StatusEvents`]: how a double's changes reach a rule — one status every
//! [`STATUS_EVERY`] (virtual time in the path tests), each announced as EventBridge
//! would deliver it, unless the events are set to go missing.

use super::doubles::lock;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::broadcast;

/// How long a stack or an Amplify job of the doubles takes per status (virtual time in
/// the path tests).
pub const STATUS_EVERY: Duration = Duration::from_secs(20);

/// A double's status events (a cheap handle: clones share the channel and settings).
#[derive(Clone)]
pub struct StatusEvents {
    sender: broadcast::Sender<Value>,
    missed: Arc<AtomicBool>,
    every: Arc<Mutex<Duration>>,
}

impl Default for StatusEvents {
    fn default() -> Self {
        StatusEvents {
            sender: broadcast::channel(64).0,
            missed: Arc::default(),
            every: Arc::new(Mutex::new(STATUS_EVERY)),
        }
    }
}

impl StatusEvents {
    /// The events, as EventBridge would deliver them to a rule.
    pub fn subscribe(&self) -> broadcast::Receiver<Value> {
        self.sender.subscribe()
    }

    /// The double still changes, but its events never arrive (EventBridge delivers
    /// on a best-effort basis).
    pub fn miss(&self) {
        self.missed.store(true, Ordering::SeqCst);
    }

    /// Each status takes `every` instead of [`STATUS_EVERY`].
    pub fn set_every(&self, every: Duration) {
        *lock(&self.every) = every;
    }

    /// Walks `statuses` in the background, one every `every`: `enter` moves the
    /// double to each and returns the event that announces it.
    pub fn walk<S, F>(&self, statuses: Vec<S>, mut enter: F)
    where
        S: Send + 'static,
        F: FnMut(S) -> Value + Send + 'static,
    {
        let (events, every) = (self.clone(), *lock(&self.every));
        tokio::spawn(async move {
            for status in statuses {
                tokio::time::sleep(every).await;
                let event = enter(status);
                if !events.missed.load(Ordering::SeqCst) {
                    let _ = events.sender.send(event);
                }
            }
        });
    }
}

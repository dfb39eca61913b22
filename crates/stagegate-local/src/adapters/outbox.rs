//! Notifications, locally: one file per message in the run's `outbox/` (subject,
//! attributes, body), and a listener (the rehearsal echoes each to the terminal).

use stagegate::ports::{Message, Notifier, PortResult, Topic};
use stagegate::PortError;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

/// What the outbox tells the rehearsal as messages go out.
pub type OutboxListener = Arc<dyn Fn(Topic, &Message, &Path) + Send + Sync>;

/// Notifications as files, one per message, and a listener (the terminal). A cheap
/// handle: clones number their messages together.
#[derive(Clone)]
pub struct Outbox {
    dir: PathBuf,
    count: Arc<AtomicU32>,
    listener: OutboxListener,
}

impl Outbox {
    pub fn new(dir: PathBuf, listener: OutboxListener) -> Self {
        Outbox {
            dir,
            count: Arc::default(),
            listener,
        }
    }
}

impl Notifier for Outbox {
    async fn publish(&self, topic: Topic, message: &Message) -> PortResult<String> {
        let n = self.count.fetch_add(1, Ordering::SeqCst) + 1;
        let topic_name = match topic {
            Topic::Approvals => "approvals",
            Topic::Notifications => "notifications",
        };
        let path = self.dir.join(format!("{n:03}-{topic_name}.txt"));
        let mut text = format!(
            "Topic: {topic_name}\nSubject: {}\nAttributes:\n",
            message.subject
        );
        for (k, v) in &message.attributes {
            text.push_str(&format!("  {k}: {v}\n"));
        }
        text.push('\n');
        text.push_str(&message.body);
        // Approval requests carry personal links: owner-only, like the run directory.
        crate::private::create_dir_all(&self.dir)
            .map_err(|e| PortError::new("outbox", e.to_string()))?;
        crate::private::write(&path, text.as_bytes())
            .map_err(|e| PortError::new(format!("write {}", path.display()), e.to_string()))?;
        (self.listener)(topic, message, &path);
        Ok(format!("outbox/{n:03}"))
    }
}

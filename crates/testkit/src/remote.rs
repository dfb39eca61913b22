//! Whole runs' remote stores on moto: the artifacts bucket and the two topics, and a
//! queue that counts what was published.

use crate::Moto;
use std::time::{Duration, Instant};

/// What [`Moto::artifacts_and_topics`] made.
#[derive(Clone, Debug)]
pub struct Remote {
    pub bucket: String,
    pub approvals_topic: String,
    pub notifications_topic: String,
    /// Subscribed to both topics.
    pub queue_url: String,
}

impl Moto {
    /// The artifacts bucket as the template makes it (versioned), the approvals and
    /// notifications topics, and a queue subscribed to both for every message (raw),
    /// to count what was published.
    pub async fn artifacts_and_topics(&self) -> Remote {
        self.create_bucket("artifacts").await;
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_config().await)
                .force_path_style(true)
                .build(),
        );
        let on = aws_sdk_s3::types::VersioningConfiguration::builder()
            .status(aws_sdk_s3::types::BucketVersioningStatus::Enabled)
            .build();
        s3.put_bucket_versioning()
            .bucket("artifacts")
            .versioning_configuration(on)
            .send()
            .await
            .unwrap_or_else(|e| panic!("version the bucket: {e:?}"));
        let (queue_url, queue_arn) = self.create_queue("published").await;
        let topics = [
            self.create_topic("approvals").await,
            self.create_topic("notifications").await,
        ];
        let sns = aws_sdk_sns::Client::new(&self.sdk_config().await);
        for topic in &topics {
            sns.subscribe()
                .topic_arn(topic)
                .protocol("sqs")
                .endpoint(&queue_arn)
                .attributes("RawMessageDelivery", "true")
                .send()
                .await
                .unwrap_or_else(|e| panic!("subscribe to {topic}: {e:?}"));
        }
        let [approvals_topic, notifications_topic] = topics;
        Remote {
            bucket: "artifacts".into(),
            approvals_topic,
            notifications_topic,
            queue_url,
        }
    }

    /// Receives and deletes the messages of queue `url` until none has come for
    /// `quiet`; how many there were.
    pub async fn drain(&self, url: &str, quiet: Duration) -> usize {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk_config().await);
        let (mut count, mut last) = (0, Instant::now());
        while last.elapsed() < quiet {
            let out = crate::receive_batch(&sqs, url).await;
            for m in out.messages() {
                count += 1;
                last = Instant::now();
                if let Some(handle) = m.receipt_handle() {
                    sqs.delete_message()
                        .queue_url(url)
                        .receipt_handle(handle)
                        .send()
                        .await
                        .unwrap_or_else(|e| panic!("delete from {url}: {e:?}"));
                }
            }
            if out.messages().is_empty() {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
        count
    }
}

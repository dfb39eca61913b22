//! Notify: the outcome to the notifications topic, once per run (also for runs that
//! ended without notifying: the execution-status rule). Wiring only.

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate::ports::SystemClock;
use stagegate::steps::notify::Notify;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let topics = (
        env.var("APPROVALS_TOPIC_ARN")?,
        env.var("NOTIFICATIONS_TOPIC_ARN")?,
    );
    let notifier = SnsNotifier::from_config(&aws, topics.0, topics.1);
    // The once-per-run claims live in the approvals table.
    let claims = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    serve(Notify::new(settings()?, notifier, claims, SystemClock)).await
}

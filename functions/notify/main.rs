//! Notify: every run's outcome, once (also runs that ended without notifying).

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate::{ports::SystemClock, steps::notify::Notify};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (notifier, store) = (SnsNotifier::from(&ctx), DynamoTable::from(&ctx));
    serve(Notify { notifier, store, clock: SystemClock, settings: ctx.settings }).await
}

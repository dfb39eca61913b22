//! Wait for Approval: one personal link and email per approver (hashes only stored).

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate::{ports::SystemClock, steps::request_approval::RequestApproval};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, notifier) = (DynamoTable::from(&ctx), SnsNotifier::from(&ctx));
    serve(RequestApproval { store, notifier, clock: SystemClock, settings: ctx.settings }).await
}

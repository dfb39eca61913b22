//! Wait for Approval: a personal link and email per approver (hashes only), Slack messages.

use aws_dynamodb_port::DynamoTable;
use aws_secretsmanager_port::slack;
use aws_sns_port::SnsNotifier;
use stagegate::{ports::SystemClock, steps::request_approval::RequestApproval};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, notifier, chat) = (DynamoTable::from(&ctx), SnsNotifier::from(&ctx), slack(&ctx));
    serve(RequestApproval { store, notifier, chat, clock: SystemClock, settings: ctx.settings })
        .await
}

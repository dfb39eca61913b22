//! The GitHub push webhook (Function URL): a signed `rc-*` push, claimed once, on the bus.

use aws_dynamodb_port::DynamoTable as Table;
use aws_eventbridge_port::EventBus;
use aws_secretsmanager_port::CachedSecret;
use stagegate::{ports::SystemClock, steps::webhook::Webhook};
use stagegate_lambda::{serve_url, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (secret, store, events) =
        (CachedSecret::webhook(&ctx), Table::from(&ctx), EventBus::from(&ctx));
    serve_url(Webhook { secret, store, events, clock: SystemClock, settings: ctx.settings }).await
}

//! The GitHub push webhook (Function URL): verifies `X-Hub-Signature-256` with the
//! secret from Secrets Manager, claims the candidate once in DynamoDB, and puts a
//! "Release Candidate Tagged" event on the custom bus. Logic: `stagegate::webhook`.

use aws_dynamodb_port::DynamoTable;
use aws_eventbridge_port::EventBus;
use aws_secretsmanager_port::CachedSecret;
use stagegate::ports::SystemClock;
use stagegate::webhook::Webhook;
use stagegate_lambda::{serve_url, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let secret = CachedSecret::from_config(&aws, env.var("WEBHOOK_SECRET_ARN")?);
    let claims = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let bus = EventBus::from_config(&aws, env.var("EVENT_BUS_NAME")?);
    let config = (&settings()?).into();
    serve_url(Webhook::new(config, secret, claims, bus, SystemClock)).await
}

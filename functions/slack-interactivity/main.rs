//! Slack's interactivity (Function URL): a signed button opens the form, its submission decides.

use aws_dynamodb_port::DynamoTable;
use aws_secretsmanager_port::slack;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::slack_interactivity::SlackInteractivity};
use stagegate_lambda::{serve_url, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, runs, chat) = (DynamoTable::from(&ctx), StepFunctions::from(&ctx), slack(&ctx));
    serve_url(SlackInteractivity { store, runs, chat, clock: SystemClock, settings: ctx.settings })
        .await
}

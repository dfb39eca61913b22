//! Wait for Approval: stores the approval (hash of the link id only) and emails the link.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate::ports::SystemClock;
use stagegate::steps::approval::RequestApproval;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let approvals = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let topics = (
        env.var("APPROVALS_TOPIC_ARN")?,
        env.var("NOTIFICATIONS_TOPIC_ARN")?,
    );
    let notifier = SnsNotifier::from_config(&aws, topics.0, topics.1);
    serve(RequestApproval::new(
        settings()?,
        approvals,
        notifier,
        SystemClock,
    ))
    .await
}

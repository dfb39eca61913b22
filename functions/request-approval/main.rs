//! Wait for Approval: stores the approval (hash of the link id only) and emails the link.
//! Wiring only: the logic is `stagegate::functions::invoke("request-approval", ..)`.

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?
        .with_approvals(DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?))
        .with_notifier(SnsNotifier::from_config(
            &aws,
            env.var("APPROVALS_TOPIC_ARN")?,
            env.var("NOTIFICATIONS_TOPIC_ARN")?,
        ));
    run_step("request-approval", world).await
}

//! Wait for Approval: stores the approval and one link per approver (hashes only) and
//! emails each approver their own. Wiring only: the logic is in `stagegate::steps`.

use aws_dynamodb_port::DynamoTable;
use aws_sns_port::SnsNotifier;
use stagegate::ports::SystemClock;
use stagegate::steps::approval::RequestApproval;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (aws, env) = (stagegate_lambda::start().await, Env::process());
    // One table: the approvals, the approvers (`stagegate approvers`), the newest candidates.
    let t = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    let topics = (
        env.var("APPROVALS_TOPIC_ARN")?,
        env.var("NOTIFICATIONS_TOPIC_ARN")?,
    );
    let notifier = SnsNotifier::from_config(&aws, topics.0, topics.1);
    // Approvals, approvers, notifier, candidates, clock.
    let step = RequestApproval::new(settings()?, t.clone(), t.clone(), notifier, t, SystemClock);
    serve(step).await
}

//! Reconcile Approvals (every five minutes): recorded decisions, delivered.

use aws_dynamodb_port::DynamoTable;
use aws_secretsmanager_port::slack;
use aws_sfn_port::StepFunctions;
use stagegate::{ports::SystemClock, steps::reconcile_approvals::ReconcileApprovals};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (store, runs, chat) = (DynamoTable::from(&ctx), StepFunctions::from(&ctx), slack(&ctx));
    serve(ReconcileApprovals { store, runs, chat, clock: SystemClock, settings: ctx.settings })
        .await
}

//! Reconcile Approvals (every five minutes): delivers decisions that were recorded
//! but could not be sent to their waiting task. Wiring only.

use aws_dynamodb_port::DynamoTable;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::approval::ReconcileApprovals;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let approvals = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    // SendTask* take only the token: no state machine ARN is needed here.
    let callbacks = StepFunctions::from_config(&aws, "");
    serve(ReconcileApprovals::new(
        &settings()?,
        approvals,
        callbacks,
        SystemClock,
    ))
    .await
}

//! The approval review page (Function URL): `GET /approvals/<id>` shows the review,
//! `POST` decides. Logic: `stagegate::steps::approval_page`.

use aws_dynamodb_port::DynamoTable;
use aws_s3_port::S3Artifacts;
use aws_sfn_port::StepFunctions;
use stagegate::ports::SystemClock;
use stagegate::steps::approval_page::ApprovalPage;
use stagegate_lambda::{serve_url, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let approvals = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    // SendTask* take only the token: no state machine ARN is needed here.
    let callbacks = StepFunctions::from_config(&aws, "");
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    let page = ApprovalPage::new(&settings()?, approvals, callbacks, artifacts, SystemClock);
    serve_url(page).await
}

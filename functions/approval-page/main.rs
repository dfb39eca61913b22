//! The approval review page (Function URL): `GET /approvals/<id>` shows the review,
//! `POST` decides. Logic: `stagegate::steps::approval_page`.

use aws_dynamodb_port::DynamoTable;
use aws_s3_port::S3Artifacts;
use aws_sfn_port::StepFunctions;
use stagegate_lambda::{url, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let settings = stagegate_lambda::ports()?.settings;
    let approvals = DynamoTable::from_config(&aws, env.var("APPROVALS_TABLE")?);
    // SendTask* take only the token: no state machine ARN is needed here.
    let callbacks = StepFunctions::from_config(&aws, "");
    let artifacts = S3Artifacts::from_config(&aws, env.var("ARTIFACTS_BUCKET")?);
    url::run(|req| url::approval_page(&settings, &approvals, &callbacks, &artifacts, req)).await
}

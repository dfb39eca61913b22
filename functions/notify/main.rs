//! Notify: every run's outcome, once (also runs that ended without notifying), signed.
use aws_dynamodb_port::DynamoTable;
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use aws_sns_port::SnsNotifier;
use stagegate::{ports::SystemClock, steps::notify::Notify};
use stagegate_lambda::{serve, EmfStdout, Error};
#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (notifier, store, clock) = (SnsNotifier::from(&ctx), DynamoTable::from(&ctx), SystemClock);
    let (artifacts, signer, metrics) = (S3Artifacts::from(&ctx), KmsSigner::from(&ctx), EmfStdout);
    serve(Notify { notifier, store, clock, artifacts, signer, metrics, settings: ctx.settings })
        .await
}

//! Verify Staged Release: only a commit staging proved (signed evidence, unchanged bytes), after its soak.
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use stagegate::{ports::SystemClock, steps::verify_staged::VerifyStaged};
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (artifacts, signer, clock) = (S3Artifacts::from(&ctx), KmsSigner::from(&ctx), SystemClock);
    serve(VerifyStaged { artifacts, signer, clock, settings: ctx.settings }).await
}

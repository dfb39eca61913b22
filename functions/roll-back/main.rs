//! Roll Back: the stage's previous live release, verified against its signed evidence.
use aws_kms_port::KmsSigner;
use aws_s3_port::S3Artifacts;
use stagegate::steps::roll_back::RollBack;
use stagegate_lambda::{serve, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (artifacts, signer) = (S3Artifacts::from(&ctx), KmsSigner::from(&ctx));
    serve(RollBack { artifacts, signer, settings: ctx.settings }).await
}

//! Bake: the app's alarms and smoke suites, once per interval, until the bake time is up.
use aws_cloudwatch_port::CloudWatchAlarms;
use aws_s3_port::S3Artifacts;
use stagegate::{ports::SystemClock, steps::bake::Bake};
use stagegate_https::HttpsClient;
use stagegate_lambda::{serve, EmfStdout, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let ctx = stagegate_lambda::context().await?;
    let (alarms, http, artifacts) =
        (CloudWatchAlarms::from(&ctx), HttpsClient::new(), S3Artifacts::from(&ctx));
    let (clock, metrics, settings) = (SystemClock, EmfStdout, ctx.settings);
    serve(Bake { alarms, http, artifacts, clock, metrics, settings }).await
}

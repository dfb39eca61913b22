//! Notify: the outcome to the notifications topic.
//! Wiring only: the step's logic is in `stagegate::steps`.

use aws_sns_port::SnsNotifier;
use stagegate::steps::notify::Notify;
use stagegate_lambda::{serve, settings, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let topics = (
        env.var("APPROVALS_TOPIC_ARN")?,
        env.var("NOTIFICATIONS_TOPIC_ARN")?,
    );
    let notifier = SnsNotifier::from_config(&aws, topics.0, topics.1);
    serve(Notify::new(settings()?, notifier)).await
}

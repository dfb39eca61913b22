//! Notify: the outcome to the notifications topic.
//! Wiring only: the logic is `stagegate::functions::invoke("notify", ..)`.

use aws_sns_port::SnsNotifier;
use stagegate_lambda::{run_step, Env, Error};

#[tokio::main]
async fn main() -> Result<(), Error> {
    let aws = stagegate_lambda::start().await;
    let env = Env::process();
    let world = stagegate_lambda::ports()?.with_notifier(SnsNotifier::from_config(
        &aws,
        env.var("APPROVALS_TOPIC_ARN")?,
        env.var("NOTIFICATIONS_TOPIC_ARN")?,
    ));
    run_step("notify", world).await
}

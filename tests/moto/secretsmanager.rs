//! Secrets Manager: the webhook secret, read once.

use crate::Moto;
use aws_secretsmanager_port::CachedSecret;

#[tokio::test]
async fn a_secret_is_read_and_a_missing_one_is_a_named_error() {
    let moto = Moto::start();
    let arn = moto
        .create_secret("webhook", "It's a Secret to Everybody")
        .await;
    let secret = CachedSecret::from_config(&moto.sdk_config().await, &arn);
    assert_eq!(secret.value().await.unwrap(), "It's a Secret to Everybody");
    assert_eq!(secret.value().await.unwrap(), "It's a Secret to Everybody");
    let missing = CachedSecret::from_config(&moto.sdk_config().await, "nope");
    let e = missing.value().await.unwrap_err();
    assert!(e.message.contains("ResourceNotFoundException"), "{e}");
}

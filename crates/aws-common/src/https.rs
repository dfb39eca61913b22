//! The AWS SDK's default HTTPS client, without its eager start.
//!
//! The SDK's hyper client loads the platform's root certificates when an SDK client
//! is *built* (`validate_base_client_config`: "so that native certs load at client
//! initialization time instead of upon first request"): on Linux that reads
//! `/etc/ssl/certs` file by file (147 files here) and parses every certificate, in
//! every function's init, whether or not the invocation ever calls AWS. [`on_first_use`]
//! is the same client (same TLS provider, same proxy-from-environment rule as the
//! SDK's `default_https_client`) with that validation left out, so the connector and
//! its certificates are built by the first request instead (docs/performance.md).

use aws_smithy_http_client::proxy::ProxyConfig;
use aws_smithy_http_client::tls::{self, rustls_provider::CryptoMode};
use aws_smithy_http_client::{Builder, ConnectorBuilder};
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnectorSettings, SharedHttpClient, SharedHttpConnector,
};
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_runtime_api::shared::IntoShared;

/// The SDK's default HTTPS client (rustls with aws-lc, proxies from the
/// environment), deferred to its first request.
pub fn on_first_use() -> SharedHttpClient {
    let client = Builder::new().build_with_connector_fn(|settings, components| {
        let mut conn =
            ConnectorBuilder::default().tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc));
        conn.set_connector_settings(settings.cloned());
        if let Some(components) = components {
            conn.set_sleep_impl(components.sleep_impl());
        }
        conn.set_proxy_config(Some(ProxyConfig::from_env()));
        conn.build()
    });
    OnFirstUse(client).into_shared()
}

/// `inner`, except that building an SDK client does not build a connector.
#[derive(Debug)]
pub struct OnFirstUse(pub SharedHttpClient);

impl HttpClient for OnFirstUse {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.0.http_connector(settings, components)
    }

    // `validate_base_client_config` keeps the trait's default (accept, do nothing):
    // that is the whole point.

    fn connector_metadata(
        &self,
    ) -> Option<aws_smithy_runtime_api::client::connector_metadata::ConnectorMetadata> {
        self.0.connector_metadata()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_runtime_api::box_error::BoxError;
    use aws_smithy_runtime_api::client::http::{HttpConnector, HttpConnectorFuture};
    use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
    use aws_smithy_runtime_api::client::runtime_components::RuntimeComponentsBuilder;
    use aws_smithy_types::body::SdkBody;
    use aws_smithy_types::config_bag::ConfigBag;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    /// An HTTP client that counts what the SDK asks of it: eager validations (where
    /// the real client loads certificates) and connectors built.
    #[derive(Debug, Default, Clone)]
    struct Counting {
        validations: Arc<AtomicUsize>,
        connectors: Arc<AtomicUsize>,
        requests: Arc<AtomicUsize>,
    }

    #[derive(Debug)]
    struct Answer(Arc<AtomicUsize>);

    impl HttpConnector for Answer {
        fn call(&self, _request: HttpRequest) -> HttpConnectorFuture {
            self.0.fetch_add(1, Ordering::SeqCst);
            HttpConnectorFuture::ready(Ok(HttpResponse::new(
                200.try_into().expect("200 is a status code"),
                SdkBody::from(
                    "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>",
                ),
            )))
        }
    }

    impl HttpClient for Counting {
        fn http_connector(
            &self,
            _settings: &HttpConnectorSettings,
            _components: &RuntimeComponents,
        ) -> SharedHttpConnector {
            self.connectors.fetch_add(1, Ordering::SeqCst);
            Answer(self.requests.clone()).into_shared()
        }

        fn validate_base_client_config(
            &self,
            _: &RuntimeComponentsBuilder,
            _: &ConfigBag,
        ) -> Result<(), BoxError> {
            self.validations.fetch_add(1, Ordering::SeqCst);
            Ok(())
        }
    }

    fn sns_with(http: SharedHttpClient) -> aws_sdk_sns::Client {
        let conf = aws_sdk_sns::Config::builder()
            .behavior_version(aws_sdk_sns::config::BehaviorVersion::latest())
            .region(aws_sdk_sns::config::Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sns::config::Credentials::for_tests())
            .http_client(http)
            .build();
        aws_sdk_sns::Client::from_conf(conf)
    }

    #[tokio::test]
    async fn building_a_client_builds_no_connector_the_first_request_does() {
        let seen = Counting::default();
        let client = sns_with(OnFirstUse(seen.clone().into_shared()).into_shared());
        assert_eq!(
            seen.validations.load(Ordering::SeqCst),
            0,
            "eager validation"
        );
        assert_eq!(seen.connectors.load(Ordering::SeqCst), 0);

        let out = client
            .publish()
            .topic_arn("arn:aws:sns:us-east-1:123456789012:t")
            .message("hi")
            .send()
            .await
            .expect("the counting client answers");
        assert_eq!(out.message_id(), Some("m-1"));
        assert_eq!(seen.connectors.load(Ordering::SeqCst), 1);
        assert_eq!(seen.requests.load(Ordering::SeqCst), 1);
        assert_eq!(seen.validations.load(Ordering::SeqCst), 0);
    }

    /// The control: the same counting client, unwrapped, is validated as soon as
    /// an SDK client is built (this is where the SDK's own client loads the
    /// certificates), so the test above would notice a wrapper that forwarded it.
    #[tokio::test]
    async fn unwrapped_the_sdk_validates_at_construction() {
        let seen = Counting::default();
        let _client = sns_with(seen.clone().into_shared());
        assert_eq!(seen.validations.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn the_default_client_builds() {
        let c = on_first_use();
        assert!(format!("{c:?}").contains("OnFirstUse"));
    }
}

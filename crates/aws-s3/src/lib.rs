//! [`Artifacts`] in an S3 bucket (encrypted, private, 30-day expiry: see
//! `template.yaml`). A stored artifact's link opens it in the S3 console, for people
//! with access to the account: a presigned URL kept in a checklist would outlive
//! neither the Lambda's role credentials nor a 24 h review, and the bucket is never
//! public. The review page instead presigns a link each time it is shown
//! ([`Artifacts::share`]: minutes, one object, read only, shown as text).

use aws_common::port_error;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use stagegate::error::PortError;
use stagegate::ports::{Artifacts, PortResult, Stored};

#[derive(Clone, Debug)]
pub struct S3Artifacts {
    client: Client,
    bucket: String,
    region: String,
}

impl S3Artifacts {
    /// From the shared AWS configuration (its region goes into console links). When
    /// the endpoint is overridden (`AWS_ENDPOINT_URL`: an emulator such as moto on
    /// 127.0.0.1) requests use path-style addressing, which such endpoints serve;
    /// against AWS they stay virtual-hosted.
    pub fn from_config(config: &aws_types::SdkConfig, bucket: impl Into<String>) -> Self {
        let region = config.region().map(|r| r.to_string()).unwrap_or_default();
        let s3 = aws_sdk_s3::config::Builder::from(config)
            .force_path_style(config.endpoint_url().is_some())
            .build();
        Self::new(Client::from_conf(s3), bucket, region)
    }

    pub fn new(client: Client, bucket: impl Into<String>, region: impl Into<String>) -> Self {
        S3Artifacts {
            client,
            bucket: bucket.into(),
            region: region.into(),
        }
    }

    /// The console link of `key`.
    pub fn link(&self, key: &str) -> String {
        format!(
            "https://{region}.console.aws.amazon.com/s3/object/{bucket}?region={region}&prefix={key}",
            region = self.region,
            bucket = self.bucket,
            key = encode_query(key)
        )
    }
}

/// The artifacts bucket, from the deployment.
impl From<&aws_common::Context> for S3Artifacts {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.artifacts_bucket)
    }
}

/// Percent-encodes a query value (RFC 3986 unreserved characters and `/` stay).
fn encode_query(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Artifacts for S3Artifacts {
    async fn put(&self, key: &str, content_type: &str, body: Vec<u8>) -> PortResult<String> {
        self.client
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| port_error(format!("store s3://{}/{key}", self.bucket), &e))?;
        Ok(self.link(key))
    }

    /// A presigned `GetObject` of `key` for `seconds` (signed with the function's role
    /// credentials: it ends sooner if they do), answered as plain text so a browser
    /// shows it and never runs it.
    async fn share(&self, key: &str, seconds: u64) -> PortResult<Option<String>> {
        let what = || format!("presign s3://{}/{key}", self.bucket);
        let expiry = PresigningConfig::expires_in(std::time::Duration::from_secs(seconds))
            .map_err(|e| PortError::refused(what(), e.to_string()))?;
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .response_content_type("text/plain; charset=utf-8")
            .presigned(expiry)
            .await
            .map_err(|e| port_error(what(), &e))?;
        Ok(Some(request.uri().to_string()))
    }

    async fn get(&self, key: &str) -> PortResult<Option<Vec<u8>>> {
        Ok(self.read(key).await?.map(|s| s.body))
    }

    async fn read(&self, key: &str) -> PortResult<Option<Stored>> {
        let out = match self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(key)
            .send()
            .await
        {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => return Ok(None),
            // S3 answers a missing key with AccessDenied to a caller that may not list
            // the bucket: say so, since it is the likelier cause for stagegate's roles.
            Err(e) => {
                let mut err = port_error(format!("read s3://{}/{key}", self.bucket), &e);
                if err.message.starts_with("AccessDenied") {
                    err.message.push_str(" (a key that does not exist reads as AccessDenied without s3:ListBucket on the bucket)");
                }
                return Err(err);
            }
        };
        // An unversioned bucket answers "null" (or nothing): no version to bind.
        let version = out
            .version_id()
            .filter(|v| *v != "null")
            .map(str::to_string);
        let bytes = out.body.collect().await.map_err(|e| {
            PortError::new(format!("read s3://{}/{key}", self.bucket), e.to_string())
        })?;
        Ok(Some(Stored {
            body: bytes.into_bytes().to_vec(),
            version,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::operation::get_object::{GetObjectError, GetObjectOutput};
    use aws_sdk_s3::operation::put_object::PutObjectOutput;
    use aws_sdk_s3::types::error::NoSuchKey;
    use aws_smithy_mocks::{mock, mock_client, Rule, RuleMode};

    fn artifacts(rules: &[&Rule]) -> S3Artifacts {
        let client = mock_client!(aws_sdk_s3, RuleMode::MatchAny, rules, |c| c
            .retry_config(aws_common::fast_retries()));
        S3Artifacts::new(client, "stagegate-artifacts", "eu-west-1")
    }

    #[tokio::test]
    async fn put_stores_with_the_content_type_and_returns_a_console_link() {
        let put = mock!(Client::put_object)
            .match_requests(|r| {
                r.bucket() == Some("stagegate-artifacts")
                    && r.key() == Some("runs/rc-1/checklist.md")
                    && r.content_type() == Some("text/markdown; charset=utf-8")
            })
            .then_output(|| PutObjectOutput::builder().build());
        let link = artifacts(&[&put])
            .put(
                "runs/rc-1/checklist.md",
                "text/markdown; charset=utf-8",
                b"# c".to_vec(),
            )
            .await
            .unwrap();
        assert_eq!(
            link,
            "https://eu-west-1.console.aws.amazon.com/s3/object/stagegate-artifacts?region=eu-west-1&prefix=runs/rc-1/checklist.md"
        );
        assert_eq!(put.num_calls(), 1);
    }

    #[tokio::test]
    async fn get_returns_the_body_and_none_for_a_missing_key() {
        let found = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("a"))
            .then_output(|| {
                GetObjectOutput::builder()
                    .body(ByteStream::from_static(b"body"))
                    .build()
            });
        let missing = mock!(Client::get_object)
            .match_requests(|r| r.key() == Some("b"))
            .then_error(|| GetObjectError::NoSuchKey(NoSuchKey::builder().build()));
        let a = artifacts(&[&found, &missing]);
        assert_eq!(a.get("a").await.unwrap().unwrap(), b"body");
        assert_eq!(a.get("b").await.unwrap(), None);
    }

    #[tokio::test]
    async fn access_denied_is_an_error_naming_the_object() {
        let denied = mock!(Client::get_object)
            .sequence()
            .http_status(
                403,
                Some(
                    "<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>"
                        .into(),
                ),
            )
            .build();
        let e = artifacts(&[&denied]).get("runs/x").await.unwrap_err();
        assert_eq!(e.operation, "read s3://stagegate-artifacts/runs/x");
        assert!(e.message.starts_with("AccessDenied"), "{e}");
        assert!(e.message.contains("without s3:ListBucket"), "{e}");
    }

    #[tokio::test]
    async fn slow_down_is_retried_then_reported() {
        let flaky = mock!(Client::put_object)
            .sequence()
            .http_status(503, Some("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into()))
            .output(|| PutObjectOutput::builder().build())
            .build();
        artifacts(&[&flaky])
            .put("k", "text/plain", vec![])
            .await
            .unwrap();
        assert_eq!(flaky.num_calls(), 2);

        let throttled = mock!(Client::put_object)
            .sequence()
            .http_status(503, Some("<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>".into()))
            .repeatedly()
            .build();
        let e = artifacts(&[&throttled])
            .put("k", "text/plain", vec![])
            .await
            .unwrap_err();
        assert!(
            e.message.contains("SlowDown") && e.message.contains("throttled"),
            "{e}"
        );
    }

    #[test]
    fn links_encode_unusual_keys() {
        let a = artifacts(&[]);
        assert!(a.link("runs/a b&c").ends_with("prefix=runs/a%20b%26c"));
    }
}

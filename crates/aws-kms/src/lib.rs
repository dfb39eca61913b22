//! [`Signer`] with a KMS asymmetric key (`template.yaml`'s `EvidenceKey`: ECC NIST
//! P-256, `SIGN_VERIFY`): the evidence statement is signed as a raw message
//! (`ECDSA_SHA_256`, at most 4,096 bytes) and verified by KMS itself, so the private
//! key never leaves KMS and `stagegate verify` needs `kms:Verify`, nothing more.

use aws_common::port_error;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::{MessageType, SigningAlgorithmSpec};
use aws_sdk_kms::Client;
use base64::Engine as _;
use stagegate::ports::{PortResult, Signature, Signer};

/// KMS's name for the algorithm.
pub const ALGORITHM: &str = "ECDSA_SHA_256";

#[derive(Clone, Debug)]
pub struct KmsSigner {
    client: Client,
    key_id: String,
}

impl KmsSigner {
    pub fn from_config(config: &aws_types::SdkConfig, key_id: impl Into<String>) -> Self {
        Self::new(Client::new(config), key_id)
    }

    pub fn new(client: Client, key_id: impl Into<String>) -> Self {
        KmsSigner {
            client,
            key_id: key_id.into(),
        }
    }
}

/// The deployment's evidence key.
impl From<&aws_common::Context> for KmsSigner {
    fn from(ctx: &aws_common::Context) -> Self {
        Self::from_config(&ctx.aws, &ctx.deployment.evidence_key_arn)
    }
}

impl Signer for KmsSigner {
    async fn sign(&self, message: &[u8]) -> PortResult<Signature> {
        let out = self
            .client
            .sign()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await
            .map_err(|e| port_error(format!("sign with {}", self.key_id), &e))?;
        let value = out.signature().map(|b| b.as_ref()).unwrap_or_default();
        Ok(Signature {
            // The key's ARN as KMS answers it, whatever alias it was asked by.
            key_id: out.key_id().unwrap_or(&self.key_id).to_string(),
            algorithm: ALGORITHM.into(),
            value: base64::engine::general_purpose::STANDARD.encode(value),
        })
    }

    async fn verify(&self, message: &[u8], signature: &Signature) -> PortResult<bool> {
        if signature.algorithm != ALGORITHM {
            return Ok(false);
        }
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&signature.value) else {
            return Ok(false);
        };
        // The key the signature names must be this deployment's.
        if signature.key_id != self.key_id && !self.key_id.ends_with(&signature.key_id) {
            let ours = self.client.describe_key().key_id(&self.key_id).send().await;
            let arn = ours
                .map_err(|e| port_error(format!("describe {}", self.key_id), &e))?
                .key_metadata()
                .and_then(|m| m.arn())
                .unwrap_or_default()
                .to_string();
            if arn != signature.key_id {
                return Ok(false);
            }
        }
        let out = self
            .client
            .verify()
            .key_id(&self.key_id)
            .message(Blob::new(message))
            .message_type(MessageType::Raw)
            .signature(Blob::new(sig))
            .signing_algorithm(SigningAlgorithmSpec::EcdsaSha256)
            .send()
            .await;
        match out {
            Ok(v) => Ok(v.signature_valid()),
            // KMS answers an invalid signature with an error, not `false`.
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_kms_invalid_signature_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(port_error(format!("verify with {}", self.key_id), &e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_kms::operation::sign::SignOutput;
    use aws_smithy_mocks::{mock, mock_client, RuleMode};

    #[tokio::test]
    async fn signs_the_raw_message_with_ecdsa_sha_256_and_names_the_key() {
        let rule = mock!(Client::sign)
            .match_requests(|r| {
                r.message().map(|m| m.as_ref()) == Some(b"statement".as_slice())
                    && r.message_type() == Some(&MessageType::Raw)
                    && r.signing_algorithm() == Some(&SigningAlgorithmSpec::EcdsaSha256)
                    && r.key_id() == Some("alias/evidence")
            })
            .then_output(|| {
                SignOutput::builder()
                    .key_id("arn:aws:kms:us-east-1:123456789012:key/k1")
                    .signature(Blob::new(vec![1, 2, 3]))
                    .build()
            });
        let client = mock_client!(aws_sdk_kms, RuleMode::MatchAny, [&rule]);
        let s = KmsSigner::new(client, "alias/evidence")
            .sign(b"statement")
            .await
            .unwrap();
        assert_eq!(s.key_id, "arn:aws:kms:us-east-1:123456789012:key/k1");
        assert_eq!(
            (s.algorithm.as_str(), s.value.as_str()),
            ("ECDSA_SHA_256", "AQID")
        );
    }
}

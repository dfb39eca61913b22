//! Evidence signing, locally: an ECDSA P-256 key (the key spec of the KMS key the
//! template makes on AWS) kept as PKCS#8 in `.stagegate/evidence-key.p8`, readable by
//! its owner only, made on first use. `stagegate verify` checks a rehearsal's evidence
//! with it.

use crate::private;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{
    EcdsaKeyPair, KeyPair, UnparsedPublicKey, ECDSA_P256_SHA256_ASN1,
    ECDSA_P256_SHA256_ASN1_SIGNING,
};
use base64::Engine as _;
use stagegate::ports::{PortResult, Signature, Signer};
use stagegate::PortError;
use std::path::Path;
use std::sync::Arc;

/// Where a rehearsal directory's evidence key is, under its `.stagegate/`.
pub const EVIDENCE_KEY: &str = "evidence-key.p8";

/// KMS's name for the algorithm, used on both sides.
pub const ALGORITHM: &str = "ECDSA_SHA_256";

/// A P-256 signing key.
#[derive(Clone)]
pub struct LocalSigner {
    pair: Arc<EcdsaKeyPair>,
}

impl LocalSigner {
    /// The key in `path`, made there (0600) if there is none.
    pub fn open(path: &Path) -> Result<Self, String> {
        let pkcs8 = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let doc = EcdsaKeyPair::generate_pkcs8(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    &SystemRandom::new(),
                )
                .map_err(|_| "cannot generate an evidence key".to_string())?;
                if let Some(dir) = path.parent() {
                    private::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
                }
                private::write(path, doc.as_ref())
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                doc.as_ref().to_vec()
            }
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8)
            .map_err(|e| format!("{}: not a P-256 PKCS#8 key: {e}", path.display()))?;
        Ok(LocalSigner {
            pair: Arc::new(pair),
        })
    }

    /// A key that lives as long as this value (the path tests).
    pub fn ephemeral() -> Result<Self, String> {
        let doc =
            EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &SystemRandom::new())
                .map_err(|_| "cannot generate an evidence key".to_string())?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref())
            .map_err(|e| format!("a generated key does not parse: {e}"))?;
        Ok(LocalSigner {
            pair: Arc::new(pair),
        })
    }

    /// `local:` and the first 16 hex digits of the public key's SHA-256.
    pub fn key_id(&self) -> String {
        let digest = stagegate::manifest::sha256(self.pair.public_key().as_ref());
        format!("local:{}", &digest[..16])
    }
}

impl Signer for LocalSigner {
    async fn sign(&self, message: &[u8]) -> PortResult<Signature> {
        let sig = self
            .pair
            .sign(&SystemRandom::new(), message)
            .map_err(|_| PortError::new("sign evidence", "the local key could not sign"))?;
        Ok(Signature {
            key_id: self.key_id(),
            algorithm: ALGORITHM.into(),
            value: base64::engine::general_purpose::STANDARD.encode(sig.as_ref()),
        })
    }

    async fn verify(&self, message: &[u8], signature: &Signature) -> PortResult<bool> {
        if signature.key_id != self.key_id() || signature.algorithm != ALGORITHM {
            return Ok(false);
        }
        let Ok(sig) = base64::engine::general_purpose::STANDARD.decode(&signature.value) else {
            return Ok(false);
        };
        let public =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, self.pair.public_key().as_ref());
        Ok(public.verify(message, &sig).is_ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_key_made_once_signs_and_verifies_and_another_does_not() {
        let dir = std::env::temp_dir().join(format!("stagegate-signer-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let path = dir.join("evidence-key.p8");
        let a = LocalSigner::open(&path).unwrap();
        let again = LocalSigner::open(&path).unwrap();
        assert_eq!(
            a.key_id(),
            again.key_id(),
            "the key is made once, then read"
        );
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let sig = a.sign(b"statement").await.unwrap();
        assert!(again.verify(b"statement", &sig).await.unwrap());
        assert!(!again.verify(b"statement!", &sig).await.unwrap());
        let other = LocalSigner::ephemeral().unwrap();
        assert!(!other.verify(b"statement", &sig).await.unwrap());
        let mut forged = sig.clone();
        forged.key_id = other.key_id();
        assert!(!other.verify(b"statement", &forged).await.unwrap());
        let _ = std::fs::remove_dir_all(&dir);
    }
}

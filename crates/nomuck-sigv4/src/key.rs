use std::fmt;

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

use crate::CredentialScope;

type HmacSha256 = Hmac<Sha256>;

fn keyed(key: &[u8]) -> HmacSha256 {
    // HMAC accepts keys of any length; this never fails.
    <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC accepts keys of any length")
}

pub(crate) fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    let mut mac = keyed(key);
    mac.update(data);
    mac.finalize().into_bytes().into()
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// The derived SigV4 signing key (`kSigning`) for one credential scope.
///
/// It holds an HMAC state with the key pads already absorbed, so each
/// signature costs two SHA-256 compressions fewer than keying from scratch;
/// cloning is a ~200-byte copy. Callers should cache it per
/// (access key, scope date, region, service).
#[derive(Clone)]
pub struct SigningKey {
    mac: HmacSha256,
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningKey(..)")
    }
}

impl SigningKey {
    /// Wraps raw `kSigning` bytes (e.g. from a key cache).
    pub fn from_bytes(key: [u8; 32]) -> Self {
        Self { mac: keyed(&key) }
    }

    /// HMAC-SHA256 of `data` under this key.
    pub fn sign(&self, data: &[u8]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        mac.update(data);
        mac.finalize().into_bytes().into()
    }

    /// Like [`SigningKey::sign`] but over several parts, avoiding a concatenation.
    pub(crate) fn sign_parts(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut mac = self.mac.clone();
        for p in parts {
            mac.update(p);
        }
        mac.finalize().into_bytes().into()
    }
}

/// Derives `kSigning = HMAC(HMAC(HMAC(HMAC("AWS4"+secret, date), region), service), "aws4_request")`.
pub fn derive_signing_key(secret_access_key: &str, scope: &CredentialScope) -> SigningKey {
    SigningKey::from_bytes(derive_signing_key_bytes(secret_access_key, scope))
}

/// Raw derived key bytes, for callers that persist or compare keys.
pub fn derive_signing_key_bytes(secret_access_key: &str, scope: &CredentialScope) -> [u8; 32] {
    let mut secret = Vec::with_capacity(4 + secret_access_key.len());
    secret.extend_from_slice(b"AWS4");
    secret.extend_from_slice(secret_access_key.as_bytes());
    let k_date = hmac_sha256(&secret, scope.date.as_bytes());
    let k_region = hmac_sha256(&k_date, scope.region.as_bytes());
    let k_service = hmac_sha256(&k_region, scope.service.as_bytes());
    hmac_sha256(&k_service, b"aws4_request")
}

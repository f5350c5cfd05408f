//! Secrets at rest: access-key secrets are stored encrypted with AES-256-GCM under a
//! master key that lives in the data directory, not in the database, so a copy of the
//! database alone does not leak credentials.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;

use crate::IamError;

pub const MASTER_KEY_LEN: usize = 32;
const NONCE_LEN: usize = 12;

#[derive(Clone)]
pub struct SecretSealer {
    cipher: Aes256Gcm,
}

impl SecretSealer {
    pub fn new(master_key: &[u8; MASTER_KEY_LEN]) -> Self {
        Self {
            cipher: Aes256Gcm::new(master_key.into()),
        }
    }

    /// A fresh random master key.
    pub fn generate_master_key() -> [u8; MASTER_KEY_LEN] {
        let mut key = [0u8; MASTER_KEY_LEN];
        rand::rngs::OsRng.fill_bytes(&mut key);
        key
    }

    /// Encrypt `secret`, binding it to `key_id` so a sealed secret cannot be moved to
    /// another key's row. Output: nonce followed by ciphertext and tag.
    pub fn seal(&self, key_id: &str, secret: &str) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let ciphertext = self
            .cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: secret.as_bytes(),
                    aad: key_id.as_bytes(),
                },
            )
            .expect("AES-GCM encryption of a short secret cannot fail");
        let mut out = nonce.to_vec();
        out.extend_from_slice(&ciphertext);
        out
    }

    pub fn open(&self, key_id: &str, sealed: &[u8]) -> Result<String, IamError> {
        let undecryptable = || IamError::SecretUndecryptable(key_id.to_owned());
        if sealed.len() < NONCE_LEN {
            return Err(undecryptable());
        }
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        let plain = self
            .cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: key_id.as_bytes(),
                },
            )
            .map_err(|_| undecryptable())?;
        String::from_utf8(plain).map_err(|_| undecryptable())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secret_opens_only_with_its_key_id_and_master_key() {
        let sealer = SecretSealer::new(&SecretSealer::generate_master_key());
        let sealed = sealer.seal("AKIAONE", "s3cr3t");
        assert_eq!(sealer.open("AKIAONE", &sealed).unwrap(), "s3cr3t");
        assert!(sealer.open("AKIATWO", &sealed).is_err());
        let other = SecretSealer::new(&SecretSealer::generate_master_key());
        assert!(other.open("AKIAONE", &sealed).is_err());
        assert!(sealer.open("AKIAONE", &sealed[..5]).is_err());
        // Two seals of one secret differ (fresh nonce), so equal secrets are not visible.
        assert_ne!(sealed, sealer.seal("AKIAONE", "s3cr3t"));
    }
}

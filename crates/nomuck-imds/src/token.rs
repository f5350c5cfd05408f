//! IMDSv2 session tokens.
//!
//! A token is self-contained: `base64url(version ‖ expiry_ms ‖ HMAC-SHA256(key,
//! domain ‖ instance_id ‖ 0 ‖ expiry_ms))`. Nothing is stored per token, so any number
//! of guests can hold tokens and a nomuck restart with the same key keeps them valid.
//! The instance id inside the MAC binds a token to the instance (the socket) that
//! issued it: presented on another instance's socket it fails verification.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"nomuck-imds-token-v1\0";
const MAC_LEN: usize = 32;
const RAW_LEN: usize = 1 + 8 + MAC_LEN;

/// Token lifetimes EC2 accepts, in seconds.
pub const TTL_RANGE: std::ops::RangeInclusive<u64> = 1..=21_600;

/// The secret that signs tokens. Derive it from something that survives restarts (the
/// data directory's master key) if tokens should too; [`TokenKey::random`] otherwise.
#[derive(Clone)]
pub struct TokenKey([u8; 32]);

impl TokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> TokenKey {
        TokenKey(bytes)
    }

    /// A fresh key from the OS's CSPRNG.
    pub fn random() -> TokenKey {
        use rand::RngCore;
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        TokenKey(bytes)
    }

    fn mac(&self, instance_id: &str, expiry_ms: u64) -> HmacSha256 {
        let mut mac = HmacSha256::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(DOMAIN);
        mac.update(instance_id.as_bytes());
        mac.update(&[0]);
        mac.update(&expiry_ms.to_be_bytes());
        mac
    }

    /// A token for `instance_id` that expires `ttl_secs` after `now_ms` (Unix ms).
    pub fn issue(&self, instance_id: &str, now_ms: u64, ttl_secs: u64) -> String {
        let expiry_ms = now_ms.saturating_add(ttl_secs.saturating_mul(1000));
        let mut raw = Vec::with_capacity(RAW_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&expiry_ms.to_be_bytes());
        raw.extend_from_slice(&self.mac(instance_id, expiry_ms).finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(raw)
    }

    /// The seconds `token` has left (rounded up) if it was issued by this key for
    /// `instance_id` and has not expired at `now_ms`; `None` otherwise.
    pub fn verify(&self, instance_id: &str, token: &[u8], now_ms: u64) -> Option<u64> {
        // A valid token is 55 characters; anything much longer is not worth decoding.
        if token.len() > 64 {
            return None;
        }
        let raw = URL_SAFE_NO_PAD.decode(token).ok()?;
        if raw.len() != RAW_LEN || raw[0] != VERSION {
            return None;
        }
        let expiry_ms = u64::from_be_bytes(raw[1..9].try_into().ok()?);
        self.mac(instance_id, expiry_ms)
            .verify_slice(&raw[9..])
            .ok()?;
        let left_ms = expiry_ms.checked_sub(now_ms).filter(|&ms| ms > 0)?;
        Some(left_ms.div_ceil(1000))
    }
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;

    #[test]
    fn a_token_verifies_for_its_instance_until_it_expires() {
        let key = TokenKey::from_bytes([7; 32]);
        let token = key.issue("i-0aaa", NOW, 60);
        assert_eq!(token.len(), 55);
        assert_eq!(key.verify("i-0aaa", token.as_bytes(), NOW), Some(60));
        assert_eq!(
            key.verify("i-0aaa", token.as_bytes(), NOW + 59_001),
            Some(1)
        );
        assert_eq!(key.verify("i-0aaa", token.as_bytes(), NOW + 60_000), None);
        assert_eq!(key.verify("i-0bbb", token.as_bytes(), NOW), None);
        let other_key = TokenKey::from_bytes([8; 32]);
        assert_eq!(other_key.verify("i-0aaa", token.as_bytes(), NOW), None);
    }

    #[test]
    fn a_changed_expiry_or_garbage_fails() {
        let key = TokenKey::from_bytes([7; 32]);
        let token = key.issue("i-0aaa", NOW, 1);
        let mut raw = URL_SAFE_NO_PAD.decode(&token).unwrap();
        raw[1] ^= 0x01; // the expiry's top byte: centuries later
        let forged = URL_SAFE_NO_PAD.encode(raw);
        assert_eq!(key.verify("i-0aaa", forged.as_bytes(), NOW), None);
        let junk: [&[u8]; 6] = [b"", b"!!!", b"AQ", &[b'A'; 55], &[0xff; 55], &[b'A'; 500]];
        for junk in junk {
            assert_eq!(key.verify("i-0aaa", junk, NOW), None);
        }
    }
}

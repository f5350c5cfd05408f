//! LWA-style access tokens (`Atza|…`), stateless.
//!
//! `Atza|` then `base64url(version ‖ expiry_ms ‖ account_id ‖ client_id ‖ HMAC-SHA256(key,
//! domain ‖ everything before it))`. Nothing is stored per token, so the edge verifies
//! one with a MAC and no database write, and a restart with the same key (derived from
//! the data directory's master key) keeps tokens valid. The account and client inside
//! are authenticated by the MAC; whether the client is still active is checked by the
//! caller ([`crate::AccessTokens::verify`]), so revocation still works at once.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

const PREFIX: &str = "Atza|";
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"nomuck-lwa-access-token-v1\0";
const ACCOUNT_LEN: usize = 12;
const HEAD_LEN: usize = 1 + 8 + ACCOUNT_LEN;
const MAC_LEN: usize = 32;
/// Longer tokens are refused before decoding: ours are about 170 characters.
const MAX_TOKEN_LEN: usize = 512;

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub account_id: String,
    pub client_id: String,
    pub expiry_ms: u64,
}

/// Why a token was refused by [`AccessTokenKey::open`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenFault {
    /// Not a token of ours: wrong shape, or a MAC that does not verify.
    Malformed,
    Expired,
}

/// The secret that authenticates access tokens.
#[derive(Clone)]
pub struct AccessTokenKey([u8; 32]);

impl AccessTokenKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn mac(&self, signed: &[u8]) -> HmacSha256 {
        let mut mac = <HmacSha256 as Mac>::new_from_slice(&self.0)
            .unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
        mac.update(DOMAIN);
        mac.update(signed);
        mac
    }

    /// A token for `client_id` of `account_id` (12 digits) valid until `expiry_ms`.
    pub fn mint(&self, account_id: &str, client_id: &str, expiry_ms: u64) -> String {
        let mut raw = Vec::with_capacity(HEAD_LEN + client_id.len() + MAC_LEN);
        raw.push(VERSION);
        raw.extend_from_slice(&expiry_ms.to_be_bytes());
        raw.extend_from_slice(account_id.as_bytes());
        raw.extend_from_slice(client_id.as_bytes());
        let tag = self.mac(&raw).finalize().into_bytes();
        raw.extend_from_slice(&tag);
        format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(raw))
    }

    /// The claims of `token` if this key minted it and it is unexpired at `now_ms`.
    pub fn open(&self, token: &str, now_ms: u64) -> Result<TokenClaims, TokenFault> {
        if token.len() > MAX_TOKEN_LEN {
            return Err(TokenFault::Malformed);
        }
        let body = token.strip_prefix(PREFIX).ok_or(TokenFault::Malformed)?;
        let raw = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| TokenFault::Malformed)?;
        if raw.len() < HEAD_LEN + MAC_LEN || raw.first() != Some(&VERSION) {
            return Err(TokenFault::Malformed);
        }
        let (signed, tag) = raw.split_at(raw.len() - MAC_LEN);
        self.mac(signed)
            .verify_slice(tag)
            .map_err(|_| TokenFault::Malformed)?;
        // Authentic from here on: only this key wrote these bytes.
        let (head, client) = signed.split_at(HEAD_LEN);
        let (expiry, account) = head[1..].split_at(8);
        let expiry_ms = u64::from_be_bytes(expiry.try_into().map_err(|_| TokenFault::Malformed)?);
        let text = |b: &[u8]| String::from_utf8(b.to_vec()).map_err(|_| TokenFault::Malformed);
        let claims = TokenClaims {
            account_id: text(account)?,
            client_id: text(client)?,
            expiry_ms,
        };
        if expiry_ms <= now_ms {
            return Err(TokenFault::Expired);
        }
        Ok(claims)
    }
}

impl std::fmt::Debug for AccessTokenKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessTokenKey(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_700_000_000_000;
    const CLIENT: &str = "amzn1.application-oa2-client.0123456789abcdef0123456789abcdef";

    #[test]
    fn a_token_carries_its_account_and_client_until_it_expires() {
        let key = AccessTokenKey::from_bytes([7; 32]);
        let token = key.mint("123456789012", CLIENT, NOW + 3_600_000);
        assert!(token.starts_with("Atza|"), "{token}");
        assert!(token.len() < MAX_TOKEN_LEN);
        let claims = key.open(&token, NOW).unwrap();
        assert_eq!(
            claims,
            TokenClaims {
                account_id: "123456789012".into(),
                client_id: CLIENT.into(),
                expiry_ms: NOW + 3_600_000,
            }
        );
        assert!(key.open(&token, NOW + 3_599_999).is_ok());
        assert_eq!(key.open(&token, NOW + 3_600_000), Err(TokenFault::Expired));
        let other = AccessTokenKey::from_bytes([8; 32]);
        assert_eq!(other.open(&token, NOW), Err(TokenFault::Malformed));
    }

    #[test]
    fn tampered_tokens_and_garbage_are_malformed() {
        let key = AccessTokenKey::from_bytes([7; 32]);
        let token = key.mint("123456789012", CLIENT, NOW + 1000);
        let raw = URL_SAFE_NO_PAD.decode(&token[PREFIX.len()..]).unwrap();
        // Every single-bit change anywhere (version, expiry, account, client, MAC) fails.
        for i in 0..raw.len() {
            let mut forged = raw.clone();
            forged[i] ^= 0x01;
            let forged = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(forged));
            assert_eq!(
                key.open(&forged, NOW),
                Err(TokenFault::Malformed),
                "byte {i}"
            );
        }
        // Another account's id spliced in keeps the MAC of the original.
        let mut spliced = raw.clone();
        spliced[9..21].copy_from_slice(b"999999999999");
        let spliced = format!("{PREFIX}{}", URL_SAFE_NO_PAD.encode(spliced));
        assert_eq!(key.open(&spliced, NOW), Err(TokenFault::Malformed));
        let long = format!("{PREFIX}{}", "A".repeat(600));
        for junk in ["", "Atza|", "Atza|!!!", "Atzr|AAAA", &token[5..], &long] {
            assert_eq!(key.open(junk, NOW), Err(TokenFault::Malformed), "{junk:?}");
        }
    }
}

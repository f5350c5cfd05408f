//! Ciphertext blobs: self-describing, so `Decrypt` needs no key id.
//!
//! ```text
//! "NMK" 0x01 | id length (1 byte) | key id | material version (u32 BE) | nonce (12) | AES-256-GCM ciphertext + tag
//! ```
//!
//! The authenticated data is everything before the nonce followed by the
//! encryption context in canonical form (pairs sorted by key, each part
//! length-prefixed), so a blob moved to another key or version, or opened
//! with another context, fails authentication.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use rand::RngCore;
use zeroize::Zeroizing;

use crate::EncryptionContext;

const MAGIC: &[u8; 4] = b"NMK\x01";
const NONCE_LEN: usize = 12;
const TAG_LEN: usize = 16;
/// AES-256 key material.
pub const MATERIAL_LEN: usize = 32;

/// What a blob's header names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    pub key_id: String,
    pub version: u32,
}

/// A fresh random key (material or data key).
pub fn random_key() -> Zeroizing<[u8; MATERIAL_LEN]> {
    let mut k = Zeroizing::new([0u8; MATERIAL_LEN]);
    rand::rngs::OsRng.fill_bytes(k.as_mut());
    k
}

fn header_bytes(key_id: &str, version: u32) -> Option<Vec<u8>> {
    let len = u8::try_from(key_id.len()).ok()?;
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + key_id.len() + 4);
    out.extend_from_slice(MAGIC);
    out.push(len);
    out.extend_from_slice(key_id.as_bytes());
    out.extend_from_slice(&version.to_be_bytes());
    Some(out)
}

/// The context as bytes no two different contexts share.
fn canonical(context: &EncryptionContext) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in context {
        for part in [k, v] {
            out.extend_from_slice(&(part.len() as u64).to_be_bytes());
            out.extend_from_slice(part.as_bytes());
        }
    }
    out
}

/// Seals `plaintext` under `material` (version `version` of key `key_id`).
/// `None` only for a key id longer than 255 bytes, which no key has.
pub fn seal(
    key_id: &str,
    version: u32,
    material: &[u8; MATERIAL_LEN],
    plaintext: &[u8],
    context: &EncryptionContext,
) -> Option<Vec<u8>> {
    let mut blob = header_bytes(key_id, version)?;
    let mut aad = blob.clone();
    aad.extend_from_slice(&canonical(context));
    let mut nonce = [0u8; NONCE_LEN];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = Aes256Gcm::new(material.into())
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plaintext,
                aad: &aad,
            },
        )
        .ok()?;
    blob.extend_from_slice(&nonce);
    blob.extend_from_slice(&sealed);
    Some(blob)
}

/// Reads a blob's header; `None` if it is not one of ours.
pub fn header(blob: &[u8]) -> Option<Header> {
    let rest = blob.strip_prefix(MAGIC.as_slice())?;
    let (&len, rest) = rest.split_first()?;
    let len = usize::from(len);
    if rest.len() < len + 4 + NONCE_LEN + TAG_LEN {
        return None;
    }
    let (id, rest) = rest.split_at(len);
    let (version, _) = rest.split_at(4);
    Some(Header {
        key_id: String::from_utf8(id.to_vec()).ok()?,
        version: u32::from_be_bytes(version.try_into().ok()?),
    })
}

/// Opens a blob whose header named `h` with that version's material; `None`
/// if it was tampered with or the context differs.
pub fn open(
    blob: &[u8],
    h: &Header,
    material: &[u8; MATERIAL_LEN],
    context: &EncryptionContext,
) -> Option<Zeroizing<Vec<u8>>> {
    let head = header_bytes(&h.key_id, h.version)?;
    let rest = blob.strip_prefix(head.as_slice())?;
    if rest.len() < NONCE_LEN + TAG_LEN {
        return None;
    }
    let (nonce, sealed) = rest.split_at(NONCE_LEN);
    let mut aad = head;
    aad.extend_from_slice(&canonical(context));
    Aes256Gcm::new(material.into())
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: &aad,
            },
        )
        .ok()
        .map(Zeroizing::new)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn blob_names_its_key_and_version_and_opens_only_with_its_context() {
        let m = random_key();
        let c = ctx(&[("bucket", "b"), ("a", "1")]);
        let blob = seal("k-1", 3, &m, b"secret data", &c).unwrap();
        let h = header(&blob).unwrap();
        assert_eq!(
            h,
            Header {
                key_id: "k-1".into(),
                version: 3
            }
        );
        assert_eq!(open(&blob, &h, &m, &c).unwrap().as_slice(), b"secret data");
        // Another context, a missing pair, or context bytes shifted between
        // key and value all fail.
        assert!(open(&blob, &h, &m, &ctx(&[("bucket", "b")])).is_none());
        assert!(open(&blob, &h, &m, &EncryptionContext::new()).is_none());
        assert!(open(&blob, &h, &m, &ctx(&[("bucket", "b"), ("a1", "")])).is_none());
        // Another version or key named in the header fails.
        let other = Header {
            key_id: "k-1".into(),
            version: 2,
        };
        assert!(open(&blob, &other, &m, &c).is_none());
        assert!(open(&blob, &h, &random_key(), &c).is_none());
        // Any flipped byte fails.
        for i in 0..blob.len() {
            let mut bad = blob.clone();
            bad[i] ^= 1;
            let ok = header(&bad).is_some_and(|h| open(&bad, &h, &m, &c).is_some());
            assert!(!ok, "byte {i}");
        }
        // The plaintext does not appear in the blob.
        assert!(!blob.windows(6).any(|w| w == b"secret"));
    }

    #[test]
    fn garbage_is_not_a_blob() {
        assert!(header(b"").is_none());
        assert!(header(b"NMK\x01").is_none());
        assert!(header(b"NMK\x01\x05abc").is_none());
        assert!(header(&[0u8; 80]).is_none());
    }
}

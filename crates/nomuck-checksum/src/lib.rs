//! Streaming checksums with the exact encodings S3 uses on the wire.
//!
//! CRC values are big-endian bytes, and every checksum travels as standard
//! base64 (so CRC32 of the empty input is `AAAAAA==`). CRC64NVME is the
//! CRC-64/NVME polynomial (check value `0xAE8B14860A799888`), not CRC-64/XZ.
//!
//! CRCs of consecutive pieces combine into the CRC of the whole ([`combine`]),
//! which gives multipart `FULL_OBJECT` checksums; composite ("checksum of
//! checksums") values are built by the caller with [`Checksum::compute`].

mod combine;

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use md5::Digest as _;

pub use combine::{combine, is_combinable};
use thiserror::Error;

/// Checksum algorithms S3 accepts in `x-amz-checksum-*` / `x-amz-sdk-checksum-algorithm`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumAlgorithm {
    Crc32,
    Crc32c,
    Crc64Nvme,
    Sha1,
    Sha256,
}

impl ChecksumAlgorithm {
    pub const ALL: [ChecksumAlgorithm; 5] = [
        Self::Crc32,
        Self::Crc32c,
        Self::Crc64Nvme,
        Self::Sha1,
        Self::Sha256,
    ];

    /// Parses a header name such as `x-amz-checksum-crc32` (case-insensitive).
    pub fn from_header_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.header_name().eq_ignore_ascii_case(name))
    }

    /// Parses an algorithm name such as `CRC32` (case-insensitive), as sent in
    /// `x-amz-sdk-checksum-algorithm` / `x-amz-checksum-algorithm`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|a| a.name().eq_ignore_ascii_case(name))
    }

    /// Lowercase header name, e.g. `x-amz-checksum-crc64nvme`.
    pub fn header_name(self) -> &'static str {
        match self {
            Self::Crc32 => "x-amz-checksum-crc32",
            Self::Crc32c => "x-amz-checksum-crc32c",
            Self::Crc64Nvme => "x-amz-checksum-crc64nvme",
            Self::Sha1 => "x-amz-checksum-sha1",
            Self::Sha256 => "x-amz-checksum-sha256",
        }
    }

    /// Canonical uppercase name, e.g. `CRC64NVME`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Crc32 => "CRC32",
            Self::Crc32c => "CRC32C",
            Self::Crc64Nvme => "CRC64NVME",
            Self::Sha1 => "SHA1",
            Self::Sha256 => "SHA256",
        }
    }

    /// Length of the raw (decoded) checksum in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Crc32 | Self::Crc32c => 4,
            Self::Crc64Nvme => 8,
            Self::Sha1 => 20,
            Self::Sha256 => 32,
        }
    }
}

impl fmt::Display for ChecksumAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Errors from parsing a checksum value.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ChecksumError {
    #[error("checksum value for {algorithm} is not valid base64")]
    InvalidBase64 { algorithm: ChecksumAlgorithm },
    #[error("checksum value for {algorithm} has {actual} bytes, expected {expected}")]
    WrongLength {
        algorithm: ChecksumAlgorithm,
        expected: usize,
        actual: usize,
    },
}

/// A finished checksum: raw bytes (big-endian for CRCs).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Checksum {
    pub algorithm: ChecksumAlgorithm,
    pub bytes: Vec<u8>,
}

impl Checksum {
    /// Standard base64, as in `x-amz-checksum-*` headers and trailers.
    pub fn to_base64(&self) -> String {
        B64.encode(&self.bytes)
    }

    /// Parses a base64 header/trailer value, checking the decoded length so a
    /// truncated or padded value can never compare "equal" by accident.
    pub fn parse_base64(algorithm: ChecksumAlgorithm, value: &str) -> Result<Self, ChecksumError> {
        let bytes = B64
            .decode(value.trim().as_bytes())
            .map_err(|_| ChecksumError::InvalidBase64 { algorithm })?;
        let expected = algorithm.digest_len();
        if bytes.len() != expected {
            return Err(ChecksumError::WrongLength {
                algorithm,
                expected,
                actual: bytes.len(),
            });
        }
        Ok(Self { algorithm, bytes })
    }

    /// Computes a checksum over a whole buffer.
    pub fn compute(algorithm: ChecksumAlgorithm, data: &[u8]) -> Self {
        let mut c = Checksummer::new(algorithm);
        c.update(data);
        c.finalize()
    }
}

enum State {
    Crc32(crc32fast::Hasher),
    Crc32c(u32),
    Crc64Nvme(crc64fast_nvme::Digest),
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
}

/// Incremental checksum over a stream of byte slices.
pub struct Checksummer {
    state: State,
}

impl fmt::Debug for Checksummer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Checksummer")
            .field("algorithm", &self.algorithm())
            .finish_non_exhaustive()
    }
}

impl Checksummer {
    pub fn new(algorithm: ChecksumAlgorithm) -> Self {
        let state = match algorithm {
            ChecksumAlgorithm::Crc32 => State::Crc32(crc32fast::Hasher::new()),
            ChecksumAlgorithm::Crc32c => State::Crc32c(0),
            ChecksumAlgorithm::Crc64Nvme => State::Crc64Nvme(crc64fast_nvme::Digest::new()),
            ChecksumAlgorithm::Sha1 => State::Sha1(sha1::Sha1::new()),
            ChecksumAlgorithm::Sha256 => State::Sha256(sha2::Sha256::new()),
        };
        Self { state }
    }

    pub fn algorithm(&self) -> ChecksumAlgorithm {
        match self.state {
            State::Crc32(_) => ChecksumAlgorithm::Crc32,
            State::Crc32c(_) => ChecksumAlgorithm::Crc32c,
            State::Crc64Nvme(_) => ChecksumAlgorithm::Crc64Nvme,
            State::Sha1(_) => ChecksumAlgorithm::Sha1,
            State::Sha256(_) => ChecksumAlgorithm::Sha256,
        }
    }

    pub fn update(&mut self, data: &[u8]) {
        match &mut self.state {
            State::Crc32(h) => h.update(data),
            State::Crc32c(c) => *c = crc32c::crc32c_append(*c, data),
            State::Crc64Nvme(d) => d.write(data),
            State::Sha1(h) => sha1::Digest::update(h, data),
            State::Sha256(h) => sha2::Digest::update(h, data),
        }
    }

    pub fn finalize(self) -> Checksum {
        let algorithm = self.algorithm();
        let bytes = match self.state {
            State::Crc32(h) => h.finalize().to_be_bytes().to_vec(),
            State::Crc32c(c) => c.to_be_bytes().to_vec(),
            State::Crc64Nvme(d) => d.sum64().to_be_bytes().to_vec(),
            State::Sha1(h) => sha1::Digest::finalize(h).to_vec(),
            State::Sha256(h) => sha2::Digest::finalize(h).to_vec(),
        };
        Checksum { algorithm, bytes }
    }
}

/// Streaming MD5, kept apart from [`ChecksumAlgorithm`] because S3 uses it
/// only for ETags and `Content-MD5`, never as an `x-amz-checksum-*`.
#[derive(Clone, Default)]
pub struct Md5Hasher(md5::Md5);

impl fmt::Debug for Md5Hasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Md5Hasher")
    }
}

impl Md5Hasher {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }

    pub fn finalize(self) -> [u8; 16] {
        self.0.finalize().into()
    }

    /// Lowercase hex, the form used inside S3 ETags.
    pub fn finalize_hex(self) -> String {
        to_hex(&self.finalize())
    }

    /// Base64, the form used by `Content-MD5`.
    pub fn finalize_base64(self) -> String {
        B64.encode(self.finalize())
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for &b in bytes {
        s.push(DIGITS[usize::from(b >> 4)] as char);
        s.push(DIGITS[usize::from(b & 0xf)] as char);
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn hex(c: &Checksum) -> String {
        to_hex(&c.bytes)
    }

    #[test]
    fn crc_check_values() {
        // Published "check" values (CRC catalogue) for input "123456789".
        let d = b"123456789";
        assert_eq!(
            hex(&Checksum::compute(ChecksumAlgorithm::Crc32, d)),
            "cbf43926"
        );
        assert_eq!(
            hex(&Checksum::compute(ChecksumAlgorithm::Crc32c, d)),
            "e3069283"
        );
        assert_eq!(
            hex(&Checksum::compute(ChecksumAlgorithm::Crc64Nvme, d)),
            "ae8b14860a799888"
        );
    }

    #[test]
    fn sha_vectors() {
        assert_eq!(
            hex(&Checksum::compute(ChecksumAlgorithm::Sha1, b"abc")),
            "a9993e364706816aba3e25717850c26c9cd0d89d"
        );
        assert_eq!(
            hex(&Checksum::compute(ChecksumAlgorithm::Sha256, b"abc")),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn empty_input_base64_matches_aws() {
        // Values the AWS SDKs send for empty bodies.
        let b = |a| Checksum::compute(a, b"").to_base64();
        assert_eq!(b(ChecksumAlgorithm::Crc32), "AAAAAA==");
        assert_eq!(b(ChecksumAlgorithm::Crc32c), "AAAAAA==");
        assert_eq!(b(ChecksumAlgorithm::Crc64Nvme), "AAAAAAAAAAA=");
        assert_eq!(b(ChecksumAlgorithm::Sha1), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
        assert_eq!(
            b(ChecksumAlgorithm::Sha256),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
    }

    #[test]
    fn hello_world_crc32_base64() {
        // crc32("Hello world") = 0x8bd69e52, the example in the S3 docs.
        let c = Checksum::compute(ChecksumAlgorithm::Crc32, b"Hello world");
        assert_eq!(hex(&c), "8bd69e52");
        assert_eq!(c.to_base64(), "i9aeUg==");
    }

    #[test]
    fn names_roundtrip() {
        for a in ChecksumAlgorithm::ALL {
            assert_eq!(ChecksumAlgorithm::from_name(a.name()), Some(a));
            assert_eq!(
                ChecksumAlgorithm::from_name(&a.name().to_ascii_lowercase()),
                Some(a)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(a.header_name()),
                Some(a)
            );
            assert_eq!(
                ChecksumAlgorithm::from_header_name(&a.header_name().to_ascii_uppercase()),
                Some(a)
            );
            assert_eq!(Checksum::compute(a, b"x").bytes.len(), a.digest_len());
        }
        assert_eq!(ChecksumAlgorithm::from_name("MD5"), None);
        assert_eq!(ChecksumAlgorithm::from_header_name("x-amz-checksum-"), None);
    }

    #[test]
    fn parse_base64_checks_length() {
        let c = Checksum::parse_base64(ChecksumAlgorithm::Crc32, "i9aeUg==").unwrap();
        assert_eq!(c.bytes, vec![0x8b, 0xd6, 0x9e, 0x52]);
        assert!(matches!(
            Checksum::parse_base64(ChecksumAlgorithm::Crc64Nvme, "i9aeUg=="),
            Err(ChecksumError::WrongLength {
                expected: 8,
                actual: 4,
                ..
            })
        ));
        assert!(matches!(
            Checksum::parse_base64(ChecksumAlgorithm::Crc32, "not base64!"),
            Err(ChecksumError::InvalidBase64 { .. })
        ));
        assert!(Checksum::parse_base64(ChecksumAlgorithm::Crc32, "").is_err());
    }

    #[test]
    fn md5_vectors() {
        assert_eq!(
            Md5Hasher::new().finalize_hex(),
            "d41d8cd98f00b204e9800998ecf8427e"
        );
        let mut h = Md5Hasher::new();
        h.update(b"a");
        h.update(b"bc");
        assert_eq!(h.finalize_hex(), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(
            Md5Hasher::new().finalize_base64(),
            "1B2M2Y8AsgTpgAmY7PhCfg=="
        );
    }

    proptest! {
        #[test]
        fn streaming_equals_one_shot(data in proptest::collection::vec(any::<u8>(), 0..2048),
                                     split in any::<prop::sample::Index>(),
                                     alg in prop::sample::select(ChecksumAlgorithm::ALL.to_vec())) {
            let at = split.index(data.len() + 1);
            let mut c = Checksummer::new(alg);
            c.update(&data[..at]);
            c.update(&data[at..]);
            let streamed = c.finalize();
            prop_assert_eq!(&streamed, &Checksum::compute(alg, &data));
            let round = Checksum::parse_base64(alg, &streamed.to_base64()).unwrap();
            prop_assert_eq!(round, streamed);
        }

        #[test]
        fn parse_never_panics(s in ".*", alg in prop::sample::select(ChecksumAlgorithm::ALL.to_vec())) {
            let _ = Checksum::parse_base64(alg, &s);
        }
    }
}

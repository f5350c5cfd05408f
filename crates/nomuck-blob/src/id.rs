use std::fmt;

use crate::BlobError;

/// A blob's id: 32 lowercase hex digits (128 random bits).
///
/// Fixed shape so an id is always a safe file name and fans out evenly over
/// directories by its first digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BlobId(String);

impl BlobId {
    pub const LEN: usize = 32;

    /// A fresh id from the OS-seeded CSPRNG; collisions are not a concern at 128 bits.
    pub fn random() -> Self {
        Self(format!("{:032x}", rand::random::<u128>()))
    }

    pub fn parse(s: &str) -> Result<Self, BlobError> {
        if s.len() == Self::LEN && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            Ok(Self(s.to_owned()))
        } else {
            Err(BlobError::InvalidId(s.to_owned()))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_string(self) -> String {
        self.0
    }

    /// The two fan-out directory names (`ab`, `cd` for `abcd…`).
    pub(crate) fn fan_out(&self) -> (&str, &str) {
        // Always 32 ASCII chars, so these slices exist.
        (
            self.0.get(0..2).unwrap_or("00"),
            self.0.get(2..4).unwrap_or("00"),
        )
    }
}

impl fmt::Display for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BlobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlobId({})", self.0)
    }
}

impl std::str::FromStr for BlobId {
    type Err = BlobError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_parse_and_differ() {
        let a = BlobId::random();
        let b = BlobId::random();
        assert_ne!(a, b);
        assert_eq!(BlobId::parse(a.as_str()).unwrap(), a);
        assert_eq!(a.as_str().len(), 32);
    }

    #[test]
    fn rejects_unsafe_or_malformed_ids() {
        for bad in [
            "",
            "../../etc/passwd",
            "0123456789abcdef0123456789abcdeF",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0",
            "0123456789abcdef/123456789abcdef",
            "0123456789abcdef0123456789abcdé",
        ] {
            assert!(BlobId::parse(bad).is_err(), "{bad:?}");
        }
    }
}

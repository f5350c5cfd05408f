//! Bucket-name and key rules, as AWS enforces them for new buckets.

use crate::StorageError;

/// Longest object key, in UTF-8 bytes.
pub const MAX_KEY_LEN: usize = 1024;

fn bad(name: &str, reason: &'static str) -> StorageError {
    StorageError::InvalidBucketName {
        name: name.to_owned(),
        reason,
    }
}

/// AWS general-purpose bucket naming rules, plus: never a leading `_`
/// (paths under `/_nomuck/` belong to the server).
pub fn validate_bucket_name(name: &str) -> Result<(), StorageError> {
    if !(3..=63).contains(&name.len()) {
        return Err(bad(name, "must be 3 to 63 characters long"));
    }
    if name.starts_with('_') {
        return Err(bad(name, "must not start with an underscore"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
    {
        return Err(bad(
            name,
            "may contain only lowercase letters, digits, dots and hyphens",
        ));
    }
    let alnum = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    if !alnum(name.bytes().next()) || !alnum(name.bytes().last()) {
        return Err(bad(name, "must begin and end with a letter or digit"));
    }
    if name.contains("..") {
        return Err(bad(name, "must not contain two adjacent dots"));
    }
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Err(bad(name, "must not be formatted as an IP address"));
    }
    for prefix in ["xn--", "sthree-", "amzn-s3-demo-"] {
        if name.starts_with(prefix) {
            return Err(bad(name, "uses a reserved prefix"));
        }
    }
    for suffix in ["-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"] {
        if name.ends_with(suffix) {
            return Err(bad(name, "uses a reserved suffix"));
        }
    }
    Ok(())
}

pub fn validate_key(key: &str) -> Result<(), StorageError> {
    if key.is_empty() {
        return Err(StorageError::InvalidKey("the key is empty"));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(StorageError::InvalidKey(
            "the key is longer than 1024 bytes",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for ok in [
            "abc",
            "my-bucket",
            "my.bucket.name",
            "a1b",
            "123",
            "1.2.3",
            "a-b.c-d",
            &"a".repeat(63),
            "xn-ok",
            "s3alias-ok",
        ] {
            assert!(validate_bucket_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_invalid_names() {
        for bad in [
            "",
            "ab",
            &"a".repeat(64),
            "My-Bucket",
            "my_bucket",
            "_nomuck",
            "-abc",
            "abc-",
            ".abc",
            "abc.",
            "a..b",
            "192.168.1.1",
            "xn--abc",
            "sthree-abc",
            "sthree-configurator",
            "abc-s3alias",
            "abc--ol-s3",
            "ab c",
            "ab/c",
            "abç",
        ] {
            assert!(
                matches!(
                    validate_bucket_name(bad),
                    Err(StorageError::InvalidBucketName { .. })
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn keys() {
        assert!(validate_key("a").is_ok());
        assert!(validate_key(&"é".repeat(512)).is_ok());
        assert!(validate_key(&"é".repeat(513)).is_err());
        assert!(validate_key("").is_err());
    }
}

//! Identifier and secret formats, as AWS shapes them so clients' validators accept them.

use rand::Rng;
use rand::rngs::OsRng;

/// Base32 alphabet AWS uses for the body of access key ids.
const KEY_ID_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const SECRET_ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn random_string(alphabet: &[u8], len: usize) -> String {
    (0..len)
        .map(|_| alphabet[OsRng.gen_range(0..alphabet.len())] as char)
        .collect()
}

/// 12 decimal digits.
pub fn new_account_id() -> String {
    random_string(b"0123456789", 12)
}

/// 20 characters, `AKIA` then 16 base32 characters.
pub fn new_access_key_id() -> String {
    format!("AKIA{}", random_string(KEY_ID_ALPHABET, 16))
}

/// 40 characters from a CSPRNG (the OS generator).
pub fn new_secret_access_key() -> String {
    random_string(SECRET_ALPHABET, 40)
}

pub fn is_account_id(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Account names follow IAM user-name rules: 1 to 64 of `A-Za-z0-9+=,.@_-`. A name is
/// never 12 digits, so a name and an id are never confused on the command line.
pub fn validate_account_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 64 {
        return Err(format!(
            "account name must be 1 to 64 characters, got {}",
            name.len()
        ));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "+=,.@_-".contains(*c)))
    {
        return Err(format!(
            "account name may contain only letters, digits and +=,.@_- (found {c:?})"
        ));
    }
    if is_account_id(name) {
        return Err("account name cannot be 12 digits (that is an account id)".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_match_aws() {
        for _ in 0..100 {
            let id = new_account_id();
            assert!(is_account_id(&id), "{id}");
            let key = new_access_key_id();
            assert_eq!(key.len(), 20);
            assert!(key.starts_with("AKIA"));
            assert!(key[4..].bytes().all(|b| KEY_ID_ALPHABET.contains(&b)));
            let secret = new_secret_access_key();
            assert_eq!(secret.len(), 40);
            assert!(secret.bytes().all(|b| SECRET_ALPHABET.contains(&b)));
        }
        assert_ne!(new_secret_access_key(), new_secret_access_key());
    }

    #[test]
    fn account_names() {
        assert!(validate_account_name("alice").is_ok());
        assert!(validate_account_name("a.b+c=d,e@f_g-h").is_ok());
        assert!(validate_account_name("").is_err());
        assert!(validate_account_name(&"a".repeat(65)).is_err());
        assert!(validate_account_name("has space").is_err());
        assert!(validate_account_name("123456789012").is_err());
    }
}

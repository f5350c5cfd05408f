//! EC2-style resource ids: a prefix, `-` and 17 lowercase hex digits.

use rand::Rng;

pub fn new_id(prefix: &str) -> String {
    let n: u128 = rand::thread_rng().r#gen();
    let hex = format!("{n:032x}");
    format!("{prefix}-{}", &hex[..17])
}

/// Whether `id` is `prefix-` and 8 or 17 lowercase hex digits.
pub fn is_id(prefix: &str, id: &str) -> bool {
    id.strip_prefix(prefix)
        .and_then(|r| r.strip_prefix('-'))
        .is_some_and(|hex| {
            matches!(hex.len(), 8 | 17)
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        })
}

/// A locally administered unicast MAC (`02:…`), lowercase with colons.
pub fn new_mac() -> String {
    let b: [u8; 5] = rand::thread_rng().r#gen();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[0], b[1], b[2], b[3], b[4]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_ids_have_ec2s_shape() {
        for prefix in ["i", "ami", "sg", "r", "key"] {
            let id = new_id(prefix);
            assert!(is_id(prefix, &id), "{id}");
        }
        assert!(!is_id("i", "i-123"));
        assert!(!is_id("i", "i-0123456789ABCDEF0"));
        assert!(is_id("i", "i-1234abcd"));
    }
}

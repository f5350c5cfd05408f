//! Ids the engine mints: version ids and multipart upload ids.

use crate::now_millis;

/// Time-ordered (12 hex digits of milliseconds) then 80 random bits, so ids
/// minted later sort later (uploads of one key list in initiation order).
pub(crate) fn time_ordered_id() -> String {
    let ms = u64::try_from(now_millis()).unwrap_or(0) & 0xffff_ffff_ffff;
    let rnd = rand::random::<u128>() & ((1u128 << 80) - 1);
    format!("{ms:012x}{rnd:020x}")
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_unique_and_fixed_length() {
        let a = super::time_ordered_id();
        let b = super::time_ordered_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 32);
        assert!(a.bytes().all(|c| c.is_ascii_hexdigit()));
    }
}

//! Ids the engine mints: version ids and multipart upload ids.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::now_millis;

/// Time-ordered (16 hex digits: milliseconds and a sequence) then 64 random
/// bits, so ids minted later sort later (uploads of one key list in
/// initiation order).
pub(crate) fn time_ordered_id() -> String {
    // 48 bits of milliseconds, then a 16-bit sequence, so ids made in the same
    // millisecond still sort in creation order within this process.
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = (u64::try_from(now_millis()).unwrap_or(0) & 0xffff_ffff_ffff) << 16;
    let prev = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    let ordered = now.max(prev + 1);
    let rnd = rand::random::<u64>();
    format!("{ordered:016x}{rnd:016x}")
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
        let many: Vec<String> = (0..1000).map(|_| super::time_ordered_id()).collect();
        assert!(many.windows(2).all(|w| w[0] < w[1]), "creation order");
    }
}

//! Stored-byte usage of the transaction being applied, summed per account and
//! meter and written as one usage event each just before COMMIT.
//!
//! Every version or part a commit writes or drops meters its bytes. One usage
//! row per PUT (four B-tree inserts and the AUTOINCREMENT counter) was a large
//! share of a small write's cost; one row per account and meter per group
//! commit carries the same totals, in the same transaction, so they stay exact.
//! Only the writer thread applies mutations, so the pending sums live in a
//! thread-local; savepoints roll them back with the rows they describe.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use rusqlite::Connection;

use super::apply::record_usage;
use crate::{MetaError, Millis, UsageEvent};

/// (account, service, meter, unit) → (quantity, latest `at`).
type Key = (String, String, String, String);

thread_local! {
    static PENDING: RefCell<Vec<(Key, i64, Millis)>> = const { RefCell::new(Vec::new()) };
}

/// Adds a delta to the current transaction.
pub(super) fn add(key: Key, quantity: i64, at: Millis) {
    PENDING.with(|p| p.borrow_mut().push((key, quantity, at)));
}

/// A point to roll back to (taken with each savepoint).
pub(super) fn mark() -> usize {
    PENDING.with(|p| p.borrow().len())
}

pub(super) fn rollback_to(mark: usize) {
    PENDING.with(|p| p.borrow_mut().truncate(mark));
}

/// Drops everything pending (the transaction rolled back, or is starting).
pub(super) fn discard() {
    PENDING.with(|p| p.borrow_mut().clear());
}

/// Writes the summed events; called inside the transaction, before COMMIT.
pub(super) fn flush(conn: &Connection) -> Result<(), MetaError> {
    static BATCH: AtomicU64 = AtomicU64::new(0);
    static PROCESS: std::sync::OnceLock<u128> = std::sync::OnceLock::new();
    let pending = PENDING.with(|p| std::mem::take(&mut *p.borrow_mut()));
    if pending.is_empty() {
        return Ok(());
    }
    let mut sums: BTreeMap<Key, (i64, Millis)> = BTreeMap::new();
    for (key, quantity, at) in pending {
        let entry = sums.entry(key).or_insert((0, at));
        entry.0 += quantity;
        entry.1 = entry.1.max(at);
    }
    // Unique across batches and restarts (a duplicate key would be dropped
    // by ON CONFLICT): this process's start in nanoseconds, and a counter.
    let process = PROCESS.get_or_init(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    });
    let batch = format!("{process:x}-{}", BATCH.fetch_add(1, Ordering::Relaxed));
    for ((account_id, service, meter, unit), (quantity, at)) in sums {
        if quantity <= 0 {
            continue;
        }
        let idempotency_key = format!("{service}:{meter}:{account_id}:b{batch}");
        record_usage(
            conn,
            &UsageEvent {
                account_id,
                service,
                meter,
                quantity,
                unit,
                at,
                idempotency_key,
            },
        )?;
    }
    Ok(())
}

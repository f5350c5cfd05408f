//! Metering. Stored bytes are metered in the same commit as the change: the
//! metadata store emits stored-bytes added/removed events for every version
//! or part it writes or drops (`ByteUsage`), so stored byte-hours integrate
//! exactly from the deltas.
//!
//! Request counts and bytes out are summed in memory per (account, meter)
//! and appended every flush interval as one event each. A usage row per
//! request would be most of a small PUT's commit (four B-tree inserts per
//! event) and a write per GET; the price is that a crash loses at most one
//! interval of request metering, never stored bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use nomuck_meta::{ByteUsage, MetaStore, Millis, Mutation, UsageEvent};
use nomuck_meter::unit;

use crate::StorageError;

pub const SERVICE: &str = "s3";

/// Meter names this crate records.
pub mod meters {
    /// PUT, COPY, POST and LIST requests (AWS's costlier class).
    pub const REQUESTS_PUT_COPY_POST_LIST: &str = "requests.put-copy-post-list";
    /// GET, HEAD and all other requests.
    pub const REQUESTS_GET_OTHER: &str = "requests.get-other";
    /// DELETE requests (free at AWS, metered so billing can decide).
    pub const REQUESTS_DELETE: &str = "requests.delete";
    /// Bytes that started being stored (new versions and parts).
    pub const STORED_BYTES_ADDED: &str = "storage.bytes-added";
    /// Bytes that stopped being stored (replaced or deleted versions, parts).
    pub const STORED_BYTES_REMOVED: &str = "storage.bytes-removed";
    /// Response body bytes sent to clients.
    pub const BYTES_OUT: &str = "transfer.bytes-out";
}

/// Request class for metering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    PutCopyPostList,
    GetOther,
    Delete,
}

impl RequestClass {
    pub fn meter(self) -> &'static str {
        match self {
            Self::PutCopyPostList => meters::REQUESTS_PUT_COPY_POST_LIST,
            Self::GetOther => meters::REQUESTS_GET_OTHER,
            Self::Delete => meters::REQUESTS_DELETE,
        }
    }
}

/// Asks the metadata store to meter stored bytes for `account_id`.
pub(crate) fn byte_usage(account_id: &str, at: Millis) -> ByteUsage {
    ByteUsage {
        account_id: account_id.to_owned(),
        service: SERVICE.into(),
        added_meter: meters::STORED_BYTES_ADDED.into(),
        removed_meter: meters::STORED_BYTES_REMOVED.into(),
        unit: unit::BYTES.into(),
        at,
    }
}

/// Sums per account, then per (meter, unit).
type Pending = HashMap<String, HashMap<(&'static str, &'static str), i64>>;

/// In-memory sums of read-side usage, appended to the meter periodically.
pub(crate) struct RequestUsage {
    pending: Mutex<Pending>,
    /// Distinguishes this process's flushes from any other's.
    node: String,
    flushes: AtomicU64,
    /// Serializes flushes so a failed batch is retried before newer ones.
    flushing: tokio::sync::Mutex<()>,
}

impl RequestUsage {
    pub(crate) fn new() -> Self {
        Self {
            pending: Mutex::new(HashMap::new()),
            node: format!("{:016x}", rand::random::<u64>()),
            flushes: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn add(&self, account_id: &str, meter: &'static str, unit: &'static str, n: i64) {
        if n <= 0 {
            return;
        }
        let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        // No allocation on the hot path once the account has an entry.
        let per_account = match p.get_mut(account_id) {
            Some(m) => m,
            None => p.entry(account_id.to_owned()).or_default(),
        };
        *per_account.entry((meter, unit)).or_insert(0) += n;
    }

    /// Waits for a flush in progress to finish and keeps others out while the
    /// guard lives: a task stopped (aborted) while holding no guard cannot be
    /// in the middle of a flush, with sums taken but not yet committed.
    pub(crate) async fn hold_flushes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.flushing.lock().await
    }

    /// Appends everything pending; on failure it stays pending.
    pub(crate) async fn flush(
        &self,
        meta: &Arc<dyn MetaStore>,
        at: Millis,
    ) -> Result<usize, StorageError> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return Ok(0);
        }
        let flush = self.flushes.fetch_add(1, Ordering::Relaxed);
        let events: Vec<Mutation> = taken
            .iter()
            .flat_map(|(account, sums)| sums.iter().map(move |(k, n)| (account, k, n)))
            .enumerate()
            .map(|(i, (account, (meter, unit), n))| {
                Mutation::RecordUsage(UsageEvent {
                    account_id: account.clone(),
                    service: SERVICE.into(),
                    meter: (*meter).into(),
                    quantity: *n,
                    unit: (*unit).into(),
                    at,
                    idempotency_key: format!("{SERVICE}:reads:{}:{flush}:{i}", self.node),
                })
            })
            .collect();
        let count = events.len();
        if let Err(e) = meta.commit(events).await {
            let mut p = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
            for (account, sums) in taken {
                let mine = p.entry(account).or_default();
                for (k, n) in sums {
                    *mine.entry(k).or_insert(0) += n;
                }
            }
            return Err(e.into());
        }
        Ok(count)
    }
}

//! Request counts summed in memory per (account, meter) and appended every
//! flush interval as one event each, for services whose requests change
//! nothing else (S3's reads, KMS's cryptographic requests). A usage row per
//! request would cost a commit per request; the price is that a crash loses
//! at most one interval of request metering.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use nomuck_meta::{MetaError, MetaStore, Millis, Mutation, UsageEvent};

/// Sums per account, then per (meter, unit).
type Pending = HashMap<String, HashMap<(&'static str, &'static str), i64>>;

/// In-memory sums of one service's request usage, appended to the meter
/// periodically (the service runs [`RequestSums::flush`]).
pub struct RequestSums {
    service: &'static str,
    pending: Mutex<Pending>,
    /// Distinguishes this process's flushes from any other's.
    node: String,
    flushes: AtomicU64,
    /// Serializes flushes so a failed batch is retried before newer ones.
    flushing: tokio::sync::Mutex<()>,
}

impl RequestSums {
    pub fn new(service: &'static str) -> Self {
        Self {
            service,
            pending: Mutex::new(HashMap::new()),
            node: format!("{:016x}", rand::random::<u64>()),
            flushes: AtomicU64::new(0),
            flushing: tokio::sync::Mutex::new(()),
        }
    }

    pub fn add(&self, account_id: &str, meter: &'static str, unit: &'static str, n: i64) {
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
    pub async fn hold_flushes(&self) -> tokio::sync::MutexGuard<'_, ()> {
        self.flushing.lock().await
    }

    /// Appends everything pending; on failure it stays pending.
    pub async fn flush(&self, meta: &Arc<dyn MetaStore>, at: Millis) -> Result<usize, MetaError> {
        let _one_at_a_time = self.flushing.lock().await;
        let taken =
            std::mem::take(&mut *self.pending.lock().unwrap_or_else(PoisonError::into_inner));
        if taken.is_empty() {
            return Ok(0);
        }
        let flush = self.flushes.fetch_add(1, Ordering::Relaxed);
        let service = self.service;
        let events: Vec<Mutation> = taken
            .iter()
            .flat_map(|(account, sums)| sums.iter().map(move |(k, n)| (account, k, n)))
            .enumerate()
            .map(|(i, (account, (meter, unit), n))| {
                Mutation::RecordUsage(UsageEvent {
                    account_id: account.clone(),
                    service: service.into(),
                    meter: (*meter).into(),
                    quantity: *n,
                    unit: (*unit).into(),
                    at,
                    idempotency_key: format!("{service}:reads:{}:{flush}:{i}", self.node),
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
            return Err(e);
        }
        Ok(count)
    }
}

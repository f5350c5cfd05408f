//! Garbage collection of bytes.
//!
//! 1. The queue: blobs freed by committed mutations (recorded in the same
//!    commit) are deleted once they have waited `gc_delay`, then forgotten.
//!    A crash between deleting and forgetting only repeats an idempotent delete.
//! 2. Orphans: blob files older than `orphan_grace` that no metadata
//!    references — bytes written before a crash or a failed commit.
//! 3. Temp files of writers that never finished (crashed process).

use std::time::{Duration, SystemTime};

use futures_util::StreamExt;
use nomuck_blob::BlobId;
use nomuck_meta::Mutation;

use crate::{Storage, StorageError, now_millis};

const BATCH: usize = 1000;

/// What one collection did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Freed blobs deleted from the queue.
    pub freed_deleted: usize,
    /// Unreferenced blob files deleted.
    pub orphans_deleted: usize,
    /// Abandoned temp files removed.
    pub temp_removed: u64,
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

impl Storage {
    /// Runs one full collection now (the background task does the same
    /// every `gc_interval`).
    pub async fn collect_garbage_now(&self) -> Result<GcReport, StorageError> {
        let _one_at_a_time = self.gc_lock.lock().await;
        let mut report = GcReport {
            freed_deleted: self.drain_queue().await?,
            ..GcReport::default()
        };
        let cutoff = SystemTime::now()
            .checked_sub(self.opts.orphan_grace)
            .unwrap_or(SystemTime::UNIX_EPOCH);
        report.orphans_deleted = self.sweep_orphans(cutoff).await?;
        report.temp_removed = self.blobs.collect_temp(cutoff).await?;
        if report != GcReport::default() {
            tracing::debug!(?report, "storage garbage collected");
        }
        Ok(report)
    }

    async fn drain_queue(&self) -> Result<usize, StorageError> {
        // `garbage` takes blobs queued strictly before this; + 1 includes the
        // current millisecond, so a zero delay really is zero.
        let before = now_millis()
            .saturating_sub(millis(self.opts.gc_delay))
            .saturating_add(1);
        let mut deleted = 0;
        loop {
            let ids = self.meta.garbage(before, BATCH).await?;
            let n = ids.len();
            let mut done = Vec::with_capacity(n);
            for id in ids {
                match BlobId::parse(&id) {
                    Ok(blob) => match self.blobs.delete(&blob).await {
                        Ok(_) => done.push(id),
                        // Left queued; retried next run.
                        Err(e) => {
                            tracing::warn!(blob = %id, error = %e, "cannot delete freed blob")
                        }
                    },
                    // Not ours to delete; just drop the entry.
                    Err(_) => done.push(id),
                }
            }
            deleted += done.len();
            let progressed = !done.is_empty();
            if progressed {
                self.meta
                    .commit(vec![Mutation::ForgetGarbage { blob_ids: done }])
                    .await?;
            }
            if n < BATCH || !progressed {
                return Ok(deleted);
            }
        }
    }

    async fn sweep_orphans(&self, cutoff: SystemTime) -> Result<usize, StorageError> {
        let mut listed = self.blobs.list(cutoff).chunks(500);
        let mut deleted = 0;
        while let Some(chunk) = listed.next().await {
            let ids: Vec<BlobId> = chunk.into_iter().collect::<Result<_, _>>()?;
            let names: Vec<String> = ids.iter().map(|i| i.to_string()).collect();
            for orphan in self.meta.unreferenced_blobs(&names).await? {
                if let Ok(blob) = BlobId::parse(&orphan)
                    && self.blobs.delete(&blob).await?
                {
                    deleted += 1;
                }
            }
        }
        Ok(deleted)
    }
}

//! The object store engine behind the S3 API: buckets, objects and their
//! versions, multipart uploads, listings, server-side copy, garbage
//! collection of unreferenced bytes, and usage metering.
//!
//! Speaks Rust types and [`StorageError`] only; the S3 API crate owns HTTP
//! and XML. Persistence goes through [`MetaStore`] (metadata, small objects
//! inline) and [`BlobStore`] (bytes of larger objects and parts).
//!
//! Crash safety comes from write order: bytes are made durable first (blob
//! fsync, rename, directory fsync), then one metadata commit makes the object
//! visible, so a reader sees a whole object or none. Bytes no longer
//! referenced are queued for deletion in the same commit that drops the last
//! reference; blobs whose commit never happened are found by an orphan sweep.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod access;
pub mod access_log;
mod auth;
mod buckets;
mod copy;
mod error;
mod gc;
mod ids;
mod ingest;
pub mod kms;
pub mod lifecycle;
mod listing;
pub mod lock;
mod multipart;
mod names;
pub mod notify;
mod objects;
mod read;
pub mod sse;
mod types;
pub mod usage;

use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use nomuck_blob::BlobStore;
use nomuck_checksum::ChecksumAlgorithm;
use nomuck_meta::{CommitReceipt, MetaError, MetaStore, Millis, Mutation, Refusal};
use tokio::task::JoinHandle;

pub use error::{BodyError, StorageError};
pub use gc::GcReport;
pub use lifecycle::LifecycleReport;
pub use listing::MAX_PAGE;
pub use lock::{DefaultRetention, LockConfig, LockRequest, RetentionPeriod};
pub use multipart::{PART_NUMBERS, multipart_etag};
pub use names::{MAX_KEY_LEN, validate_bucket_name};
pub use nomuck_meta::{
    ChecksumType, CompletedPart, LockMode, MultipartUpload, NULL_VERSION, ObjectChecksum,
    ObjectHeaders, ObjectLock, ObjectSummary, Part, PartSummary, Retention, Versioning,
};
pub use nomuck_policy::Action as S3Action;
pub use sse::{CustomerKey, SseInfo, SseRequest};
pub use types::*;
pub use usage::RequestClass;

/// Tuning and limits.
#[derive(Debug, Clone)]
pub struct StorageOptions {
    /// Region recorded for buckets created without a location constraint.
    pub default_region: String,
    /// Objects up to this size are stored inline in the metadata store
    /// (one commit, no file, no extra fsync).
    pub inline_threshold: usize,
    /// Minimum size of every multipart part but the last (S3: 5 MiB).
    pub min_part_size: u64,
    /// Largest single PUT, part or copy (S3: 5 GiB).
    pub max_object_size: u64,
    /// Checksum stored when a PUT names none (S3 stores CRC64NVME).
    pub default_checksum: Option<ChecksumAlgorithm>,
    /// How often the garbage collector runs (it also runs at start).
    pub gc_interval: Duration,
    /// How long a freed blob is kept, so reads that began before it was
    /// freed can finish streaming it.
    pub gc_delay: Duration,
    /// Blob files and temp files younger than this are never swept as orphans
    /// (their metadata commit may still be on its way).
    pub orphan_grace: Duration,
    /// How often summed read-side usage is appended to the meter.
    pub usage_flush_interval: Duration,
    /// How long a bucket lookup is reused without asking the metadata store.
    pub bucket_cache_ttl: Duration,
    /// How often lifecycle rules are applied (also once at start).
    pub lifecycle_interval: Duration,
    /// The length of a lifecycle day (24 hours; shorter only for tests).
    pub lifecycle_day: Duration,
    /// Accept SSE-C keys over plain HTTP (AWS refuses them; for test rigs).
    pub allow_sse_c_over_http: bool,
}

impl Default for StorageOptions {
    fn default() -> Self {
        Self {
            default_region: "us-east-1".into(),
            inline_threshold: 32 << 10,
            min_part_size: 5 << 20,
            max_object_size: 5 << 30,
            default_checksum: Some(ChecksumAlgorithm::Crc64Nvme),
            gc_interval: Duration::from_secs(60),
            gc_delay: Duration::from_secs(300),
            orphan_grace: Duration::from_secs(3600),
            usage_flush_interval: Duration::from_secs(1),
            bucket_cache_ttl: Duration::from_secs(5),
            lifecycle_interval: Duration::from_secs(3600),
            lifecycle_day: Duration::from_secs(86_400),
            allow_sse_c_over_http: false,
        }
    }
}

/// The storage engine. Cheap to share: wrap in `Arc` (see [`Storage::new`]).
pub struct Storage {
    meta: Arc<dyn MetaStore>,
    blobs: Arc<dyn BlobStore>,
    opts: StorageOptions,
    buckets: buckets::BucketCache,
    requests: usage::RequestUsage,
    /// One collection at a time.
    gc_lock: tokio::sync::Mutex<()>,
    lifecycle_lock: tokio::sync::Mutex<()>,
    /// Writes event messages (see [`notify`]); set once by the API layer.
    events: std::sync::OnceLock<Arc<dyn notify::EventRenderer>>,
    /// Notified after a commit that queued event deliveries.
    events_queued: std::sync::OnceLock<Arc<tokio::sync::Notify>>,
    tasks: Mutex<Vec<JoinHandle<()>>>,
    /// Keys of server-side encryption; set once by the binary.
    keys: sse::Keys,
}

impl std::fmt::Debug for Storage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Storage")
            .field("opts", &self.opts)
            .finish_non_exhaustive()
    }
}

pub(crate) fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

impl Storage {
    /// An engine without background work (see [`Storage::start_background`]).
    pub fn new(
        meta: Arc<dyn MetaStore>,
        blobs: Arc<dyn BlobStore>,
        opts: StorageOptions,
    ) -> Arc<Self> {
        Arc::new(Self {
            buckets: buckets::BucketCache::new(opts.bucket_cache_ttl),
            meta,
            blobs,
            opts,
            requests: usage::RequestUsage::new(usage::SERVICE),
            gc_lock: tokio::sync::Mutex::new(()),
            lifecycle_lock: tokio::sync::Mutex::new(()),
            events: std::sync::OnceLock::new(),
            events_queued: std::sync::OnceLock::new(),
            tasks: Mutex::new(Vec::new()),
            keys: sse::Keys::default(),
        })
    }

    /// Starts the garbage collector (at once, then every `gc_interval`), the
    /// lifecycle pass (at once, then every `lifecycle_interval`) and the
    /// read-usage flusher. Needs a tokio runtime. The tasks hold only a
    /// weak reference and end when the engine is dropped or shut down.
    pub fn start_background(self: &Arc<Self>) {
        let gc = spawn_periodic(Arc::downgrade(self), self.opts.gc_interval, true, |s| {
            Box::pin(async move {
                if let Err(e) = s.collect_garbage_now().await {
                    tracing::warn!(error = %e, "storage garbage collection failed");
                }
            })
        });
        let flush = spawn_periodic(
            Arc::downgrade(self),
            self.opts.usage_flush_interval,
            false,
            |s| {
                Box::pin(async move {
                    if let Err(e) = s.flush_usage().await {
                        tracing::warn!(error = %e, "flushing read usage failed; will retry");
                    }
                })
            },
        );
        let lifecycle = spawn_periodic(
            Arc::downgrade(self),
            self.opts.lifecycle_interval,
            true,
            |s| {
                Box::pin(async move {
                    if let Err(e) = s.apply_lifecycle_now().await {
                        tracing::warn!(error = %e, "applying lifecycle rules failed; will retry");
                    }
                })
            },
        );
        self.tasks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend([gc, flush, lifecycle]);
    }

    /// Stops background work and appends pending read usage.
    pub async fn shutdown(&self) -> Result<(), StorageError> {
        // Aborting the periodic flush between taking the sums and committing
        // them would lose them: stop the tasks only while no flush runs.
        {
            let _no_flush = self.requests.hold_flushes().await;
            let tasks =
                std::mem::take(&mut *self.tasks.lock().unwrap_or_else(PoisonError::into_inner));
            for t in tasks {
                t.abort();
            }
        }
        self.flush_usage().await.map(|_| ())
    }

    /// Appends summed read-side usage now; returns the number of events.
    pub async fn flush_usage(&self) -> Result<usize, StorageError> {
        Ok(self.requests.flush(&self.meta, now_millis()).await?)
    }

    /// Meters response bytes actually sent for a GET (called by the API
    /// layer once the body has been written).
    pub fn record_bytes_out(&self, account_id: &str, bytes: u64) {
        let n = i64::try_from(bytes).unwrap_or(i64::MAX);
        self.requests.add(
            account_id,
            usage::meters::BYTES_OUT,
            nomuck_meter::unit::BYTES,
            n,
        );
    }

    /// Counts one request of `class` for `account`: every successful
    /// operation does, and the API layer for requests that never reach one.
    pub fn record_request(&self, account_id: &str, class: RequestClass) {
        self.requests
            .add(account_id, class.meter(), nomuck_meter::unit::REQUESTS, 1);
    }

    pub fn options(&self) -> &StorageOptions {
        &self.opts
    }

    /// Commits, dropping the cached bucket when the commit shows it changed.
    async fn commit_raw(
        &self,
        bucket: &str,
        muts: Vec<Mutation>,
    ) -> Result<CommitReceipt, MetaError> {
        let queues_events = muts
            .iter()
            .any(|m| matches!(m, Mutation::EnqueueDelivery(_)));
        let r = self.meta.commit(muts).await;
        if let Err(MetaError::Refused(Refusal::NoSuchBucket(_) | Refusal::BucketOwnerChanged(_))) =
            &r
        {
            self.buckets.forget(bucket);
        }
        // Wake the dispatcher rather than leave the event to its next poll.
        if queues_events
            && r.is_ok()
            && let Some(wake) = self.events_queued.get()
        {
            wake.notify_one();
        }
        r
    }

    async fn commit(
        &self,
        bucket: &str,
        muts: Vec<Mutation>,
    ) -> Result<CommitReceipt, StorageError> {
        self.commit_raw(bucket, muts)
            .await
            .map_err(StorageError::from)
    }

    /// Commits a write request's mutations and, once they are durable,
    /// counts the request for `account` (see [`usage`]).
    async fn commit_counted(
        &self,
        (account, class): (&str, RequestClass),
        bucket: &str,
        muts: Vec<Mutation>,
    ) -> Result<CommitReceipt, StorageError> {
        let receipt = self.commit(bucket, muts).await?;
        self.record_request(account, class);
        Ok(receipt)
    }
}

type TaskFn = fn(Arc<Storage>) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

fn spawn_periodic(
    storage: Weak<Storage>,
    every: Duration,
    run_first: bool,
    work: TaskFn,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(every.max(Duration::from_millis(10)));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        if !run_first {
            tick.tick().await;
        }
        loop {
            tick.tick().await;
            let Some(s) = storage.upgrade() else { return };
            work(s).await;
        }
    })
}

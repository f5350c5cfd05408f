//! Persistence seam for all nomuck metadata.
//!
//! One backend-neutral trait ([`MetaStore`]), one module per database backend
//! ([`sqlite`] today), and one conformance suite (`conformance`, feature
//! `testsuite`) that every backend runs unchanged.
//!
//! Writes are typed [`Mutation`]s; all mutations passed to one
//! [`MetaStore::commit`] call apply atomically.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod billing;
pub mod budgets;
pub mod compute;
mod error;
pub mod events;
pub mod fulfillment;
pub mod kms;
mod model;
pub mod multipart;
pub mod sqlite;
pub mod storage;

#[cfg(feature = "testsuite")]
pub mod conformance;

pub use error::MetaError;
pub use model::{
    AccessKey, Account, CommitReceipt, LwaClient, Millis, Mutation, StoredUsageEvent, UsageEvent,
    UsageQuery,
};
pub use sqlite::{SqliteMetaStore, SqliteOptions, SqliteStats};
pub use storage::{
    Bucket, ByteUsage, ChecksumType, CompleteUpload, CompletedPart, CompletedUpload, DeleteMarker,
    ListStart, LockChange, LockMode, MultipartUpload, NULL_VERSION, OBJECT_LOCK_CONFIG,
    ObjectChecksum, ObjectData, ObjectHeaders, ObjectListQuery, ObjectLock, ObjectSummary,
    ObjectVersion, Part, PartRef, PartSummary, Refusal, RemovedVersion, Retention, Segment,
    UploadListQuery, UploadStart, VersionListQuery, VersionStart, Versioning, WriteCondition,
    etag_listed,
};

/// The metadata store every nomuck service codes against.
///
/// Contract shared by all backends (enforced by the conformance suite):
/// - `commit` is atomic per call: all mutations apply or none do. A call that
///   returns `Ok` is durable. A call whose future is dropped before it resolves
///   may or may not have been applied.
/// - Reads observe every commit acknowledged before the read started.
/// - Usage `seq` values are strictly increasing in commit order, and a reader
///   never sees seq `s` before every committed seq `< s` is visible, so
///   `after_seq` is a gap-free cursor.
#[async_trait::async_trait]
pub trait MetaStore: Send + Sync + 'static {
    /// Applies `mutations` atomically, in order.
    async fn commit(&self, mutations: Vec<Mutation>) -> Result<CommitReceipt, MetaError>;
    /// Compute's reads (instances, images, key pairs, security groups).
    fn compute(&self) -> &dyn compute::ComputeStore;
    /// Fulfillment's reads (the inventory ledger, the item registry).
    fn fulfillment(&self) -> &dyn fulfillment::FulfillmentStore;
    /// Budgets' reads (budgets and the alerts they sent).
    fn budgets(&self) -> &dyn budgets::BudgetStore;
    /// Billing's reads (the rater's state, rated usage, closed bills).
    fn billing(&self) -> &dyn billing::BillingStore;
    /// KMS's reads (keys and aliases).
    fn kms(&self) -> &dyn kms::KmsStore;
    async fn account(&self, id: &str) -> Result<Option<Account>, MetaError>;
    async fn account_by_name(&self, name: &str) -> Result<Option<Account>, MetaError>;
    /// All accounts, ordered by `(created_at, id)`.
    async fn accounts(&self) -> Result<Vec<Account>, MetaError>;
    async fn access_key(&self, id: &str) -> Result<Option<AccessKey>, MetaError>;
    /// The account's keys (revoked ones included), ordered by `(created_at, id)`.
    async fn access_keys(&self, account_id: &str) -> Result<Vec<AccessKey>, MetaError>;
    async fn lwa_client(&self, client_id: &str) -> Result<Option<LwaClient>, MetaError>;
    /// The account's LWA clients (revoked ones included), ordered by `(created_at, client_id)`.
    async fn lwa_clients(&self, account_id: &str) -> Result<Vec<LwaClient>, MetaError>;
    /// Matching usage events in `seq` order, at most `q.limit` of them.
    async fn usage(&self, q: &UsageQuery) -> Result<Vec<StoredUsageEvent>, MetaError>;
    async fn setting(&self, key: &str) -> Result<Option<Vec<u8>>, MetaError>;

    // ---- object store
    async fn bucket(&self, name: &str) -> Result<Option<Bucket>, MetaError>;
    /// The account's buckets in name (byte) order.
    async fn buckets_of(&self, owner: &str) -> Result<Vec<Bucket>, MetaError>;
    async fn bucket_config(&self, bucket: &str, kind: &str) -> Result<Option<Vec<u8>>, MetaError>;
    /// Names of the buckets that have a config document of `kind`, in name
    /// order (for background work such as lifecycle).
    async fn buckets_with_config(&self, kind: &str) -> Result<Vec<String>, MetaError>;
    /// A version with its data (inline bytes or segments): the latest if
    /// `version_id` is `None` (which may be a delete marker).
    async fn object(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
    ) -> Result<Option<ObjectVersion>, MetaError>;
    /// Current objects (latest, not delete markers) in UTF-8 byte order of key.
    async fn list_objects(&self, q: &ObjectListQuery) -> Result<Vec<ObjectSummary>, MetaError>;
    /// All versions: keys in byte order, each key's versions newest first.
    async fn list_object_versions(
        &self,
        q: &VersionListQuery,
    ) -> Result<Vec<ObjectSummary>, MetaError>;
    async fn multipart_upload(&self, upload_id: &str)
    -> Result<Option<MultipartUpload>, MetaError>;
    /// The version a completed upload became, while that version exists:
    /// `(bucket, key, version_id)`.
    async fn completed_upload(
        &self,
        upload_id: &str,
    ) -> Result<Option<(String, String, String)>, MetaError>;
    /// Parts with a number greater than `after_part`, ascending, at most `limit`.
    async fn list_parts(
        &self,
        upload_id: &str,
        after_part: u32,
        limit: usize,
    ) -> Result<Vec<Part>, MetaError>;
    /// Uploads ordered by key, then upload id.
    async fn list_uploads(&self, q: &UploadListQuery) -> Result<Vec<MultipartUpload>, MetaError>;
    /// Blob ids queued for deletion (freed by committed mutations) before
    /// `queued_before`, at most `limit`. Waiting a while after a blob is freed
    /// lets reads that started earlier finish streaming it.
    async fn garbage(&self, queued_before: Millis, limit: usize) -> Result<Vec<String>, MetaError>;
    /// The subset of `blob_ids` that no object version or part references
    /// (for sweeping files whose metadata commit never happened).
    async fn unreferenced_blobs(&self, blob_ids: &[String]) -> Result<Vec<String>, MetaError>;

    // ---- event delivery
    async fn topic(&self, account_id: &str, name: &str)
    -> Result<Option<events::Topic>, MetaError>;
    /// The account's topics in name order.
    async fn topics_of(&self, account_id: &str) -> Result<Vec<events::Topic>, MetaError>;
    /// Deliveries due at `now` (oldest first), at most `limit`.
    async fn due_deliveries(
        &self,
        now: Millis,
        limit: usize,
    ) -> Result<Vec<events::Delivery>, MetaError>;
}

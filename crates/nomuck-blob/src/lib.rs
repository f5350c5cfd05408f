//! Persistence seam for object bytes.
//!
//! One backend-neutral trait ([`BlobStore`]), one module per backend ([`local`]
//! today: files on a local disk), and one conformance suite (`conformance`,
//! feature `testsuite`) that every backend runs unchanged.
//!
//! A blob is immutable once finished: it is written as a stream through a
//! [`BlobWriter`], becomes visible (and durable) only when [`BlobWriter::finish`]
//! returns, and is read back as a stream of [`Bytes`]. Which blobs are still
//! needed is the metadata store's business; this crate only offers
//! [`BlobStore::list`] so a collector can find files nobody references.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

mod error;
mod id;
pub mod local;

#[cfg(feature = "testsuite")]
pub mod conformance;

use std::ops::Range;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;

pub use error::BlobError;
pub use id::BlobId;
pub use local::{LocalBlobStore, LocalOptions};

/// The bytes of a blob range, in order, in chunks of a backend-chosen size.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Where object bytes live.
///
/// Contract shared by all backends (enforced by the conformance suite):
/// - A blob is invisible (to `open`, `len`, `list`) until `finish` returns
///   `Ok`, and durable from then on.
/// - A writer dropped or aborted before `finish` leaves nothing visible; its
///   partial data is removed at once or by [`BlobStore::collect_temp`].
/// - Blob ids are unique for the life of the store; a finished blob never changes.
/// - `delete` is idempotent.
#[async_trait::async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Starts a new blob with a fresh id.
    async fn create(&self) -> Result<Box<dyn BlobWriter>, BlobError>;

    /// Streams `range` of a finished blob. `OutOfRange` if the range ends past
    /// the blob; an empty range yields an empty stream.
    async fn open(&self, id: &BlobId, range: Range<u64>) -> Result<BlobStream, BlobError>;

    /// Size of a finished blob.
    async fn len(&self, id: &BlobId) -> Result<u64, BlobError>;

    /// Removes a finished blob. `Ok(false)` if it did not exist.
    async fn delete(&self, id: &BlobId) -> Result<bool, BlobError>;

    /// Finished blobs last modified before `older_than` (for orphan sweeping).
    /// Order is unspecified; memory use does not grow with the number of blobs.
    fn list(&self, older_than: SystemTime) -> BoxStream<'static, Result<BlobId, BlobError>>;

    /// Removes the partial data of writers that were dropped (or whose process
    /// died) before finishing and that started before `older_than`. Writers
    /// still alive in this process are never touched. Returns how many were removed.
    async fn collect_temp(&self, older_than: SystemTime) -> Result<u64, BlobError>;
}

/// An unfinished blob being written.
#[async_trait::async_trait]
pub trait BlobWriter: Send {
    /// The id the blob will have once finished.
    fn id(&self) -> &BlobId;

    /// Bytes accepted so far.
    fn len(&self) -> u64;

    /// `true` if nothing was written yet.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends `data`. May return before the bytes reach the disk; an I/O
    /// error then surfaces from a later `write` or from `finish`.
    async fn write(&mut self, data: Bytes) -> Result<(), BlobError>;

    /// Makes the blob durable and visible; returns its length.
    async fn finish(self: Box<Self>) -> Result<u64, BlobError>;

    /// Discards the blob. Dropping the writer does the same, best effort.
    async fn abort(self: Box<Self>) -> Result<(), BlobError>;
}

//! The conformance suite every [`BlobStore`] backend must pass, unchanged.
//!
//! ```text
//! nomuck_blob::blobstore_conformance_tests!(async || {
//!     let dir = tempfile::tempdir().unwrap();
//!     let store = LocalBlobStore::open(dir.path()).unwrap();
//!     Fixture::with_guard(Arc::new(store), dir)
//! });
//! ```
//! The factory is called once per case and must return an empty store.

// Test code: a failed expectation is a panic by design.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::any::Any;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::TryStreamExt;

use crate::{BlobError, BlobId, BlobStore};

/// A store under test plus whatever must outlive it (temp dir, server).
pub struct Fixture {
    // Before `_guard`: the store drops before its directory.
    pub store: Arc<dyn BlobStore>,
    _guard: Option<Box<dyn Any + Send>>,
}

impl Fixture {
    pub fn new(store: Arc<dyn BlobStore>) -> Self {
        Self {
            store,
            _guard: None,
        }
    }

    pub fn with_guard(store: Arc<dyn BlobStore>, guard: impl Any + Send) -> Self {
        Self {
            store,
            _guard: Some(Box::new(guard)),
        }
    }
}

impl<S: BlobStore> From<Arc<S>> for Fixture {
    fn from(store: Arc<S>) -> Self {
        Self::new(store)
    }
}

/// Expands to one `#[tokio::test]` per conformance case.
#[macro_export]
macro_rules! blobstore_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__blobstore_conformance_cases!(($factory);
            round_trip_sizes,
            ranges,
            out_of_range_and_missing,
            delete_is_idempotent,
            concurrent_writers,
            unfinished_writer_is_invisible,
            abort_discards,
            list_for_gc,
            ids_are_unique,
        );
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __blobstore_conformance_cases {
    (($factory:expr); $($case:ident),+ $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                let fixture = $crate::conformance::Fixture::from(($factory)().await);
                $crate::conformance::$case(::std::sync::Arc::clone(&fixture.store)).await;
            }
        )+
    };
}

/// Deterministic, position-dependent test data.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| {
            (i as u64)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(u64::from(seed)) as u8
        })
        .collect()
}

/// Writes `data` in chunks of varying size; returns the finished id.
pub async fn write_blob(s: &Arc<dyn BlobStore>, data: &[u8]) -> BlobId {
    let mut w = s.create().await.unwrap();
    let id = w.id().clone();
    let sizes = [1usize, 7, 4096, 65_536, 1 << 20, 3];
    let (mut at, mut i) = (0, 0);
    while at < data.len() {
        let n = sizes[i % sizes.len()].min(data.len() - at);
        w.write(Bytes::copy_from_slice(&data[at..at + n]))
            .await
            .unwrap();
        at += n;
        i += 1;
    }
    assert_eq!(w.len(), data.len() as u64);
    assert_eq!(w.finish().await.unwrap(), data.len() as u64);
    id
}

pub async fn read_range(s: &Arc<dyn BlobStore>, id: &BlobId, r: std::ops::Range<u64>) -> Vec<u8> {
    let chunks: Vec<Bytes> = s.open(id, r).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

async fn list_all(s: &Arc<dyn BlobStore>, older_than: SystemTime) -> HashSet<BlobId> {
    s.list(older_than).try_collect().await.unwrap()
}

fn far_future() -> SystemTime {
    SystemTime::now() + Duration::from_secs(3600)
}

pub async fn round_trip_sizes(s: Arc<dyn BlobStore>) {
    for (i, len) in [0usize, 1, 4095, 4096, 1 << 20, (3 << 20) + 17]
        .into_iter()
        .enumerate()
    {
        let data = pattern(len, i as u8);
        let id = write_blob(&s, &data).await;
        assert_eq!(s.len(&id).await.unwrap(), len as u64);
        let back = read_range(&s, &id, 0..len as u64).await;
        assert!(back == data, "blob of {len} bytes differs after round trip");
    }
}

pub async fn ranges(s: Arc<dyn BlobStore>) {
    let len = (2 << 20) + 1000;
    let data = pattern(len, 9);
    let id = write_blob(&s, &data).await;
    let l = len as u64;
    for r in [
        0..0,
        0..1,
        5..6,
        1000..(1 << 20) + 5,
        (1 << 20)..(2 << 20),
        l - 1..l,
        l..l,
        0..l,
    ] {
        let got = read_range(&s, &id, r.clone()).await;
        assert!(
            got == data[r.start as usize..r.end as usize],
            "range {r:?} differs"
        );
    }
}

pub async fn out_of_range_and_missing(s: Arc<dyn BlobStore>) {
    let id = write_blob(&s, b"hello").await;
    #[allow(clippy::reversed_empty_ranges)]
    for r in [0..6, 6..6, 3..2] {
        match s.open(&id, r.clone()).await {
            Err(BlobError::OutOfRange { len: 5, .. }) => {}
            Err(e) => panic!("{r:?}: unexpected {e}"),
            Ok(_) => panic!("{r:?}: expected OutOfRange"),
        }
    }
    let missing = BlobId::random();
    assert!(matches!(
        s.open(&missing, 0..0).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(matches!(s.len(&missing).await, Err(BlobError::NotFound(_))));
}

pub async fn delete_is_idempotent(s: Arc<dyn BlobStore>) {
    let keep = write_blob(&s, b"keep").await;
    let id = write_blob(&s, b"data").await;
    assert!(s.delete(&id).await.unwrap());
    assert!(!s.delete(&id).await.unwrap());
    assert!(matches!(
        s.open(&id, 0..0).await,
        Err(BlobError::NotFound(_))
    ));
    assert!(!list_all(&s, far_future()).await.contains(&id));
    assert!(!s.delete(&BlobId::random()).await.unwrap());
    assert_eq!(read_range(&s, &keep, 0..4).await, b"keep");
}

pub async fn concurrent_writers(s: Arc<dyn BlobStore>) {
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..16u8 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            let data = pattern(100_000 + usize::from(t) * 70_001, t);
            let id = write_blob(&s, &data).await;
            (id, data)
        });
    }
    let mut written = Vec::new();
    while let Some(j) = tasks.join_next().await {
        written.push(j.unwrap());
    }
    let ids: HashSet<BlobId> = written.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids.len(), 16);
    for (id, data) in written {
        assert!(read_range(&s, &id, 0..data.len() as u64).await == data);
    }
    assert_eq!(list_all(&s, far_future()).await, ids);
}

pub async fn unfinished_writer_is_invisible(s: Arc<dyn BlobStore>) {
    let mut w = s.create().await.unwrap();
    let id = w.id().clone();
    w.write(Bytes::from(pattern(3 << 20, 1))).await.unwrap();
    // Still being written: not visible, and not garbage.
    assert!(matches!(s.len(&id).await, Err(BlobError::NotFound(_))));
    assert!(list_all(&s, far_future()).await.is_empty());
    s.collect_temp(far_future()).await.unwrap();
    w.write(Bytes::from_static(b"more")).await.unwrap();
    let finished = w.finish().await.unwrap();
    assert_eq!(
        finished,
        (3 << 20) + 4,
        "collect_temp must spare live writers"
    );

    let mut dropped = s.create().await.unwrap();
    let dropped_id = dropped.id().clone();
    dropped.write(Bytes::from(pattern(10, 2))).await.unwrap();
    drop(dropped);
    s.collect_temp(far_future()).await.unwrap();
    assert!(matches!(
        s.len(&dropped_id).await,
        Err(BlobError::NotFound(_))
    ));
    assert_eq!(list_all(&s, far_future()).await, HashSet::from([id]));
}

pub async fn abort_discards(s: Arc<dyn BlobStore>) {
    let mut w = s.create().await.unwrap();
    let id = w.id().clone();
    w.write(Bytes::from(pattern(2 << 20, 3))).await.unwrap();
    w.abort().await.unwrap();
    assert!(matches!(s.len(&id).await, Err(BlobError::NotFound(_))));
    assert!(list_all(&s, far_future()).await.is_empty());
}

pub async fn list_for_gc(s: Arc<dyn BlobStore>) {
    let a = write_blob(&s, b"a").await;
    let b = write_blob(&s, b"").await;
    assert_eq!(list_all(&s, far_future()).await, HashSet::from([a, b]));
    // Nothing was modified before the epoch: a grace period hides new blobs.
    assert!(list_all(&s, SystemTime::UNIX_EPOCH).await.is_empty());
}

pub async fn ids_are_unique(s: Arc<dyn BlobStore>) {
    let mut ids = HashSet::new();
    for _ in 0..64 {
        let w = s.create().await.unwrap();
        assert!(ids.insert(w.id().clone()));
        w.abort().await.unwrap();
    }
}

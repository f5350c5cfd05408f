//! The shared conformance suite on the local-disk backend, plus checks of its
//! on-disk layout.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use nomuck_blob::conformance::{Fixture, pattern, read_range, write_blob};
use nomuck_blob::{BlobStore, LocalBlobStore, LocalOptions};

mod conformance {
    use super::*;

    nomuck_blob::blobstore_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalBlobStore::open(dir.path()).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });

    // Same suite with tiny buffers, so every path through the writer and the
    // read-ahead runs many times per blob.
    mod small_chunks {
        use super::*;
        nomuck_blob::blobstore_conformance_tests!(async || {
            let dir = tempfile::tempdir().unwrap();
            let opts = LocalOptions {
                write_chunk: 4096,
                read_chunk: 4096,
                early_writeback: false,
            };
            let store = LocalBlobStore::open_with(dir.path(), opts).unwrap();
            Fixture::with_guard(Arc::new(store), dir)
        });
    }
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(files_under(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finished_blobs_fan_out_and_temp_files_are_collected() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).unwrap());
    let id = write_blob(&store, b"x").await;
    let s = id.as_str();
    assert!(
        dir.path()
            .join("blobs")
            .join(&s[0..2])
            .join(&s[2..4])
            .join(s)
            .is_file()
    );
    assert!(files_under(&dir.path().join("tmp")).is_empty());

    // A crashed process leaves a temp file no writer owns.
    let stray = dir
        .path()
        .join("tmp")
        .join("0123456789abcdef0123456789abcdef");
    std::fs::write(&stray, b"partial").unwrap();
    // Not yet older than the grace period: kept.
    let past = SystemTime::now() - Duration::from_secs(3600);
    assert_eq!(store.collect_temp(past).await.unwrap(), 0);
    assert!(stray.exists());
    let future = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(store.collect_temp(future).await.unwrap(), 1);
    assert!(!stray.exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_writer_removes_its_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).unwrap());
    let mut w = store.create().await.unwrap();
    w.write(Bytes::from(pattern(3 << 20, 4))).await.unwrap();
    assert_eq!(files_under(&dir.path().join("tmp")).len(), 1);
    drop(w);
    assert!(files_under(&dir.path().join("tmp")).is_empty());
    assert!(files_under(&dir.path().join("blobs")).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_sees_finished_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let id = {
        let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).unwrap());
        write_blob(&store, b"persisted").await
    };
    let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).unwrap());
    assert_eq!(read_range(&store, &id, 0..9).await, b"persisted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn truncated_file_is_an_error_not_a_short_read() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.path()).unwrap());
    let id = write_blob(&store, &pattern(3 << 20, 5)).await;
    let s = id.as_str();
    let path = dir
        .path()
        .join("blobs")
        .join(&s[0..2])
        .join(&s[2..4])
        .join(s);
    let mut stream = store.open(&id, 0..3 << 20).await.unwrap();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .unwrap()
        .set_len(1 << 20)
        .unwrap();
    use futures_util::StreamExt;
    let mut saw_error = false;
    while let Some(item) = stream.next().await {
        if item.is_err() {
            saw_error = true;
        }
    }
    assert!(saw_error);
}

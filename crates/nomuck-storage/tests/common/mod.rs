//! Shared harness: a real SQLite metadata store and local blob store in a
//! temp directory, with garbage collection delays set to zero.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt, stream};
use nomuck_blob::{BlobStore, LocalBlobStore};
use nomuck_meta::{MetaStore, SqliteMetaStore, SqliteOptions};
use nomuck_storage::{
    Caller, GetObjectRequest, PutObjectOutput, PutObjectRequest, Storage, StorageError,
    StorageOptions,
};

pub const ALICE: &str = "111111111111";
pub const BOB: &str = "222222222222";
pub const MIB: usize = 1 << 20;

pub struct Env {
    pub storage: Arc<Storage>,
    pub meta: Arc<dyn MetaStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub dir: tempfile::TempDir,
}

pub fn test_options() -> StorageOptions {
    StorageOptions {
        gc_delay: std::time::Duration::ZERO,
        orphan_grace: std::time::Duration::ZERO,
        ..StorageOptions::default()
    }
}

pub fn open_at(
    dir: &Path,
    opts: StorageOptions,
) -> (Arc<Storage>, Arc<dyn MetaStore>, Arc<dyn BlobStore>) {
    open_with(dir, SqliteOptions::default(), opts)
}

pub fn open_with(
    dir: &Path,
    meta_opts: SqliteOptions,
    opts: StorageOptions,
) -> (Arc<Storage>, Arc<dyn MetaStore>, Arc<dyn BlobStore>) {
    let meta: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open_with(dir.join("meta.db"), meta_opts).unwrap());
    let blobs: Arc<dyn BlobStore> = Arc::new(LocalBlobStore::open(dir.join("data")).unwrap());
    let storage = Storage::new(Arc::clone(&meta), Arc::clone(&blobs), opts);
    (storage, meta, blobs)
}

pub fn env() -> Env {
    env_with(test_options())
}

pub fn env_with(opts: StorageOptions) -> Env {
    // On the target dir's disk: /tmp may be tmpfs, hiding fsync behaviour.
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let (storage, meta, blobs) = open_at(dir.path(), opts);
    Env {
        storage,
        meta,
        blobs,
        dir,
    }
}

pub fn alice() -> Caller {
    Caller::account(ALICE, format!("req-{}", rand_id()))
}

pub fn bob() -> Caller {
    Caller::account(BOB, format!("req-{}", rand_id()))
}

fn rand_id() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

/// Position-dependent bytes, so misplaced ranges are caught.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| ((i as u64).wrapping_mul(2_654_435_761) >> 7) as u8 ^ seed)
        .collect()
}

/// A body in chunks of `chunk` bytes.
pub fn body(
    data: &[u8],
    chunk: usize,
) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let data = Bytes::copy_from_slice(data);
    let chunks: Vec<Bytes> = (0..data.len().div_ceil(chunk.max(1)))
        .map(|i| data.slice(i * chunk..((i + 1) * chunk).min(data.len())))
        .collect();
    stream::iter(chunks.into_iter().map(Ok))
}

/// A body that yields `good` bytes, then fails.
pub fn failing_body(good: usize) -> impl Stream<Item = Result<Bytes, std::io::Error>> + Send {
    body(&pattern(good, 1), 64 << 10).chain(stream::once(async {
        Err(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "client went away",
        ))
    }))
}

pub async fn put(
    s: &Storage,
    caller: &Caller,
    bucket: &str,
    key: &str,
    data: &[u8],
) -> PutObjectOutput {
    s.put_object(
        caller,
        bucket,
        key,
        PutObjectRequest::default(),
        body(data, 64 << 10),
    )
    .await
    .unwrap()
}

pub async fn get(
    s: &Storage,
    caller: &Caller,
    bucket: &str,
    key: &str,
) -> Result<Vec<u8>, StorageError> {
    let out = s
        .get_object(caller, bucket, key, GetObjectRequest::default())
        .await?;
    let chunks: Vec<Bytes> = out.body.try_collect().await?;
    Ok(chunks.concat())
}

pub async fn read_all(stream: nomuck_storage::ByteStream) -> Vec<u8> {
    let chunks: Vec<Bytes> = stream.try_collect().await.unwrap();
    chunks.concat()
}

/// Finished blob files on disk.
pub fn blob_files(dir: &Path) -> Vec<PathBuf> {
    fn walk(p: &Path, out: &mut Vec<PathBuf>) {
        let Ok(rd) = std::fs::read_dir(p) else { return };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&dir.join("data").join("blobs"), &mut out);
    out
}

pub fn temp_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir.join("data").join("tmp"))
        .map(|rd| rd.flatten().map(|e| e.path()).collect())
        .unwrap_or_default()
}

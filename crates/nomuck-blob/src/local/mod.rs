//! Local-disk backend: one file per blob.
//!
//! Layout under the root directory:
//! - `blobs/ab/cd/abcd…`: finished blobs, fanned out by the first four hex
//!   digits so no directory grows past ~65k entries per 4 billion blobs.
//! - `tmp/abcd…`: blobs being written. `finish` fsyncs the file, renames it
//!   into `blobs/` and fsyncs the destination directory, so a finished blob
//!   survives power loss and an unfinished one is never under `blobs/`.
//!
//! All file I/O runs on tokio's blocking pool with std::fs. Writes are handed
//! over in large buffers with one write in flight while the caller produces
//! the next (see `writer.rs`); reads prefetch one chunk ahead (`reader.rs`).

mod reader;
mod writer;

use std::collections::{HashSet, VecDeque};
use std::fs::{self, File};
use std::io;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use futures_util::StreamExt;
use futures_util::stream::{self, BoxStream};

use crate::{BlobError, BlobId, BlobStore, BlobStream, BlobWriter};

/// Tuning knobs for [`LocalBlobStore::open_with`].
#[derive(Debug, Clone)]
pub struct LocalOptions {
    /// Bytes gathered before one write syscall (and one writeback hint).
    pub write_chunk: usize,
    /// Bytes per read syscall and per stream item.
    pub read_chunk: usize,
    /// Start writeback of each buffer as soon as it is written (Linux
    /// `sync_file_range`), so `finish` does not wait for one big flush.
    pub early_writeback: bool,
}

impl Default for LocalOptions {
    fn default() -> Self {
        // 1 MiB: large enough that per-call overhead (a blocking-pool hop) is
        // noise next to the copy, small enough to bound memory per stream at 2 MiB.
        Self {
            write_chunk: 1 << 20,
            read_chunk: 1 << 20,
            early_writeback: true,
        }
    }
}

/// [`BlobStore`] on a local directory.
#[derive(Clone)]
pub struct LocalBlobStore {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    root: PathBuf,
    blobs: PathBuf,
    tmp: PathBuf,
    opts: LocalOptions,
    /// Writers alive in this process: their temp files are not garbage.
    active: Mutex<HashSet<BlobId>>,
}

impl std::fmt::Debug for LocalBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBlobStore")
            .field("root", &self.inner.root)
            .finish_non_exhaustive()
    }
}

impl LocalBlobStore {
    /// Opens (creating if missing) a store rooted at `root`. Blocking: call at
    /// startup or via `spawn_blocking`.
    pub fn open(root: impl AsRef<Path>) -> Result<Self, BlobError> {
        Self::open_with(root, LocalOptions::default())
    }

    pub fn open_with(root: impl AsRef<Path>, opts: LocalOptions) -> Result<Self, BlobError> {
        let root = root.as_ref().to_path_buf();
        let blobs = root.join("blobs");
        let tmp = root.join("tmp");
        for dir in [&root, &blobs, &tmp] {
            ensure_dir(dir)?;
        }
        let opts = LocalOptions {
            write_chunk: opts.write_chunk.max(4096),
            read_chunk: opts.read_chunk.max(4096),
            ..opts
        };
        Ok(Self {
            inner: Arc::new(Inner {
                root,
                blobs,
                tmp,
                opts,
                active: Mutex::new(HashSet::new()),
            }),
        })
    }

    pub fn root(&self) -> &Path {
        &self.inner.root
    }
}

impl Inner {
    fn blob_dir(&self, id: &BlobId) -> PathBuf {
        let (a, b) = id.fan_out();
        self.blobs.join(a).join(b)
    }

    fn blob_path(&self, id: &BlobId) -> PathBuf {
        self.blob_dir(id).join(id.as_str())
    }

    fn tmp_path(&self, id: &BlobId) -> PathBuf {
        self.tmp.join(id.as_str())
    }

    // The set stays consistent if a holder panicked (insert/remove only).
    fn active(&self) -> MutexGuard<'_, HashSet<BlobId>> {
        self.active.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Runs blocking file work on tokio's blocking pool.
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Task(e.to_string()))?
}

/// Creates `dir` (and missing parents) durably: each new entry's parent is fsynced.
fn ensure_dir(dir: &Path) -> Result<(), BlobError> {
    match fs::create_dir(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            let parent = dir.parent().ok_or_else(|| BlobError::io(dir_ctx(dir), e))?;
            ensure_dir(parent)?;
            match fs::create_dir(dir) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return Ok(()),
                Err(e) => return Err(BlobError::io(dir_ctx(dir), e)),
            }
        }
        Err(e) => return Err(BlobError::io(dir_ctx(dir), e)),
    }
    if let Some(parent) = dir.parent() {
        sync_dir(parent)?;
    }
    Ok(())
}

fn dir_ctx(dir: &Path) -> String {
    format!("create directory {}", dir.display())
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), BlobError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| BlobError::io(format!("fsync directory {}", dir.display()), e))
}

fn modified_before(meta: &fs::Metadata, older_than: SystemTime) -> bool {
    meta.modified().map(|m| m < older_than).unwrap_or(false)
}

#[async_trait::async_trait]
impl BlobStore for LocalBlobStore {
    async fn create(&self) -> Result<Box<dyn BlobWriter>, BlobError> {
        let w = writer::LocalBlobWriter::create(Arc::clone(&self.inner)).await?;
        Ok(Box::new(w))
    }

    async fn open(&self, id: &BlobId, range: Range<u64>) -> Result<BlobStream, BlobError> {
        reader::open(Arc::clone(&self.inner), id.clone(), range).await
    }

    async fn len(&self, id: &BlobId) -> Result<u64, BlobError> {
        let path = self.inner.blob_path(id);
        let id = id.clone();
        blocking(move || match fs::metadata(&path) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(BlobError::NotFound(id)),
            Err(e) => Err(BlobError::io(format!("stat {}", path.display()), e)),
        })
        .await
    }

    async fn delete(&self, id: &BlobId) -> Result<bool, BlobError> {
        // No directory fsync: a deletion lost to power failure leaves an
        // unreferenced file that the orphan sweep removes again.
        let path = self.inner.blob_path(id);
        blocking(move || match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(BlobError::io(format!("remove {}", path.display()), e)),
        })
        .await
    }

    fn list(&self, older_than: SystemTime) -> BoxStream<'static, Result<BlobId, BlobError>> {
        struct State {
            tops: Option<Vec<PathBuf>>,
            batch: VecDeque<BlobId>,
        }
        let inner = Arc::clone(&self.inner);
        let init = State {
            tops: None,
            batch: VecDeque::new(),
        };
        stream::unfold(init, move |mut st| {
            let inner = Arc::clone(&inner);
            async move {
                loop {
                    if let Some(id) = st.batch.pop_front() {
                        return Some((Ok(id), st));
                    }
                    let tops = match st.tops.as_mut() {
                        Some(t) => t,
                        None => {
                            let blobs = inner.blobs.clone();
                            match blocking(move || subdirs(&blobs)).await {
                                Ok(t) => st.tops.insert(t),
                                Err(e) => {
                                    st.tops = Some(Vec::new());
                                    return Some((Err(e), st));
                                }
                            }
                        }
                    };
                    let top = tops.pop()?;
                    match blocking(move || scan_top(&top, older_than)).await {
                        Ok(ids) => st.batch = ids.into(),
                        Err(e) => return Some((Err(e), st)),
                    }
                }
            }
        })
        .boxed()
    }

    async fn collect_temp(&self, older_than: SystemTime) -> Result<u64, BlobError> {
        let inner = Arc::clone(&self.inner);
        blocking(move || {
            let entries = fs::read_dir(&inner.tmp)
                .map_err(|e| BlobError::io(format!("list {}", inner.tmp.display()), e))?;
            let mut removed = 0;
            for entry in entries {
                let entry = entry.map_err(|e| BlobError::io("list temp directory", e))?;
                let Some(id) = entry
                    .file_name()
                    .to_str()
                    .and_then(|n| BlobId::parse(n).ok())
                else {
                    continue;
                };
                let old = entry
                    .metadata()
                    .map(|m| modified_before(&m, older_than))
                    .unwrap_or(false);
                if !old || inner.active().contains(&id) {
                    continue;
                }
                match fs::remove_file(entry.path()) {
                    Ok(()) => removed += 1,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(BlobError::io("remove temp blob", e)),
                }
            }
            Ok(removed)
        })
        .await
    }
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, BlobError> {
    let ctx = || format!("list {}", dir.display());
    let mut out = Vec::new();
    for entry in fs::read_dir(dir).map_err(|e| BlobError::io(ctx(), e))? {
        let entry = entry.map_err(|e| BlobError::io(ctx(), e))?;
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// Finished blobs under one top-level fan-out directory.
fn scan_top(top: &Path, older_than: SystemTime) -> Result<Vec<BlobId>, BlobError> {
    let mut out = Vec::new();
    for sub in subdirs(top)? {
        let ctx = || format!("list {}", sub.display());
        for entry in fs::read_dir(&sub).map_err(|e| BlobError::io(ctx(), e))? {
            let entry = entry.map_err(|e| BlobError::io(ctx(), e))?;
            let Some(id) = entry
                .file_name()
                .to_str()
                .and_then(|n| BlobId::parse(n).ok())
            else {
                continue;
            };
            // A file deleted between read_dir and metadata is simply skipped.
            if let Ok(meta) = entry.metadata()
                && meta.is_file()
                && modified_before(&meta, older_than)
            {
                out.push(id);
            }
        }
    }
    Ok(out)
}

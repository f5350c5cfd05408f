//! Streaming blob writer.
//!
//! Incoming chunks are gathered into `write_chunk`-sized buffers; each full
//! buffer is written on the blocking pool while the caller keeps producing
//! (hashing, receiving) the next one, with at most one write in flight. That
//! bounds memory at two buffers and overlaps disk and CPU work. After each
//! buffer the kernel is asked to start writeback, so the final fsync has
//! little left to flush and large PUTs run near disk speed.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use tokio::task::JoinHandle;

use super::{Inner, blocking, ensure_dir, sync_dir};
use crate::{BlobError, BlobId, BlobWriter};

type InFlight = JoinHandle<(File, io::Result<()>)>;

pub(super) struct LocalBlobWriter {
    inner: Arc<Inner>,
    id: BlobId,
    tmp: PathBuf,
    /// The file when no write is in flight; while one is, the task owns it.
    file: Option<File>,
    inflight: Option<InFlight>,
    buf: BytesMut,
    /// Bytes accepted from the caller.
    len: u64,
    /// Bytes handed to write tasks (the file offset of the next buffer).
    submitted: u64,
    finished: bool,
}

impl LocalBlobWriter {
    pub(super) async fn create(inner: Arc<Inner>) -> Result<Self, BlobError> {
        let id = BlobId::random();
        let tmp = inner.tmp_path(&id);
        // Registered before the file exists so a concurrent collect_temp never
        // sees it as abandoned.
        inner.active().insert(id.clone());
        let path = tmp.clone();
        let opened = blocking(move || {
            OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
                .map_err(|e| BlobError::io(format!("create {}", path.display()), e))
        })
        .await;
        match opened {
            Ok(file) => Ok(Self {
                inner,
                id,
                tmp,
                file: Some(file),
                inflight: None,
                buf: BytesMut::new(),
                len: 0,
                submitted: 0,
                finished: false,
            }),
            Err(e) => {
                inner.active().remove(&id);
                Err(e)
            }
        }
    }

    /// Waits for the write in flight (if any) and takes the file back.
    async fn reclaim(&mut self) -> Result<File, BlobError> {
        match self.inflight.take() {
            Some(task) => {
                let (file, res) = task.await.map_err(|e| BlobError::Task(e.to_string()))?;
                res.map_err(|e| BlobError::io(format!("write {}", self.tmp.display()), e))?;
                Ok(file)
            }
            None => self
                .file
                .take()
                .ok_or_else(|| BlobError::Task("blob writer used after a failed write".into())),
        }
    }

    async fn submit(&mut self, data: Bytes) -> Result<(), BlobError> {
        let mut file = self.reclaim().await?;
        let offset = self.submitted;
        self.submitted += data.len() as u64;
        let hint = self.inner.opts.early_writeback;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            let res = file.write_all(&data);
            if res.is_ok() && hint {
                start_writeback(&file, offset, data.len() as u64);
            }
            (file, res)
        }));
        Ok(())
    }
}

#[async_trait::async_trait]
impl BlobWriter for LocalBlobWriter {
    fn id(&self) -> &BlobId {
        &self.id
    }

    fn len(&self) -> u64 {
        self.len
    }

    async fn write(&mut self, data: Bytes) -> Result<(), BlobError> {
        if data.is_empty() {
            return Ok(());
        }
        let chunk = self.inner.opts.write_chunk;
        self.len += data.len() as u64;
        if self.buf.is_empty() && data.len() >= chunk {
            // Already big: hand it over without copying.
            return self.submit(data).await;
        }
        if self.buf.capacity() == 0 {
            self.buf.reserve(chunk.max(data.len()));
        }
        self.buf.extend_from_slice(&data);
        if self.buf.len() >= chunk {
            let full = std::mem::take(&mut self.buf).freeze();
            self.submit(full).await?;
        }
        Ok(())
    }

    async fn finish(mut self: Box<Self>) -> Result<u64, BlobError> {
        if !self.buf.is_empty() {
            let rest = std::mem::take(&mut self.buf).freeze();
            self.submit(rest).await?;
        }
        let file = self.reclaim().await?;
        let tmp = self.tmp.clone();
        let dir = self.inner.blob_dir(&self.id);
        let dest = self.inner.blob_path(&self.id);
        blocking(move || {
            file.sync_data()
                .map_err(|e| BlobError::io(format!("fsync {}", tmp.display()), e))?;
            drop(file);
            let rename = || fs::rename(&tmp, &dest);
            let ctx = || format!("rename {} to {}", tmp.display(), dest.display());
            match rename() {
                Ok(()) => {}
                // First blob in this fan-out directory.
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    ensure_dir(&dir)?;
                    rename().map_err(|e| BlobError::io(ctx(), e))?;
                }
                Err(e) => return Err(BlobError::io(ctx(), e)),
            }
            sync_dir(&dir)
        })
        .await?;
        self.finished = true;
        Ok(self.len)
    }

    async fn abort(mut self: Box<Self>) -> Result<(), BlobError> {
        // Let a write in flight end first so no task still holds the file.
        let _ = self.reclaim().await;
        let tmp = self.tmp.clone();
        self.finished = true; // nothing left for Drop to clean
        blocking(move || match fs::remove_file(&tmp) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(BlobError::io(format!("remove {}", tmp.display()), e)),
        })
        .await
    }
}

impl Drop for LocalBlobWriter {
    fn drop(&mut self) {
        self.inner.active().remove(&self.id);
        if !self.finished {
            // Best effort, and cheap (one unlink); anything left behind (crash,
            // error) is removed by collect_temp.
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

/// Asks the kernel to start writing `[offset, offset+len)` back now, without
/// waiting, so dirty pages do not pile up for the final fsync.
#[cfg(target_os = "linux")]
fn start_writeback(file: &File, offset: u64, len: u64) {
    use std::os::fd::AsRawFd;
    let (Ok(off), Ok(n)) = (i64::try_from(offset), i64::try_from(len)) else {
        return;
    };
    // SAFETY: plain syscall on a file descriptor we own for the duration of
    // the call; it reads no memory of ours. Failure only loses the hint.
    unsafe {
        libc::sync_file_range(file.as_raw_fd(), off, n, libc::SYNC_FILE_RANGE_WRITE);
    }
}

#[cfg(not(target_os = "linux"))]
fn start_writeback(_file: &File, _offset: u64, _len: u64) {}

//! Range reads as a stream with one chunk of read-ahead: while the consumer
//! handles chunk N (sends it to a socket, hashes it), chunk N+1 is being read.

use std::fs::File;
use std::io;
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::{Inner, blocking};
use crate::{BlobError, BlobId, BlobStream};

pub(super) async fn open(
    inner: Arc<Inner>,
    id: BlobId,
    range: Range<u64>,
) -> Result<BlobStream, BlobError> {
    let path = inner.blob_path(&id);
    let chunk = inner.opts.read_chunk as u64;
    let id2 = id.clone();
    let file = blocking(move || {
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Err(BlobError::NotFound(id2)),
            Err(e) => return Err(BlobError::io(format!("open {}", path.display()), e)),
        };
        let len = file
            .metadata()
            .map_err(|e| BlobError::io(format!("stat {}", path.display()), e))?
            .len();
        if range.end > len || range.start > range.end {
            return Err(BlobError::OutOfRange {
                id: id2,
                len,
                end: range.end,
            });
        }
        Ok(file)
    })
    .await?;
    Ok(ReadAhead {
        id,
        file: Arc::new(file),
        next: range.start,
        end: range.end,
        chunk,
        inflight: None,
    }
    .boxed())
}

struct ReadAhead {
    id: BlobId,
    file: Arc<File>,
    /// Offset of the next read to start.
    next: u64,
    end: u64,
    chunk: u64,
    inflight: Option<JoinHandle<io::Result<Bytes>>>,
}

impl ReadAhead {
    fn start_next(&mut self) {
        if self.next >= self.end {
            return;
        }
        let n = self.chunk.min(self.end - self.next);
        let (file, offset) = (Arc::clone(&self.file), self.next);
        self.next += n;
        self.inflight = Some(tokio::task::spawn_blocking(move || {
            let mut buf = vec![0u8; n as usize];
            file.read_exact_at(&mut buf, offset)?;
            Ok(Bytes::from(buf))
        }));
    }
}

impl Stream for ReadAhead {
    type Item = Result<Bytes, BlobError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.inflight.is_none() {
            self.start_next();
        }
        let Some(task) = self.inflight.as_mut() else {
            return Poll::Ready(None);
        };
        let res = ready!(Pin::new(task).poll(cx));
        self.inflight = None;
        let item = match res {
            Ok(Ok(bytes)) => {
                self.start_next();
                Ok(bytes)
            }
            Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
                self.next = self.end; // end the stream after the error
                Err(BlobError::Truncated {
                    id: self.id.clone(),
                    detail: "file ended before the requested range".into(),
                })
            }
            Ok(Err(e)) => {
                self.next = self.end;
                Err(BlobError::io(format!("read blob {}", self.id), e))
            }
            Err(e) => {
                self.next = self.end;
                Err(BlobError::Task(e.to_string()))
            }
        };
        Poll::Ready(Some(item))
    }
}

impl Drop for ReadAhead {
    fn drop(&mut self) {
        // A read in flight finishes on its own; nobody will look at it.
        if let Some(t) = self.inflight.take() {
            t.abort();
        }
    }
}

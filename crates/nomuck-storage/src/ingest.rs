//! Receiving a body: hash it (MD5 for the ETag, plus the additional
//! checksum) while streaming, keep it inline if small, otherwise write it to a
//! blob, and verify declared digests before the blob is finished. Memory is
//! bounded by the inline threshold plus the blob writer's two buffers.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use nomuck_blob::{BlobId, BlobStore, BlobWriter};
use nomuck_checksum::{Checksum, ChecksumAlgorithm, Checksummer, Md5Hasher};

use crate::sse::DataKeyBytes;
use crate::sse::segments::Sealer;
use crate::types::ChecksumRequest;
use crate::{BodyError, StorageError};

pub(crate) struct IngestSpec {
    /// Bodies up to this size stay in memory (stored inline); 0 = always a blob.
    pub inline_max: usize,
    pub max_size: u64,
    pub declared_len: Option<u64>,
    pub content_md5: Option<[u8; 16]>,
    /// Algorithm to compute; the expected value, if any, is verified.
    pub checksum: Option<ChecksumAlgorithm>,
    pub expected_checksum: Option<Checksum>,
    /// Encrypt what is stored (inline or blob) with this data key, as this
    /// part number (0 for a whole object); hashes are of the plaintext.
    pub seal: Option<(DataKeyBytes, u32)>,
}

pub(crate) enum Stored {
    Inline(Vec<u8>),
    Blob(BlobId),
}

pub(crate) struct Ingested {
    pub stored: Stored,
    pub size: u64,
    pub md5: [u8; 16],
    pub checksum: Option<Checksum>,
}

impl Ingested {
    pub(crate) fn etag(&self) -> String {
        hex(&self.md5)
    }
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// Parses `Content-MD5` (base64 of 16 bytes).
pub(crate) fn parse_content_md5(v: &str) -> Result<[u8; 16], StorageError> {
    B64.decode(v.trim())
        .ok()
        .and_then(|b| <[u8; 16]>::try_from(b.as_slice()).ok())
        .ok_or(StorageError::InvalidDigest)
}

/// Which checksum to compute and what to expect, from a request.
/// `fallback` is computed when the request names none (S3 stores CRC64NVME).
pub(crate) fn checksum_plan(
    req: &ChecksumRequest,
    fallback: Option<ChecksumAlgorithm>,
) -> Result<(Option<ChecksumAlgorithm>, Option<Checksum>), StorageError> {
    match &req.expected {
        Some((alg, value)) => {
            if req.algorithm.is_some_and(|a| a != *alg) {
                return Err(StorageError::InvalidChecksum(format!(
                    "the checksum algorithm {} does not match the {} value sent",
                    req.algorithm.map(|a| a.name()).unwrap_or_default(),
                    alg.name()
                )));
            }
            let expected = Checksum::parse_base64(*alg, value)
                .map_err(|e| StorageError::InvalidChecksum(e.to_string()))?;
            Ok((Some(*alg), Some(expected)))
        }
        None => Ok((req.algorithm.or(fallback), None)),
    }
}

struct Hashing {
    md5: Md5Hasher,
    checksum: Option<Checksummer>,
}

impl Hashing {
    fn update(&mut self, data: &[u8]) {
        self.md5.update(data);
        if let Some(c) = &mut self.checksum {
            c.update(data);
        }
    }
}

/// Chunks queued for an offloaded hasher (bounds memory to this many chunks).
const HASH_QUEUE: usize = 16;

/// Hashes small bodies in place; once a body turns out big, hashing moves to
/// a blocking thread fed the same `Bytes` (no copy), so MD5 — the slowest
/// step of a large PUT — runs in parallel with receiving and writing.
enum Hasher {
    Inline(Hashing),
    Offloaded {
        tx: tokio::sync::mpsc::Sender<Bytes>,
        task: tokio::task::JoinHandle<Hashing>,
    },
    Poisoned,
}

impl Hasher {
    fn offload(&mut self) {
        if let Hasher::Inline(_) = self
            && let Hasher::Inline(mut h) = std::mem::replace(self, Hasher::Poisoned)
        {
            let (tx, mut rx) = tokio::sync::mpsc::channel::<Bytes>(HASH_QUEUE);
            let task = tokio::task::spawn_blocking(move || {
                while let Some(chunk) = rx.blocking_recv() {
                    h.update(&chunk);
                }
                h
            });
            *self = Hasher::Offloaded { tx, task };
        }
    }

    async fn update(&mut self, chunk: &Bytes) -> Result<(), StorageError> {
        match self {
            Hasher::Inline(h) => h.update(chunk),
            Hasher::Offloaded { tx, .. } => tx
                .send(chunk.clone())
                .await
                .map_err(|_| StorageError::Internal("the hashing task stopped".into()))?,
            Hasher::Poisoned => return Err(StorageError::Internal("hasher is broken".into())),
        }
        Ok(())
    }

    async fn finish(self) -> Result<Hashing, StorageError> {
        match self {
            Hasher::Inline(h) => Ok(h),
            Hasher::Offloaded { tx, task } => {
                drop(tx);
                task.await
                    .map_err(|e| StorageError::Internal(format!("hashing task failed: {e}")))
            }
            Hasher::Poisoned => Err(StorageError::Internal("hasher is broken".into())),
        }
    }
}

/// A blob being written, through a [`Sealer`] when the object is encrypted.
struct Out {
    w: Box<dyn BlobWriter>,
    sealer: Option<Sealer>,
}

impl Out {
    async fn create(blobs: &dyn BlobStore, spec: &IngestSpec) -> Result<Self, StorageError> {
        Ok(Self {
            w: blobs.create().await?,
            sealer: spec.seal.as_ref().map(|(k, part)| Sealer::new(k, *part)),
        })
    }

    async fn write(&mut self, data: Bytes) -> Result<(), StorageError> {
        match &mut self.sealer {
            None => self.w.write(data).await?,
            Some(s) => {
                for c in s.push(&data) {
                    self.w.write(c).await?;
                }
            }
        }
        Ok(())
    }

    async fn finish(mut self) -> Result<BlobId, StorageError> {
        if let Some(s) = self.sealer.take() {
            for c in s.finish() {
                self.w.write(c).await?;
            }
        }
        let id = self.w.id().clone();
        self.w.finish().await?;
        Ok(id)
    }
}

pub(crate) async fn ingest<S, E>(
    blobs: &dyn BlobStore,
    body: S,
    spec: &IngestSpec,
) -> Result<Ingested, StorageError>
where
    S: Stream<Item = Result<Bytes, E>> + Send,
    E: Into<BodyError>,
{
    let mut body = std::pin::pin!(body);
    let mut hasher = Hasher::Inline(Hashing {
        md5: Md5Hasher::new(),
        checksum: spec.checksum.map(Checksummer::new),
    });
    let mut inline: Vec<u8> = Vec::new();
    let mut writer: Option<Out> = None;
    // A declared size over the threshold goes to a blob from the first byte.
    if spec
        .declared_len
        .is_some_and(|l| l > spec.inline_max as u64)
    {
        writer = Some(Out::create(blobs, spec).await?);
        hasher.offload();
    }
    let mut size: u64 = 0;
    // On any early return the writer is dropped, which removes its temp file.
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(|e| StorageError::Body(e.into()))?;
        if chunk.is_empty() {
            continue;
        }
        size += chunk.len() as u64;
        if size > spec.max_size {
            return Err(StorageError::EntityTooLarge { max: spec.max_size });
        }
        if let Some(declared) = spec.declared_len
            && size > declared
        {
            return Err(StorageError::IncompleteBody {
                expected: declared,
                received: size,
            });
        }
        match &mut writer {
            Some(w) => {
                hasher.update(&chunk).await?;
                w.write(chunk).await?
            }
            None if inline.len() + chunk.len() <= spec.inline_max => {
                hasher.update(&chunk).await?;
                inline.extend_from_slice(&chunk)
            }
            None => {
                // Bytes so far were hashed in place; the rest goes to the hasher thread.
                hasher.offload();
                hasher.update(&chunk).await?;
                let mut w = Out::create(blobs, spec).await?;
                w.write(Bytes::from(std::mem::take(&mut inline))).await?;
                w.write(chunk).await?;
                writer = Some(w);
            }
        }
    }
    if let Some(declared) = spec.declared_len
        && size != declared
    {
        return Err(StorageError::IncompleteBody {
            expected: declared,
            received: size,
        });
    }
    let hashing = hasher.finish().await?;
    let md5 = hashing.md5.finalize();
    let checksum = hashing.checksum.map(Checksummer::finalize);
    // Verify before finishing, so a corrupt body never becomes a blob.
    if spec.content_md5.is_some_and(|want| want != md5) {
        return Err(StorageError::BadDigest);
    }
    if let Some(want) = &spec.expected_checksum
        && checksum.as_ref() != Some(want)
    {
        return Err(StorageError::ChecksumMismatch {
            algorithm: want.algorithm,
        });
    }
    let writer = match writer {
        Some(w) => Some(w),
        // Parts always live in blobs, even empty ones.
        None if spec.inline_max == 0 => {
            let mut w = Out::create(blobs, spec).await?;
            w.write(Bytes::from(std::mem::take(&mut inline))).await?;
            Some(w)
        }
        None => None,
    };
    let stored = match (writer, &spec.seal) {
        (Some(w), _) => Stored::Blob(w.finish().await?),
        // Inline data is sealed too: the metadata file never holds plaintext.
        (None, Some((k, part))) => Stored::Inline(Sealer::seal_all(k, *part, &inline)),
        (None, None) => Stored::Inline(inline),
    };
    Ok(Ingested {
        stored,
        size,
        md5,
        checksum,
    })
}

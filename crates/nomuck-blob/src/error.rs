use crate::BlobId;

/// Errors from any [`crate::BlobStore`] backend.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob {0} does not exist")]
    NotFound(BlobId),
    #[error("{0:?} is not a valid blob id")]
    InvalidId(String),
    #[error("range end {end} is past the end of blob {id} ({len} bytes)")]
    OutOfRange { id: BlobId, len: u64, end: u64 },
    /// The blob's file is shorter than its recorded length: damaged storage.
    #[error("blob {id} is truncated: {detail}")]
    Truncated { id: BlobId, detail: String },
    #[error("blob storage I/O error: {context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
    /// A background task (blocking I/O) was cancelled or panicked.
    #[error("blob storage task failed: {0}")]
    Task(String),
}

impl BlobError {
    pub(crate) fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        Self::Io {
            context: context.into(),
            source,
        }
    }
}

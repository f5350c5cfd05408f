//! Metering. Stored bytes are metered in the same commit as the change: the
//! metadata store emits stored-bytes added/removed events for every version
//! or part it writes or drops (`ByteUsage`), so stored byte-hours integrate
//! exactly from the deltas.
//!
//! Request counts and bytes out are summed in memory per (account, meter)
//! and appended every flush interval as one event each
//! ([`nomuck_meter::RequestSums`]). A usage row per
//! request would be most of a small PUT's commit (four B-tree inserts per
//! event) and a write per GET; the price is that a crash loses at most one
//! interval of request metering, never stored bytes.

use nomuck_meta::{ByteUsage, Millis};
use nomuck_meter::unit;

pub const SERVICE: &str = "s3";

/// Meter names this crate records.
pub mod meters {
    /// PUT, COPY, POST and LIST requests (AWS's costlier class).
    pub const REQUESTS_PUT_COPY_POST_LIST: &str = "requests.put-copy-post-list";
    /// GET, HEAD and all other requests.
    pub const REQUESTS_GET_OTHER: &str = "requests.get-other";
    /// DELETE requests (free at AWS, metered so billing can decide).
    pub const REQUESTS_DELETE: &str = "requests.delete";
    /// Bytes that started being stored (new versions and parts).
    pub const STORED_BYTES_ADDED: &str = "storage.bytes-added";
    /// Bytes that stopped being stored (replaced or deleted versions, parts).
    pub const STORED_BYTES_REMOVED: &str = "storage.bytes-removed";
    /// Response body bytes sent to clients.
    pub const BYTES_OUT: &str = "transfer.bytes-out";
}

/// Request class for metering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestClass {
    PutCopyPostList,
    GetOther,
    Delete,
}

impl RequestClass {
    pub fn meter(self) -> &'static str {
        match self {
            Self::PutCopyPostList => meters::REQUESTS_PUT_COPY_POST_LIST,
            Self::GetOther => meters::REQUESTS_GET_OTHER,
            Self::Delete => meters::REQUESTS_DELETE,
        }
    }
}

/// Asks the metadata store to meter stored bytes for `account_id`.
pub(crate) fn byte_usage(account_id: &str, at: Millis) -> ByteUsage {
    ByteUsage {
        account_id: account_id.to_owned(),
        service: SERVICE.into(),
        added_meter: meters::STORED_BYTES_ADDED.into(),
        removed_meter: meters::STORED_BYTES_REMOVED.into(),
        unit: unit::BYTES.into(),
        at,
    }
}

/// In-memory sums of read-side usage, appended to the meter periodically
/// (the mechanism is the meter's, shared with KMS).
pub(crate) use nomuck_meter::RequestSums as RequestUsage;

//! Records of the object store (buckets, object versions, multipart uploads,
//! the blob garbage queue). Backend-neutral: every backend stores and returns
//! exactly these shapes.
//!
//! An object row is one *version* `(bucket, key, version_id)`; an unversioned
//! bucket only ever holds version [`NULL_VERSION`]. Which version is current
//! is the `is_latest` flag, so versioning needs no schema change.

use crate::Millis;

/// The bucket config kind whose presence means S3 Object Lock is enabled.
/// The store keeps such a bucket's versioning `Enabled`: it accepts the
/// document only on a bucket whose versioning is `Enabled` and refuses to
/// change that versioning later, both with [`Refusal::InvalidBucketState`],
/// so a racing PutBucketVersioning cannot leave locked versions in a
/// bucket whose writes would replace the null version in place.
pub const OBJECT_LOCK_CONFIG: &str = "object-lock";

/// The version id of objects written while versioning is off or suspended.
pub const NULL_VERSION: &str = "null";

/// A bucket's versioning state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Versioning {
    #[default]
    Unversioned,
    Enabled,
    Suspended,
}

impl Versioning {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unversioned => "Unversioned",
            Self::Enabled => "Enabled",
            Self::Suspended => "Suspended",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Unversioned, Self::Enabled, Self::Suspended]
            .into_iter()
            .find(|v| v.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bucket {
    /// Globally unique.
    pub name: String,
    /// Account id of the owner.
    pub owner: String,
    pub region: String,
    pub created_at: Millis,
    pub versioning: Versioning,
}

/// Stored response headers of an object (set at PUT / CreateMultipartUpload).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct ObjectHeaders {
    pub content_type: Option<String>,
    pub content_encoding: Option<String>,
    pub content_disposition: Option<String>,
    pub content_language: Option<String>,
    pub cache_control: Option<String>,
    /// Raw `Expires` header value, as sent.
    pub expires: Option<String>,
    /// `x-amz-meta-*` pairs (name without the prefix), in the order given.
    pub user_metadata: Vec<(String, String)>,
}

/// Whether an additional checksum covers the whole object or is a checksum
/// of the part checksums (multipart `COMPOSITE`, value suffixed `-N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChecksumType {
    FullObject,
    Composite,
}

impl ChecksumType {
    /// The S3 wire name (`FULL_OBJECT` / `COMPOSITE`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FullObject => "FULL_OBJECT",
            Self::Composite => "COMPOSITE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "FULL_OBJECT" => Some(Self::FullObject),
            "COMPOSITE" => Some(Self::Composite),
            _ => None,
        }
    }
}

/// An additional (`x-amz-checksum-*`) checksum of an object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectChecksum {
    /// Upper-case algorithm name: `CRC32`, `CRC32C`, `CRC64NVME`, `SHA1`, `SHA256`.
    pub algorithm: String,
    /// Base64 value as sent on the wire (composite values end in `-N`).
    pub value: String,
    pub kind: ChecksumType,
}

/// Which part of a multipart object a segment holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartRef {
    pub number: u32,
    /// MD5 hex of the part, without quotes.
    pub etag: String,
    /// Base64 checksum of the part in the object's checksum algorithm.
    pub checksum: Option<String>,
}

/// `len` bytes of blob `blob_id` from `offset`. An object's data is its
/// segments concatenated in order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Segment {
    pub blob_id: String,
    pub offset: u64,
    pub len: u64,
    /// Set on every segment of a completed multipart upload.
    pub part: Option<PartRef>,
}

/// Where an object version's bytes are.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ObjectData {
    /// Small objects (and delete markers, empty) live in the metadata store.
    Inline(Vec<u8>),
    Segments(Vec<Segment>),
    /// Input only: share the data (and part layout) of the version whose
    /// [`ObjectVersion::internal_id`] this is, as a server-side copy does.
    /// The commit fails with [`Refusal::CopySourceGone`] if that version no
    /// longer exists. Never returned by queries.
    CopyOf(i64),
}

/// An object lock retention mode (S3 Object Lock).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockMode {
    /// Removable or shortenable with the bypass permission.
    Governance,
    /// Only ever extended, by anyone, until it passes.
    Compliance,
}

impl LockMode {
    /// The S3 wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Governance => "GOVERNANCE",
            Self::Compliance => "COMPLIANCE",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "GOVERNANCE" => Some(Self::Governance),
            "COMPLIANCE" => Some(Self::Compliance),
            _ => None,
        }
    }
}

/// A retention period: the version cannot be removed before `until`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Retention {
    pub mode: LockMode,
    pub until: Millis,
}

/// The object lock state of one version (or the state an upload gives the
/// version it becomes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct ObjectLock {
    pub retention: Option<Retention>,
    pub legal_hold: bool,
}

impl ObjectLock {
    /// The retention still in force at `now` (a passed date protects nothing).
    pub fn active_retention(&self, now: Millis) -> Option<Retention> {
        self.retention.filter(|r| r.until > now)
    }

    /// Whether the version may not be removed at `now`; `bypass_governance`
    /// is the caller's authorized `x-amz-bypass-governance-retention`.
    pub fn blocks_removal(&self, now: Millis, bypass_governance: bool) -> bool {
        self.legal_hold
            || match self.active_retention(now) {
                None => false,
                Some(r) => r.mode == LockMode::Compliance || !bypass_governance,
            }
    }

    /// Whether replacing the retention with `new` at `now` is allowed: an
    /// active retention may only be kept or extended in its own mode, or
    /// (GOVERNANCE only, with bypass) shortened, removed or changed in mode,
    /// as S3 allows.
    pub fn retention_change_allowed(
        &self,
        new: Option<Retention>,
        now: Millis,
        bypass_governance: bool,
    ) -> bool {
        let Some(cur) = self.active_retention(now) else {
            return true;
        };
        // Kept or extended in the same mode is always allowed; anything else
        // (shorter, removed, another mode) only for GOVERNANCE with bypass.
        let extends = new.is_some_and(|n| n.mode == cur.mode && n.until >= cur.until);
        extends || (cur.mode == LockMode::Governance && bypass_governance)
    }
}

/// One version of one object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectVersion {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    /// Identity of this stored row; changes whenever the version is rewritten,
    /// even under the same version id. Ignored on input.
    pub internal_id: i64,
    /// Ignored on input: a written version always becomes the latest.
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub last_modified: Millis,
    /// Account id of the object owner.
    pub owner: String,
    pub size: u64,
    /// Without quotes: MD5 hex, or `md5-of-part-md5s-N` for multipart.
    pub etag: String,
    pub storage_class: String,
    pub headers: ObjectHeaders,
    pub checksum: Option<ObjectChecksum>,
    /// Object tags in the order given.
    pub tags: Vec<(String, String)>,
    /// The version's access control list, a document the storage engine
    /// encodes; `None` is the owner's private ACL.
    pub acl: Option<String>,
    /// Retention and legal hold (S3 Object Lock). A version whose lock
    /// [`ObjectLock::blocks_removal`] is never removed or replaced: the
    /// commit fails with [`Refusal::ObjectLocked`].
    pub lock: ObjectLock,
    /// The version's server-side encryption, a document the storage engine
    /// encodes; `None` is stored in plaintext.
    pub encryption: Option<String>,
    pub data: ObjectData,
}

impl ObjectVersion {
    /// Parts of a multipart object in order (empty for a single-part object).
    pub fn parts(&self) -> Vec<PartSummary> {
        let ObjectData::Segments(segs) = &self.data else {
            return Vec::new();
        };
        let mut out: Vec<PartSummary> = Vec::new();
        for s in segs {
            let Some(p) = &s.part else { continue };
            match out.last_mut() {
                Some(last) if last.part_number == p.number => last.size += s.len,
                _ => out.push(PartSummary {
                    part_number: p.number,
                    size: s.len,
                    etag: p.etag.clone(),
                    checksum: p.checksum.clone(),
                }),
            }
        }
        out
    }
}

/// One part of a stored multipart object.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PartSummary {
    pub part_number: u32,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<String>,
}

/// A version as listed: no headers, tags or data.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectSummary {
    pub key: String,
    pub version_id: String,
    pub internal_id: i64,
    pub is_latest: bool,
    pub is_delete_marker: bool,
    pub last_modified: Millis,
    pub owner: String,
    pub size: u64,
    pub etag: String,
    pub storage_class: String,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<ChecksumType>,
}

/// Where a key listing starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum ListStart {
    #[default]
    Beginning,
    /// Keys strictly greater than this one.
    After(String),
    /// Keys after every key that starts with this prefix (the "seek past a
    /// common prefix" of delimiter listings).
    PastPrefix(String),
}

/// Current (latest, not delete-marker) objects whose key starts with
/// `prefix`, in UTF-8 byte order.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectListQuery {
    pub bucket: String,
    pub prefix: String,
    pub start: ListStart,
    pub limit: usize,
}

/// Where a version listing starts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum VersionStart {
    #[default]
    Beginning,
    /// All versions of keys strictly greater than this one.
    AfterKey(String),
    /// Versions of `key` older than `version_id`, then later keys. An unknown
    /// `version_id` behaves as `AfterKey(key)`.
    AfterVersion { key: String, version_id: String },
    /// Keys after every key that starts with this prefix.
    PastPrefix(String),
}

/// Every version (delete markers included) of keys starting with `prefix`:
/// keys in UTF-8 byte order, each key's versions newest first.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VersionListQuery {
    pub bucket: String,
    pub prefix: String,
    pub start: VersionStart,
    pub limit: usize,
}

/// An in-progress multipart upload and the object metadata it will produce.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct MultipartUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    pub initiated: Millis,
    pub owner: String,
    pub storage_class: String,
    pub headers: ObjectHeaders,
    pub checksum_algorithm: Option<String>,
    pub checksum_type: Option<ChecksumType>,
    pub tags: Vec<(String, String)>,
    /// The ACL the completed object gets (see [`ObjectVersion::acl`]).
    pub acl: Option<String>,
    /// The lock the completed object gets.
    pub lock: ObjectLock,
    /// The encryption of every part and of the completed object (see
    /// [`ObjectVersion::encryption`]).
    pub encryption: Option<String>,
}

/// An uploaded part: bytes in one blob.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Part {
    pub part_number: u32,
    pub size: u64,
    /// MD5 hex, without quotes.
    pub etag: String,
    /// Base64 value in the upload's checksum algorithm.
    pub checksum: Option<String>,
    pub blob_id: String,
    pub last_modified: Millis,
}

/// A part as named in a CompleteMultipartUpload request.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompletedPart {
    pub part_number: u32,
    /// With or without quotes.
    pub etag: String,
    /// Base64 checksum, if the client sent one for this part.
    pub checksum: Option<String>,
}

/// Where an upload listing starts (uploads of one key are ordered by upload id).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum UploadStart {
    #[default]
    Beginning,
    /// Uploads of keys strictly greater than this one.
    AfterKey(String),
    /// Uploads of `key` with a greater upload id, then later keys.
    AfterUpload {
        key: String,
        upload_id: String,
    },
    PastPrefix(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadListQuery {
    pub bucket: String,
    pub prefix: String,
    pub start: UploadStart,
    pub limit: usize,
}

/// A conditional write, evaluated inside the commit against the key's
/// current version (a delete marker counts as no object). Values are HTTP
/// entity-tag lists: `*`, or one or more ETags (quotes optional).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct WriteCondition {
    /// `If-Match`: there must be a current object (else
    /// [`Refusal::NoSuchKey`]) whose ETag is listed (`*`: any).
    pub if_match: Option<String>,
    /// `If-None-Match`: `*` requires no current object; a list requires the
    /// current object's ETag, if any, not to be listed.
    pub if_none_match: Option<String>,
    /// Only [`crate::Mutation::DeleteObject`]: the key's latest version
    /// (delete markers included) when the delete adds a marker, else the
    /// version it removes, must still be the stored row with this
    /// [`ObjectVersion::internal_id`]; else [`Refusal::PreconditionFailed`].
    /// Background deletions (lifecycle) use it so a version written after
    /// they looked is never the one they delete.
    pub version_row: Option<i64>,
    /// An authorized `x-amz-bypass-governance-retention`: a version under
    /// GOVERNANCE retention (no legal hold) may be removed.
    pub bypass_governance: bool,
}

impl WriteCondition {
    /// `If-None-Match: *`, the create-only write.
    pub fn create_only() -> Self {
        Self {
            if_none_match: Some("*".into()),
            ..Self::default()
        }
    }
}

/// Whether an `If-Match`/`If-None-Match` value names `etag` (unquoted).
pub fn etag_listed(list: &str, etag: &str) -> bool {
    list.split(',').any(|item| {
        let item = item.trim();
        let item = item.strip_prefix("W/").unwrap_or(item);
        item == "*" || crate::multipart::unquote_etag(item) == etag
    })
}

/// Asks an object mutation to meter the bytes it adds and removes. Emitted
/// inside the commit because what a write replaces is only known there.
/// The deltas of one transaction are summed per account and meter and
/// written as one event each before it commits (idempotency key
/// `{service}:{meter}:{account}:b{batch}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ByteUsage {
    pub account_id: String,
    pub service: String,
    pub added_meter: String,
    pub removed_meter: String,
    pub unit: String,
    pub at: Millis,
}

/// A delete marker to add as the key's latest version.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DeleteMarker {
    pub version_id: String,
    pub last_modified: Millis,
    pub owner: String,
}

/// Input of [`crate::Mutation::CompleteMultipartUpload`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompleteUpload {
    pub upload_id: String,
    pub bucket: String,
    pub key: String,
    /// The client's part list, as sent.
    pub parts: Vec<CompletedPart>,
    pub version_id: String,
    pub last_modified: Millis,
    /// Every part but the last must be at least this big (5 MiB in S3).
    pub min_part_size: u64,
    /// Stored as given for `FULL_OBJECT` uploads (base64).
    pub full_object_checksum: Option<String>,
    pub condition: Option<WriteCondition>,
    pub bucket_owner: Option<String>,
    pub usage: Option<ByteUsage>,
}

/// What a completed upload became (one per `CompleteMultipartUpload` in a
/// commit, in order, in [`crate::CommitReceipt::completed_uploads`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CompletedUpload {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub internal_id: i64,
    pub size: u64,
    pub etag: String,
    pub checksum: Option<ObjectChecksum>,
    pub parts_count: u32,
}

/// A version a commit removed (deleted or replaced).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RemovedVersion {
    pub bucket: String,
    pub key: String,
    pub version_id: String,
    pub is_delete_marker: bool,
    pub size: u64,
}

/// Why a storage mutation was refused. Typed so the storage engine can map
/// each case to its S3 error without parsing messages.
#[derive(Debug, Clone, PartialEq, Eq, Hash, thiserror::Error)]
pub enum Refusal {
    #[error("no such bucket {0:?}")]
    NoSuchBucket(String),
    #[error("bucket {name:?} already exists")]
    BucketExists { name: String, owned_by_you: bool },
    #[error("bucket {0:?} is not empty")]
    BucketNotEmpty(String),
    /// The bucket is no longer owned by the account the caller checked.
    #[error("bucket {0:?} has a different owner")]
    BucketOwnerChanged(String),
    #[error("no such key")]
    NoSuchKey,
    #[error("no such version")]
    NoSuchVersion,
    #[error("no such upload {0:?}")]
    NoSuchUpload(String),
    #[error("precondition failed")]
    PreconditionFailed,
    #[error("invalid part {part_number}: {reason}")]
    InvalidPart { part_number: u32, reason: String },
    #[error("part numbers are not in ascending order")]
    InvalidPartOrder,
    /// The checksum the client sent for the whole object does not match.
    #[error("the object checksum does not match its parts")]
    BadDigest,
    #[error("part {part_number} is smaller than the minimum part size")]
    EntityTooSmall { part_number: u32 },
    /// The version named by [`ObjectData::CopyOf`] is gone.
    #[error("copy source version no longer exists")]
    CopySourceGone,
    /// Object lock and the bucket's versioning disagree (see
    /// [`OBJECT_LOCK_CONFIG`]).
    #[error("object lock needs the bucket's versioning to be Enabled")]
    InvalidBucketState,
    /// A retention or legal hold forbids removing or weakening the version.
    #[error("object protected by object lock")]
    ObjectLocked,
}

/// What [`crate::Mutation::SetObjectLock`] changes on one version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LockChange {
    /// Replace the retention (`None` removes it), subject to
    /// [`ObjectLock::retention_change_allowed`].
    Retention {
        retention: Option<Retention>,
        bypass_governance: bool,
    },
    LegalHold(bool),
}

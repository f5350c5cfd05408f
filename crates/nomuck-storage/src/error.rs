use nomuck_blob::BlobError;
use nomuck_checksum::ChecksumAlgorithm;
use nomuck_meta::{MetaError, Millis, Refusal};

/// Error a request body stream reported (kept whole so the API crate can
/// recognise e.g. a signature failure inside an aws-chunked body).
pub type BodyError = Box<dyn std::error::Error + Send + Sync>;

/// Everything a storage operation can fail with. The S3 API crate maps each
/// variant to its wire error; the comments name the usual S3 code.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// `InvalidBucketName`
    #[error("the bucket name {name:?} is not valid: {reason}")]
    InvalidBucketName { name: String, reason: &'static str },
    /// `KeyTooLongError` (over 1024 bytes) or `InvalidArgument` (empty).
    #[error("invalid object key: {0}")]
    InvalidKey(&'static str),
    /// `NoSuchBucket`
    #[error("the bucket {0:?} does not exist")]
    NoSuchBucket(String),
    /// `BucketAlreadyExists`: taken by another account.
    #[error("the bucket name {0:?} is already taken")]
    BucketAlreadyExists(String),
    /// `BucketAlreadyOwnedByYou`
    #[error("you already own the bucket {0:?}")]
    BucketAlreadyOwnedByYou(String),
    /// `BucketNotEmpty`
    #[error("the bucket {0:?} is not empty")]
    BucketNotEmpty(String),
    /// `AccessDenied`
    #[error("access denied")]
    AccessDenied,
    /// `NoSuchKey`. `delete_marker` is the version id of the delete marker
    /// that hides the key, if one does (S3 then sets `x-amz-delete-marker`).
    #[error("the key does not exist")]
    NoSuchKey { delete_marker: Option<String> },
    /// `NoSuchVersion`
    #[error("the version does not exist")]
    NoSuchVersion,
    /// `MethodNotAllowed`: the named version is a delete marker.
    #[error("the version is a delete marker")]
    VersionIsDeleteMarker { version_id: String },
    /// `NoSuchUpload`
    #[error("the multipart upload {0:?} does not exist")]
    NoSuchUpload(String),
    /// `InvalidRange` (416); `size` is the object size for `Content-Range: bytes */size`.
    #[error("the requested range is not satisfiable")]
    InvalidRange { size: u64 },
    /// `InvalidPart` (400): a `partNumber` read past the object's parts.
    #[error("the requested part number is not satisfiable")]
    InvalidPartNumber { parts_count: u32 },
    /// `PreconditionFailed` (412)
    #[error("a precondition failed")]
    PreconditionFailed,
    /// 304 Not Modified, with the headers S3 still sends.
    #[error("not modified")]
    NotModified { etag: String, last_modified: Millis },
    /// `InvalidDigest`: `Content-MD5` is not base64 of 16 bytes.
    #[error("the Content-MD5 value is not valid")]
    InvalidDigest,
    /// `BadDigest`: the body does not match `Content-MD5`.
    #[error("the Content-MD5 does not match the body")]
    BadDigest,
    /// `InvalidRequest` / `InvalidArgument`: a malformed `x-amz-checksum-*` value.
    #[error("invalid checksum: {0}")]
    InvalidChecksum(String),
    /// `BadDigest` ("The {algorithm} you specified did not match the calculated checksum").
    #[error("the {algorithm} checksum does not match the body")]
    ChecksumMismatch { algorithm: ChecksumAlgorithm },
    /// `IncompleteBody`: fewer (or more) bytes than the declared length.
    #[error("the body had {received} bytes, {expected} were declared")]
    IncompleteBody { expected: u64, received: u64 },
    /// `EntityTooSmall`
    #[error("part {part_number} is smaller than the minimum allowed size")]
    EntityTooSmall { part_number: u32 },
    /// `EntityTooLarge`
    #[error("the object exceeds the maximum allowed size of {max} bytes")]
    EntityTooLarge { max: u64 },
    /// `InvalidPart`
    #[error("invalid part {part_number}: {reason}")]
    InvalidPart { part_number: u32, reason: String },
    /// `InvalidPartOrder`
    #[error("the list of parts was not in ascending order")]
    InvalidPartOrder,
    /// `InvalidTag`
    #[error("invalid tag: {0}")]
    InvalidTag(String),
    /// `MetadataTooLarge`: user metadata over S3's 2 KiB.
    #[error("user metadata is {size} bytes; at most {max} are allowed")]
    MetadataTooLarge { size: usize, max: usize },
    /// `NotImplemented`: a feature this server does not offer yet.
    #[error("not implemented: {0}")]
    Unsupported(String),
    /// `MalformedPolicy`
    #[error("malformed policy: {0}")]
    MalformedPolicy(String),
    /// The bucket has no configuration document of this kind
    /// (`NoSuchBucketPolicy`, `NoSuchPublicAccessBlockConfiguration`, ...).
    #[error("the bucket has no {0} configuration")]
    NoSuchConfig(&'static str),
    /// `AccessControlListNotSupported`: ACLs are disabled (BucketOwnerEnforced).
    #[error("the bucket does not allow ACLs")]
    AclNotSupported,
    /// `InvalidBucketAclWithObjectOwnership`
    #[error("the bucket ACL grants access that BucketOwnerEnforced would remove")]
    InvalidBucketAclWithObjectOwnership,
    /// `AccessDenied` (403) "Access Denied because object protected by object
    /// lock.": a retention or legal hold forbids removing or weakening a version.
    #[error("the object is protected by object lock")]
    ObjectLocked,
    /// `InvalidBucketState` (409), e.g. object lock on an unversioned bucket.
    #[error("invalid bucket state: {0}")]
    InvalidBucketState(String),
    /// `InvalidRetentionPeriod` (400): a default retention of no days or years.
    #[error("invalid retention period: {0}")]
    InvalidRetentionPeriod(String),
    /// `InvalidTargetBucketForLogging`: a logging target that does not
    /// exist, or belongs to another account or region.
    #[error("invalid logging target: {0}")]
    InvalidTargetBucketForLogging(String),
    /// `InvalidArgument`
    /// A KMS refusal, with the S3 code AWS answers (`KMS.DisabledException`, …).
    #[error("{code}: {message}")]
    Kms { code: &'static str, message: String },

    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// `InvalidRequest`
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// The request body stream failed; the original error is kept.
    #[error("request body error: {0}")]
    Body(BodyError),
    /// `SlowDown` / `ServiceUnavailable`: the metadata store is overloaded or down.
    #[error("storage temporarily unavailable: {0}")]
    Unavailable(String),
    /// `InternalError`
    #[error("internal storage error: {0}")]
    Internal(String),
}

impl From<BlobError> for StorageError {
    fn from(e: BlobError) -> Self {
        StorageError::Internal(e.to_string())
    }
}

impl From<MetaError> for StorageError {
    fn from(e: MetaError) -> Self {
        match e {
            MetaError::Refused(r) => r.into(),
            MetaError::Unavailable(m) => StorageError::Unavailable(m),
            // The engine validates first; whatever still slips through is the
            // caller's malformed input, not a server fault.
            MetaError::Invalid(m) => StorageError::InvalidArgument(m),
            other => StorageError::Internal(other.to_string()),
        }
    }
}

impl From<Refusal> for StorageError {
    fn from(r: Refusal) -> Self {
        match r {
            Refusal::NoSuchBucket(b) => StorageError::NoSuchBucket(b),
            Refusal::BucketExists {
                name,
                owned_by_you: true,
            } => StorageError::BucketAlreadyOwnedByYou(name),
            Refusal::BucketExists { name, .. } => StorageError::BucketAlreadyExists(name),
            Refusal::BucketNotEmpty(b) => StorageError::BucketNotEmpty(b),
            // The bucket changed hands since the caller was authorized.
            Refusal::BucketOwnerChanged(_) => StorageError::AccessDenied,
            Refusal::NoSuchKey => StorageError::NoSuchKey {
                delete_marker: None,
            },
            Refusal::NoSuchVersion => StorageError::NoSuchVersion,
            Refusal::NoSuchUpload(u) => StorageError::NoSuchUpload(u),
            Refusal::PreconditionFailed => StorageError::PreconditionFailed,
            Refusal::InvalidPart {
                part_number,
                reason,
            } => StorageError::InvalidPart {
                part_number,
                reason,
            },
            Refusal::InvalidPartOrder => StorageError::InvalidPartOrder,
            Refusal::BadDigest => StorageError::BadDigest,
            Refusal::EntityTooSmall { part_number } => StorageError::EntityTooSmall { part_number },
            Refusal::CopySourceGone => StorageError::NoSuchKey {
                delete_marker: None,
            },
            Refusal::ObjectLocked => StorageError::ObjectLocked,
            Refusal::InvalidBucketState => StorageError::InvalidBucketState(
                "Object Lock needs the bucket's versioning to be Enabled".into(),
            ),
        }
    }
}

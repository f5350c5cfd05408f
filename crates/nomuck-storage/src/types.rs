//! Request and response types of [`crate::Storage`] operations.

use bytes::Bytes;
use futures_util::stream::BoxStream;
use nomuck_checksum::ChecksumAlgorithm;
use nomuck_meta::{
    ChecksumType, CompletedPart, Millis, MultipartUpload, ObjectChecksum, ObjectHeaders,
    ObjectSummary, Part, PartSummary,
};

use crate::StorageError;

/// Object bytes as a stream (bounded chunks, never the whole object).
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// Who is asking, for authorization and metering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// `None` for anonymous requests.
    pub account_id: Option<String>,
    /// The edge's request id; usage idempotency keys derive from it.
    pub request_id: String,
    /// `x-amz-expected-bucket-owner`: the request is refused (403) if the
    /// bucket belongs to another account.
    pub expected_bucket_owner: Option<String>,
    /// What bucket policy conditions may ask about the request.
    pub facts: std::sync::Arc<RequestFacts>,
}

/// The ACL a write asks for. A canned ACL is expanded once the object's
/// owner is known (`bucket-owner-*` name the bucket owner).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestedAcl {
    Canned(nomuck_policy::CannedAcl),
    /// From `x-amz-grant-*` headers or an `AccessControlPolicy` document. Its
    /// owner, when not empty, must be the resource's owner.
    Grants(nomuck_policy::Acl),
}

/// Facts about a request for bucket policy conditions. Turned into condition
/// keys only when the bucket has a policy, so other requests pay nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestFacts {
    pub source_ip: Option<std::net::IpAddr>,
    /// Whether the request arrived over TLS (`aws:SecureTransport`).
    pub secure_transport: bool,
    /// Other condition keys and their values (`s3:prefix`, `aws:UserAgent`, ...).
    pub keys: Vec<(&'static str, String)>,
    /// Tags of the existing object a request is on (`s3:ExistingObjectTag/<key>`).
    pub tags: Vec<(String, String)>,
    /// Tags the request sets (`s3:RequestObjectTag/<key>`).
    pub request_tags: Vec<(String, String)>,
}

impl Caller {
    pub fn account(account_id: impl Into<String>, request_id: impl Into<String>) -> Self {
        Self {
            account_id: Some(account_id.into()),
            request_id: request_id.into(),
            expected_bucket_owner: None,
            facts: std::sync::Arc::default(),
        }
    }

    pub fn anonymous(request_id: impl Into<String>) -> Self {
        Self {
            account_id: None,
            request_id: request_id.into(),
            expected_bucket_owner: None,
            facts: std::sync::Arc::default(),
        }
    }

    pub fn expecting_bucket_owner(mut self, owner: Option<String>) -> Self {
        self.expected_bucket_owner = owner;
        self
    }

    pub fn with_facts(mut self, facts: RequestFacts) -> Self {
        self.facts = std::sync::Arc::new(facts);
        self
    }
}

/// A bucket as shown to its owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BucketInfo {
    pub name: String,
    pub owner: String,
    pub region: String,
    pub created_at: Millis,
    pub versioning: nomuck_meta::Versioning,
}

/// HTTP conditional-request headers, already parsed (dates as epoch millis).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions {
    /// `If-Match`: comma-separated ETags or `*`.
    pub if_match: Option<String>,
    /// `If-None-Match`: comma-separated ETags or `*`.
    pub if_none_match: Option<String>,
    pub if_modified_since: Option<Millis>,
    pub if_unmodified_since: Option<Millis>,
}

/// A `Range: bytes=…` request (one range).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// `bytes=first-last`, both inclusive.
    FromTo(u64, u64),
    /// `bytes=first-`
    From(u64),
    /// `bytes=-n`: the last `n` bytes.
    Suffix(u64),
}

/// Which additional checksum to compute and, optionally, the value to verify.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChecksumRequest {
    /// `x-amz-sdk-checksum-algorithm` / the algorithm of an aws-chunked
    /// trailer (whose value the edge verifies).
    pub algorithm: Option<ChecksumAlgorithm>,
    /// An `x-amz-checksum-*` header: the body must match this base64 value.
    pub expected: Option<(ChecksumAlgorithm, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PutObjectRequest {
    /// `Content-Length` (or `x-amz-decoded-content-length`), if declared.
    pub content_length: Option<u64>,
    /// `Content-MD5` as sent (base64).
    pub content_md5: Option<String>,
    pub checksum: ChecksumRequest,
    pub headers: ObjectHeaders,
    /// `x-amz-storage-class`; `STANDARD` if absent.
    pub storage_class: Option<String>,
    /// `x-amz-tagging`, already parsed.
    pub tags: Vec<(String, String)>,
    /// `If-Match` (conditional write).
    pub if_match: Option<String>,
    /// `If-None-Match`: only `*` is supported, as in S3.
    pub if_none_match: Option<String>,
    /// The ACL the object gets (`x-amz-acl` / `x-amz-grant-*`); `None`:
    /// its owner's private ACL.
    pub acl: Option<RequestedAcl>,
    /// A browser POST upload (its event is `ObjectCreated:Post`).
    pub form_upload: bool,
    /// `x-amz-object-lock-*`.
    pub lock: crate::LockRequest,
    /// Server-side encryption asked for; `None`: the bucket's default.
    pub sse: Option<crate::SseRequest>,
    /// A write the service makes itself (a server access log delivery): not
    /// metered as a request, as AWS charges none for log delivery.
    pub service_delivery: bool,
}

/// Result of a write that creates an object version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PutObjectOutput {
    /// Without quotes.
    pub etag: String,
    /// `None` in buckets that never had versioning.
    pub version_id: Option<String>,
    pub checksum: Option<ObjectChecksum>,
    pub size: u64,
    pub last_modified: Millis,
    /// When lifecycle rules will expire the new object (`x-amz-expiration`).
    pub expiration: Option<Expiry>,
    /// How the new object is encrypted.
    pub sse: Option<crate::SseInfo>,
}

/// When a lifecycle rule will expire an object, and which rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expiry {
    pub at: Millis,
    pub rule_id: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetObjectRequest {
    pub version_id: Option<String>,
    pub range: Option<ByteRange>,
    /// `partNumber`: return one part of a multipart object.
    pub part_number: Option<u32>,
    pub conditions: Conditions,
    /// The key of an SSE-C object.
    pub sse_customer: Option<crate::CustomerKey>,
}

/// Everything GET/HEAD report about an object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub bucket: String,
    pub key: String,
    /// `None` in buckets that never had versioning.
    pub version_id: Option<String>,
    pub size: u64,
    /// Without quotes.
    pub etag: String,
    pub last_modified: Millis,
    pub headers: ObjectHeaders,
    pub storage_class: String,
    pub checksum: Option<ObjectChecksum>,
    pub owner: String,
    pub tag_count: usize,
    /// Set for multipart objects (`x-amz-mp-parts-count`).
    pub parts_count: Option<u32>,
    /// Set for a current version that lifecycle rules will expire.
    pub expiration: Option<Expiry>,
    /// Retention and legal hold (`x-amz-object-lock-*`).
    pub lock: nomuck_meta::ObjectLock,
    /// How the object is encrypted.
    pub sse: Option<crate::SseInfo>,
}

/// The byte range actually served (for `Content-Range`), inclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContentRange {
    pub start: u64,
    pub end: u64,
    pub total: u64,
}

pub struct GetObjectOutput {
    pub info: ObjectInfo,
    /// `Some` for a range or part request (206).
    pub range: Option<ContentRange>,
    pub content_length: u64,
    pub body: ByteStream,
}

impl std::fmt::Debug for GetObjectOutput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GetObjectOutput")
            .field("info", &self.info)
            .field("range", &self.range)
            .field("content_length", &self.content_length)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadObjectOutput {
    pub info: ObjectInfo,
    pub range: Option<ContentRange>,
    pub content_length: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteObjectRequest {
    pub version_id: Option<String>,
    /// `If-Match` (conditional delete).
    pub if_match: Option<String>,
    /// `x-amz-bypass-governance-retention: true`.
    pub bypass_governance: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeleteObjectOutput {
    /// The version removed, or the delete marker created.
    pub version_id: Option<String>,
    /// A delete marker was created, or the removed version was one.
    pub delete_marker: bool,
}

/// One entry of a DeleteObjects request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectToDelete {
    pub key: String,
    pub version_id: Option<String>,
    /// `<ETag>`: delete only if the current object has this ETag, else this
    /// key fails with `PreconditionFailed` (as `If-Match` on DeleteObject).
    pub if_match: Option<String>,
}

/// One entry of a DeleteObjects result.
#[derive(Debug)]
pub enum DeleteResult {
    Deleted {
        key: String,
        output: DeleteObjectOutput,
    },
    Failed {
        key: String,
        version_id: Option<String>,
        error: StorageError,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Directive {
    #[default]
    Copy,
    Replace,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CopyObjectRequest {
    pub source_bucket: String,
    pub source_key: String,
    pub source_version_id: Option<String>,
    /// `x-amz-source-expected-bucket-owner`: `AccessDenied` if the source
    /// bucket is another account's.
    pub source_expected_bucket_owner: Option<String>,
    /// `x-amz-copy-source-if-*`; any failure is `PreconditionFailed`.
    pub source_conditions: Conditions,
    pub metadata_directive: Directive,
    /// Used with `metadata_directive: Replace`.
    pub headers: ObjectHeaders,
    pub storage_class: Option<String>,
    pub tagging_directive: Directive,
    /// Used with `tagging_directive: Replace`.
    pub tags: Vec<(String, String)>,
    /// Recompute the checksum in this algorithm (copies the bytes if it
    /// differs from the source's).
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
    /// The ACL the object gets (`x-amz-acl` / `x-amz-grant-*`); `None`:
    /// its owner's private ACL.
    pub acl: Option<RequestedAcl>,
    /// `x-amz-object-lock-*` (the source's lock is not copied, as in S3).
    pub lock: crate::LockRequest,
    /// Encryption of the copy; `None`: the bucket's default.
    pub sse: Option<crate::SseRequest>,
    /// The key of an SSE-C source.
    pub source_sse_customer: Option<crate::CustomerKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CopyObjectOutput {
    pub etag: String,
    pub last_modified: Millis,
    pub version_id: Option<String>,
    pub source_version_id: Option<String>,
    pub checksum: Option<ObjectChecksum>,
    /// When lifecycle rules will expire the copy (`x-amz-expiration`).
    pub expiration: Option<Expiry>,
    pub sse: Option<crate::SseInfo>,
}

/// Where a listing resumes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum ListFrom {
    #[default]
    Beginning,
    /// V1 `marker` or V2 `start-after`: keys after this one.
    Marker(String),
    /// V2 `continuation-token` from an earlier page (opaque).
    ContinuationToken(String),
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListObjectsRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Capped at 1000.
    pub max_keys: usize,
    pub from: ListFrom,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListObjectsOutput {
    pub objects: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    /// When truncated: the last key or common prefix returned (V1 `NextMarker`).
    pub next_marker: Option<String>,
    /// When truncated: V2 `NextContinuationToken`.
    pub next_continuation_token: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListVersionsRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    pub max_keys: usize,
    pub key_marker: Option<String>,
    pub version_id_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListVersionsOutput {
    /// Versions and delete markers (`is_delete_marker`), keys in order,
    /// each key's versions newest first.
    pub versions: Vec<ObjectSummary>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_version_id_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateMultipartRequest {
    pub headers: ObjectHeaders,
    pub storage_class: Option<String>,
    pub tags: Vec<(String, String)>,
    pub checksum_algorithm: Option<ChecksumAlgorithm>,
    pub checksum_type: Option<ChecksumType>,
    /// The ACL the object gets (`x-amz-acl` / `x-amz-grant-*`); `None`:
    /// its owner's private ACL.
    pub acl: Option<RequestedAcl>,
    /// `x-amz-object-lock-*`.
    pub lock: crate::LockRequest,
    /// Encryption of every part and the object; `None`: the bucket's default.
    pub sse: Option<crate::SseRequest>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPartRequest {
    pub content_length: Option<u64>,
    pub content_md5: Option<String>,
    pub checksum: ChecksumRequest,
    /// The upload's SSE-C key, sent again with each part.
    pub sse_customer: Option<crate::CustomerKey>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadPartOutput {
    /// Without quotes.
    pub etag: String,
    /// The part's checksum in the upload's algorithm.
    pub checksum: Option<(ChecksumAlgorithm, String)>,
    pub size: u64,
    pub last_modified: Millis,
    pub sse: Option<crate::SseInfo>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadPartCopyRequest {
    pub source_bucket: String,
    pub source_key: String,
    pub source_version_id: Option<String>,
    /// `x-amz-source-expected-bucket-owner`, as in [`CopyObjectRequest`].
    pub source_expected_bucket_owner: Option<String>,
    /// `x-amz-copy-source-range: bytes=first-last` (inclusive).
    pub source_range: Option<(u64, u64)>,
    pub source_conditions: Conditions,
    /// The upload's SSE-C key, sent again with each part.
    pub sse_customer: Option<crate::CustomerKey>,
    /// The key of an SSE-C source.
    pub source_sse_customer: Option<crate::CustomerKey>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPartsRequest {
    pub part_number_marker: u32,
    /// Capped at 1000.
    pub max_parts: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListPartsOutput {
    pub upload: MultipartUpload,
    pub parts: Vec<Part>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListUploadsRequest {
    pub prefix: String,
    pub delimiter: Option<String>,
    /// Capped at 1000.
    pub max_uploads: usize,
    pub key_marker: Option<String>,
    pub upload_id_marker: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListUploadsOutput {
    pub uploads: Vec<MultipartUpload>,
    pub common_prefixes: Vec<String>,
    pub is_truncated: bool,
    pub next_key_marker: Option<String>,
    pub next_upload_id_marker: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CompleteMultipartRequest {
    pub parts: Vec<CompletedPart>,
    /// The full-object checksum sent with a `FULL_OBJECT` upload (stored as given).
    pub full_object_checksum: Option<String>,
    /// `x-amz-checksum-type`: must be the upload's own, as S3 checks.
    pub checksum_type: Option<ChecksumType>,
    pub if_match: Option<String>,
    pub if_none_match: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AttributesRequest {
    pub version_id: Option<String>,
    pub part_number_marker: u32,
    /// Capped at 1000.
    pub max_parts: usize,
    /// The key of an SSE-C object (checked, as S3 does).
    pub sse_customer: Option<crate::CustomerKey>,
}

/// GetObjectAttributes data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectAttributes {
    pub etag: String,
    pub last_modified: Millis,
    pub version_id: Option<String>,
    pub size: u64,
    pub storage_class: String,
    pub checksum: Option<ObjectChecksum>,
    /// `Some` for multipart objects.
    pub parts: Option<PartsPage>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartsPage {
    pub total_parts: u32,
    pub parts: Vec<PartSummary>,
    pub is_truncated: bool,
    pub next_part_number_marker: Option<u32>,
}

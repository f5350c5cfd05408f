use nomuck_checksum::ChecksumAlgorithm;
use thiserror::Error;
use time::OffsetDateTime;

/// Every way a SigV4-authenticated request (or its aws-chunked body) can fail, and the
/// ways an access token sent in place of a signature can.
///
/// Variants are deliberately fine-grained so each protocol crate can map them
/// to its own error codes (S3 XML codes, EC2 codes, ...).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AuthError {
    /// Authorization header present but unparsable or incomplete
    /// (S3: `AuthorizationHeaderMalformed` / `IncompleteSignature`).
    #[error("malformed Authorization header: {0}")]
    MalformedAuthorization(String),
    /// Presigned query parameters unparsable or incomplete
    /// (S3: `AuthorizationQueryParametersError`).
    #[error("malformed presigned query parameters: {0}")]
    MalformedQuery(String),
    /// Not AWS4-HMAC-SHA256 (SigV2, SigV4A, bearer, ...).
    #[error("unsupported authorization algorithm: {0}")]
    UnsupportedAlgorithm(String),
    /// Both an Authorization header and presigned query parameters.
    #[error("only one authentication mechanism is allowed")]
    ConflictingAuth,
    /// The credential scope names another region/service, or is not `aws4_request`.
    #[error("invalid credential scope: {0}")]
    InvalidScope(String),
    /// The credential scope names another region than the server's. S3 answers
    /// `AuthorizationHeaderMalformed` (`AuthorizationQueryParametersError` when
    /// presigned) naming the expected region; the query protocols answer
    /// `SignatureDoesNotMatch`.
    #[error("the region '{region}' is wrong; expecting '{expected}'")]
    WrongRegion {
        region: String,
        expected: String,
        presigned: bool,
    },
    /// No usable `x-amz-date` / `Date` header (or `X-Amz-Date` parameter).
    #[error("missing or invalid request date: {0}")]
    InvalidDate(String),
    /// A header that must be signed is not in SignedHeaders (S3: `AccessDenied`).
    #[error("headers present in the request were not signed: {0}")]
    HeadersNotSigned(String),
    /// Returned by the caller when the access key id is not known.
    #[error("unknown access key id")]
    UnknownAccessKey,
    #[error("signature does not match")]
    SignatureMismatch {
        string_to_sign: String,
        canonical_request: String,
    },
    #[error("request time too skewed")]
    RequestTimeTooSkewed {
        request_time: OffsetDateTime,
        server_time: OffsetDateTime,
    },
    #[error("presigned request has expired")]
    PresignExpired,
    /// A presigned URL dated too far in the future.
    #[error("presigned request is not valid yet")]
    PresignNotYetValid {
        request_time: OffsetDateTime,
        server_time: OffsetDateTime,
    },
    #[error("X-Amz-Expires must be between 1 and 604800 seconds")]
    ExpiresOutOfRange,
    #[error("x-amz-content-sha256 does not match the body")]
    ContentSha256Mismatch { declared: String, computed: String },
    #[error("invalid x-amz-content-sha256: {0}")]
    InvalidContentSha256(String),
    /// `verify` was called for a request without x-amz-content-sha256 but no
    /// body hash was supplied: a caller bug, never the client's fault.
    #[error("body hash required to verify this request")]
    MissingBodyHash,
    #[error("invalid {name} header: {reason}")]
    InvalidHeader { name: &'static str, reason: String },
    #[error("aws-chunked chunk signature does not match")]
    ChunkSignatureMismatch,
    #[error("aws-chunked trailer signature does not match")]
    TrailerSignatureMismatch,
    /// Framing error in an aws-chunked body (S3: `IncompleteBody`).
    #[error("malformed aws-chunked body: {0}")]
    MalformedChunk(String),
    /// The body ended before the aws-chunked stream was complete (S3: `IncompleteBody`).
    #[error("request body ended unexpectedly")]
    IncompleteBody,
    /// A non-final chunk smaller than the minimum (S3: `InvalidChunkSizeError`).
    #[error("chunk of {size} bytes is below the {min}-byte minimum")]
    InvalidChunkSize { size: u64, min: u64 },
    #[error("chunk larger than the {max}-byte limit")]
    ChunkTooLarge { max: u64 },
    /// S3: `MalformedTrailerError`.
    #[error("malformed trailer: {0}")]
    MalformedTrailer(String),
    /// S3: `BadDigest` / `InvalidRequest` ("checksum mismatch").
    #[error("trailing {algorithm} checksum does not match the body")]
    TrailerChecksumMismatch { algorithm: ChecksumAlgorithm },
    #[error("declared trailer was not sent")]
    MissingTrailer,
    /// S3: `MissingContentLength` for aws-chunked uploads.
    #[error("x-amz-decoded-content-length is required for aws-chunked bodies")]
    MissingDecodedLength,
    #[error("decoded body length {actual} differs from x-amz-decoded-content-length {expected}")]
    DecodedLengthMismatch { expected: u64, actual: u64 },
    /// An `x-amz-access-token` (LWA-style bearer token, sent instead of a signature
    /// by SP-API client libraries) that this server did not issue or cannot read.
    #[error("the access token is invalid: {0}")]
    InvalidAccessToken(String),
    /// An access token past its expiry; the client should fetch a new one.
    #[error("the access token has expired")]
    AccessTokenExpired,
    /// An authentic access token whose client was revoked or whose account is gone.
    #[error("the access token has been revoked")]
    AccessTokenRevoked,
}

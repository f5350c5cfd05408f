//! AWS Signature Version 4: server-side verification for every nomuck
//! service, a signer for nomuck's own clients, and the aws-chunked
//! (`STREAMING-*`) body decoder.
//!
//! Typical server flow:
//! 1. [`parse_request`] (cheap, no secrets) -> `None` for anonymous requests.
//! 2. Look up the secret for `access_key_id` (else [`AuthError::UnknownAccessKey`]),
//!    [`derive_signing_key`] once per scope and cache it.
//! 3. [`verify`] the request line and headers.
//! 4. Body: [`PayloadHash::Sha256`] -> [`Sha256BodyCheck`]; streaming payloads ->
//!    [`ChunkedDecoder::for_request`] wrapped in [`AwsChunkedBody`].
//!
//! ```ignore
//! let (parts, body) = hyper_request.into_parts(); // body: hyper::body::Incoming
//! let req = parse_request(&parts.method, &parts.uri, &parts.headers)?.ok_or(Anonymous)?;
//! req.scope.check("us-east-1", "s3")?;
//! let key = cache.get_or_derive(&req.access_key_id, &req.scope)?; // UnknownAccessKey
//! verify(&req, &parts.method, &parts.uri, &parts.headers, None, &key, UriEncoding::S3, now)?;
//! if let Some(dec) = ChunkedDecoder::for_request(&req, &parts.headers, &key)? {
//!     let body = AwsChunkedBody::new(body, dec); // impl http_body::Body<Data = Bytes>
//!     let trailer = body.trailer_handle();
//!     store(body).await?; // any Err frame => discard what was written
//!     let checksum = trailer.checksum(); // Some(..) iff x-amz-trailer declared one
//! }
//! ```

mod body;
mod canonical;
mod chunked;
mod error;
mod form;
mod key;
mod parse;
mod sign;
mod timefmt;
pub mod v2;
mod verify;

pub use body::{
    AwsChunkedBody, AwsChunkedBodyError, Sha256BodyCheck, StreamSummary, TrailerHandle,
};
pub use chunked::{
    ChunkedConfig, ChunkedDecoder, ChunkedMode, DEFAULT_MAX_CHUNK_SIZE, DEFAULT_MIN_CHUNK_SIZE,
};
pub use error::AuthError;
pub use form::FormSignature;
pub use key::{SigningKey, derive_signing_key, derive_signing_key_bytes};
pub use parse::{AuthKind, CredentialScope, PayloadHash, SignedRequest, parse_request};
pub use sign::{
    ChunkSigner, Credentials, SigningParams, encode_aws_chunked, presign_url, sign_request,
};
pub use verify::{MAX_CLOCK_SKEW, MAX_PRESIGN_EXPIRES_SECS, verify};

/// How the canonical URI is derived from the request path.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UriEncoding {
    /// S3: the path is decoded and re-encoded once; no normalization.
    S3,
    /// Every other AWS-style service: `.`/`..`/`//` normalized, encoded twice.
    Standard,
}

/// `x-amz-content-sha256` value for an unsigned payload.
pub const UNSIGNED_PAYLOAD: &str = "UNSIGNED-PAYLOAD";
/// `x-amz-content-sha256` for signed aws-chunked bodies.
pub const STREAMING_SIGNED: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD";
/// `x-amz-content-sha256` for signed aws-chunked bodies with signed trailers.
pub const STREAMING_SIGNED_TRAILER: &str = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER";
/// `x-amz-content-sha256` for unsigned aws-chunked bodies with trailers.
pub const STREAMING_UNSIGNED_TRAILER: &str = "STREAMING-UNSIGNED-PAYLOAD-TRAILER";
/// SHA-256 of the empty string, hex.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

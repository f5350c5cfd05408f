use http::{HeaderMap, Method, Uri};
use subtle::ConstantTimeEq;
use time::{Duration, OffsetDateTime};

use crate::canonical::{CanonicalInput, canonical_request, string_to_sign};
use crate::timefmt::{format_amz_date, format_date};
use crate::{AuthError, AuthKind, PayloadHash, SignedRequest, SigningKey, UriEncoding};

/// Maximum difference between the request time and the server clock.
pub const MAX_CLOCK_SKEW: Duration = Duration::minutes(15);
/// Largest `X-Amz-Expires` AWS accepts (7 days).
pub const MAX_PRESIGN_EXPIRES_SECS: u64 = 604_800;

fn malformed(kind: AuthKind, msg: &str) -> AuthError {
    match kind {
        AuthKind::Header => AuthError::MalformedAuthorization(msg.to_owned()),
        AuthKind::Presigned => AuthError::MalformedQuery(msg.to_owned()),
    }
}

fn check_time(req: &SignedRequest, now: OffsetDateTime) -> Result<(), AuthError> {
    let ts = req.timestamp;
    match req.kind {
        AuthKind::Header => {
            if (ts - now).abs() > MAX_CLOCK_SKEW {
                return Err(AuthError::RequestTimeTooSkewed {
                    request_time: ts,
                    server_time: now,
                });
            }
        }
        AuthKind::Presigned => {
            let expires = req.expires_secs.unwrap_or(0);
            if !(1..=MAX_PRESIGN_EXPIRES_SECS).contains(&expires) {
                return Err(AuthError::ExpiresOutOfRange);
            }
            if ts - now > MAX_CLOCK_SKEW {
                return Err(AuthError::PresignNotYetValid {
                    request_time: ts,
                    server_time: now,
                });
            }
            // `expires` <= 604800 so the cast cannot truncate.
            if now - ts > Duration::seconds(expires as i64) {
                return Err(AuthError::PresignExpired);
            }
        }
    }
    Ok(())
}

/// Headers whose presence must be covered by the signature.
fn check_signed_headers(req: &SignedRequest, headers: &HeaderMap) -> Result<(), AuthError> {
    let signed = |name: &str| req.signed_headers.iter().any(|h| h == name);
    if !signed("host") {
        return Err(AuthError::HeadersNotSigned("host".to_owned()));
    }
    if req.kind == AuthKind::Header {
        // S3 rejects unsigned x-amz-* headers so that a captured request
        // cannot be replayed with, say, an added x-amz-copy-source.
        let mut unsigned: Vec<&str> = Vec::new();
        for name in headers.keys() {
            let n = name.as_str();
            if n.starts_with("x-amz-") && !signed(n) && !unsigned.contains(&n) {
                unsigned.push(n);
            }
        }
        if !headers.contains_key("x-amz-date") && headers.contains_key("date") && !signed("date") {
            unsigned.push("date");
        }
        if !unsigned.is_empty() {
            return Err(AuthError::HeadersNotSigned(unsigned.join(",")));
        }
    }
    Ok(())
}

/// Verifies a parsed request against the derived signing key.
///
/// `body_sha256` is required iff `req.payload` is [`PayloadHash::Missing`];
/// when given alongside a declared [`PayloadHash::Sha256`] it is compared too.
/// Presigned requests with [`UriEncoding::Standard`] sign the body hash
/// (AWS does this for every service but S3): pass it, or `None` for an
/// empty body.
/// Checks, in order: scope date, clock skew / presign validity, mandatory
/// signed headers, then the signature (constant time).
#[allow(clippy::too_many_arguments)]
pub fn verify(
    req: &SignedRequest,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body_sha256: Option<&[u8; 32]>,
    key: &SigningKey,
    encoding: UriEncoding,
    now: OffsetDateTime,
) -> Result<(), AuthError> {
    let amz_date = format_amz_date(req.timestamp);
    if req.scope.date != format_date(req.timestamp) {
        return Err(malformed(
            req.kind,
            "credential date does not match the request date",
        ));
    }
    check_time(req, now)?;
    check_signed_headers(req, headers)?;

    let payload = match (&req.payload, body_sha256) {
        (PayloadHash::Missing, Some(h)) => hex::encode(h),
        (PayloadHash::Missing, None) => return Err(AuthError::MissingBodyHash),
        // Only S3 presigns with UNSIGNED-PAYLOAD; other services (STS, EKS
        // tokens, ...) sign the body hash, usually of an empty body.
        (PayloadHash::Unsigned, h)
            if req.kind == AuthKind::Presigned && encoding == UriEncoding::Standard =>
        {
            h.map_or_else(|| crate::EMPTY_SHA256.to_owned(), hex::encode)
        }
        (p, _) => p.canonical_value().unwrap_or_default(),
    };
    let creq = canonical_request(&CanonicalInput {
        method,
        uri,
        headers,
        signed_headers: &req.signed_headers,
        payload: &payload,
        encoding,
        presigned: req.kind == AuthKind::Presigned,
    });
    let scope = req.scope.to_scope_string();
    let sts = string_to_sign(&amz_date, &scope, &creq);
    let expected = key.sign(sts.as_bytes());
    if !bool::from(expected.ct_eq(&req.signature)) {
        return Err(AuthError::SignatureMismatch {
            string_to_sign: sts,
            canonical_request: String::from_utf8_lossy(&creq).into_owned(),
        });
    }
    if let (PayloadHash::Sha256(declared), Some(computed)) = (&req.payload, body_sha256)
        && declared != computed
    {
        return Err(AuthError::ContentSha256Mismatch {
            declared: hex::encode(declared),
            computed: hex::encode(computed),
        });
    }
    Ok(())
}

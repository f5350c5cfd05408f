//! Client-side signing for nomuck's own tools (CLI admin calls, load
//! generator). Shares the canonicalization code with the verifier.

use std::fmt;

use http::header::{AUTHORIZATION, HOST};
use http::{HeaderMap, HeaderValue, Method, Uri};
use nomuck_checksum::Checksum;
use time::OffsetDateTime;

use crate::canonical::{CanonicalInput, canonical_request, hex32, string_to_sign, uri_encode};
use crate::key::sha256;
use crate::timefmt::{format_amz_date, format_date};
use crate::verify::MAX_PRESIGN_EXPIRES_SECS;
use crate::{AuthError, CredentialScope, EMPTY_SHA256, PayloadHash, SigningKey, UriEncoding};

/// Long-term or session credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone)]
pub struct SigningParams<'a> {
    pub credentials: &'a Credentials,
    pub region: &'a str,
    pub service: &'a str,
    pub time: OffsetDateTime,
    pub encoding: UriEncoding,
}

impl SigningParams<'_> {
    pub fn scope(&self) -> CredentialScope {
        CredentialScope::new(format_date(self.time), self.region, self.service)
    }
}

/// Headers never signed because proxies legitimately rewrite them.
const UNSIGNABLE: &[&str] = &[
    "authorization",
    "user-agent",
    "x-amzn-trace-id",
    "transfer-encoding",
    "expect",
    "connection",
];

fn invalid_header(name: &'static str, reason: &str) -> AuthError {
    AuthError::InvalidHeader {
        name,
        reason: reason.to_owned(),
    }
}

fn ensure_host(uri: &Uri, headers: &mut HeaderMap) -> Result<(), AuthError> {
    if headers.contains_key(HOST) {
        return Ok(());
    }
    let authority = uri
        .authority()
        .ok_or_else(|| invalid_header("host", "no Host header and no authority in the URI"))?;
    // Default ports are dropped, as HTTP clients do when sending Host.
    let host = match (uri.scheme_str(), authority.port_u16()) {
        (Some("http"), Some(80)) | (Some("https"), Some(443)) => authority.host(),
        _ => authority.as_str(),
    };
    let v = HeaderValue::from_str(host).map_err(|_| invalid_header("host", "invalid"))?;
    headers.insert(HOST, v);
    Ok(())
}

/// Signs a request in place with header auth: sets `host` (if absent),
/// `x-amz-date`, `x-amz-content-sha256`, `x-amz-security-token` (sessions)
/// and `authorization`. Every other header present is signed.
///
/// Returns the signature, which is the seed for [`ChunkSigner`] when the
/// payload is a `STREAMING-*` one.
pub fn sign_request(
    method: &Method,
    uri: &Uri,
    headers: &mut HeaderMap,
    payload: &PayloadHash,
    params: &SigningParams<'_>,
) -> Result<[u8; 32], AuthError> {
    let payload = payload.canonical_value().ok_or_else(|| {
        AuthError::InvalidContentSha256("the signer needs the payload hash".to_owned())
    })?;
    ensure_host(uri, headers)?;
    let amz_date = format_amz_date(params.time);
    headers.remove(AUTHORIZATION);
    headers.insert(
        "x-amz-date",
        HeaderValue::from_str(&amz_date).map_err(|_| invalid_header("x-amz-date", "invalid"))?,
    );
    headers.insert(
        "x-amz-content-sha256",
        HeaderValue::from_str(&payload)
            .map_err(|_| invalid_header("x-amz-content-sha256", "invalid"))?,
    );
    if let Some(token) = &params.credentials.session_token {
        headers.insert(
            "x-amz-security-token",
            HeaderValue::from_str(token)
                .map_err(|_| invalid_header("x-amz-security-token", "invalid"))?,
        );
    }
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !UNSIGNABLE.contains(k))
        .map(str::to_owned)
        .collect();
    signed.sort_unstable();
    signed.dedup();

    let scope = params.scope();
    let creq = canonical_request(&CanonicalInput {
        method,
        uri,
        headers,
        signed_headers: &signed,
        payload: &payload,
        encoding: params.encoding,
        presigned: false,
    });
    let sts = string_to_sign(&amz_date, &scope.to_string(), &creq);
    let key = crate::derive_signing_key(&params.credentials.secret_access_key, &scope);
    let signature = key.sign(sts.as_bytes());
    let auth = format!(
        "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={}, Signature={}",
        params.credentials.access_key_id,
        signed.join(";"),
        hex::encode(signature)
    );
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&auth).map_err(|_| invalid_header("authorization", "invalid"))?,
    );
    Ok(signature)
}

fn push_param(q: &mut Vec<u8>, k: &str, v: &str) {
    if !q.is_empty() {
        q.push(b'&');
    }
    uri_encode(k.as_bytes(), false, q);
    q.push(b'=');
    uri_encode(v.as_bytes(), false, q);
}

/// Builds a presigned URL (UNSIGNED-PAYLOAD). `headers` are extra headers
/// the eventual request must carry and that get signed (`host` is always
/// signed, taken from `headers` or else from the URI authority).
pub fn presign_url(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    expires_secs: u64,
    params: &SigningParams<'_>,
) -> Result<Uri, AuthError> {
    if !(1..=MAX_PRESIGN_EXPIRES_SECS).contains(&expires_secs) {
        return Err(AuthError::ExpiresOutOfRange);
    }
    let mut headers = headers.clone();
    ensure_host(uri, &mut headers)?;
    let mut signed: Vec<String> = headers
        .keys()
        .map(|k| k.as_str())
        .filter(|k| !UNSIGNABLE.contains(k))
        .map(str::to_owned)
        .collect();
    signed.sort_unstable();
    signed.dedup();

    let scope = params.scope();
    let amz_date = format_amz_date(params.time);
    let mut query: Vec<u8> = uri.query().unwrap_or("").as_bytes().to_vec();
    push_param(&mut query, "X-Amz-Algorithm", "AWS4-HMAC-SHA256");
    push_param(
        &mut query,
        "X-Amz-Credential",
        &format!("{}/{scope}", params.credentials.access_key_id),
    );
    push_param(&mut query, "X-Amz-Date", &amz_date);
    push_param(&mut query, "X-Amz-Expires", &expires_secs.to_string());
    push_param(&mut query, "X-Amz-SignedHeaders", &signed.join(";"));
    if let Some(token) = &params.credentials.session_token {
        push_param(&mut query, "X-Amz-Security-Token", token);
    }
    let with_query = |q: &[u8]| -> Result<Uri, AuthError> {
        let mut parts = uri.clone().into_parts();
        let pq = format!("{}?{}", uri.path(), String::from_utf8_lossy(q));
        parts.path_and_query = Some(
            pq.parse()
                .map_err(|_| invalid_header("host", "cannot build the presigned URI"))?,
        );
        Uri::from_parts(parts).map_err(|_| invalid_header("host", "cannot build the presigned URI"))
    };
    let unsigned_uri = with_query(&query)?;
    let creq = canonical_request(&CanonicalInput {
        method,
        uri: &unsigned_uri,
        headers: &headers,
        signed_headers: &signed,
        payload: crate::UNSIGNED_PAYLOAD,
        encoding: params.encoding,
        presigned: true,
    });
    let sts = string_to_sign(&amz_date, &scope.to_string(), &creq);
    let key = crate::derive_signing_key(&params.credentials.secret_access_key, &scope);
    let signature = key.sign(sts.as_bytes());
    push_param(&mut query, "X-Amz-Signature", &hex::encode(signature));
    with_query(&query)
}

/// Running signature chain for aws-chunked bodies (both directions: the
/// decoder uses it to compute the expected signatures).
#[derive(Clone)]
pub struct ChunkSigner {
    key: SigningKey,
    /// `"{amz_date}\n{scope}\n"`, the fixed middle of every string-to-sign.
    prefix: String,
    prev: [u8; 32],
}

impl fmt::Debug for ChunkSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ChunkSigner")
            .field("prev", &hex::encode(self.prev))
            .finish_non_exhaustive()
    }
}

impl ChunkSigner {
    /// `seed_signature` is the request's own (header) signature.
    pub fn new(
        key: SigningKey,
        timestamp: OffsetDateTime,
        scope: &CredentialScope,
        seed_signature: [u8; 32],
    ) -> Self {
        Self {
            key,
            prefix: format!("{}\n{scope}\n", format_amz_date(timestamp)),
            prev: seed_signature,
        }
    }

    /// The last signature in the chain.
    pub fn previous_signature(&self) -> [u8; 32] {
        self.prev
    }

    /// Signature of a chunk given the SHA-256 of its data; advances the chain.
    pub fn sign_chunk_digest(&mut self, data_sha256: &[u8; 32]) -> [u8; 32] {
        let sig = self.key.sign_parts(&[
            b"AWS4-HMAC-SHA256-PAYLOAD\n",
            self.prefix.as_bytes(),
            &hex32(&self.prev),
            b"\n",
            EMPTY_SHA256.as_bytes(),
            b"\n",
            &hex32(data_sha256),
        ]);
        self.prev = sig;
        sig
    }

    /// Signature of a chunk; advances the chain.
    pub fn sign_chunk(&mut self, data: &[u8]) -> [u8; 32] {
        self.sign_chunk_digest(&sha256(data))
    }

    /// Signature over trailing headers; names are lowercased, values trimmed,
    /// lines sorted by name and joined as `name:value\n`.
    pub fn sign_trailer(&mut self, trailers: &[(&str, &str)]) -> [u8; 32] {
        let mut lines: Vec<(String, &str)> = trailers
            .iter()
            .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim()))
            .collect();
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        let mut canon = Vec::new();
        for (n, v) in &lines {
            canon.extend_from_slice(n.as_bytes());
            canon.push(b':');
            canon.extend_from_slice(v.as_bytes());
            canon.push(b'\n');
        }
        let sig = self.key.sign_parts(&[
            b"AWS4-HMAC-SHA256-TRAILER\n",
            self.prefix.as_bytes(),
            &hex32(&self.prev),
            b"\n",
            &hex32(&sha256(&canon)),
        ]);
        self.prev = sig;
        sig
    }
}

/// Encodes a whole in-memory body as aws-chunked (for clients and tests).
///
/// With a signer the chunks are signed (`STREAMING-AWS4-HMAC-SHA256-PAYLOAD`,
/// or `...-TRAILER` when `trailer` is given); without one the result is
/// `STREAMING-UNSIGNED-PAYLOAD-TRAILER` framing.
pub fn encode_aws_chunked(
    data: &[u8],
    chunk_size: usize,
    mut signer: Option<&mut ChunkSigner>,
    trailer: Option<&Checksum>,
) -> Vec<u8> {
    let chunk_size = chunk_size.max(1);
    let mut out = Vec::with_capacity(data.len() + data.len() / chunk_size * 90 + 256);
    let write_chunk = |out: &mut Vec<u8>, chunk: &[u8], signer: &mut Option<&mut ChunkSigner>| {
        out.extend_from_slice(format!("{:x}", chunk.len()).as_bytes());
        if let Some(s) = signer.as_deref_mut() {
            out.extend_from_slice(b";chunk-signature=");
            out.extend_from_slice(hex::encode(s.sign_chunk(chunk)).as_bytes());
        }
        out.extend_from_slice(b"\r\n");
    };
    for chunk in data.chunks(chunk_size) {
        write_chunk(&mut out, chunk, &mut signer);
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    write_chunk(&mut out, &[], &mut signer);
    if let Some(t) = trailer {
        let name = t.algorithm.header_name();
        let value = t.to_base64();
        out.extend_from_slice(format!("{name}:{value}\r\n").as_bytes());
        if let Some(s) = signer {
            let sig = s.sign_trailer(&[(name, &value)]);
            out.extend_from_slice(b"x-amz-trailer-signature:");
            out.extend_from_slice(hex::encode(sig).as_bytes());
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(b"\r\n");
    out
}

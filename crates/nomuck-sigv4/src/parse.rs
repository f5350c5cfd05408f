use std::fmt;

use http::{HeaderMap, Method, Uri};
use time::OffsetDateTime;

use crate::canonical::percent_decode;
use crate::timefmt::{format_amz_date, parse_amz_date, parse_http_date};
use crate::{
    AuthError, STREAMING_SIGNED, STREAMING_SIGNED_TRAILER, STREAMING_UNSIGNED_TRAILER,
    UNSIGNED_PAYLOAD,
};

const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// `date/region/service` of `Credential=AKID/date/region/service/aws4_request`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CredentialScope {
    /// `YYYYMMDD`
    pub date: String,
    pub region: String,
    pub service: String,
}

impl CredentialScope {
    pub fn new(
        date: impl Into<String>,
        region: impl Into<String>,
        service: impl Into<String>,
    ) -> Self {
        Self {
            date: date.into(),
            region: region.into(),
            service: service.into(),
        }
    }

    /// Checks the scope names this endpoint; S3 reports a mismatch as
    /// `AuthorizationHeaderMalformed` ("the region 'x' is wrong").
    pub fn check(&self, region: &str, service: &str) -> Result<(), AuthError> {
        if self.region != region {
            return Err(AuthError::InvalidScope(format!(
                "the region '{}' is wrong; expecting '{region}'",
                self.region
            )));
        }
        if self.service != service {
            return Err(AuthError::InvalidScope(format!(
                "the service '{}' is wrong; expecting '{service}'",
                self.service
            )));
        }
        Ok(())
    }
}

impl CredentialScope {
    /// `date/region/service/aws4_request`, without the formatting machinery.
    pub fn to_scope_string(&self) -> String {
        let mut s =
            String::with_capacity(self.date.len() + self.region.len() + self.service.len() + 15);
        s.push_str(&self.date);
        s.push('/');
        s.push_str(&self.region);
        s.push('/');
        s.push_str(&self.service);
        s.push_str("/aws4_request");
        s
    }
}

impl fmt::Display for CredentialScope {
    /// The string-to-sign form: `date/region/service/aws4_request`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{}/{}/aws4_request",
            self.date, self.region, self.service
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuthKind {
    /// `Authorization: AWS4-HMAC-SHA256 ...`
    Header,
    /// `X-Amz-Algorithm=AWS4-HMAC-SHA256&...` in the query string.
    Presigned,
}

/// What the request declares about its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadHash {
    /// No `x-amz-content-sha256` (non-S3 services): the caller hashes the
    /// (small) body and passes it to [`crate::verify`].
    Missing,
    /// `UNSIGNED-PAYLOAD`, and every presigned request that declares nothing.
    Unsigned,
    /// Declared hex digest; check the body with [`crate::Sha256BodyCheck`].
    Sha256([u8; 32]),
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD`
    StreamingSigned,
    /// `STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER`
    StreamingSignedTrailer,
    /// `STREAMING-UNSIGNED-PAYLOAD-TRAILER`
    StreamingUnsignedTrailer,
}

impl PayloadHash {
    /// Parses an `x-amz-content-sha256` value. Hex digests must be lowercase:
    /// the value is signed verbatim and every SDK sends lowercase.
    pub fn parse(value: &str) -> Result<Self, AuthError> {
        Ok(match value {
            UNSIGNED_PAYLOAD => Self::Unsigned,
            STREAMING_SIGNED => Self::StreamingSigned,
            STREAMING_SIGNED_TRAILER => Self::StreamingSignedTrailer,
            STREAMING_UNSIGNED_TRAILER => Self::StreamingUnsignedTrailer,
            v if v.len() == 64 && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) => {
                let mut d = [0u8; 32];
                hex::decode_to_slice(v, &mut d)
                    .map_err(|_| AuthError::InvalidContentSha256(v.to_owned()))?;
                Self::Sha256(d)
            }
            v => return Err(AuthError::InvalidContentSha256(v.to_owned())),
        })
    }

    /// Reads `x-amz-content-sha256` (`Missing` when absent).
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, AuthError> {
        let mut it = headers.get_all("x-amz-content-sha256").iter();
        let Some(v) = it.next() else {
            return Ok(Self::Missing);
        };
        if it.next().is_some() {
            return Err(AuthError::InvalidContentSha256(
                "header repeated".to_owned(),
            ));
        }
        let v = v
            .to_str()
            .map_err(|_| AuthError::InvalidContentSha256("not ASCII".to_owned()))?;
        Self::parse(v.trim())
    }

    /// The literal that goes on the last line of the canonical request
    /// (`None` for `Missing`: the body's own hash is used).
    pub fn canonical_value(&self) -> Option<String> {
        Some(match self {
            Self::Missing => return None,
            Self::Unsigned => UNSIGNED_PAYLOAD.to_owned(),
            Self::Sha256(d) => hex::encode(d),
            Self::StreamingSigned => STREAMING_SIGNED.to_owned(),
            Self::StreamingSignedTrailer => STREAMING_SIGNED_TRAILER.to_owned(),
            Self::StreamingUnsignedTrailer => STREAMING_UNSIGNED_TRAILER.to_owned(),
        })
    }

    /// True for the aws-chunked (`STREAMING-*`) encodings.
    pub fn is_streaming(&self) -> bool {
        matches!(
            self,
            Self::StreamingSigned | Self::StreamingSignedTrailer | Self::StreamingUnsignedTrailer
        )
    }
}

/// The syntactically valid SigV4 parameters of a request; nothing is
/// verified yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRequest {
    pub kind: AuthKind,
    pub access_key_id: String,
    pub scope: CredentialScope,
    /// From `x-amz-date` (or `Date`) for header auth, `X-Amz-Date` for presigned.
    pub timestamp: OffsetDateTime,
    /// Lowercase names in the order the client listed them.
    pub signed_headers: Vec<String>,
    pub signature: [u8; 32],
    /// `X-Amz-Expires` (presigned only).
    pub expires_secs: Option<u64>,
    pub payload: PayloadHash,
    /// `x-amz-security-token` header / `X-Amz-Security-Token` parameter (STS sessions).
    pub session_token: Option<String>,
}

impl SignedRequest {
    /// The timestamp as it appears in the string-to-sign (`YYYYMMDDTHHMMSSZ`).
    pub fn amz_date(&self) -> String {
        format_amz_date(self.timestamp)
    }
}

/// Query parameters relevant to authentication, percent-decoded.
#[derive(Default)]
struct AuthParams {
    algorithm: Option<String>,
    credential: Option<String>,
    date: Option<String>,
    expires: Option<String>,
    signed_headers: Option<String>,
    signature: Option<String>,
    security_token: Option<String>,
    content_sha256: Option<String>,
    sigv2: bool,
}

fn set_once(slot: &mut Option<String>, name: &str, value: String) -> Result<(), AuthError> {
    if slot.is_some() {
        return Err(AuthError::MalformedQuery(format!("{name} is repeated")));
    }
    *slot = Some(value);
    Ok(())
}

fn scan_query(query: &str) -> Result<AuthParams, AuthError> {
    let mut p = AuthParams::default();
    let mut key = Vec::new();
    let mut val = Vec::new();
    for piece in query.split('&') {
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        // Cheap pre-filter: every parameter we care about starts with X or A.
        if !(k.starts_with('X') || k.starts_with('A') || k.starts_with('S') || k.contains('%')) {
            continue;
        }
        key.clear();
        percent_decode(k.as_bytes(), true, &mut key);
        let slot = match key.as_slice() {
            b"X-Amz-Algorithm" => &mut p.algorithm,
            b"X-Amz-Credential" => &mut p.credential,
            b"X-Amz-Date" => &mut p.date,
            b"X-Amz-Expires" => &mut p.expires,
            b"X-Amz-SignedHeaders" => &mut p.signed_headers,
            b"X-Amz-Signature" => &mut p.signature,
            b"X-Amz-Security-Token" => &mut p.security_token,
            b"X-Amz-Content-Sha256" => &mut p.content_sha256,
            b"AWSAccessKeyId" | b"Signature" => {
                p.sigv2 = true;
                continue;
            }
            _ => continue,
        };
        val.clear();
        percent_decode(v.as_bytes(), true, &mut val);
        let value = String::from_utf8(std::mem::take(&mut val)).map_err(|_| {
            AuthError::MalformedQuery(format!("{} is not UTF-8", String::from_utf8_lossy(&key)))
        })?;
        set_once(slot, &String::from_utf8_lossy(&key), value)?;
    }
    Ok(p)
}

fn malformed(kind: AuthKind, msg: impl Into<String>) -> AuthError {
    match kind {
        AuthKind::Header => AuthError::MalformedAuthorization(msg.into()),
        AuthKind::Presigned => AuthError::MalformedQuery(msg.into()),
    }
}

pub(crate) fn parse_credential(
    kind: AuthKind,
    v: &str,
) -> Result<(String, CredentialScope), AuthError> {
    let mut parts = v.split('/');
    let (Some(akid), Some(date), Some(region), Some(service), Some(term), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(malformed(
            kind,
            "Credential must be AKID/YYYYMMDD/region/service/aws4_request",
        ));
    };
    if akid.is_empty() || region.is_empty() || service.is_empty() {
        return Err(malformed(kind, "Credential has an empty component"));
    }
    if date.len() != 8 || !date.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed(kind, format!("invalid credential date '{date}'")));
    }
    if term != "aws4_request" {
        return Err(AuthError::InvalidScope(format!(
            "incorrect terminal '{term}'; expecting 'aws4_request'"
        )));
    }
    Ok((akid.to_owned(), CredentialScope::new(date, region, service)))
}

/// RFC 9110 token characters, lowercase only (SignedHeaders must be lowercase).
const fn token_table() -> [bool; 256] {
    let mut t = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = b.is_ascii_lowercase()
            || b.is_ascii_digit()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        i += 1;
    }
    t
}
static TOKEN: [bool; 256] = token_table();

fn parse_signed_headers(kind: AuthKind, v: &str) -> Result<Vec<String>, AuthError> {
    let mut out: Vec<String> = Vec::with_capacity(v.len() / 8 + 1);
    let mut sorted = true;
    let bytes = v.as_bytes();
    let mut start = 0;
    // Hand-rolled split: `str::split` runs memchr per piece, which
    // dominated parsing for these short names.
    for end in (0..=bytes.len()).filter(|&i| i == bytes.len() || bytes[i] == b';') {
        // ';' is ASCII, so both ends are char boundaries.
        let name = v.get(start..end).unwrap_or_default();
        start = end + 1;
        if name.is_empty() || !name.bytes().all(|b| TOKEN[usize::from(b)]) {
            return Err(malformed(
                kind,
                format!("invalid SignedHeaders entry '{name}'"),
            ));
        }
        if let Some(prev) = out.last() {
            // Clients send the list sorted; only an unsorted one needs the
            // quadratic duplicate scan.
            sorted &= prev.as_str() < name;
            if !sorted && out.iter().any(|n| n == name) {
                return Err(malformed(kind, format!("SignedHeaders repeats '{name}'")));
            }
        }
        out.push(name.to_owned());
    }
    Ok(out)
}

fn parse_signature(kind: AuthKind, v: &str) -> Result<[u8; 32], AuthError> {
    let mut sig = [0u8; 32];
    if v.len() != 64 || hex::decode_to_slice(v, &mut sig).is_err() {
        return Err(malformed(kind, "Signature must be 64 hex digits"));
    }
    Ok(sig)
}

fn single_header<'a>(
    headers: &'a HeaderMap,
    name: &'static str,
) -> Result<Option<&'a str>, AuthError> {
    let mut it = headers.get_all(name).iter();
    let Some(v) = it.next() else { return Ok(None) };
    if it.next().is_some() {
        return Err(AuthError::InvalidHeader {
            name,
            reason: "repeated".to_owned(),
        });
    }
    v.to_str()
        .map(|s| Some(s.trim()))
        .map_err(|_| AuthError::InvalidHeader {
            name,
            reason: "not visible ASCII".to_owned(),
        })
}

/// Extracts the SigV4 parameters of a request without verifying anything.
///
/// `Ok(None)` means anonymous: no `Authorization` header and no presigned
/// query parameters. SigV2 and other schemes give [`AuthError::UnsupportedAlgorithm`].
pub fn parse_request(
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
) -> Result<Option<SignedRequest>, AuthError> {
    // The method does not affect parsing; it is taken so callers can treat
    // parse/verify symmetrically and for future method-specific rules.
    let _ = method;
    let mut auth_values = headers.get_all(http::header::AUTHORIZATION).iter();
    let auth = auth_values.next();
    if auth.is_some() && auth_values.next().is_some() {
        return Err(AuthError::MalformedAuthorization(
            "Authorization header repeated".to_owned(),
        ));
    }
    let q = match uri.query() {
        Some(q) => scan_query(q)?,
        None => AuthParams::default(),
    };
    let presigned = q.algorithm.is_some() || q.signature.is_some() || q.credential.is_some();
    match (auth, presigned) {
        (Some(_), true) => Err(AuthError::ConflictingAuth),
        (Some(a), false) => {
            let a = a
                .to_str()
                .map_err(|_| AuthError::MalformedAuthorization("not visible ASCII".to_owned()))?;
            parse_header_auth(a.trim(), headers).map(Some)
        }
        (None, true) => parse_presigned(q, headers).map(Some),
        (None, false) if q.sigv2 => Err(AuthError::UnsupportedAlgorithm(
            "AWS (SigV2 query)".to_owned(),
        )),
        (None, false) => Ok(None),
    }
}

fn parse_header_auth(auth: &str, headers: &HeaderMap) -> Result<SignedRequest, AuthError> {
    const KIND: AuthKind = AuthKind::Header;
    let (alg, rest) = auth.split_once(' ').unwrap_or((auth, ""));
    if alg != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm(alg.to_owned()));
    }
    let (mut cred, mut signed, mut sig) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        let Some((k, v)) = part.split_once('=') else {
            return Err(malformed(KIND, format!("'{part}' is not key=value")));
        };
        let slot = match k.trim() {
            "Credential" => &mut cred,
            "SignedHeaders" => &mut signed,
            "Signature" => &mut sig,
            other => return Err(malformed(KIND, format!("unknown component '{other}'"))),
        };
        if slot.replace(v.trim()).is_some() {
            return Err(malformed(KIND, format!("'{}' repeated", k.trim())));
        }
    }
    let (Some(cred), Some(signed), Some(sig)) = (cred, signed, sig) else {
        return Err(malformed(
            KIND,
            "Authorization must contain Credential, SignedHeaders and Signature",
        ));
    };
    let (access_key_id, scope) = parse_credential(KIND, cred)?;
    let signed_headers = parse_signed_headers(KIND, signed)?;
    let signature = parse_signature(KIND, sig)?;
    let timestamp = if let Some(d) = single_header(headers, "x-amz-date")? {
        parse_amz_date(d).ok_or_else(|| AuthError::InvalidDate(format!("x-amz-date '{d}'")))?
    } else if let Some(d) = single_header(headers, "date")? {
        parse_http_date(d).ok_or_else(|| AuthError::InvalidDate(format!("Date '{d}'")))?
    } else {
        return Err(AuthError::InvalidDate(
            "x-amz-date or Date header required".to_owned(),
        ));
    };
    let payload = PayloadHash::from_headers(headers)?;
    let session_token = single_header(headers, "x-amz-security-token")?.map(str::to_owned);
    Ok(SignedRequest {
        kind: KIND,
        access_key_id,
        scope,
        timestamp,
        signed_headers,
        signature,
        expires_secs: None,
        payload,
        session_token,
    })
}

fn parse_presigned(q: AuthParams, headers: &HeaderMap) -> Result<SignedRequest, AuthError> {
    const KIND: AuthKind = AuthKind::Presigned;
    let missing = |n: &str| AuthError::MalformedQuery(format!("{n} is required"));
    let alg = q.algorithm.ok_or_else(|| missing("X-Amz-Algorithm"))?;
    if alg != ALGORITHM {
        return Err(AuthError::UnsupportedAlgorithm(alg));
    }
    let cred = q.credential.ok_or_else(|| missing("X-Amz-Credential"))?;
    let date = q.date.ok_or_else(|| missing("X-Amz-Date"))?;
    let expires = q.expires.ok_or_else(|| missing("X-Amz-Expires"))?;
    let signed = q
        .signed_headers
        .ok_or_else(|| missing("X-Amz-SignedHeaders"))?;
    let sig = q.signature.ok_or_else(|| missing("X-Amz-Signature"))?;

    let (access_key_id, scope) = parse_credential(KIND, &cred)?;
    let signed_headers = parse_signed_headers(KIND, &signed)?;
    let signature = parse_signature(KIND, &sig)?;
    let timestamp = parse_amz_date(&date)
        .ok_or_else(|| AuthError::InvalidDate(format!("X-Amz-Date '{date}'")))?;
    // A negative lifetime is well-formed but out of range (S3 answers 403).
    if expires
        .strip_prefix('-')
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(AuthError::ExpiresOutOfRange);
    }
    if expires.is_empty() || !expires.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AuthError::MalformedQuery(
            "X-Amz-Expires must be a non-negative integer".to_owned(),
        ));
    }
    let expires_secs = expires
        .parse::<u64>()
        .map_err(|_| AuthError::ExpiresOutOfRange)?;
    // A presigned URL declares no payload unless a signed
    // x-amz-content-sha256 header (or the MinIO-style parameter) says so.
    let payload = if signed_headers.iter().any(|h| h == "x-amz-content-sha256") {
        PayloadHash::from_headers(headers)?
    } else if let Some(v) = q.content_sha256 {
        PayloadHash::parse(&v)?
    } else {
        PayloadHash::Unsigned
    };
    let payload = if payload == PayloadHash::Missing {
        PayloadHash::Unsigned
    } else {
        payload
    };
    Ok(SignedRequest {
        kind: KIND,
        access_key_id,
        scope,
        timestamp,
        signed_headers,
        signature,
        expires_secs: Some(expires_secs),
        payload,
        session_token: q.security_token,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn hm(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    const SIG: &str = "fe5f80f77d5fa3beca038a248ff027d0445342fe2855ddc963176630326f1024";

    #[test]
    fn anonymous() {
        let uri: Uri = "/bucket/key?versionId=1".parse().unwrap();
        assert_eq!(
            parse_request(&Method::GET, &uri, &HeaderMap::new()),
            Ok(None)
        );
    }

    #[test]
    fn header_auth() {
        let h = hm(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", "UNSIGNED-PAYLOAD"),
            (
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature={SIG}"
                ),
            ),
        ]);
        let uri: Uri = "/test.txt".parse().unwrap();
        let r = parse_request(&Method::GET, &uri, &h).unwrap().unwrap();
        assert_eq!(r.kind, AuthKind::Header);
        assert_eq!(r.access_key_id, "AKIAIOSFODNN7EXAMPLE");
        assert_eq!(r.scope, CredentialScope::new("20130524", "us-east-1", "s3"));
        assert_eq!(
            r.signed_headers,
            ["host", "range", "x-amz-content-sha256", "x-amz-date"]
        );
        assert_eq!(r.payload, PayloadHash::Unsigned);
        assert_eq!(r.amz_date(), "20130524T000000Z");
        assert_eq!(r.scope.to_string(), "20130524/us-east-1/s3/aws4_request");
    }

    #[test]
    fn header_auth_errors() {
        let uri: Uri = "/".parse().unwrap();
        let base = |auth: &str| hm(&[("x-amz-date", "20130524T000000Z"), ("authorization", auth)]);
        type Pred = fn(&AuthError) -> bool;
        let cases: Vec<(String, Pred)> = vec![
            ("AWS AKID:abc".into(), |e| matches!(e, AuthError::UnsupportedAlgorithm(_))),
            ("Bearer x".into(), |e| matches!(e, AuthError::UnsupportedAlgorithm(_))),
            ("AWS4-HMAC-SHA256".into(), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/aws4_request, SignedHeaders=host, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws5_request, SignedHeaders=host, Signature={SIG}"), |e| matches!(e, AuthError::InvalidScope(_))),
            ("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=host, Signature=abc".into(), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=Host, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=host;;x, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=host;host, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
            (format!("AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=host, Signature={SIG}, Signature={SIG}"), |e| matches!(e, AuthError::MalformedAuthorization(_))),
        ];
        for (auth, pred) in cases {
            let e = parse_request(&Method::GET, &uri, &base(&auth)).unwrap_err();
            assert!(pred(&e), "{auth}: {e:?}");
        }
        // No date at all.
        let h = hm(&[(
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=host, Signature={SIG}"
            ),
        )]);
        assert!(matches!(
            parse_request(&Method::GET, &uri, &h),
            Err(AuthError::InvalidDate(_))
        ));
        // Date header fallback.
        let h = hm(&[
            ("date", "Fri, 24 May 2013 00:00:00 GMT"),
            (
                "authorization",
                &format!(
                    "AWS4-HMAC-SHA256 Credential=A/20130524/r/s/aws4_request, SignedHeaders=date;host, Signature={SIG}"
                ),
            ),
        ]);
        let r = parse_request(&Method::GET, &uri, &h).unwrap().unwrap();
        assert_eq!(r.amz_date(), "20130524T000000Z");
        assert_eq!(r.payload, PayloadHash::Missing);
    }

    #[test]
    fn presigned() {
        let uri: Uri = format!("/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature={SIG}").parse().unwrap();
        let r = parse_request(&Method::GET, &uri, &HeaderMap::new())
            .unwrap()
            .unwrap();
        assert_eq!(r.kind, AuthKind::Presigned);
        assert_eq!(r.expires_secs, Some(86400));
        assert_eq!(r.payload, PayloadHash::Unsigned);
        assert_eq!(r.access_key_id, "AKID");

        let h = hm(&[("authorization", "AWS4-HMAC-SHA256 x")]);
        assert_eq!(
            parse_request(&Method::GET, &uri, &h),
            Err(AuthError::ConflictingAuth)
        );

        let no_sig: Uri = "/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host".parse().unwrap();
        assert!(matches!(
            parse_request(&Method::GET, &no_sig, &HeaderMap::new()),
            Err(AuthError::MalformedQuery(_))
        ));
        let dup: Uri = format!("{uri}&X-Amz-Date=20130524T000000Z")
            .parse()
            .unwrap();
        assert!(matches!(
            parse_request(&Method::GET, &dup, &HeaderMap::new()),
            Err(AuthError::MalformedQuery(_))
        ));
        let v2: Uri = "/k?AWSAccessKeyId=A&Expires=1&Signature=x".parse().unwrap();
        assert!(matches!(
            parse_request(&Method::GET, &v2, &HeaderMap::new()),
            Err(AuthError::UnsupportedAlgorithm(_))
        ));
        let big: Uri = uri
            .to_string()
            .replace(
                "X-Amz-Expires=86400",
                "X-Amz-Expires=99999999999999999999999",
            )
            .parse()
            .unwrap();
        assert_eq!(
            parse_request(&Method::GET, &big, &HeaderMap::new()),
            Err(AuthError::ExpiresOutOfRange)
        );
        let negative: Uri = uri
            .to_string()
            .replace("X-Amz-Expires=86400", "X-Amz-Expires=-7")
            .parse()
            .unwrap();
        assert_eq!(
            parse_request(&Method::GET, &negative, &HeaderMap::new()),
            Err(AuthError::ExpiresOutOfRange)
        );
    }

    #[test]
    fn payload_values() {
        assert_eq!(
            PayloadHash::parse("UNSIGNED-PAYLOAD"),
            Ok(PayloadHash::Unsigned)
        );
        assert_eq!(
            PayloadHash::parse(crate::EMPTY_SHA256)
                .unwrap()
                .canonical_value()
                .unwrap(),
            crate::EMPTY_SHA256
        );
        assert!(PayloadHash::parse(&crate::EMPTY_SHA256.to_uppercase()).is_err());
        assert!(PayloadHash::parse("STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD").is_err());
        assert!(PayloadHash::parse("").is_err());
    }
}

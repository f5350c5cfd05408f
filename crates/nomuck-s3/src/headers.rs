//! Reading S3 request headers into storage types, and writing object headers back.

use http::{HeaderMap, HeaderValue, header};
use nomuck_checksum::ChecksumAlgorithm;
use nomuck_meta::{Millis, ObjectHeaders};
use nomuck_storage::{ByteRange, ChecksumRequest, Conditions};
use percent_encoding::percent_decode_str;

use crate::error::S3Error;

pub const META_PREFIX: &str = "x-amz-meta-";

pub fn text<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// A stored header's value: UTF-8 when the bytes are UTF-8 (botocore sends
/// metadata so), otherwise each byte as the char of that code point
/// (ISO-8859-1, what Python's http.client sends).
fn lossless(value: &HeaderValue) -> String {
    match std::str::from_utf8(value.as_bytes()) {
        Ok(s) => s.to_owned(),
        Err(_) => value.as_bytes().iter().map(|&b| char::from(b)).collect(),
    }
}

/// The bytes of a stored header value. HTTP clients decode header bytes as
/// ISO-8859-1, so text within it goes out in it (`é` as one byte, which
/// reads back as `é`); text beyond it goes out as UTF-8.
fn header_bytes(value: &str) -> Option<HeaderValue> {
    let latin1: Option<Vec<u8>> = value.chars().map(|c| u8::try_from(c).ok()).collect();
    match latin1 {
        Some(bytes) => HeaderValue::from_bytes(&bytes).ok(),
        None => HeaderValue::from_bytes(value.as_bytes()).ok(),
    }
}

pub fn object_headers(headers: &HeaderMap) -> ObjectHeaders {
    let get = |name: header::HeaderName| headers.get(name).map(lossless);
    let user_metadata = headers
        .iter()
        .filter_map(|(name, value)| {
            let name = name.as_str().strip_prefix(META_PREFIX)?;
            Some((name.to_owned(), lossless(value)))
        })
        .collect();
    ObjectHeaders {
        content_type: get(header::CONTENT_TYPE),
        content_encoding: get(header::CONTENT_ENCODING)
            .map(|e| strip_aws_chunked(&e))
            .filter(|e| !e.is_empty()),
        content_disposition: get(header::CONTENT_DISPOSITION),
        content_language: get(header::CONTENT_LANGUAGE),
        cache_control: get(header::CACHE_CONTROL),
        expires: get(header::EXPIRES),
        user_metadata,
    }
}

/// `aws-chunked` describes the transfer, not the object: S3 does not store it.
fn strip_aws_chunked(encoding: &str) -> String {
    if !encoding.to_ascii_lowercase().contains("aws-chunked") {
        return encoding.to_owned();
    }
    encoding
        .split(',')
        .map(str::trim)
        .filter(|e| !e.eq_ignore_ascii_case("aws-chunked") && !e.is_empty())
        .collect::<Vec<_>>()
        .join(",")
}

/// Response headers for a stored object (GET/HEAD).
pub fn write_object_headers(out: &mut HeaderMap, h: &ObjectHeaders) {
    let mut put = |name: header::HeaderName, value: &Option<String>| {
        if let Some(v) = value.as_deref().and_then(header_bytes) {
            out.insert(name, v);
        }
    };
    put(header::CONTENT_TYPE, &h.content_type);
    put(header::CONTENT_ENCODING, &h.content_encoding);
    put(header::CONTENT_DISPOSITION, &h.content_disposition);
    put(header::CONTENT_LANGUAGE, &h.content_language);
    put(header::CACHE_CONTROL, &h.cache_control);
    put(header::EXPIRES, &h.expires);
    for (name, value) in &h.user_metadata {
        if let (Ok(name), Ok(value)) = (
            header::HeaderName::from_bytes(format!("{META_PREFIX}{name}").as_bytes()),
            header_bytes(value).ok_or(()),
        ) {
            out.append(name, value);
        }
    }
    if !out.contains_key(header::CONTENT_TYPE) {
        out.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("binary/octet-stream"),
        );
    }
}

/// Parse an HTTP date (RFC 1123 and the other forms HTTP allows) to epoch millis.
pub fn http_date_millis(value: &str) -> Option<Millis> {
    let t = httpdate::parse_http_date(value.trim()).ok()?;
    let ms = t.duration_since(std::time::UNIX_EPOCH).ok()?.as_millis();
    i64::try_from(ms).ok()
}

/// `If-*` headers, or the `x-amz-copy-source-if-*` ones with `prefix`.
/// Unparsable dates are ignored, as HTTP says.
pub fn conditions(headers: &HeaderMap, names: &ConditionHeaders) -> Conditions {
    let [
        if_match,
        if_none_match,
        if_modified_since,
        if_unmodified_since,
    ] = names.0;
    let get = |name: &str| text(headers, name);
    Conditions {
        if_match: get(if_match).map(str::to_owned),
        if_none_match: get(if_none_match).map(str::to_owned),
        if_modified_since: get(if_modified_since).and_then(http_date_millis),
        if_unmodified_since: get(if_unmodified_since).and_then(http_date_millis),
    }
}

/// The names of the four conditional headers, fixed per operation: [`conditions`] runs
/// on every GET and HEAD, so it looks them up without building names per request.
pub struct ConditionHeaders([&'static str; 4]);

/// `If-Match` and the others, of GET, HEAD and PUT.
pub const OBJECT_CONDITIONS: ConditionHeaders = ConditionHeaders([
    "if-match",
    "if-none-match",
    "if-modified-since",
    "if-unmodified-since",
]);

/// `x-amz-copy-source-if-match` and the others, of CopyObject and UploadPartCopy.
pub const COPY_SOURCE_CONDITIONS: ConditionHeaders = ConditionHeaders([
    "x-amz-copy-source-if-match",
    "x-amz-copy-source-if-none-match",
    "x-amz-copy-source-if-modified-since",
    "x-amz-copy-source-if-unmodified-since",
]);

/// `Range: bytes=…`. `None` for an absent header or a form S3 ignores (several
/// ranges, other units), which then serves the whole object as S3 does.
pub fn range(headers: &HeaderMap) -> Result<Option<ByteRange>, S3Error> {
    let Some(value) = text(headers, "range") else {
        return Ok(None);
    };
    Ok(parse_range(value))
}

pub fn parse_range(value: &str) -> Option<ByteRange> {
    let spec = value.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (first, last) = spec.split_once('-')?;
    let (first, last) = (first.trim(), last.trim());
    match (first.is_empty(), last.is_empty()) {
        (true, false) => last.parse().ok().map(ByteRange::Suffix),
        (false, true) => first.parse().ok().map(ByteRange::From),
        (false, false) => {
            let (a, b) = (first.parse().ok()?, last.parse().ok()?);
            (a <= b).then_some(ByteRange::FromTo(a, b))
        }
        (true, true) => None,
    }
}

/// The checksum asked for by `x-amz-checksum-*`, `x-amz-sdk-checksum-algorithm` or an
/// aws-chunked `x-amz-trailer`.
pub fn checksum_request(headers: &HeaderMap) -> Result<ChecksumRequest, S3Error> {
    let mut expected = None;
    for (name, value) in headers {
        let Some(algorithm) = ChecksumAlgorithm::from_header_name(name.as_str()) else {
            continue;
        };
        if expected.is_some() {
            return Err(S3Error::invalid_request()
                .with_message("Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."));
        }
        let value = value.to_str().map_err(|_| S3Error::invalid_request())?;
        expected = Some((algorithm, value.to_owned()));
    }
    let trailer = text(headers, "x-amz-trailer").and_then(ChecksumAlgorithm::from_header_name);
    let declared = match text(headers, "x-amz-sdk-checksum-algorithm")
        .or_else(|| text(headers, "x-amz-checksum-algorithm"))
    {
        Some(name) => Some(ChecksumAlgorithm::from_name(name).ok_or_else(|| {
            S3Error::invalid_request()
                .with_message(format!("Checksum algorithm {name} is not supported"))
        })?),
        None => None,
    };
    let algorithm = expected.as_ref().map(|(a, _)| *a).or(trailer).or(declared);
    Ok(ChecksumRequest {
        algorithm,
        expected,
    })
}

/// Checks a request document against the `Content-MD5` or `x-amz-checksum-*`
/// header sent with it (`InvalidDigest` / `BadDigest`), so a document altered in
/// transit is never applied. A checksum in an aws-chunked trailer was verified
/// by the edge. `checksum_covers_body`: false where `x-amz-checksum-*` means
/// something else (CompleteMultipartUpload: the whole object's checksum).
pub fn verify_body_digest(
    headers: &HeaderMap,
    body: &[u8],
    checksum_covers_body: bool,
) -> Result<(), S3Error> {
    use base64::Engine as _;
    if let Some(md5) = text(headers, "content-md5") {
        let sent = base64::engine::general_purpose::STANDARD
            .decode(md5.trim())
            .ok()
            .filter(|b| b.len() == 16)
            .ok_or_else(S3Error::invalid_digest)?;
        let mut h = nomuck_checksum::Md5Hasher::new();
        h.update(body);
        if h.finalize()[..] != sent[..] {
            return Err(S3Error::bad_digest());
        }
    }
    if !checksum_covers_body {
        return Ok(());
    }
    if let Some((algorithm, value)) = &checksum_request(headers)?.expected {
        let sent = nomuck_checksum::Checksum::parse_base64(*algorithm, value).map_err(|_| {
            S3Error::invalid_request().with_message(format!(
                "Value for {} header is invalid.",
                algorithm.header_name()
            ))
        })?;
        if nomuck_checksum::Checksum::compute(*algorithm, body) != sent {
            return Err(S3Error::bad_digest().with_message(format!(
                "The {} you specified did not match the calculated checksum.",
                algorithm.name()
            )));
        }
    }
    Ok(())
}

/// S3 refuses DeleteObjects without a digest of its document, so a batch
/// delete is never applied from a body altered in transit.
pub fn require_body_digest(headers: &HeaderMap) -> Result<(), S3Error> {
    let named = |h: &str| headers.contains_key(h);
    let trailer = text(headers, "x-amz-trailer")
        .is_some_and(|t| ChecksumAlgorithm::from_header_name(t.trim()).is_some());
    let checksum = headers
        .keys()
        .any(|k| ChecksumAlgorithm::from_header_name(k.as_str()).is_some());
    if named("content-md5") || checksum || trailer {
        return Ok(());
    }
    Err(S3Error::invalid_request()
        .with_message("Missing required header for this request: Content-MD5 OR x-amz-checksum-*"))
}

/// `x-amz-tagging: k1=v1&k2=v2` (URL-encoded).
pub fn tagging_header(headers: &HeaderMap) -> Vec<(String, String)> {
    text(headers, "x-amz-tagging")
        .map(|t| form_urlencoded::parse(t.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

/// `x-amz-copy-source: /bucket/key?versionId=v` (the key URL-encoded).
pub fn copy_source(
    headers: &HeaderMap,
) -> Result<Option<(String, String, Option<String>)>, S3Error> {
    let Some(raw) = text(headers, "x-amz-copy-source") else {
        return Ok(None);
    };
    let invalid = || S3Error::invalid_argument().with_message("Invalid copy source object key");
    let (path, query) = match raw.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (raw, None),
    };
    let path = path.strip_prefix('/').unwrap_or(path);
    let (bucket, key) = path.split_once('/').ok_or_else(invalid)?;
    let decode = |s: &str| {
        percent_decode_str(s)
            .decode_utf8()
            .map(|c| c.into_owned())
            .map_err(|_| invalid())
    };
    let (bucket, key) = (decode(bucket)?, decode(key)?);
    if bucket.is_empty() || key.is_empty() {
        return Err(invalid());
    }
    let version_id = query.and_then(|q| {
        form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == "versionId")
            .map(|(_, v)| v.into_owned())
    });
    Ok(Some((bucket, key, version_id)))
}

/// `x-amz-copy-source-range: bytes=first-last`.
pub fn copy_source_range(headers: &HeaderMap) -> Result<Option<(u64, u64)>, S3Error> {
    let Some(value) = text(headers, "x-amz-copy-source-range") else {
        return Ok(None);
    };
    match parse_range(value) {
        Some(ByteRange::FromTo(a, b)) => Ok(Some((a, b))),
        _ => Err(S3Error::invalid_argument()
            .with_message("The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy")),
    }
}

/// How S3 answers a header that asks for what nomuck does not do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    /// 501 `NotImplemented`: a feature S3 has and nomuck has not built.
    NotImplemented,
    /// 400 `InvalidArgument`: S3 itself refuses the header on this operation.
    InvalidArgument,
    /// 400 `InvalidStorageClass`: a storage class this server does not offer.
    InvalidStorageClass,
}

/// Which operations a refusal applies to.
#[derive(Debug, Clone, Copy)]
enum Ops {
    Only(&'static [&'static str]),
}

/// A request header that is refused rather than ignored: a client that asks
/// for retention, encryption or a check must never be told its request was
/// carried out when nomuck dropped that part of it.
struct Refused {
    /// The header name; a trailing `*` matches every header with that prefix.
    header: &'static str,
    ops: Ops,
    /// Values asking for nothing beyond what nomuck does anyway (S3's default).
    accepted: &'static [&'static str],
    answer: Answer,
    why: &'static str,
}

/// Operations that create an object and take its object headers.
const OBJECT_WRITES: Ops = Ops::Only(&[
    "PutObject",
    "CopyObject",
    "CreateMultipartUpload",
    "PostObject",
]);

/// Reads, which take SSE-C headers but no other encryption header.
const READS: Ops = Ops::Only(&["GetObject", "HeadObject"]);

/// Every header nomuck refuses, checked against the S3 model's input members of
/// each operation (docs/COMPATIBILITY.md lists them with the ones accepted). The
/// first matching row answers.
const REFUSED: &[Refused] = &[
    // As S3: reads take no encryption headers but SSE-C's.
    Refused {
        header: "x-amz-server-side-encryption",
        ops: READS,
        accepted: &[],
        answer: Answer::InvalidArgument,
        why: "the header is not supported for this operation",
    },
    Refused {
        header: "x-amz-server-side-encryption-aws-kms-key-id",
        ops: READS,
        accepted: &[],
        answer: Answer::InvalidArgument,
        why: "the header is not supported for this operation",
    },
    Refused {
        header: "x-amz-server-side-encryption-context",
        ops: READS,
        accepted: &[],
        answer: Answer::InvalidArgument,
        why: "the header is not supported for this operation",
    },
    Refused {
        header: "x-amz-server-side-encryption-bucket-key-enabled",
        ops: READS,
        accepted: &[],
        answer: Answer::InvalidArgument,
        why: "the header is not supported for this operation",
    },
    Refused {
        header: "x-amz-bucket-namespace",
        ops: Ops::Only(&["CreateBucket"]),
        accepted: &["global"],
        answer: Answer::NotImplemented,
        why: "bucket names are global; account-regional namespaces are not built",
    },
    Refused {
        header: "x-amz-website-redirect-location",
        ops: OBJECT_WRITES,
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "per-object website redirects are not built",
    },
    Refused {
        header: "x-amz-storage-class",
        ops: OBJECT_WRITES,
        accepted: &["STANDARD"],
        answer: Answer::InvalidStorageClass,
        why: "only the STANDARD storage class is offered",
    },
    Refused {
        header: "x-amz-write-offset-bytes",
        ops: Ops::Only(&["PutObject"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "appending to objects is not built",
    },
    Refused {
        header: "x-amz-object-annotation-directive",
        ops: Ops::Only(&["CopyObject"]),
        accepted: &["COPY"],
        answer: Answer::NotImplemented,
        why: "object annotations are not built",
    },
    Refused {
        header: "x-amz-mfa",
        ops: Ops::Only(&["DeleteObject", "DeleteObjects", "PutBucketVersioning"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "MFA delete is not built",
    },
    Refused {
        header: "x-amz-if-match-last-modified-time",
        ops: Ops::Only(&["DeleteObject"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "deletes conditional on the modification time are not built",
    },
    Refused {
        header: "x-amz-if-match-size",
        ops: Ops::Only(&["DeleteObject"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "deletes conditional on the size are not built",
    },
    Refused {
        header: "x-amz-if-match-initiated-time",
        ops: Ops::Only(&["AbortMultipartUpload"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "aborts conditional on the initiation time are not built",
    },
    Refused {
        header: "x-amz-mp-object-size",
        ops: Ops::Only(&["CompleteMultipartUpload"]),
        accepted: &[],
        answer: Answer::NotImplemented,
        why: "the object size check of CompleteMultipartUpload is not built",
    },
];

/// What every name in [`REFUSED`] and [`UNKNOWN_CHECKSUMS`] starts with.
const AMZ_PREFIX: &str = "x-amz-";

/// Checksum headers of algorithms S3 knows and nomuck cannot verify: taken
/// as headers they would be dropped, and the body stored unchecked.
const UNKNOWN_CHECKSUMS: &[&str] = &[
    "x-amz-checksum-sha512",
    "x-amz-checksum-md5",
    "x-amz-checksum-xxhash64",
    "x-amz-checksum-xxhash3",
    "x-amz-checksum-xxhash128",
];

/// The refusal of `operation` with these `headers`, if any header asks for
/// something nomuck does not do. The one place such requests are refused.
pub fn refused(operation: &str, headers: &HeaderMap) -> Option<S3Error> {
    for (name, value) in headers {
        let name = name.as_str();
        // Every refused name is an x-amz- one (a unit test keeps it so): the other
        // headers of every request (host, authorization, ...) skip the table scans.
        if !name.starts_with(AMZ_PREFIX) {
            continue;
        }
        if UNKNOWN_CHECKSUMS.contains(&name) {
            return Some(not_implemented(
                name,
                "this checksum algorithm is not supported",
            ));
        }
        let value = value.to_str().unwrap_or("").trim();
        let Some(row) = REFUSED.iter().find(|r| {
            let named = match r.header.strip_suffix('*') {
                Some(prefix) => name.starts_with(prefix),
                None => name == r.header,
            };
            named
                && match r.ops {
                    Ops::Only(ops) => ops.contains(&operation),
                }
        }) else {
            continue;
        };
        if row.accepted.iter().any(|a| a.eq_ignore_ascii_case(value)) {
            continue;
        }
        return Some(match row.answer {
            Answer::NotImplemented => not_implemented(name, row.why),
            Answer::InvalidArgument => S3Error::invalid_argument()
                .with_message(format!(
                    "The {name} header is not supported for this operation."
                ))
                .with("ArgumentName", name.to_owned())
                .with("ArgumentValue", value.to_owned()),
            Answer::InvalidStorageClass => S3Error::new(
                http::StatusCode::BAD_REQUEST,
                "InvalidStorageClass",
                format!("The storage class you specified is not valid: {}", row.why),
            )
            .with("StorageClassRequested", value.to_owned()),
        });
    }
    None
}

fn not_implemented(header: &str, why: &str) -> S3Error {
    S3Error::not_implemented()
        .with_message(format!(
            "A header you provided implies functionality that is not implemented: {why}"
        ))
        .with("Header", header.to_owned())
}

/// Quote an ETag for headers and XML.
pub fn quoted(etag: &str) -> String {
    format!("\"{etag}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-99"), Some(ByteRange::FromTo(0, 99)));
        assert_eq!(parse_range("bytes=100-"), Some(ByteRange::From(100)));
        assert_eq!(parse_range("bytes=-100"), Some(ByteRange::Suffix(100)));
        assert_eq!(parse_range("bytes=5-1"), None);
        assert_eq!(parse_range("bytes=0-1,3-4"), None);
        assert_eq!(parse_range("items=0-1"), None);
        assert_eq!(parse_range("bytes=x-1"), None);
    }

    #[test]
    fn object_headers_round_trip_and_drop_aws_chunked() {
        let mut h = HeaderMap::new();
        h.insert("content-type", HeaderValue::from_static("text/plain"));
        h.insert("content-encoding", HeaderValue::from_static("aws-chunked"));
        h.append("x-amz-meta-color", HeaderValue::from_static("blue"));
        let parsed = object_headers(&h);
        assert_eq!(parsed.content_encoding, None);
        assert_eq!(
            parsed.user_metadata,
            [("color".to_owned(), "blue".to_owned())]
        );
        let mut out = HeaderMap::new();
        write_object_headers(&mut out, &parsed);
        assert_eq!(out["x-amz-meta-color"], "blue");
        assert_eq!(out["content-type"], "text/plain");
    }

    #[test]
    fn header_bytes_go_out_as_latin1() {
        // (sent, returned): Latin-1 and UTF-8 `é` both come back as byte E9.
        for (sent, returned) in [
            (&b"Hello World\xe9"[..], &b"Hello World\xe9"[..]),
            ("caf\u{e9}".as_bytes(), b"caf\xe9"),
            ("\u{65e5}".as_bytes(), "\u{65e5}".as_bytes()),
            (b"plain", b"plain"),
        ] {
            let mut h = HeaderMap::new();
            h.insert("x-amz-meta-m", HeaderValue::from_bytes(sent).unwrap());
            h.insert(
                "content-disposition",
                HeaderValue::from_bytes(sent).unwrap(),
            );
            let mut out = HeaderMap::new();
            write_object_headers(&mut out, &object_headers(&h));
            assert_eq!(out["x-amz-meta-m"].as_bytes(), returned);
            assert_eq!(out["content-disposition"].as_bytes(), returned);
        }
    }

    #[test]
    fn copy_sources() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-copy-source",
            HeaderValue::from_static("/src/dir/a%20b?versionId=v1"),
        );
        assert_eq!(
            copy_source(&h).unwrap(),
            Some(("src".into(), "dir/a b".into(), Some("v1".into())))
        );
        h.insert("x-amz-copy-source", HeaderValue::from_static("src"));
        assert!(copy_source(&h).is_err());
    }

    fn refusal(op: &str, pairs: &[(&'static str, &'static str)]) -> Option<(&'static str, u16)> {
        let mut h = HeaderMap::new();
        for (n, v) in pairs {
            h.append(*n, HeaderValue::from_static(v));
        }
        refused(op, &h).map(|e| (e.code, e.status.as_u16()))
    }

    #[test]
    fn refused_names_all_have_the_prefix_refused_skips_on() {
        for name in REFUSED
            .iter()
            .map(|r| r.header)
            .chain(UNKNOWN_CHECKSUMS.iter().copied())
        {
            assert!(
                name.starts_with(AMZ_PREFIX),
                "{name} would never be refused"
            );
        }
    }

    #[test]
    fn headers_asking_for_what_is_not_built_are_refused() {
        const NI: Option<(&str, u16)> = Some(("NotImplemented", 501));
        for op in [
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "PostObject",
        ] {
            let h = ("x-amz-website-redirect-location", "/x");
            assert_eq!(refusal(op, &[h]), NI, "{op} {h:?}");
            assert_eq!(
                refusal(op, &[("x-amz-storage-class", "GLACIER")]),
                Some(("InvalidStorageClass", 400))
            );
            assert_eq!(refusal(op, &[("x-amz-storage-class", "STANDARD")]), None);
        }
        // Encryption is built: writes take every SSE header, reads SSE-C's only.
        for op in [
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "PostObject",
            "GetObject",
            "HeadObject",
            "UploadPart",
            "UploadPartCopy",
        ] {
            assert_eq!(
                refusal(op, &[("x-amz-server-side-encryption-customer-key", "a")]),
                None
            );
        }
        for op in [
            "PutObject",
            "CopyObject",
            "CreateMultipartUpload",
            "PostObject",
        ] {
            assert_eq!(
                refusal(op, &[("x-amz-server-side-encryption", "aws:kms")]),
                None
            );
        }
        for op in ["GetObject", "HeadObject"] {
            for h in [
                "x-amz-server-side-encryption",
                "x-amz-server-side-encryption-aws-kms-key-id",
                "x-amz-server-side-encryption-context",
                "x-amz-server-side-encryption-bucket-key-enabled",
            ] {
                assert_eq!(
                    refusal(op, &[(h, "AES256")]),
                    Some(("InvalidArgument", 400)),
                    "{op} {h}"
                );
            }
        }
        // Object lock is built: its headers are taken.
        assert_eq!(
            refusal(
                "CreateBucket",
                &[("x-amz-bucket-object-lock-enabled", "true")]
            ),
            None
        );
        assert_eq!(
            refusal("PutObject", &[("x-amz-object-lock-legal-hold", "ON")]),
            None
        );
        assert_eq!(refusal("DeleteObject", &[("x-amz-mfa", "123 456")]), NI);
        assert_eq!(refusal("DeleteObject", &[("x-amz-if-match-size", "3")]), NI);
        assert_eq!(refusal("PutObject", &[("x-amz-checksum-sha512", "x")]), NI);
        // What nomuck does is not refused, nor a header on an operation it means nothing to.
        assert_eq!(
            refusal(
                "PutObject",
                &[
                    ("x-amz-request-payer", "requester"),
                    ("x-amz-checksum-crc32", "AAAAAA=="),
                    ("x-amz-meta-a", "b"),
                    ("x-amz-acl", "private"),
                ]
            ),
            None
        );
        assert_eq!(
            refusal(
                "DeleteObject",
                &[("x-amz-bypass-governance-retention", "true")]
            ),
            None
        );
        assert_eq!(
            refusal("GetObject", &[("x-amz-storage-class", "GLACIER")]),
            None
        );
    }

    #[test]
    fn documents_are_checked_against_their_digests() {
        let body = b"<Delete/>";
        let with = |pairs: &[(&'static str, String)]| {
            let mut h = HeaderMap::new();
            for (n, v) in pairs {
                h.insert(*n, HeaderValue::from_str(v).unwrap());
            }
            h
        };
        let mut md5 = nomuck_checksum::Md5Hasher::new();
        md5.update(body);
        let good_md5 = md5.finalize_base64();
        let crc =
            |b: &[u8]| nomuck_checksum::Checksum::compute(ChecksumAlgorithm::Crc32, b).to_base64();
        let code =
            |h: &HeaderMap, covers| verify_body_digest(h, body, covers).err().map(|e| e.code);
        assert_eq!(
            code(&with(&[("content-md5", good_md5.clone())]), true),
            None
        );
        assert_eq!(
            code(&with(&[("content-md5", crc(b"x"))]), true),
            Some("InvalidDigest")
        );
        let mut other = nomuck_checksum::Md5Hasher::new();
        other.update(b"other");
        let wrong_md5 = other.finalize_base64();
        assert_eq!(
            code(&with(&[("content-md5", wrong_md5)]), true),
            Some("BadDigest")
        );
        assert_eq!(
            code(&with(&[("x-amz-checksum-crc32", crc(body))]), true),
            None
        );
        let wrong_crc = with(&[("x-amz-checksum-crc32", crc(b"x"))]);
        assert_eq!(code(&wrong_crc, true), Some("BadDigest"));
        // CompleteMultipartUpload: the checksum names the object, not the document.
        assert_eq!(code(&wrong_crc, false), None);
        assert_eq!(
            require_body_digest(&HeaderMap::new()).unwrap_err().code,
            "InvalidRequest"
        );
        assert!(require_body_digest(&wrong_crc).is_ok());
        let trailer = with(&[("x-amz-trailer", "x-amz-checksum-crc32".into())]);
        assert!(require_body_digest(&trailer).is_ok());
    }

    #[test]
    fn checksums() {
        let mut h = HeaderMap::new();
        h.insert(
            "x-amz-trailer",
            HeaderValue::from_static("x-amz-checksum-crc32"),
        );
        assert_eq!(
            checksum_request(&h).unwrap().algorithm,
            Some(ChecksumAlgorithm::Crc32)
        );
        h.insert("x-amz-checksum-sha256", HeaderValue::from_static("abc"));
        let req = checksum_request(&h).unwrap();
        assert_eq!(
            req.expected,
            Some((ChecksumAlgorithm::Sha256, "abc".into()))
        );
        h.insert("x-amz-checksum-crc32c", HeaderValue::from_static("abc"));
        assert!(checksum_request(&h).is_err());
    }
}

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
pub fn conditions(headers: &HeaderMap, prefix: &str) -> Conditions {
    let get = |name: &str| text(headers, &format!("{prefix}{name}")).map(str::to_owned);
    Conditions {
        if_match: get("if-match"),
        if_none_match: get("if-none-match"),
        if_modified_since: get("if-modified-since").and_then(|d| http_date_millis(&d)),
        if_unmodified_since: get("if-unmodified-since").and_then(|d| http_date_millis(&d)),
    }
}

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

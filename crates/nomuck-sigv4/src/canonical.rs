//! Canonical request construction, shared by the verifier and the signer so
//! both always agree byte for byte.

use http::{HeaderMap, Method, Uri};

use crate::UriEncoding;
use crate::key::sha256;

const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Percent-decodes; malformed escapes stay literal (like `form_urlencoded`).
/// With `plus_as_space`, `+` decodes to a space (query strings).
pub(crate) fn percent_decode(input: &[u8], plus_as_space: bool, out: &mut Vec<u8>) {
    let mut i = 0;
    while i < input.len() {
        let b = input[i];
        if b == b'%'
            && i + 2 < input.len()
            && let (Some(h), Some(l)) = (hex_val(input[i + 1]), hex_val(input[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(if plus_as_space && b == b'+' { b' ' } else { b });
        i += 1;
    }
}

/// AWS URI-encoding: every byte except unreserved (and `/` when `keep_slash`)
/// becomes `%XX` with uppercase hex.
pub(crate) fn uri_encode(input: &[u8], keep_slash: bool, out: &mut Vec<u8>) {
    for &b in input {
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 0xf)],
            ]);
        }
    }
}

/// RFC 3986 5.2.4 dot-segment removal plus `//` collapsing, applied to the
/// raw (still encoded) path exactly as the `aws-sigv4` signer does.
fn normalize_path(path: &str) -> String {
    let mut segments: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(path.len() + 1);
    for s in &segments {
        out.push('/');
        out.push_str(s);
    }
    let ends_with_slash = ["/", "/.", "/./", "/..", "/../"]
        .iter()
        .any(|suffix| path.ends_with(suffix));
    if out.is_empty() || (ends_with_slash && !out.ends_with('/')) {
        out.push('/');
    }
    out
}

/// Percent-decodes `input` and AWS-encodes the result in one pass. `pct` is
/// the escape prefix: `%` normally, `%25` to encode twice.
fn recode(input: &[u8], plus_as_space: bool, keep_slash: bool, pct: &[u8], out: &mut Vec<u8>) {
    // Fast path: already canonical (unreserved and, for paths, '/').
    if input
        .iter()
        .all(|&b| is_unreserved(b) || (keep_slash && b == b'/'))
    {
        out.extend_from_slice(input);
        return;
    }
    let mut i = 0;
    while i < input.len() {
        let mut b = input[i];
        i += 1;
        if b == b'%' && i + 1 < input.len() {
            if let (Some(h), Some(l)) = (hex_val(input[i]), hex_val(input[i + 1])) {
                b = h << 4 | l;
                i += 2;
            }
        } else if plus_as_space && b == b'+' {
            b = b' ';
        }
        if is_unreserved(b) || (keep_slash && b == b'/') {
            out.push(b);
        } else {
            out.extend_from_slice(pct);
            out.push(HEX_UPPER[usize::from(b >> 4)]);
            out.push(HEX_UPPER[usize::from(b & 0xf)]);
        }
    }
}

/// Percent-encodes the path as sent once more (every service but S3 signs
/// the doubly encoded path): an escape's `%` becomes `%25`, and a byte sent
/// unescaped that is not unreserved (`+`, `@`, `:`, …) is escaped once, as
/// botocore's and aws-sigv4's signers do. Decoding first would turn a raw
/// `+` into `%252B` where they sign `%2B`.
fn encode_again(input: &[u8], out: &mut Vec<u8>) {
    for &b in input {
        if is_unreserved(b) || b == b'/' {
            out.push(b);
        } else {
            out.push(b'%');
            out.push(HEX_UPPER[usize::from(b >> 4)]);
            out.push(HEX_UPPER[usize::from(b & 0xf)]);
        }
    }
}

/// Appends the canonical URI for `raw_path`.
pub(crate) fn canonical_uri(raw_path: &str, encoding: UriEncoding, out: &mut Vec<u8>) {
    match encoding {
        UriEncoding::S3 => {
            if raw_path.is_empty() {
                out.push(b'/');
            } else {
                recode(raw_path.as_bytes(), false, true, b"%", out);
            }
        }
        UriEncoding::Standard => {
            let needs_norm =
                !raw_path.starts_with('/') || raw_path.contains("//") || raw_path.contains('.');
            if needs_norm {
                let prefixed;
                let p = if raw_path.starts_with('/') {
                    raw_path
                } else {
                    prefixed = format!("/{raw_path}");
                    &prefixed
                };
                encode_again(normalize_path(p).as_bytes(), out);
            } else {
                encode_again(raw_path.as_bytes(), out);
            }
        }
    }
}

/// Appends the canonical query string. `skip_signature` drops
/// `X-Amz-Signature` (presigned requests sign everything else).
pub(crate) fn canonical_query(query: &str, skip_signature: bool, out: &mut Vec<u8>) {
    // Pairs are decoded form-style (`+` is a space) and re-encoded, as the
    // aws-sigv4 signer does, then sorted by encoded key then encoded value.
    let mut pairs: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for piece in query.split('&') {
        if piece.is_empty() {
            continue;
        }
        let (k, v) = piece.split_once('=').unwrap_or((piece, ""));
        let mut ek = Vec::with_capacity(k.len());
        recode(k.as_bytes(), true, false, b"%", &mut ek);
        if skip_signature && ek == b"X-Amz-Signature" {
            continue;
        }
        let mut ev = Vec::with_capacity(v.len());
        recode(v.as_bytes(), true, false, b"%", &mut ev);
        pairs.push((ek, ev));
    }
    pairs.sort_unstable();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push(b'&');
        }
        out.extend_from_slice(k);
        out.push(b'=');
        out.extend_from_slice(v);
    }
}

/// Trims spaces at both ends and collapses inner runs of spaces to one.
/// Only ' ' is touched, matching the AWS signers (tabs are kept).
fn push_normalized_value(value: &[u8], out: &mut Vec<u8>) {
    // Fast path (almost every value): nothing to trim or collapse, one memcpy.
    if value.first() != Some(&b' ')
        && value.last() != Some(&b' ')
        && !value.windows(2).any(|w| w == b"  ")
    {
        out.extend_from_slice(value);
        return;
    }
    let start = value.iter().position(|&b| b != b' ');
    let Some(start) = start else { return };
    let end = value
        .iter()
        .rposition(|&b| b != b' ')
        .map_or(start, |e| e + 1);
    let mut prev_space = false;
    for &b in &value[start..end] {
        if b == b' ' {
            if prev_space {
                continue;
            }
            prev_space = true;
        } else {
            prev_space = false;
        }
        out.push(b);
    }
}

/// Header values grouped by name, so each signed header is a short scan
/// instead of a `HeaderMap` lookup (which re-parses and re-hashes the name
/// every time). Comparing lengths first makes the scan cheaper than sorting.
struct HeaderIndex<'a> {
    /// (name, range into `values`).
    groups: Vec<(&'a str, usize, usize)>,
    /// All values, those of one name contiguous and in arrival order.
    values: Vec<&'a [u8]>,
}

impl<'a> HeaderIndex<'a> {
    fn new(headers: &'a HeaderMap) -> Self {
        let mut groups: Vec<(&'a str, usize, usize)> = Vec::with_capacity(headers.keys_len());
        let mut values: Vec<&'a [u8]> = Vec::with_capacity(headers.len());
        let mut prev: Option<&'a http::HeaderName> = None;
        // HeaderMap::iter yields all values of a name consecutively, with
        // the same `&HeaderName`, so a pointer check finds group boundaries.
        for (name, value) in headers {
            let i = values.len();
            values.push(value.as_bytes());
            match groups.last_mut() {
                Some((_, _, end)) if prev.is_some_and(|p| std::ptr::eq(p, name)) => *end = i + 1,
                _ => groups.push((name.as_str(), i, i + 1)),
            }
            prev = Some(name);
        }
        Self { groups, values }
    }

    fn get(&self, name: &str) -> &[&'a [u8]] {
        self.groups
            .iter()
            .find(|g| g.0.len() == name.len() && g.0 == name)
            .and_then(|g| self.values.get(g.1..g.2))
            .unwrap_or_default()
    }
}

/// Appends `name:value\n` for one signed header. `host` falls back to the
/// URI authority because HTTP/2 requests carry it as `:authority`.
fn push_canonical_header(name: &str, uri: &Uri, index: &HeaderIndex<'_>, out: &mut Vec<u8>) {
    out.extend_from_slice(name.as_bytes());
    out.push(b':');
    let values = index.get(name);
    if values.is_empty() {
        if name == "host"
            && let Some(a) = uri.authority()
        {
            push_normalized_value(a.as_str().as_bytes(), out);
        }
    } else {
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            push_normalized_value(v, out);
        }
    }
    out.push(b'\n');
}

/// Builds the canonical request. `signed_headers` must already be the exact
/// list (order and spelling) that goes into the `SignedHeaders` line.
pub(crate) struct CanonicalInput<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub signed_headers: &'a [String],
    pub payload: &'a str,
    pub encoding: UriEncoding,
    pub presigned: bool,
}

pub(crate) fn canonical_request(input: &CanonicalInput<'_>) -> Vec<u8> {
    // Typical S3 requests canonicalize to 600-900 bytes; avoid regrowing.
    let mut out = Vec::with_capacity(1024);
    out.extend_from_slice(input.method.as_str().as_bytes());
    out.push(b'\n');
    canonical_uri(input.uri.path(), input.encoding, &mut out);
    out.push(b'\n');
    canonical_query(input.uri.query().unwrap_or(""), input.presigned, &mut out);
    out.push(b'\n');
    let index = HeaderIndex::new(input.headers);
    for name in input.signed_headers {
        push_canonical_header(name, input.uri, &index, &mut out);
    }
    out.push(b'\n');
    for (i, name) in input.signed_headers.iter().enumerate() {
        if i > 0 {
            out.push(b';');
        }
        out.extend_from_slice(name.as_bytes());
    }
    out.push(b'\n');
    out.extend_from_slice(input.payload.as_bytes());
    out
}

pub(crate) fn string_to_sign(amz_date: &str, scope: &str, canonical_request: &[u8]) -> String {
    let hash = hex32(&sha256(canonical_request));
    let mut s = String::with_capacity(18 + amz_date.len() + scope.len() + 64);
    s.push_str("AWS4-HMAC-SHA256\n");
    s.push_str(amz_date);
    s.push('\n');
    s.push_str(scope);
    s.push('\n');
    // hex32 output is ASCII.
    s.push_str(std::str::from_utf8(&hash).unwrap_or_default());
    s
}

/// Lowercase hex of a 32-byte digest without allocating.
pub(crate) fn hex32(bytes: &[u8; 32]) -> [u8; 64] {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = [0u8; 64];
    for (i, b) in bytes.iter().enumerate() {
        out[2 * i] = HEX[usize::from(b >> 4)];
        out[2 * i + 1] = HEX[usize::from(b & 0xf)];
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cu(p: &str, e: UriEncoding) -> String {
        let mut out = Vec::new();
        canonical_uri(p, e, &mut out);
        String::from_utf8(out).unwrap()
    }

    fn cq(q: &str) -> String {
        let mut out = Vec::new();
        canonical_query(q, true, &mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn uri_s3() {
        assert_eq!(cu("/", UriEncoding::S3), "/");
        assert_eq!(cu("", UriEncoding::S3), "/");
        assert_eq!(cu("/b/a%20b+c", UriEncoding::S3), "/b/a%20b%2Bc");
        assert_eq!(cu("/b//./../k", UriEncoding::S3), "/b//./../k");
        assert_eq!(cu("/b/%e2%82%ac", UriEncoding::S3), "/b/%E2%82%AC");
        assert_eq!(cu("/b/100%", UriEncoding::S3), "/b/100%25");
        assert_eq!(cu("/b/a!b", UriEncoding::S3), "/b/a%21b");
    }

    #[test]
    fn uri_standard() {
        assert_eq!(cu("/", UriEncoding::Standard), "/");
        assert_eq!(cu("", UriEncoding::Standard), "/");
        assert_eq!(cu("/a//b/./c/../d", UriEncoding::Standard), "/a/b/d");
        assert_eq!(cu("/a/b/..", UriEncoding::Standard), "/a/");
        assert_eq!(cu("/../..", UriEncoding::Standard), "/");
        assert_eq!(cu("/a%20b", UriEncoding::Standard), "/a%2520b");
        assert_eq!(cu("/a/", UriEncoding::Standard), "/a/");
        assert_eq!(
            cu("/items/TEA+POT", UriEncoding::Standard),
            "/items/TEA%2BPOT"
        );
        assert_eq!(cu("/a%7Eb", UriEncoding::Standard), "/a%257Eb");
    }

    #[test]
    fn query() {
        assert_eq!(cq(""), "");
        assert_eq!(cq("b=2&a=1&a=0"), "a=0&a=1&b=2");
        assert_eq!(cq("acl"), "acl=");
        assert_eq!(cq("k=a+b&j=%2B&&x="), "j=%2B&k=a%20b&x=");
        assert_eq!(cq("X-Amz-Signature=abc&X-Amz-Date=1"), "X-Amz-Date=1");
        assert_eq!(cq("k=%zz%4"), "k=%25zz%254");
        assert_eq!(cq("k=a=b"), "k=a%3Db");
    }

    #[test]
    fn header_values() {
        let mut out = Vec::new();
        push_normalized_value(b"  a   b \t c  ", &mut out);
        assert_eq!(out, b"a b \t c");
        out.clear();
        push_normalized_value(b"   ", &mut out);
        assert_eq!(out, b"");
    }
}

//! parse_request + verify on arbitrary URIs and headers. Two layouts: raw
//! `name:value` lines, or SigV4-shaped templates whose fields come from the
//! input so the fuzzer reaches verify() quickly.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use libfuzzer_sys::fuzz_target;
use nomuck_sigv4::{
    ChunkedDecoder, CredentialScope, PayloadHash, UriEncoding, derive_signing_key, parse_request,
    verify,
};
use time::macros::datetime;

fn header(h: &mut HeaderMap, name: &[u8], value: &[u8]) {
    if let (Ok(n), Ok(v)) = (HeaderName::from_bytes(name), HeaderValue::from_bytes(value)) {
        h.append(n, v);
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let lines: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
    let line = |i: usize| lines.get(i).copied().unwrap_or_default();
    let uri: Uri = Uri::try_from(line(0)).unwrap_or_else(|_| Uri::from_static("/"));
    let mut h = HeaderMap::new();
    match mode % 3 {
        0 => {
            for l in &lines[1.min(lines.len())..] {
                if let Some(i) = l.iter().position(|&b| b == b':') {
                    header(&mut h, &l[..i], &l[i + 1..]);
                }
            }
        }
        1 => {
            let mut auth = b"AWS4-HMAC-SHA256 Credential=".to_vec();
            auth.extend_from_slice(line(1));
            auth.extend_from_slice(b", SignedHeaders=");
            auth.extend_from_slice(line(2));
            auth.extend_from_slice(b", Signature=");
            auth.extend_from_slice(line(3));
            header(&mut h, b"authorization", &auth);
            header(&mut h, b"x-amz-date", line(4));
            header(&mut h, b"x-amz-content-sha256", line(5));
            header(&mut h, b"host", line(6));
            header(&mut h, b"x-amz-decoded-content-length", line(7));
            header(&mut h, b"x-amz-trailer", line(8));
            header(&mut h, b"date", line(9));
        }
        _ => {
            let mut pq = b"/k?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=".to_vec();
            for (i, k) in [
                b"&X-Amz-Date=".as_slice(),
                b"&X-Amz-Expires=",
                b"&X-Amz-SignedHeaders=",
                b"&X-Amz-Signature=",
            ]
            .iter()
            .enumerate()
            {
                pq.extend_from_slice(line(1 + i));
                pq.extend_from_slice(k);
            }
            pq.extend_from_slice(line(5));
            header(&mut h, b"host", line(6));
            let uri = Uri::try_from(pq).unwrap_or(uri);
            run(&uri, &h);
            return;
        }
    }
    run(&uri, &h);
});

fn run(uri: &Uri, h: &HeaderMap) {
    let _ = PayloadHash::from_headers(h);
    let Ok(Some(req)) = parse_request(&Method::PUT, uri, h) else {
        return;
    };
    let key = derive_signing_key(
        "secret",
        &CredentialScope::new("20130524", "us-east-1", "s3"),
    );
    for now in [datetime!(2013-05-24 00:00:00 UTC), req.timestamp] {
        for enc in [UriEncoding::S3, UriEncoding::Standard] {
            let _ = verify(&req, &Method::PUT, uri, h, Some(&[0; 32]), &key, enc, now);
            let _ = verify(&req, &Method::GET, uri, h, None, &key, enc, now);
        }
    }
    let _ = ChunkedDecoder::for_request(&req, h, &key);
}

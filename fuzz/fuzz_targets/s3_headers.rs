//! S3 request-header and addressing parsers on untrusted input.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = nomuck_s3::headers::parse_range(text);
    let _ = nomuck_s3::headers::http_date_millis(text);
    let domains = ["localhost".to_owned()];
    let (host, path) = text.split_once('\n').unwrap_or(("localhost", text));
    let _ = nomuck_s3::addressing::parse_target(Some(host), path, &domains);
    if let Ok(value) = HeaderValue::from_str(text) {
        let mut headers = HeaderMap::new();
        for name in [
            "x-amz-copy-source",
            "x-amz-copy-source-range",
            "x-amz-tagging",
            "x-amz-trailer",
            "x-amz-sdk-checksum-algorithm",
            "x-amz-checksum-crc32",
            "range",
            "if-modified-since",
        ] {
            headers.insert(name, value.clone());
        }
        let _ = nomuck_s3::headers::copy_source(&headers);
        let _ = nomuck_s3::headers::copy_source_range(&headers);
        let _ = nomuck_s3::headers::tagging_header(&headers);
        let _ = nomuck_s3::headers::checksum_request(&headers);
        let _ = nomuck_s3::headers::conditions(&headers, "");
        let _ = nomuck_s3::headers::object_headers(&headers);
    }
});

//! Per-request SigV4 cost on the hot path: an aws-cli style S3 PUT with the
//! signing key already derived and no body hashing (UNSIGNED-PAYLOAD).

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use nomuck_sigv4::{
    Credentials, PayloadHash, SigningParams, UriEncoding, derive_signing_key, parse_request,
    sign_request, verify,
};
use time::macros::datetime;

fn bench(c: &mut Criterion) {
    let now = datetime!(2025-06-01 12:00:00 UTC);
    let creds = Credentials {
        access_key_id: "AKIAIOSFODNN7EXAMPLE".to_owned(),
        secret_access_key: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY".to_owned(),
        session_token: None,
    };
    let params = SigningParams {
        credentials: &creds,
        region: "us-east-1",
        service: "s3",
        time: now,
        encoding: UriEncoding::S3,
    };
    let method = Method::PUT;
    let uri: Uri = "/my-bucket/backups/2025/06/01/db%20dump.tar.gz"
        .parse()
        .unwrap();
    let mut headers = HeaderMap::new();
    for (k, v) in [
        ("host", "s3.nomuck.local:9000"),
        (
            "user-agent",
            "aws-cli/2.27.0 md/awscrt#0.26.1 ua/2.1 os/linux#6.8.0 md/arch#x86_64 lang/python#3.13.3 md/pyimpl#CPython m/G,Z,b cfg/retry-mode#standard md/installer#exe md/distrib#ubuntu.24 md/prompt#off md/command#s3.cp",
        ),
        ("content-type", "application/gzip"),
        ("content-length", "8388608"),
        ("content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="),
        ("expect", "100-continue"),
        ("x-amz-checksum-crc64nvme", "AAAAAAAAAAA="),
        ("x-amz-sdk-checksum-algorithm", "CRC64NVME"),
        ("x-amz-storage-class", "STANDARD"),
        ("x-amz-meta-origin", "backup-job-17"),
        (
            "amz-sdk-invocation-id",
            "0f0e3d3c-6b7a-4a3e-9d5e-2f1c0b9a8d7e",
        ),
        ("amz-sdk-request", "attempt=1; max=3"),
    ] {
        headers.insert(HeaderName::from_static(k), HeaderValue::from_static(v));
    }
    sign_request(&method, &uri, &mut headers, &PayloadHash::Unsigned, &params).unwrap();
    let req = parse_request(&method, &uri, &headers).unwrap().unwrap();
    let key = derive_signing_key(&creds.secret_access_key, &req.scope);
    verify(
        &req,
        &method,
        &uri,
        &headers,
        None,
        &key,
        UriEncoding::S3,
        now,
    )
    .unwrap();

    c.bench_function("verify_s3_put", |b| {
        b.iter(|| {
            verify(
                black_box(&req),
                &method,
                black_box(&uri),
                black_box(&headers),
                None,
                &key,
                UriEncoding::S3,
                now,
            )
            .unwrap()
        })
    });
    c.bench_function("parse_and_verify_s3_put", |b| {
        b.iter(|| {
            let req = parse_request(&method, black_box(&uri), black_box(&headers))
                .unwrap()
                .unwrap();
            verify(
                &req,
                &method,
                &uri,
                &headers,
                None,
                &key,
                UriEncoding::S3,
                now,
            )
            .unwrap()
        })
    });
    c.bench_function("derive_signing_key", |b| {
        b.iter(|| derive_signing_key(black_box(&creds.secret_access_key), &req.scope))
    });
}

criterion_group!(benches, bench);
criterion_main!(benches);

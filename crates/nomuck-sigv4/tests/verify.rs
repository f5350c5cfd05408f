//! Fixed vectors from the S3 SigV4 documentation, time rules, and the
//! nomuck signer round trip.

use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use nomuck_sigv4::{
    AuthError, CredentialScope, Credentials, PayloadHash, Sha256BodyCheck, SignedRequest,
    SigningParams, UriEncoding, derive_signing_key, parse_request, presign_url, sign_request,
    verify,
};
use sha2::{Digest, Sha256};
use time::macros::datetime;
use time::{Duration, OffsetDateTime};

const AKID: &str = "AKIAIOSFODNN7EXAMPLE";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const T0: OffsetDateTime = datetime!(2013-05-24 00:00:00 UTC);

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in pairs {
        h.append(
            HeaderName::from_bytes(k.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

fn run(
    method: Method,
    uri: &str,
    h: &HeaderMap,
    now: OffsetDateTime,
) -> Result<SignedRequest, AuthError> {
    let uri: Uri = uri.parse().unwrap();
    let req = parse_request(&method, &uri, h)?.expect("signed");
    let key = derive_signing_key(SECRET, &req.scope);
    verify(&req, &method, &uri, h, None, &key, UriEncoding::S3, now)?;
    Ok(req)
}

fn auth(signed_headers: &str, sig: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential={AKID}/20130524/us-east-1/s3/aws4_request,SignedHeaders={signed_headers},Signature={sig}"
    )
}

const EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

fn get_object(now: OffsetDateTime) -> Result<SignedRequest, AuthError> {
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &auth(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ),
    ]);
    run(Method::GET, "/test.txt", &h, now)
}

#[test]
fn s3_doc_get_object() {
    get_object(T0).unwrap();
}

#[test]
fn s3_doc_put_object_with_date_header() {
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("date", "Fri, 24 May 2013 00:00:00 GMT"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "x-amz-content-sha256",
            "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072",
        ),
        (
            "authorization",
            &auth(
                "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
            ),
        ),
    ]);
    let req = run(Method::PUT, "/test$file.text", &h, T0).unwrap();
    let mut check = Sha256BodyCheck::for_request(&req).unwrap();
    check.update(b"Welcome to ");
    check.update(b"Amazon S3.");
    check.finish().unwrap();
    let mut bad = Sha256BodyCheck::for_request(&req).unwrap();
    bad.update(b"Welcome to Amazon S3!");
    assert!(matches!(
        bad.finish(),
        Err(AuthError::ContentSha256Mismatch { .. })
    ));
}

#[test]
fn s3_doc_get_lifecycle_and_list() {
    let base = |sig: &str| {
        headers(&[
            ("host", "examplebucket.s3.amazonaws.com"),
            ("x-amz-date", "20130524T000000Z"),
            ("x-amz-content-sha256", EMPTY),
            (
                "authorization",
                &auth("host;x-amz-content-sha256;x-amz-date", sig),
            ),
        ])
    };
    run(
        Method::GET,
        "/?lifecycle",
        &base("fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"),
        T0,
    )
    .unwrap();
    run(
        Method::GET,
        "/?max-keys=2&prefix=J",
        &base("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        T0,
    )
    .unwrap();
    // Same signature, different query order on the wire: still valid.
    run(
        Method::GET,
        "/?prefix=J&max-keys=2",
        &base("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
        T0,
    )
    .unwrap();
    assert!(matches!(
        run(
            Method::GET,
            "/?max-keys=3&prefix=J",
            &base("34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"),
            T0,
        ),
        Err(AuthError::SignatureMismatch { .. })
    ));
}

const PRESIGNED: &str = "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404";

fn presigned(uri: &str, now: OffsetDateTime) -> Result<SignedRequest, AuthError> {
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    run(Method::GET, uri, &h, now)
}

#[test]
fn s3_doc_presigned_and_expiry() {
    presigned(PRESIGNED, T0).unwrap();
    presigned(PRESIGNED, T0 + Duration::seconds(86_400)).unwrap();
    assert_eq!(
        presigned(PRESIGNED, T0 + Duration::seconds(86_401)).unwrap_err(),
        AuthError::PresignExpired
    );
    presigned(PRESIGNED, T0 - Duration::minutes(14)).unwrap();
    assert!(matches!(
        presigned(PRESIGNED, T0 - Duration::minutes(16)),
        Err(AuthError::PresignNotYetValid { .. })
    ));
    // Tampered signature / method.
    let bad = PRESIGNED.replace("d404", "d405");
    assert!(matches!(
        presigned(&bad, T0),
        Err(AuthError::SignatureMismatch { .. })
    ));
    let h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    assert!(matches!(
        run(Method::PUT, PRESIGNED, &h, T0),
        Err(AuthError::SignatureMismatch { .. })
    ));
}

#[test]
fn presigned_expires_range() {
    for (expires, ok) in [(0u64, false), (1, true), (604_800, true), (604_801, false)] {
        let uri = PRESIGNED.replace("X-Amz-Expires=86400", &format!("X-Amz-Expires={expires}"));
        let r = presigned(&uri, T0);
        if ok {
            // Range is fine; the signature (made for 86400) is not.
            assert!(
                matches!(r, Err(AuthError::SignatureMismatch { .. })),
                "{expires}: {r:?}"
            );
        } else {
            assert_eq!(r.unwrap_err(), AuthError::ExpiresOutOfRange, "{expires}");
        }
    }
}

#[test]
fn header_clock_skew() {
    get_object(T0 + Duration::minutes(14)).unwrap();
    get_object(T0 - Duration::minutes(14)).unwrap();
    get_object(T0 + Duration::minutes(15)).unwrap();
    for d in [
        Duration::minutes(16),
        Duration::minutes(-16),
        Duration::days(400),
    ] {
        assert!(
            matches!(
                get_object(T0 + d),
                Err(AuthError::RequestTimeTooSkewed { .. })
            ),
            "{d}"
        );
    }
}

fn creds() -> Credentials {
    Credentials {
        access_key_id: AKID.to_owned(),
        secret_access_key: SECRET.to_owned(),
        session_token: None,
    }
}

#[test]
fn own_signer_reproduces_s3_doc_vector() {
    let c = creds();
    let params = SigningParams {
        credentials: &c,
        region: "us-east-1",
        service: "s3",
        time: T0,
        encoding: UriEncoding::S3,
    };
    let mut h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("range", "bytes=0-9"),
    ]);
    let uri: Uri = "/test.txt".parse().unwrap();
    let payload = PayloadHash::parse(EMPTY).unwrap();
    let sig = sign_request(&Method::GET, &uri, &mut h, &payload, &params).unwrap();
    assert_eq!(
        hex::encode(sig),
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41"
    );
    get_object(T0).unwrap();

    let url = presign_url(
        &Method::GET,
        &"https://examplebucket.s3.amazonaws.com/test.txt"
            .parse()
            .unwrap(),
        &HeaderMap::new(),
        86_400,
        &params,
    )
    .unwrap();
    // Same parameters as the documented URL, in the same order.
    assert_eq!(url.path_and_query().unwrap().as_str(), PRESIGNED);
    assert_eq!(url.host(), Some("examplebucket.s3.amazonaws.com"));
    assert!(presign_url(&Method::GET, &url, &HeaderMap::new(), 604_801, &params).is_err());
}

#[test]
fn own_signer_roundtrip_standard_with_session_token() {
    let mut c = creds();
    c.session_token = Some("FwoGZXIvYXdzEXAMPLE//token+=".to_owned());
    let now = datetime!(2024-02-29 23:59:30 UTC);
    let params = SigningParams {
        credentials: &c,
        region: "nomuck-1",
        service: "ec2",
        time: now,
        encoding: UriEncoding::Standard,
    };
    let uri: Uri =
        "/a/./b//../c%20d?Action=DescribeInstances&Version=2016-11-15&Filter.1.Name=tag%3AName"
            .parse()
            .unwrap();
    let body = b"Action=RunInstances";
    let hash: [u8; 32] = Sha256::digest(body).into();
    let mut h = headers(&[
        ("host", "ec2.nomuck.local:8443"),
        ("content-type", "application/x-www-form-urlencoded"),
    ]);
    sign_request(
        &Method::POST,
        &uri,
        &mut h,
        &PayloadHash::Sha256(hash),
        &params,
    )
    .unwrap();
    // A server that strips x-amz-content-sha256 would still see it; here it is present.
    let req = parse_request(&Method::POST, &uri, &h).unwrap().unwrap();
    assert_eq!(req.session_token, c.session_token);
    assert_eq!(
        req.scope,
        CredentialScope::new("20240229", "nomuck-1", "ec2")
    );
    req.scope.check("nomuck-1", "ec2").unwrap();
    assert!(matches!(
        req.scope.check("us-east-1", "ec2"),
        Err(AuthError::InvalidScope(_))
    ));
    let key = derive_signing_key(SECRET, &req.scope);
    verify(
        &req,
        &Method::POST,
        &uri,
        &h,
        Some(&hash),
        &key,
        UriEncoding::Standard,
        now,
    )
    .unwrap();
    // Body hash that differs from the declared one.
    let other: [u8; 32] = Sha256::digest(b"other").into();
    assert!(matches!(
        verify(
            &req,
            &Method::POST,
            &uri,
            &h,
            Some(&other),
            &key,
            UriEncoding::Standard,
            now
        ),
        Err(AuthError::ContentSha256Mismatch { .. })
    ));
    // Path normalization makes an equivalent path verify, S3 mode does not.
    let equivalent: Uri =
        "/a/c%20d?Version=2016-11-15&Action=DescribeInstances&Filter.1.Name=tag%3AName"
            .parse()
            .unwrap();
    verify(
        &req,
        &Method::POST,
        &equivalent,
        &h,
        None,
        &key,
        UriEncoding::Standard,
        now,
    )
    .unwrap();
    assert!(matches!(
        verify(
            &req,
            &Method::POST,
            &uri,
            &h,
            None,
            &key,
            UriEncoding::S3,
            now
        ),
        Err(AuthError::SignatureMismatch { .. })
    ));
}

#[test]
fn missing_body_hash_and_unsigned_headers() {
    let c = creds();
    let params = SigningParams {
        credentials: &c,
        region: "us-east-1",
        service: "sts",
        time: T0,
        encoding: UriEncoding::Standard,
    };
    let uri: Uri = "/".parse().unwrap();
    let hash: [u8; 32] = Sha256::digest(b"Action=GetCallerIdentity").into();
    let mut h = headers(&[("host", "sts.local")]);
    sign_request(
        &Method::POST,
        &uri,
        &mut h,
        &PayloadHash::Sha256(hash),
        &params,
    )
    .unwrap();
    // Without x-amz-content-sha256 the caller must hash the body; forgetting
    // to is reported before the signature is even looked at.
    h.remove("x-amz-content-sha256");
    let req = parse_request(&Method::POST, &uri, &h).unwrap().unwrap();
    assert_eq!(req.payload, PayloadHash::Missing);
    let key = derive_signing_key(SECRET, &req.scope);
    assert_eq!(
        verify(
            &req,
            &Method::POST,
            &uri,
            &h,
            None,
            &key,
            UriEncoding::Standard,
            T0
        ),
        Err(AuthError::MissingBodyHash)
    );

    // Unsigned x-amz-* header added after signing.
    let mut h = headers(&[("host", "examplebucket.s3.amazonaws.com")]);
    let s3 = SigningParams {
        service: "s3",
        encoding: UriEncoding::S3,
        ..params.clone()
    };
    sign_request(&Method::GET, &uri, &mut h, &PayloadHash::Unsigned, &s3).unwrap();
    h.insert("x-amz-copy-source", HeaderValue::from_static("/other/key"));
    h.insert("x-amz-acl", HeaderValue::from_static("public-read"));
    let req = parse_request(&Method::GET, &uri, &h).unwrap().unwrap();
    let key = derive_signing_key(SECRET, &req.scope);
    match verify(
        &req,
        &Method::GET,
        &uri,
        &h,
        None,
        &key,
        UriEncoding::S3,
        T0,
    ) {
        Err(AuthError::HeadersNotSigned(names)) => {
            assert!(
                names.contains("x-amz-copy-source") && names.contains("x-amz-acl"),
                "{names}"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn scope_date_must_match_timestamp() {
    let h = headers(&[
        ("host", "examplebucket.s3.amazonaws.com"),
        ("x-amz-date", "20130525T000000Z"),
        ("x-amz-content-sha256", EMPTY),
        (
            "authorization",
            &auth("host;x-amz-content-sha256;x-amz-date", EMPTY),
        ),
    ]);
    assert!(matches!(
        run(Method::GET, "/", &h, datetime!(2013-05-25 00:00:00 UTC)),
        Err(AuthError::MalformedAuthorization(_))
    ));
}

#[test]
fn http2_authority_stands_in_for_host() {
    // HTTP/2 requests carry the host in :authority (the URI), not a header.
    let h = headers(&[
        ("range", "bytes=0-9"),
        ("x-amz-content-sha256", EMPTY),
        ("x-amz-date", "20130524T000000Z"),
        (
            "authorization",
            &auth(
                "host;range;x-amz-content-sha256;x-amz-date",
                "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
            ),
        ),
    ]);
    run(
        Method::GET,
        "https://examplebucket.s3.amazonaws.com/test.txt",
        &h,
        T0,
    )
    .unwrap();
}

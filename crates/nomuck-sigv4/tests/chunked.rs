//! aws-chunked decoding: the S3 documentation vector, random streams fed in
//! arbitrary splits, every rejection path, and the `http_body` adapter.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use aws_credential_types::Credentials as AwsCredentials;
use aws_sigv4::http_request::SigningSettings;
use aws_sigv4::sign::v4;
use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use http_body::{Body, Frame};
use nomuck_checksum::{Checksum, ChecksumAlgorithm};
use nomuck_sigv4::{
    AuthError, AwsChunkedBody, AwsChunkedBodyError, ChunkSigner, ChunkedConfig, ChunkedDecoder,
    ChunkedMode, CredentialScope, DEFAULT_MIN_CHUNK_SIZE, UriEncoding, derive_signing_key,
    encode_aws_chunked, parse_request, verify,
};
use proptest::prelude::*;
use time::OffsetDateTime;
use time::macros::datetime;

const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
const T0: OffsetDateTime = datetime!(2013-05-24 00:00:00 UTC);
const SEED: &str = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9";
const SIG1: &str = "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648";
const SIG2: &str = "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497";
const SIG3: &str = "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9";

fn scope() -> CredentialScope {
    CredentialScope::new("20130524", "us-east-1", "s3")
}

fn signer() -> ChunkSigner {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(SEED, &mut seed).unwrap();
    ChunkSigner::new(derive_signing_key(SECRET, &scope()), T0, &scope(), seed)
}

fn doc_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    for (k, v) in [
        ("host", "s3.amazonaws.com"),
        ("x-amz-date", "20130524T000000Z"),
        ("x-amz-storage-class", "REDUCED_REDUNDANCY"),
        (
            "authorization",
            &format!(
                "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}"
            ),
        ),
        ("x-amz-content-sha256", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"),
        ("content-encoding", "aws-chunked"),
        ("x-amz-decoded-content-length", "66560"),
        ("content-length", "66824"),
    ] {
        h.insert(
            HeaderName::from_static(k),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    h
}

/// The documented stream, assembled by hand from the published signatures.
fn doc_stream() -> Vec<u8> {
    let mut s = Vec::new();
    s.extend_from_slice(format!("10000;chunk-signature={SIG1}\r\n").as_bytes());
    s.extend_from_slice(&[b'a'; 65536]);
    s.extend_from_slice(format!("\r\n400;chunk-signature={SIG2}\r\n").as_bytes());
    s.extend_from_slice(&[b'a'; 1024]);
    s.extend_from_slice(format!("\r\n0;chunk-signature={SIG3}\r\n\r\n").as_bytes());
    s
}

/// Feeds `stream` split at the given lengths (cycled), collecting output.
fn feed(dec: &mut ChunkedDecoder, stream: &[u8], splits: &[usize]) -> Result<Vec<u8>, AuthError> {
    let mut out = Vec::new();
    let mut pos = 0;
    let mut i = 0;
    while pos < stream.len() {
        let n = splits[i % splits.len()].max(1).min(stream.len() - pos);
        i += 1;
        let mut input = Bytes::copy_from_slice(&stream[pos..pos + n]);
        pos += n;
        while !input.is_empty() {
            if let Some(d) = dec.decode(&mut input)? {
                assert!(!d.is_empty());
                out.extend_from_slice(&d);
            }
        }
    }
    dec.finish()?;
    Ok(out)
}

#[test]
fn s3_doc_multi_chunk_vector() {
    // The request itself verifies and yields the documented seed.
    let h = doc_headers();
    let uri: Uri = "/examplebucket/chunkObject.txt".parse().unwrap();
    let req = parse_request(&Method::PUT, &uri, &h).unwrap().unwrap();
    let key = derive_signing_key(SECRET, &req.scope);
    verify(
        &req,
        &Method::PUT,
        &uri,
        &h,
        None,
        &key,
        UriEncoding::S3,
        T0,
    )
    .unwrap();
    assert_eq!(hex::encode(req.signature), SEED);

    // Our chunk signer reproduces every published chunk signature.
    let mut s = signer();
    assert_eq!(hex::encode(s.sign_chunk(&[b'a'; 65536])), SIG1);
    assert_eq!(hex::encode(s.sign_chunk(&[b'a'; 1024])), SIG2);
    assert_eq!(hex::encode(s.sign_chunk(b"")), SIG3);

    // And our encoder produces the documented 66824-byte body.
    let encoded = encode_aws_chunked(&[b'a'; 66560], 65536, Some(&mut signer()), None);
    assert_eq!(encoded.len(), 66824);
    assert_eq!(encoded, doc_stream());

    for splits in [vec![1], vec![7, 1, 300, 65536], vec![usize::MAX]] {
        let mut dec = ChunkedDecoder::for_request(&req, &h, &key)
            .unwrap()
            .unwrap();
        let out = feed(&mut dec, &doc_stream(), &splits).unwrap();
        assert_eq!(out.len(), 66560);
        assert!(out.iter().all(|&b| b == b'a'));
        assert!(dec.is_complete());
        // Never more than one chunk (+ a partial line) held.
        assert!(
            dec.max_buffered_len() <= 65536,
            "{}",
            dec.max_buffered_len()
        );
    }
}

#[test]
fn chunk_signatures_match_aws_sigv4() {
    let identity = AwsCredentials::new("AKIAIOSFODNN7EXAMPLE", SECRET, None, None, "t").into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name("s3")
        .time(T0.into())
        .settings(SigningSettings::default())
        .build()
        .unwrap();
    let mut ours = signer();
    let mut prev = SEED.to_owned();
    for data in [&b"hello"[..], &[7u8; 9000][..], b""] {
        let theirs = v4::sign_chunk(&Bytes::copy_from_slice(data), &prev, &params)
            .unwrap()
            .signature()
            .to_owned();
        assert_eq!(hex::encode(ours.sign_chunk(data)), theirs);
        prev = theirs;
    }
    let mut trailers = aws_smithy_runtime_api::http::Headers::new();
    trailers.insert("x-amz-checksum-crc32c", "sOO8/Q==");
    let theirs = v4::sign_trailer(&trailers, &prev, &params).unwrap();
    assert_eq!(
        hex::encode(ours.sign_trailer(&[("x-amz-checksum-crc32c", "sOO8/Q==")])),
        theirs.signature()
    );
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Signed,
    SignedTrailer,
    Unsigned,
}

fn decoder(
    kind: Kind,
    len: u64,
    trailer: Option<ChecksumAlgorithm>,
    min_chunk: u64,
) -> ChunkedDecoder {
    let mode = match kind {
        Kind::Signed => ChunkedMode::Signed(signer()),
        Kind::SignedTrailer => ChunkedMode::SignedTrailer(signer()),
        Kind::Unsigned => ChunkedMode::UnsignedTrailer,
    };
    let mut cfg = ChunkedConfig::new(mode);
    cfg.decoded_length = Some(len);
    cfg.trailer = trailer;
    cfg.min_chunk_size = min_chunk;
    ChunkedDecoder::new(cfg)
}

fn encode(kind: Kind, data: &[u8], chunk: usize, trailer: Option<&Checksum>) -> Vec<u8> {
    match kind {
        Kind::Signed => encode_aws_chunked(data, chunk, Some(&mut signer()), None),
        Kind::SignedTrailer => encode_aws_chunked(data, chunk, Some(&mut signer()), trailer),
        Kind::Unsigned => encode_aws_chunked(data, chunk, None, trailer),
    }
}

fn kind_strategy() -> impl Strategy<Value = (Kind, Option<ChecksumAlgorithm>)> {
    let alg = prop::option::of(prop::sample::select(ChecksumAlgorithm::ALL.to_vec()));
    prop_oneof![
        Just((Kind::Signed, None)),
        alg.clone().prop_map(|a| (Kind::SignedTrailer, a)),
        alg.prop_map(|a| (Kind::Unsigned, a)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn random_streams_roundtrip(
        data in prop::collection::vec(any::<u8>(), 0..40_000),
        chunk in 8192usize..20_000,
        (kind, alg) in kind_strategy(),
        splits in prop::collection::vec(1usize..5000, 1..20),
        extra_crlf in 0usize..3,
    ) {
        let trailer = alg.map(|a| Checksum::compute(a, &data));
        let mut stream = encode(kind, &data, chunk, trailer.as_ref());
        stream.extend(b"\r\n".repeat(extra_crlf));
        let mut dec = decoder(kind, data.len() as u64, alg, DEFAULT_MIN_CHUNK_SIZE);
        let out = feed(&mut dec, &stream, &splits).unwrap();
        prop_assert_eq!(&out, &data);
        prop_assert_eq!(dec.trailer_checksum(), trailer.as_ref());
        prop_assert!(dec.max_buffered_len() <= chunk + 100, "{}", dec.max_buffered_len());
    }

    #[test]
    fn byte_at_a_time_small_chunks(
        data in prop::collection::vec(any::<u8>(), 0..3000),
        chunk in 1usize..700,
        (kind, alg) in kind_strategy(),
    ) {
        let trailer = alg.map(|a| Checksum::compute(a, &data));
        let stream = encode(kind, &data, chunk, trailer.as_ref());
        let mut dec = decoder(kind, data.len() as u64, alg, 1);
        let out = feed(&mut dec, &stream, &[1]).unwrap();
        prop_assert_eq!(&out, &data);
        prop_assert!(dec.max_buffered_len() <= chunk.max(90) + 2);
    }

    #[test]
    fn corrupted_streams_are_rejected(
        data in prop::collection::vec(any::<u8>(), 1..3000),
        chunk in 1usize..700,
        (kind, alg) in kind_strategy(),
        pos in any::<prop::sample::Index>(),
        splits in prop::collection::vec(1usize..64, 1..8),
    ) {
        let trailer = alg.map(|a| Checksum::compute(a, &data));
        let stream = encode(kind, &data, chunk, trailer.as_ref());
        // Flip one byte anywhere: either it is rejected, or it only touched
        // bytes nobody checks (the lenient end, a hex digit's case).
        let i = pos.index(stream.len());
        let mut bad = stream.clone();
        bad[i] ^= 0x01;
        let mut dec = decoder(kind, data.len() as u64, alg, 1);
        match feed(&mut dec, &bad, &splits) {
            Err(_) => {}
            // Without signatures or a checksum only the framing is checked.
            Ok(out) if matches!(kind, Kind::Unsigned) && alg.is_none() => {
                prop_assert_eq!(out.len(), data.len());
            }
            Ok(out) => {
                prop_assert_eq!(&out, &data, "flip at {} of {} accepted with different data", i, stream.len());
            }
        }
    }
}

/// For each cut position: accepted only within the lenient tail.
fn check_truncations(kind: Kind, alg: Option<ChecksumAlgorithm>, tail: usize) {
    let data: Vec<u8> = (0..300u32).map(|i| i as u8).collect();
    let trailer = alg.map(|a| Checksum::compute(a, &data));
    let stream = encode(kind, &data, 100, trailer.as_ref());
    for cut in 0..=stream.len() {
        let mut dec = decoder(kind, data.len() as u64, alg, 1);
        let r = feed(&mut dec, &stream[..cut], &[5]);
        if cut + tail >= stream.len() {
            assert_eq!(r.unwrap(), data, "{kind:?} cut {cut}");
        } else {
            assert!(
                r.is_err(),
                "{kind:?} cut {cut} of {} accepted",
                stream.len()
            );
        }
    }
}

#[test]
fn truncation_is_detected() {
    // Only the final blank line (and the last trailer line's CRLF) may be missing.
    check_truncations(Kind::Signed, None, 2);
    check_truncations(Kind::Unsigned, None, 2);
    check_truncations(Kind::Unsigned, Some(ChecksumAlgorithm::Crc32), 4);
    check_truncations(Kind::SignedTrailer, Some(ChecksumAlgorithm::Sha256), 4);
    check_truncations(Kind::SignedTrailer, None, 2);
}

fn run(
    kind: Kind,
    len: u64,
    alg: Option<ChecksumAlgorithm>,
    stream: &[u8],
) -> Result<Vec<u8>, AuthError> {
    feed(&mut decoder(kind, len, alg, 1), stream, &[3])
}

#[test]
fn bad_chunk_signature_releases_nothing_from_that_chunk() {
    let data = vec![b'x'; 30_000];
    let stream = encode(Kind::Signed, &data, 10_000, None);
    // Corrupt the second chunk's signature.
    let second = stream
        .windows(17)
        .enumerate()
        .filter(|(_, w)| w == b";chunk-signature=")
        .nth(1)
        .unwrap()
        .0;
    let mut bad = stream.clone();
    bad[second + 17] = if bad[second + 17] == b'0' { b'1' } else { b'0' };
    let mut dec = decoder(Kind::Signed, 30_000, None, DEFAULT_MIN_CHUNK_SIZE);
    let mut out = Vec::new();
    let mut input = Bytes::from(bad);
    let err = loop {
        match dec.decode(&mut input) {
            Ok(Some(d)) => out.extend_from_slice(&d),
            Ok(None) => panic!("accepted"),
            Err(e) => break e,
        }
    };
    assert_eq!(err, AuthError::ChunkSignatureMismatch);
    assert_eq!(out.len(), 10_000);
    // Sticky.
    assert_eq!(
        dec.decode(&mut Bytes::from_static(b"1")),
        Err(AuthError::ChunkSignatureMismatch)
    );
    assert_eq!(dec.finish(), Err(AuthError::ChunkSignatureMismatch));
}

#[test]
fn trailer_errors() {
    let data = b"hello world".to_vec();
    let good = Checksum::compute(ChecksumAlgorithm::Crc32, &data);
    let wrong = Checksum::compute(ChecksumAlgorithm::Crc32, b"hello there");
    let n = data.len() as u64;
    let crc = Some(ChecksumAlgorithm::Crc32);

    for kind in [Kind::Unsigned, Kind::SignedTrailer] {
        assert_eq!(
            run(kind, n, crc, &encode(kind, &data, 4, Some(&wrong))),
            Err(AuthError::TrailerChecksumMismatch {
                algorithm: ChecksumAlgorithm::Crc32
            })
        );
        assert_eq!(
            run(kind, n, crc, &encode(kind, &data, 4, None)),
            Err(AuthError::MissingTrailer)
        );
        // Trailer sent but not declared in x-amz-trailer.
        assert!(matches!(
            run(kind, n, None, &encode(kind, &data, 4, Some(&good))),
            Err(AuthError::MalformedTrailer(_))
        ));
        // Declared CRC32, sent CRC32C.
        let c = Checksum::compute(ChecksumAlgorithm::Crc32c, &data);
        assert!(matches!(
            run(kind, n, crc, &encode(kind, &data, 4, Some(&c))),
            Err(AuthError::MalformedTrailer(_))
        ));
    }
    // Signed trailer whose signature was made for another value.
    let mut stream = encode(Kind::SignedTrailer, &data, 4, Some(&good));
    let at = stream
        .windows(8)
        .position(|w| w == &good.to_base64().as_bytes()[..8])
        .unwrap();
    let forged = wrong.to_base64();
    stream.splice(at..at + forged.len(), forged.bytes());
    assert_eq!(
        run(Kind::SignedTrailer, n, crc, &stream),
        Err(AuthError::TrailerSignatureMismatch)
    );
    // Signed trailer without its signature line.
    let unsigned_tail = {
        let mut s = encode(Kind::Signed, &data, 4, None);
        s.truncate(s.len() - 2);
        s.extend_from_slice(
            format!("x-amz-checksum-crc32:{}\r\n\r\n", good.to_base64()).as_bytes(),
        );
        s
    };
    assert!(matches!(
        run(Kind::SignedTrailer, n, crc, &unsigned_tail),
        Err(AuthError::MalformedTrailer(_))
    ));
    // Whitespace around ':' and mixed-case names are accepted (AWS does).
    let mut s = encode(Kind::Unsigned, &data, 4, None);
    s.truncate(s.len() - 2);
    s.extend_from_slice(format!("X-Amz-Checksum-CRC32 : {} \r\n\r\n", good.to_base64()).as_bytes());
    assert_eq!(run(Kind::Unsigned, n, crc, &s).unwrap(), data);
}

#[test]
fn length_and_framing_errors() {
    let data = vec![1u8; 20_000];
    let stream = encode(Kind::Signed, &data, 9000, None);
    assert!(matches!(
        run(Kind::Signed, 20_001, None, &stream),
        Err(AuthError::DecodedLengthMismatch {
            expected: 20_001,
            actual: 20_000
        })
    ));
    assert!(matches!(
        run(Kind::Signed, 19_999, None, &stream),
        Err(AuthError::DecodedLengthMismatch {
            expected: 19_999,
            ..
        })
    ));
    // Non-final chunk below the 8 KiB minimum.
    let small = encode(Kind::Signed, &data, 1000, None);
    assert_eq!(
        feed(
            &mut decoder(Kind::Signed, 20_000, None, DEFAULT_MIN_CHUNK_SIZE),
            &small,
            &[4096]
        ),
        Err(AuthError::InvalidChunkSize {
            size: 1000,
            min: 8192
        })
    );
    // Oversized chunk is refused from its header alone.
    let mut dec = decoder(Kind::Unsigned, u64::MAX, None, 1);
    assert!(matches!(
        dec.decode(&mut Bytes::from_static(b"1000001\r\n")),
        Err(AuthError::ChunkTooLarge { .. })
    ));
    assert!(matches!(
        decoder(Kind::Unsigned, u64::MAX, None, 1)
            .decode(&mut Bytes::from_static(b"fffffffffffffffff\r\n")),
        Err(AuthError::MalformedChunk(_))
    ));
    // Endless header line.
    let mut dec = decoder(Kind::Unsigned, u64::MAX, None, 1);
    let r = (0..100).try_for_each(|_| dec.decode(&mut Bytes::from(vec![b'1'; 100])).map(|_| ()));
    assert!(matches!(r, Err(AuthError::MalformedChunk(_))));
    assert!(dec.max_buffered_len() <= 1100);
    for bad in [
        &b"5\r\nhello\n0\r\n\r\n"[..],
        b"5\nhello\r\n0\r\n\r\n",
        b"5;ext=1\r\nhello\r\n0\r\n\r\n",
        b" 5\r\nhello\r\n0\r\n\r\n",
        b"5\r\nhelloX\r\n0\r\n\r\n",
        b"5\r\nhello\r\n0\r\n\r\nGARBAGE",
        b"5\r\nhello\r\n0\r\n\r\n\r\n\r\n\r\n",
        b"",
        b"5\r\nhel",
    ] {
        assert!(
            run(Kind::Unsigned, 5, None, bad).is_err(),
            "{:?}",
            String::from_utf8_lossy(bad)
        );
    }
    // Lenient end, uppercase hex sizes (the Rust SDK writes {:X}).
    for ok in [
        &b"5\r\nhello\r\n0\r\n\r\n"[..],
        b"5\r\nhello\r\n0\r\n",
        b"5\r\nhello\r\n0\r\n\r\n\r\n\r\n",
    ] {
        assert_eq!(run(Kind::Unsigned, 5, None, ok).unwrap(), b"hello");
    }
    assert_eq!(
        run(Kind::Unsigned, 10, None, b"A\r\n0123456789\r\n0\r\n\r\n").unwrap(),
        b"0123456789"
    );
    // A signed stream presented to an unsigned decoder and vice versa.
    let signed = encode(Kind::Signed, b"hello", 5, None);
    assert!(run(Kind::Unsigned, 5, None, &signed).is_err());
    assert!(run(Kind::Signed, 5, None, b"5\r\nhello\r\n0\r\n\r\n").is_err());
}

#[test]
fn decoder_from_request_headers() {
    let h = doc_headers();
    let uri: Uri = "/examplebucket/chunkObject.txt".parse().unwrap();
    let req = parse_request(&Method::PUT, &uri, &h).unwrap().unwrap();
    let key = derive_signing_key(SECRET, &req.scope);
    let mut no_len = h.clone();
    no_len.remove("x-amz-decoded-content-length");
    assert!(matches!(
        ChunkedDecoder::for_request(&req, &no_len, &key),
        Err(AuthError::MissingDecodedLength)
    ));
    let mut bad_len = h.clone();
    bad_len.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("-1"),
    );
    assert!(matches!(
        ChunkedDecoder::for_request(&req, &bad_len, &key),
        Err(AuthError::InvalidHeader { .. })
    ));
    let mut bad_trailer = h.clone();
    bad_trailer.insert(
        "x-amz-trailer",
        HeaderValue::from_static("x-amz-checksum-md5"),
    );
    assert!(matches!(
        ChunkedDecoder::for_request(&req, &bad_trailer, &key),
        Err(AuthError::InvalidHeader { .. })
    ));
    // Unsigned-trailer uploads (anonymous or not) from headers alone.
    let mut u = HeaderMap::new();
    u.insert(
        "x-amz-decoded-content-length",
        HeaderValue::from_static("5"),
    );
    u.insert(
        "x-amz-trailer",
        HeaderValue::from_static("x-amz-checksum-crc64nvme"),
    );
    let mut dec = ChunkedDecoder::from_headers(ChunkedMode::UnsignedTrailer, &u).unwrap();
    let c = Checksum::compute(ChecksumAlgorithm::Crc64Nvme, b"hello");
    let stream = encode_aws_chunked(b"hello", 8192, None, Some(&c));
    assert_eq!(feed(&mut dec, &stream, &[2]).unwrap(), b"hello");
    assert_eq!(dec.trailer_checksum(), Some(&c));
}

/// A body that yields pre-split frames (and optionally an error).
struct Frames(VecDeque<Result<Bytes, &'static str>>);

impl Body for Frames {
    type Data = Bytes;
    type Error = &'static str;
    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        Poll::Ready(self.0.pop_front().map(|r| r.map(Frame::data)))
    }
}

fn drain<B: Body<Data = Bytes> + Unpin>(body: &mut B) -> (Vec<u8>, Option<B::Error>) {
    let mut cx = Context::from_waker(Waker::noop());
    let mut out = Vec::new();
    loop {
        match Pin::new(&mut *body).poll_frame(&mut cx) {
            Poll::Ready(None) => return (out, None),
            Poll::Ready(Some(Ok(f))) => out.extend_from_slice(&f.into_data().unwrap()),
            Poll::Ready(Some(Err(e))) => {
                // Nothing may follow an error frame.
                assert!(matches!(
                    Pin::new(&mut *body).poll_frame(&mut cx),
                    Poll::Ready(None)
                ));
                return (out, Some(e));
            }
            Poll::Pending => unreachable!(),
        }
    }
}

fn frames(stream: &[u8], size: usize) -> Frames {
    Frames(
        stream
            .chunks(size)
            .map(|c| Ok(Bytes::copy_from_slice(c)))
            .collect(),
    )
}

#[test]
fn http_body_adapter() {
    let data: Vec<u8> = (0..50_000u32).map(|i| (i * 7) as u8).collect();
    let c = Checksum::compute(ChecksumAlgorithm::Sha1, &data);
    let stream = encode(Kind::SignedTrailer, &data, 16_384, Some(&c));
    for size in [1, 1000, 100_000] {
        let dec = decoder(
            Kind::SignedTrailer,
            data.len() as u64,
            Some(ChecksumAlgorithm::Sha1),
            DEFAULT_MIN_CHUNK_SIZE,
        );
        let mut body = AwsChunkedBody::new(frames(&stream, size), dec);
        assert_eq!(body.size_hint().exact(), Some(data.len() as u64));
        let handle = body.trailer_handle();
        assert!(handle.get().is_none());
        let (out, err) = drain(&mut body);
        assert!(err.is_none());
        assert_eq!(out, data);
        assert!(body.is_end_stream());
        assert_eq!(handle.checksum(), Some(&c));
        assert_eq!(handle.get().unwrap().decoded_len, data.len() as u64);
    }

    // A bad checksum ends the body with an error frame, not EOF.
    let wrong = Checksum::compute(ChecksumAlgorithm::Sha1, b"nope");
    let stream = encode(Kind::Unsigned, &data, 16_384, Some(&wrong));
    let dec = decoder(
        Kind::Unsigned,
        data.len() as u64,
        Some(ChecksumAlgorithm::Sha1),
        DEFAULT_MIN_CHUNK_SIZE,
    );
    let mut body = AwsChunkedBody::new(frames(&stream, 777), dec);
    let handle = body.trailer_handle();
    let (out, err) = drain(&mut body);
    assert_eq!(out, data);
    assert!(matches!(
        err,
        Some(AwsChunkedBodyError::Auth(
            AuthError::TrailerChecksumMismatch { .. }
        ))
    ));
    assert!(handle.get().is_none());

    // Truncated body -> IncompleteBody; inner error -> Body(..).
    let stream = encode(Kind::Unsigned, &data, 16_384, None);
    let dec = decoder(
        Kind::Unsigned,
        data.len() as u64,
        None,
        DEFAULT_MIN_CHUNK_SIZE,
    );
    let mut body = AwsChunkedBody::new(frames(&stream[..stream.len() / 2], 999), dec);
    assert!(matches!(
        drain(&mut body).1,
        Some(AwsChunkedBodyError::Auth(AuthError::IncompleteBody))
    ));
    let dec = decoder(
        Kind::Unsigned,
        data.len() as u64,
        None,
        DEFAULT_MIN_CHUNK_SIZE,
    );
    let mut inner = frames(&stream[..100], 10);
    inner.0.push_back(Err("connection reset"));
    let mut body = AwsChunkedBody::new(inner, dec);
    assert!(matches!(
        drain(&mut body).1,
        Some(AwsChunkedBodyError::Body("connection reset"))
    ));
}

//! Server-side encryption through the engine: SSE-S3, SSE-C and SSE-KMS (a
//! tiny in-test KMS) on put, get, ranges, multipart, copy and bucket
//! defaults; the data directory never holds the plaintext.

mod common;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::*;
use nomuck_meta::CompletedPart;
use nomuck_storage::kms::{DataKey, EncryptionContext, KeyManager, KmsError};
use nomuck_storage::sse::BucketEncryption;
use nomuck_storage::*;
use zeroize::Zeroizing;

const BKT: &str = "enc";
const SEG: usize = 64 << 10;

fn sse_env() -> Env {
    let e = env_with(StorageOptions {
        allow_sse_c_over_http: true,
        ..test_options()
    });
    e.storage.set_sse_s3_key([42; 32]);
    e
}

async fn setup() -> Env {
    let e = sse_env();
    e.storage
        .create_bucket(&alice(), BKT, None, None)
        .await
        .unwrap();
    e
}

fn customer(seed: u8) -> CustomerKey {
    let key = [seed; 32];
    let mut h = nomuck_checksum::Md5Hasher::new();
    h.update(&key);
    CustomerKey::parse("AES256", &B64.encode(key), &B64.encode(h.finalize())).unwrap()
}

async fn put_sse(e: &Env, key: &str, data: &[u8], sse: Option<SseRequest>) -> PutObjectOutput {
    e.storage
        .put_object(
            &alice(),
            BKT,
            key,
            PutObjectRequest {
                sse,
                ..Default::default()
            },
            body(data, 10_000),
        )
        .await
        .unwrap()
}

async fn get_with(
    e: &Env,
    key: &str,
    req: GetObjectRequest,
) -> Result<(Vec<u8>, ObjectInfo), StorageError> {
    let out = e.storage.get_object(&alice(), BKT, key, req).await?;
    let info = out.info.clone();
    let chunks: Vec<bytes::Bytes> = futures_util::TryStreamExt::try_collect(out.body).await?;
    Ok((chunks.concat(), info))
}

/// Every file under the data directory (blobs and the SQLite files).
fn all_files(dir: &std::path::Path) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

fn marked(len: usize, marker: &[u8]) -> Vec<u8> {
    let mut d = pattern(len, 9);
    for at in (0..len.saturating_sub(marker.len())).step_by(4096) {
        d[at..at + marker.len()].copy_from_slice(marker);
    }
    d
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_s3_round_trips_inline_and_blob_objects_and_hides_plaintext() {
    let e = setup().await;
    let marker = b"PLAINTEXT-MARKER-7f3a";
    for (key, len) in [("empty", 0), ("small", 1000), ("big", 3 * SEG + 123)] {
        let data = marked(len, marker);
        let out = put_sse(&e, key, &data, Some(SseRequest::S3 { bucket_key: false })).await;
        // SSE-S3 keeps the plaintext MD5 as the ETag.
        let mut h = nomuck_checksum::Md5Hasher::new();
        h.update(&data);
        assert_eq!(out.etag, h.finalize_hex());
        assert_eq!(out.sse, Some(SseInfo::S3 { bucket_key: false }));
        let (got, info) = get_with(&e, key, GetObjectRequest::default())
            .await
            .unwrap();
        assert_eq!(got, data, "{key}");
        assert_eq!(info.sse, Some(SseInfo::S3 { bucket_key: false }));
        assert_eq!(info.size, len as u64);
    }
    // Plaintext objects still work and say nothing about encryption.
    put_sse(&e, "plain", b"hello", None).await;
    // The control: an unencrypted object's marker is found by the same search.
    let control = b"CONTROL-MARKER-1b2c";
    put_sse(&e, "control", &marked(1000, control), None).await;
    let (got, info) = get_with(&e, "plain", GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(got, b"hello");
    assert_eq!(info.sse, None);
    // Checkpoint the WAL so the SQLite file is what is searched too.
    drop(e.storage);
    drop(e.meta);
    let files = all_files(e.dir.path());
    assert!(files.iter().any(|f| contains(f, control)));
    for f in files {
        assert!(!contains(&f, marker), "a file holds the plaintext");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_across_segment_edges_read_the_right_bytes() {
    let e = setup().await;
    let len = 4 * SEG + 77;
    let data = pattern(len, 3);
    put_sse(&e, "r", &data, Some(SseRequest::S3 { bucket_key: false })).await;
    let edges = [0, 1, SEG - 1, SEG, SEG + 1, 2 * SEG, 4 * SEG, len - 1];
    for &a in &edges {
        for &b in &edges {
            if a > b {
                continue;
            }
            let req = GetObjectRequest {
                range: Some(ByteRange::FromTo(a as u64, b as u64)),
                ..Default::default()
            };
            let (got, _) = get_with(&e, "r", req).await.unwrap();
            assert_eq!(got, &data[a..=b], "{a}-{b}");
        }
    }
    let req = GetObjectRequest {
        range: Some(ByteRange::Suffix(100)),
        ..Default::default()
    };
    assert_eq!(get_with(&e, "r", req).await.unwrap().0, &data[len - 100..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tampered_blobs_fail_the_read() {
    let e = setup().await;
    let data = pattern(2 * SEG, 5);
    put_sse(&e, "t", &data, Some(SseRequest::S3 { bucket_key: false })).await;
    let files = blob_files(e.dir.path());
    assert_eq!(files.len(), 1);
    let mut raw = std::fs::read(&files[0]).unwrap();
    raw[100] ^= 1;
    std::fs::write(&files[0], raw).unwrap();
    let req = GetObjectRequest {
        range: Some(ByteRange::FromTo(0, 10)),
        ..Default::default()
    };
    assert!(get_with(&e, "t", req).await.is_err());
    // The second segment is intact and still reads.
    let req = GetObjectRequest {
        range: Some(ByteRange::From(SEG as u64)),
        ..Default::default()
    };
    assert_eq!(get_with(&e, "t", req).await.unwrap().0, &data[SEG..]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_c_needs_the_right_key_every_time() {
    let e = setup().await;
    let data = pattern(SEG + 10, 1);
    let out = put_sse(&e, "c", &data, Some(SseRequest::Customer(customer(1)))).await;
    let mut h = nomuck_checksum::Md5Hasher::new();
    h.update(&data);
    assert_ne!(out.etag, h.finalize_hex(), "SSE-C ETags are not the MD5");
    let with = |k: Option<CustomerKey>| GetObjectRequest {
        sse_customer: k,
        ..Default::default()
    };
    let (got, info) = get_with(&e, "c", with(Some(customer(1)))).await.unwrap();
    assert_eq!(got, data);
    assert_eq!(
        info.sse,
        Some(SseInfo::Customer {
            key_md5: customer(1).key_md5().to_owned()
        })
    );
    assert_eq!(info.etag, out.etag);
    assert!(matches!(
        get_with(&e, "c", with(Some(customer(2)))).await,
        Err(StorageError::AccessDenied)
    ));
    match get_with(&e, "c", with(None)).await {
        Err(StorageError::InvalidRequest(m)) => assert!(m.contains("Server Side Encryption")),
        other => panic!("{:?}", other.map(|_| ())),
    }
    assert!(
        e.storage
            .head_object(&alice(), BKT, "c", &with(None))
            .await
            .is_err()
    );
    // GetObjectAttributes asks for the key too, as S3.
    let attrs = |k: Option<CustomerKey>| AttributesRequest {
        sse_customer: k,
        max_parts: 1000,
        ..Default::default()
    };
    assert!(
        e.storage
            .get_object_attributes(&alice(), BKT, "c", attrs(None))
            .await
            .is_err()
    );
    let a = e
        .storage
        .get_object_attributes(&alice(), BKT, "c", attrs(Some(customer(1))))
        .await
        .unwrap();
    assert_eq!(a.size, data.len() as u64);
    // A key sent for a plaintext object is refused.
    put_sse(&e, "p", b"x", None).await;
    assert!(matches!(
        get_with(&e, "p", with(Some(customer(1)))).await,
        Err(StorageError::InvalidRequest(_))
    ));
    // Over plain HTTP without the operator's permission: refused.
    let strict = env();
    strict.storage.set_sse_s3_key([1; 32]);
    strict
        .storage
        .create_bucket(&alice(), BKT, None, None)
        .await
        .unwrap();
    let r = strict
        .storage
        .put_object(
            &alice(),
            BKT,
            "c",
            PutObjectRequest {
                sse: Some(SseRequest::Customer(customer(1))),
                ..Default::default()
            },
            body(b"x", 1),
        )
        .await;
    match r {
        Err(StorageError::InvalidRequest(m)) => assert!(m.contains("secure connection")),
        other => panic!("{:?}", other.map(|_| ())),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_multipart_parts_and_part_reads() {
    let e = setup().await;
    let s = &e.storage;
    for sse in [
        SseRequest::S3 { bucket_key: false },
        SseRequest::Customer(customer(3)),
    ] {
        let ck = match &sse {
            SseRequest::Customer(c) => Some(c.clone()),
            _ => None,
        };
        let (id, info) = s
            .create_multipart_upload_sse(
                &alice(),
                BKT,
                "mp",
                CreateMultipartRequest {
                    sse: Some(sse.clone()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert!(info.is_some());
        let parts = [pattern(5 * MIB + 1, 1), pattern(SEG + 5, 2)];
        let mut done = Vec::new();
        for (i, p) in parts.iter().enumerate() {
            let n = i as u32 + 1;
            if ck.is_some() {
                // The key must come with every part.
                let r = s
                    .upload_part(
                        &alice(),
                        BKT,
                        "mp",
                        &id,
                        n,
                        UploadPartRequest::default(),
                        body(p, 1 << 16),
                    )
                    .await;
                assert!(r.is_err());
            }
            let out = s
                .upload_part(
                    &alice(),
                    BKT,
                    "mp",
                    &id,
                    n,
                    UploadPartRequest {
                        sse_customer: ck.clone(),
                        ..Default::default()
                    },
                    body(p, 1 << 16),
                )
                .await
                .unwrap();
            done.push(CompletedPart {
                part_number: n,
                etag: out.etag,
                checksum: None,
            });
        }
        let out = s
            .complete_multipart_upload(
                &alice(),
                BKT,
                "mp",
                &id,
                CompleteMultipartRequest {
                    parts: done,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        assert_eq!(out.sse, info);
        let whole = parts.concat();
        let req = |range, part_number| GetObjectRequest {
            range,
            part_number,
            sse_customer: ck.clone(),
            ..Default::default()
        };
        assert_eq!(get_with(&e, "mp", req(None, None)).await.unwrap().0, whole);
        assert_eq!(
            get_with(&e, "mp", req(None, Some(2))).await.unwrap().0,
            parts[1]
        );
        // A range across the part boundary.
        let a = 5 * MIB - 10;
        let r = Some(ByteRange::FromTo(a as u64, a as u64 + 100));
        assert_eq!(
            get_with(&e, "mp", req(r, None)).await.unwrap().0,
            &whole[a..=a + 100]
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copies_between_every_encryption() {
    let e = setup().await;
    let s = &e.storage;
    let data = pattern(2 * SEG + 3, 4);
    let modes: Vec<(&str, Option<SseRequest>)> = vec![
        ("none", None),
        ("s3", Some(SseRequest::S3 { bucket_key: false })),
        ("c", Some(SseRequest::Customer(customer(7)))),
    ];
    for (src_name, src_sse) in &modes {
        put_sse(&e, &format!("src-{src_name}"), &data, src_sse.clone()).await;
    }
    let key_of = |m: &Option<SseRequest>| match m {
        Some(SseRequest::Customer(c)) => Some(c.clone()),
        _ => None,
    };
    for (src_name, src_sse) in &modes {
        for (dst_name, dst_sse) in &modes {
            let dst = format!("dst-{src_name}-{dst_name}");
            let out = s
                .copy_object(
                    &alice(),
                    BKT,
                    &dst,
                    CopyObjectRequest {
                        source_bucket: BKT.into(),
                        source_key: format!("src-{src_name}"),
                        sse: dst_sse.clone(),
                        source_sse_customer: key_of(src_sse),
                        ..Default::default()
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{src_name} -> {dst_name}: {e}"));
            assert_eq!(
                out.sse.is_some(),
                dst_sse.is_some(),
                "{src_name}->{dst_name}"
            );
            let req = GetObjectRequest {
                sse_customer: key_of(dst_sse),
                ..Default::default()
            };
            let (got, _) = get_with(&e, &dst, req).await.unwrap();
            assert_eq!(got, data, "{src_name} -> {dst_name}");
        }
    }
    // An SSE-C source without its key cannot be copied.
    let r = s
        .copy_object(
            &alice(),
            BKT,
            "x",
            CopyObjectRequest {
                source_bucket: BKT.into(),
                source_key: "src-c".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(StorageError::InvalidRequest(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_default_encryption_applies_to_writes_that_name_none() {
    let e = setup().await;
    let s = &e.storage;
    assert!(matches!(
        s.get_bucket_encryption(&alice(), BKT).await,
        Err(StorageError::NoSuchConfig(_))
    ));
    let cfg = BucketEncryption {
        algorithm: "AES256".into(),
        kms_key_id: None,
        bucket_key_enabled: true,
    };
    s.put_bucket_encryption(&alice(), BKT, &cfg).await.unwrap();
    assert_eq!(*s.get_bucket_encryption(&alice(), BKT).await.unwrap(), cfg);
    let out = put_sse(&e, "d", b"defaulted", None).await;
    assert_eq!(out.sse, Some(SseInfo::S3 { bucket_key: true }));
    let (got, info) = get_with(&e, "d", GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(got, b"defaulted");
    assert_eq!(info.sse, Some(SseInfo::S3 { bucket_key: true }));
    s.delete_bucket_encryption(&alice(), BKT).await.unwrap();
    assert_eq!(put_sse(&e, "e", b"plain", None).await.sse, None);
}

/// A KMS in a map: data keys "sealed" by XOR with a per-key pad, bound to
/// their context; keys can be disabled.
#[derive(Default)]
struct TestKms {
    disabled: Mutex<bool>,
    calls: Mutex<Vec<EncryptionContext>>,
    decrypts: Mutex<usize>,
}

const ARN: &str = "arn:aws:kms:us-east-1:111111111111:key/test";

#[async_trait::async_trait]
impl KeyManager for TestKms {
    async fn generate_data_key(
        &self,
        _account: &str,
        key_id: Option<&str>,
        context: &EncryptionContext,
    ) -> Result<DataKey, KmsError> {
        if key_id.is_some_and(|k| k != "test") {
            return Err(KmsError::NotFound("no such key".into()));
        }
        if *self.disabled.lock().unwrap() {
            return Err(KmsError::Disabled(format!("{ARN} is disabled")));
        }
        self.calls.lock().unwrap().push(context.clone());
        let plain = [0x5a; 32];
        let mut ct = plain.to_vec();
        ct.extend_from_slice(serde_json::to_string(context).unwrap().as_bytes());
        for b in ct.iter_mut().take(32) {
            *b ^= 0xff;
        }
        Ok(DataKey {
            plaintext: Zeroizing::new(plain),
            ciphertext: ct,
            key_arn: ARN.into(),
        })
    }

    async fn decrypt(
        &self,
        _account: &str,
        ciphertext: &[u8],
        context: &EncryptionContext,
    ) -> Result<(Zeroizing<[u8; 32]>, String), KmsError> {
        if *self.disabled.lock().unwrap() {
            return Err(KmsError::Disabled(format!("{ARN} is disabled")));
        }
        *self.decrypts.lock().unwrap() += 1;
        let (k, ctx) = ciphertext.split_at(32);
        if ctx != serde_json::to_string(context).unwrap().as_bytes() {
            return Err(KmsError::InvalidCiphertext("context".into()));
        }
        let mut key = [0u8; 32];
        for (o, b) in key.iter_mut().zip(k) {
            *o = b ^ 0xff;
        }
        Ok((Zeroizing::new(key), ARN.into()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sse_kms_seals_through_the_key_manager_with_the_object_arn() {
    let e = setup().await;
    let kms = Arc::new(TestKms::default());
    e.storage.set_key_manager(kms.clone());
    let mut extra = BTreeMap::new();
    extra.insert("dept".to_owned(), "x".to_owned());
    let sse = SseRequest::Kms {
        key_id: Some("test".into()),
        context: extra,
        bucket_key: false,
    };
    let data = pattern(SEG * 2, 8);
    let out = put_sse(&e, "k", &data, Some(sse)).await;
    let ctx = kms.calls.lock().unwrap()[0].clone();
    assert_eq!(ctx["aws:s3:arn"], format!("arn:aws:s3:::{BKT}/k"));
    assert_eq!(ctx["dept"], "x");
    match &out.sse {
        Some(SseInfo::Kms {
            key_id, bucket_key, ..
        }) => {
            assert_eq!(key_id, ARN);
            assert!(!bucket_key);
        }
        other => panic!("{other:?}"),
    }
    let (got, _) = get_with(&e, "k", GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(got, data);
    *kms.disabled.lock().unwrap() = true;
    // HEAD needs no data key, so no KMS.
    let head = e
        .storage
        .head_object(&alice(), BKT, "k", &GetObjectRequest::default())
        .await
        .unwrap();
    assert!(matches!(head.info.sse, Some(SseInfo::Kms { .. })));
    match get_with(&e, "k", GetObjectRequest::default()).await {
        Err(StorageError::Kms { code, .. }) => assert_eq!(code, "KMS.DisabledException"),
        other => panic!("{:?}", other.map(|_| ())),
    }
    *kms.disabled.lock().unwrap() = false;
    assert_eq!(
        get_with(&e, "k", GetObjectRequest::default())
            .await
            .unwrap()
            .0,
        data
    );
    let missing = SseRequest::Kms {
        key_id: Some("nope".into()),
        context: BTreeMap::new(),
        bucket_key: false,
    };
    let r = e
        .storage
        .put_object(
            &alice(),
            BKT,
            "n",
            PutObjectRequest {
                sse: Some(missing),
                ..Default::default()
            },
            body(b"x", 1),
        )
        .await;
    assert!(matches!(
        r,
        Err(StorageError::Kms {
            code: "KMS.NotFoundException",
            ..
        })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bucket_keys_ask_the_kms_once_for_many_objects() {
    let e = setup().await;
    let kms = Arc::new(TestKms::default());
    e.storage.set_key_manager(kms.clone());
    let sse = SseRequest::Kms {
        key_id: Some("test".into()),
        context: BTreeMap::new(),
        bucket_key: true,
    };
    let same = pattern(SEG + 10, 3);
    let mut written = Vec::new();
    for i in 0..5u8 {
        let data = if i < 2 {
            same.clone()
        } else {
            pattern(1000 + usize::from(i), i)
        };
        let out = put_sse(&e, &format!("o{i}"), &data, Some(sse.clone())).await;
        match &out.sse {
            Some(SseInfo::Kms {
                bucket_key,
                context,
                ..
            }) => {
                assert!(bucket_key);
                assert_eq!(context["aws:s3:arn"], format!("arn:aws:s3:::{BKT}"));
            }
            other => panic!("{other:?}"),
        }
        written.push((data, out.etag));
    }
    let calls = kms.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 1, "one bucket key for every object");
    assert_eq!(calls[0]["aws:s3:arn"], format!("arn:aws:s3:::{BKT}"));
    // Each object still has a data key of its own: equal bodies, other ETags.
    assert_ne!(written[0].1, written[1].1);
    for (i, (data, _)) in written.iter().enumerate() {
        let (got, info) = get_with(&e, &format!("o{i}"), GetObjectRequest::default())
            .await
            .unwrap();
        assert_eq!(&got, data);
        assert!(info.sse.as_ref().is_some_and(SseInfo::bucket_key));
        let range = GetObjectRequest {
            range: Some(ByteRange::FromTo(SEG as u64 - 2, SEG as u64 + 2)),
            ..Default::default()
        };
        if data.len() > SEG + 2 {
            let (part, _) = get_with(&e, &format!("o{i}"), range).await.unwrap();
            assert_eq!(part, &data[SEG - 2..=SEG + 2]);
        }
    }
    assert_eq!(
        *kms.decrypts.lock().unwrap(),
        0,
        "the writer's bucket key serves its reads"
    );
}

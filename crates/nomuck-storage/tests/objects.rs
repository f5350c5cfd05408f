//! Object operations end to end on SQLite + local disk.

mod common;

use common::*;
use nomuck_checksum::{Checksum, ChecksumAlgorithm, Md5Hasher};
use nomuck_meta::{ObjectHeaders, UsageQuery};
use nomuck_storage::usage::meters;
use nomuck_storage::*;

async fn bucket(e: &Env, name: &str) {
    e.storage
        .create_bucket(&alice(), name, None, None)
        .await
        .unwrap();
}

fn md5_hex(d: &[u8]) -> String {
    let mut h = Md5Hasher::new();
    h.update(d);
    h.finalize_hex()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_get_overwrite_delete_small_and_large() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    for (key, len) in [
        ("empty", 0),
        ("small", 4096),
        ("edge", 32 << 10),
        ("big", 3 * MIB + 5),
    ] {
        let data = pattern(len, 7);
        let out = put(s, &alice(), "bkt", key, &data).await;
        assert_eq!(out.etag, md5_hex(&data), "{key}");
        assert_eq!(out.size, len as u64);
        assert_eq!(out.version_id, None);
        // S3's default checksum is stored when the client sends none.
        let ck = out.checksum.unwrap();
        assert_eq!(ck.algorithm, "CRC64NVME");
        assert_eq!(
            ck.value,
            Checksum::compute(ChecksumAlgorithm::Crc64Nvme, &data).to_base64()
        );
        assert!(get(s, &alice(), "bkt", key).await.unwrap() == data, "{key}");
    }
    // Small objects are inline (no file); big ones are one blob.
    assert_eq!(blob_files(e.dir.path()).len(), 1);

    // Overwrite big with small: the old blob is freed and collected.
    put(s, &alice(), "bkt", "big", b"now small").await;
    assert_eq!(get(s, &alice(), "bkt", "big").await.unwrap(), b"now small");
    let r = s.collect_garbage_now().await.unwrap();
    assert_eq!(r.freed_deleted, 1);
    assert!(blob_files(e.dir.path()).is_empty());

    let out = s
        .delete_object(&alice(), "bkt", "small", DeleteObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(out, DeleteObjectOutput::default());
    assert!(matches!(
        get(s, &alice(), "bkt", "small").await,
        Err(StorageError::NoSuchKey {
            delete_marker: None
        })
    ));
    // Deleting again is fine.
    s.delete_object(&alice(), "bkt", "small", DeleteObjectRequest::default())
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ranges_and_parts_of_single_objects() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    let data = pattern(2 * MIB + 100, 3);
    put(s, &alice(), "bkt", "k", &data).await;
    put(s, &alice(), "bkt", "tiny", b"0123456789").await;
    let n = data.len() as u64;
    for (r, want) in [
        (ByteRange::FromTo(0, 0), 0..1),
        (ByteRange::FromTo(10, 1_500_000), 10..1_500_001),
        (
            ByteRange::FromTo(n - 5, n + 100),
            n as usize - 5..n as usize,
        ),
        (ByteRange::From(MIB as u64), MIB..n as usize),
        (ByteRange::Suffix(7), n as usize - 7..n as usize),
    ] {
        let out = s
            .get_object(
                &alice(),
                "bkt",
                "k",
                GetObjectRequest {
                    range: Some(r),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let cr = out.range.unwrap();
        assert_eq!(
            (cr.start, cr.end + 1, cr.total),
            (want.start as u64, want.end as u64, n)
        );
        assert_eq!(out.content_length, (want.end - want.start) as u64);
        assert!(read_all(out.body).await == data[want.clone()], "{r:?}");
    }
    let out = s
        .get_object(
            &alice(),
            "bkt",
            "tiny",
            GetObjectRequest {
                range: Some(ByteRange::FromTo(2, 4)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(read_all(out.body).await, b"234");
    let err = s
        .get_object(
            &alice(),
            "bkt",
            "tiny",
            GetObjectRequest {
                range: Some(ByteRange::From(10)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::InvalidRange { size: 10 }));
    // partNumber=1 of a single-part object is the whole object; 2 is not there.
    let whole = s
        .head_object(
            &alice(),
            "bkt",
            "tiny",
            &GetObjectRequest {
                part_number: Some(1),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(whole.content_length, 10);
    let err = s
        .head_object(
            &alice(),
            "bkt",
            "tiny",
            &GetObjectRequest {
                part_number: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidPartNumber { parts_count: 1 }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_round_trips_through_head_and_get() {
    let e = env();
    bucket(&e, "bkt").await;
    let headers = ObjectHeaders {
        content_type: Some("text/plain".into()),
        content_encoding: Some("identity".into()),
        content_disposition: Some("inline".into()),
        content_language: Some("en".into()),
        cache_control: Some("max-age=60".into()),
        expires: Some("Wed, 21 Oct 2015 07:28:00 GMT".into()),
        user_metadata: vec![("b".into(), "2".into()), ("a".into(), "ü".into())],
    };
    let data = b"hello world";
    let req = PutObjectRequest {
        headers: headers.clone(),
        storage_class: Some("STANDARD_IA".into()),
        tags: vec![("t".into(), "v".into())],
        checksum: ChecksumRequest {
            algorithm: None,
            expected: Some((
                ChecksumAlgorithm::Sha256,
                Checksum::compute(ChecksumAlgorithm::Sha256, data).to_base64(),
            )),
        },
        content_md5: Some({
            let mut h = Md5Hasher::new();
            h.update(data);
            h.finalize_base64()
        }),
        content_length: Some(data.len() as u64),
        ..Default::default()
    };
    let key = "dir/ünïcode key+with%20 spaces";
    e.storage
        .put_object(&alice(), "bkt", key, req, body(data, 3))
        .await
        .unwrap();
    let head = e
        .storage
        .head_object(&alice(), "bkt", key, &GetObjectRequest::default())
        .await
        .unwrap();
    let i = head.info;
    assert_eq!(i.headers, headers);
    assert_eq!(i.storage_class, "STANDARD_IA");
    assert_eq!(i.tag_count, 1);
    assert_eq!(i.owner, ALICE);
    assert_eq!(i.etag, md5_hex(data));
    assert_eq!(i.checksum.unwrap().algorithm, "SHA256");
    assert_eq!(i.parts_count, None);
    assert_eq!(head.content_length, 11);
    let (tags, _) = e
        .storage
        .get_object_tagging(&alice(), "bkt", key, None)
        .await
        .unwrap();
    assert_eq!(tags, vec![("t".to_owned(), "v".to_owned())]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn digests_and_lengths_are_verified_before_anything_is_visible() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    let data = pattern(100_000, 2);
    let try_put = |req: PutObjectRequest| {
        let data = data.clone();
        async move {
            s.put_object(&alice(), "bkt", "k", req, body(&data, 10_000))
                .await
        }
    };
    let r = try_put(PutObjectRequest {
        content_md5: Some("1B2M2Y8AsgTpgAmY7PhCfg==".into()),
        ..Default::default()
    })
    .await;
    assert!(matches!(r, Err(StorageError::BadDigest)), "{r:?}");
    let r = try_put(PutObjectRequest {
        content_md5: Some("not-md5".into()),
        ..Default::default()
    })
    .await;
    assert!(matches!(r, Err(StorageError::InvalidDigest)), "{r:?}");
    let r = try_put(PutObjectRequest {
        checksum: ChecksumRequest {
            algorithm: Some(ChecksumAlgorithm::Crc32),
            expected: Some((ChecksumAlgorithm::Crc32, "AAAAAA==".into())),
        },
        ..Default::default()
    })
    .await;
    assert!(
        matches!(
            r,
            Err(StorageError::ChecksumMismatch {
                algorithm: ChecksumAlgorithm::Crc32
            })
        ),
        "{r:?}"
    );
    let r = try_put(PutObjectRequest {
        checksum: ChecksumRequest {
            algorithm: None,
            expected: Some((ChecksumAlgorithm::Crc32c, "!!".into())),
        },
        ..Default::default()
    })
    .await;
    assert!(matches!(r, Err(StorageError::InvalidChecksum(_))), "{r:?}");
    for declared in [99_999u64, 100_001] {
        let r = try_put(PutObjectRequest {
            content_length: Some(declared),
            ..Default::default()
        })
        .await;
        assert!(
            matches!(r, Err(StorageError::IncompleteBody { .. })),
            "{r:?}"
        );
    }
    assert!(matches!(
        get(s, &alice(), "bkt", "k").await,
        Err(StorageError::NoSuchKey { .. })
    ));
    assert!(blob_files(e.dir.path()).is_empty());
    assert!(temp_files(e.dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_error_midway_leaves_nothing_visible_and_no_blob() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    put(s, &alice(), "bkt", "k", b"previous").await;
    for good in [10, 5 * MIB] {
        let r = s
            .put_object(
                &alice(),
                "bkt",
                "k",
                PutObjectRequest::default(),
                failing_body(good),
            )
            .await;
        match r {
            Err(StorageError::Body(inner)) => {
                assert!(inner.to_string().contains("client went away"), "{inner}")
            }
            other => panic!("expected a body error, got {other:?}"),
        }
        // The previous version is untouched.
        assert_eq!(get(s, &alice(), "bkt", "k").await.unwrap(), b"previous");
    }
    s.collect_garbage_now().await.unwrap();
    assert!(blob_files(e.dir.path()).is_empty());
    assert!(temp_files(e.dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn conditional_reads_and_writes() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    let out = put(s, &alice(), "bkt", "k", b"v1").await;
    let cond = |c: Conditions| GetObjectRequest {
        conditions: c,
        ..Default::default()
    };
    let quoted = format!("\"{}\"", out.etag);
    s.get_object(
        &alice(),
        "bkt",
        "k",
        cond(Conditions {
            if_match: Some(quoted.clone()),
            ..Default::default()
        }),
    )
    .await
    .unwrap();
    let err = s
        .get_object(
            &alice(),
            "bkt",
            "k",
            cond(Conditions {
                if_match: Some("\"nope\"".into()),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::PreconditionFailed));
    let err = s
        .get_object(
            &alice(),
            "bkt",
            "k",
            cond(Conditions {
                if_none_match: Some(quoted.clone()),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotModified { ref etag, .. } if *etag == out.etag));
    let err = s
        .get_object(
            &alice(),
            "bkt",
            "k",
            cond(Conditions {
                if_modified_since: Some(out.last_modified + 1000),
                ..Default::default()
            }),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StorageError::NotModified { .. }));

    // Conditional writes.
    let caller = alice();
    let put_if = |if_match: Option<String>, if_none_match: Option<String>, data: &'static [u8]| {
        s.put_object(
            &caller,
            "bkt",
            "k",
            PutObjectRequest {
                if_match,
                if_none_match,
                ..Default::default()
            },
            body(data, 4),
        )
    };
    assert!(matches!(
        put_if(None, Some("*".into()), b"x").await,
        Err(StorageError::PreconditionFailed)
    ));
    assert!(matches!(
        put_if(Some("\"other\"".into()), None, b"x").await,
        Err(StorageError::PreconditionFailed)
    ));
    put_if(Some(quoted), None, b"v2").await.unwrap();
    assert_eq!(get(s, &alice(), "bkt", "k").await.unwrap(), b"v2");
    put_if(None, Some("*".into()), b"new")
        .await
        .map(|_| ())
        .unwrap_err();
    let new_key = s
        .put_object(
            &alice(),
            "bkt",
            "fresh",
            PutObjectRequest {
                if_none_match: Some("*".into()),
                ..Default::default()
            },
            body(b"x", 1),
        )
        .await;
    assert!(new_key.is_ok());
    // Conditional delete.
    let r = s
        .delete_object(
            &alice(),
            "bkt",
            "k",
            DeleteObjectRequest {
                version_id: None,
                if_match: Some("\"wrong\"".into()),
                ..DeleteObjectRequest::default()
            },
        )
        .await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn copy_shares_data_and_applies_directives() {
    let e = env();
    bucket(&e, "bkt").await;
    bucket(&e, "ccc").await;
    let s = &e.storage;
    let data = pattern(MIB, 5);
    let req = PutObjectRequest {
        headers: ObjectHeaders {
            content_type: Some("a/b".into()),
            ..Default::default()
        },
        tags: vec![("k".into(), "v".into())],
        ..Default::default()
    };
    let src = s
        .put_object(&alice(), "bkt", "src", req, body(&data, 100_000))
        .await
        .unwrap();
    let out = s
        .copy_object(
            &alice(),
            "ccc",
            "dst",
            CopyObjectRequest {
                source_bucket: "bkt".into(),
                source_key: "src".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.etag, src.etag);
    assert!(get(s, &alice(), "ccc", "dst").await.unwrap() == data);
    // Zero-copy: still one blob file.
    assert_eq!(blob_files(e.dir.path()).len(), 1);
    let h = s
        .head_object(&alice(), "ccc", "dst", &GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(h.info.headers.content_type.as_deref(), Some("a/b"));
    assert_eq!(h.info.tag_count, 1);

    // Copy onto itself needs a change.
    let same = CopyObjectRequest {
        source_bucket: "bkt".into(),
        source_key: "src".into(),
        ..Default::default()
    };
    assert!(matches!(
        s.copy_object(&alice(), "bkt", "src", same.clone()).await,
        Err(StorageError::InvalidRequest(_))
    ));
    s.copy_object(
        &alice(),
        "bkt",
        "src",
        CopyObjectRequest {
            metadata_directive: Directive::Replace,
            headers: ObjectHeaders {
                content_type: Some("new/type".into()),
                ..Default::default()
            },
            tagging_directive: Directive::Replace,
            ..same.clone()
        },
    )
    .await
    .unwrap();
    let h = s
        .head_object(&alice(), "bkt", "src", &GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(h.info.headers.content_type.as_deref(), Some("new/type"));
    assert_eq!(h.info.tag_count, 0);
    assert!(get(s, &alice(), "bkt", "src").await.unwrap() == data);

    // A different checksum algorithm rewrites the bytes.
    let out = s
        .copy_object(
            &alice(),
            "ccc",
            "sha",
            CopyObjectRequest {
                checksum_algorithm: Some(ChecksumAlgorithm::Sha1),
                ..same.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(out.checksum.unwrap().algorithm, "SHA1");
    assert_eq!(blob_files(e.dir.path()).len(), 2);

    // Source conditions fail with 412, never 304.
    let r = s
        .copy_object(
            &alice(),
            "ccc",
            "x",
            CopyObjectRequest {
                source_conditions: Conditions {
                    if_none_match: Some(format!("\"{}\"", src.etag)),
                    ..Default::default()
                },
                ..same.clone()
            },
        )
        .await;
    assert!(matches!(r, Err(StorageError::PreconditionFailed)));

    // Deleting every reference frees the shared blob.
    for (b, k) in [("bkt", "src"), ("ccc", "dst"), ("ccc", "sha")] {
        s.delete_object(&alice(), b, k, DeleteObjectRequest::default())
            .await
            .unwrap();
    }
    s.collect_garbage_now().await.unwrap();
    assert!(blob_files(e.dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_and_batch_delete() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    for k in ["a", "b", "c"] {
        put(s, &alice(), "bkt", k, k.as_bytes()).await;
    }
    let tags = vec![("x".to_owned(), "1".to_owned()), ("y".into(), "2".into())];
    s.put_object_tagging(&alice(), "bkt", "a", None, tags.clone())
        .await
        .unwrap();
    assert_eq!(
        s.get_object_tagging(&alice(), "bkt", "a", None)
            .await
            .unwrap()
            .0,
        tags
    );
    s.delete_object_tagging(&alice(), "bkt", "a", None)
        .await
        .unwrap();
    assert!(
        s.get_object_tagging(&alice(), "bkt", "a", None)
            .await
            .unwrap()
            .0
            .is_empty()
    );
    let too_many: Vec<_> = (0..11).map(|i| (i.to_string(), String::new())).collect();
    assert!(matches!(
        s.put_object_tagging(&alice(), "bkt", "a", None, too_many)
            .await,
        Err(StorageError::InvalidTag(_))
    ));
    assert!(matches!(
        s.put_object_tagging(&alice(), "bkt", "missing", None, tags)
            .await,
        Err(StorageError::NoSuchKey { .. })
    ));

    let results = s
        .delete_objects(
            &alice(),
            "bkt",
            ["a", "c", "never-existed", ""]
                .iter()
                .map(|k| ObjectToDelete {
                    key: (*k).into(),
                    version_id: None,
                    if_match: None,
                })
                .collect(),
            false,
        )
        .await
        .unwrap();
    assert_eq!(results.len(), 4);
    let deleted = results
        .iter()
        .filter(|r| matches!(r, DeleteResult::Deleted { .. }))
        .count();
    assert_eq!(deleted, 3);
    assert!(matches!(&results[3], DeleteResult::Failed { key, .. } if key.is_empty()));
    let left = s
        .list_objects(
            &alice(),
            "bkt",
            ListObjectsRequest {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(left.objects.len(), 1);
    assert_eq!(left.objects[0].key, "b");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn other_accounts_and_anonymous_callers_are_denied() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    put(s, &alice(), "bkt", "k", b"secret").await;
    let anon = Caller::anonymous("r1");
    for caller in [bob(), anon] {
        assert!(matches!(
            get(s, &caller, "bkt", "k").await,
            Err(StorageError::AccessDenied)
        ));
        let r = s
            .put_object(
                &caller,
                "bkt",
                "k2",
                PutObjectRequest::default(),
                body(b"x", 1),
            )
            .await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
        let r = s
            .delete_object(&caller, "bkt", "k", DeleteObjectRequest::default())
            .await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
        let r = s
            .list_objects(&caller, "bkt", ListObjectsRequest::default())
            .await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
        let r = s.delete_bucket(&caller, "bkt").await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
        let r = s
            .copy_object(
                &caller,
                "bkt",
                "copy",
                CopyObjectRequest {
                    source_bucket: "bkt".into(),
                    source_key: "k".into(),
                    ..Default::default()
                },
            )
            .await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
        let r = s
            .create_multipart_upload(&caller, "bkt", "k", CreateMultipartRequest::default())
            .await;
        assert!(matches!(r, Err(StorageError::AccessDenied)));
    }
    // Bob cannot copy Alice's object into his own bucket either.
    s.create_bucket(&bob(), "bobs", None, None).await.unwrap();
    let r = s
        .copy_object(
            &bob(),
            "bobs",
            "stolen",
            CopyObjectRequest {
                source_bucket: "bkt".into(),
                source_key: "k".into(),
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(StorageError::AccessDenied)));
    assert!(matches!(
        get(s, &bob(), "nope", "k").await,
        Err(StorageError::NoSuchBucket(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stored_bytes_are_metered_in_the_commit_and_requests_are_flushed() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    let caller = Caller::account(ALICE, "request-1");
    s.put_object(
        &caller,
        "bkt",
        "k",
        PutObjectRequest::default(),
        body(&pattern(1000, 1), 100),
    )
    .await
    .unwrap();
    put(s, &alice(), "bkt", "k", &pattern(400, 1)).await;
    get(s, &alice(), "bkt", "k").await.unwrap();
    get(s, &alice(), "bkt", "k").await.unwrap();
    s.record_bytes_out(ALICE, 800);
    s.delete_object(&alice(), "bkt", "k", DeleteObjectRequest::default())
        .await
        .unwrap();
    // Stored bytes were metered by the commits; the request counts (three
    // meters) and bytes out wait in memory for the flush.
    assert_eq!(s.flush_usage().await.unwrap(), 4);
    let events = e.meta.usage(&UsageQuery::default()).await.unwrap();
    let total = |meter: &str| -> i64 {
        events
            .iter()
            .filter(|ev| ev.event.meter == meter && ev.event.account_id == ALICE)
            .map(|ev| ev.event.quantity)
            .sum()
    };
    // CreateBucket + two PUTs.
    assert_eq!(total(meters::REQUESTS_PUT_COPY_POST_LIST), 3);
    assert_eq!(total(meters::REQUESTS_GET_OTHER), 2);
    assert_eq!(total(meters::REQUESTS_DELETE), 1);
    assert_eq!(total(meters::BYTES_OUT), 800);
    assert_eq!(total(meters::STORED_BYTES_ADDED), 1400);
    assert_eq!(total(meters::STORED_BYTES_REMOVED), 1400);
    assert_eq!(s.flush_usage().await.unwrap(), 0, "nothing left pending");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invalid_keys_are_rejected() {
    let e = env();
    bucket(&e, "bkt").await;
    let long = "k".repeat(1025);
    for key in ["", long.as_str()] {
        let r = e
            .storage
            .put_object(
                &alice(),
                "bkt",
                key,
                PutObjectRequest::default(),
                body(b"x", 1),
            )
            .await;
        assert!(matches!(r, Err(StorageError::InvalidKey(_))), "{r:?}");
    }
    put(&e.storage, &alice(), "bkt", &"k".repeat(1024), b"x").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_named_version_is_authorized_as_the_version_action() {
    let e = env();
    bucket(&e, "bkt").await;
    let s = &e.storage;
    s.set_bucket_versioning(&alice(), "bkt", Versioning::Enabled)
        .await
        .unwrap();
    let old = put(s, &alice(), "bkt", "k", b"old")
        .await
        .version_id
        .unwrap();
    put(s, &alice(), "bkt", "k", b"new").await;
    // Bob may read the current object, but no version named by id.
    let policy = format!(
        r#"{{"Version":"2012-10-17","Statement":[
        {{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":["s3:GetObject","s3:GetObjectTagging","s3:GetObjectAcl","s3:GetObjectAttributes"],"Resource":"arn:aws:s3:::bkt/*"}},
        {{"Effect":"Deny","Principal":{{"AWS":"{BOB}"}},"Action":"s3:GetObjectVersion*","Resource":"arn:aws:s3:::bkt/*"}}]}}"#
    );
    s.put_bucket_policy(&alice(), "bkt", &policy).await.unwrap();
    assert_eq!(get(s, &bob(), "bkt", "k").await.unwrap(), b"new");
    let denied = |r: Result<(), StorageError>| {
        assert!(matches!(r, Err(StorageError::AccessDenied)), "{r:?}")
    };
    let by_version = GetObjectRequest {
        version_id: Some(old.clone()),
        ..Default::default()
    };
    denied(
        s.get_object(&bob(), "bkt", "k", by_version.clone())
            .await
            .map(drop),
    );
    denied(
        s.head_object(&bob(), "bkt", "k", &by_version)
            .await
            .map(drop),
    );
    s.get_object_tagging(&bob(), "bkt", "k", None)
        .await
        .unwrap();
    denied(
        s.get_object_tagging(&bob(), "bkt", "k", Some(&old))
            .await
            .map(drop),
    );
    s.get_object_acl(&bob(), "bkt", "k", None).await.unwrap();
    denied(
        s.get_object_acl(&bob(), "bkt", "k", Some(&old))
            .await
            .map(drop),
    );
    let attrs = |version_id: Option<String>| AttributesRequest {
        version_id,
        part_number_marker: 0,
        max_parts: 1000,
        sse_customer: None,
    };
    s.get_object_attributes(&bob(), "bkt", "k", attrs(None))
        .await
        .unwrap();
    denied(
        s.get_object_attributes(&bob(), "bkt", "k", attrs(Some(old.clone())))
            .await
            .map(drop),
    );
    // A copy source naming a version needs s3:GetObjectVersion too.
    s.create_bucket(&bob(), "bobs", None, None).await.unwrap();
    let copy = |source_version_id: Option<String>| CopyObjectRequest {
        source_bucket: "bkt".into(),
        source_key: "k".into(),
        source_version_id,
        ..Default::default()
    };
    s.copy_object(&bob(), "bobs", "c", copy(None))
        .await
        .unwrap();
    denied(
        s.copy_object(&bob(), "bobs", "c", copy(Some(old.clone())))
            .await
            .map(drop),
    );
    let upload = s
        .create_multipart_upload(&bob(), "bobs", "m", CreateMultipartRequest::default())
        .await
        .unwrap();
    let part_copy = |source_version_id: Option<String>| UploadPartCopyRequest {
        source_bucket: "bkt".into(),
        source_key: "k".into(),
        source_version_id,
        ..Default::default()
    };
    s.upload_part_copy(&bob(), "bobs", "m", &upload, 1, part_copy(None))
        .await
        .unwrap();
    denied(
        s.upload_part_copy(&bob(), "bobs", "m", &upload, 1, part_copy(Some(old)))
            .await
            .map(drop),
    );
}

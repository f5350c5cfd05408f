//! Conformance cases for the object store: buckets, versions, listing,
//! multipart uploads, the blob garbage queue and byte metering.

use std::collections::HashSet;
use std::sync::Arc;

use nomuck_checksum::Md5Hasher;

use super::{all_usage, commit_ok};
use crate::storage::*;
use crate::{CommitReceipt, MetaError, MetaStore, Mutation, UsageEvent};

const A: &str = "000000000001";
const B: &str = "000000000002";
const MIB: u64 = 1 << 20;

// ---------------------------------------------------------------- builders

pub fn bucket(name: &str, owner: &str) -> Bucket {
    Bucket {
        name: name.to_owned(),
        owner: owner.to_owned(),
        region: "us-east-1".into(),
        created_at: 1_700_000_000_000,
        versioning: Versioning::Unversioned,
    }
}

fn md5_hex(data: &[u8]) -> String {
    let mut h = Md5Hasher::new();
    h.update(data);
    h.finalize_hex()
}

/// An unversioned ("null") object holding `data` inline.
pub fn inline_object(bucket: &str, key: &str, data: &[u8]) -> ObjectVersion {
    ObjectVersion {
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        version_id: NULL_VERSION.into(),
        internal_id: 0,
        is_latest: true,
        is_delete_marker: false,
        last_modified: 1_700_000_000_123,
        owner: A.into(),
        size: data.len() as u64,
        etag: md5_hex(data),
        storage_class: "STANDARD".into(),
        headers: ObjectHeaders::default(),
        checksum: None,
        tags: Vec::new(),
        acl: None,
        lock: Default::default(),
        encryption: None,
        data: ObjectData::Inline(data.to_vec()),
    }
}

/// An unversioned object made of whole blobs, `(blob id, len)` each.
pub fn blob_object(bucket: &str, key: &str, blobs: &[(&str, u64)]) -> ObjectVersion {
    let segments: Vec<Segment> = blobs
        .iter()
        .map(|(id, len)| Segment {
            blob_id: (*id).to_owned(),
            offset: 0,
            len: *len,
            part: None,
        })
        .collect();
    ObjectVersion {
        size: blobs.iter().map(|(_, l)| l).sum(),
        etag: md5_hex(key.as_bytes()),
        data: ObjectData::Segments(segments),
        ..inline_object(bucket, key, b"")
    }
}

pub fn put(v: ObjectVersion) -> Mutation {
    Mutation::PutObject {
        version: Box::new(v),
        condition: None,
        bucket_owner: None,
        usage: None,
    }
}

fn delete_null(bucket: &str, key: &str) -> Mutation {
    Mutation::DeleteObject {
        bucket: bucket.into(),
        key: key.into(),
        remove_version: Some(NULL_VERSION.into()),
        add_marker: None,
        condition: None,
        bucket_owner: None,
        usage: None,
    }
}

pub fn upload(id: &str, bucket: &str, key: &str) -> MultipartUpload {
    MultipartUpload {
        upload_id: id.to_owned(),
        bucket: bucket.to_owned(),
        key: key.to_owned(),
        initiated: 1_700_000_000_000,
        owner: A.into(),
        storage_class: "STANDARD".into(),
        headers: ObjectHeaders {
            content_type: Some("application/x-test".into()),
            ..ObjectHeaders::default()
        },
        checksum_algorithm: None,
        checksum_type: None,
        tags: vec![("t".into(), "1".into())],
        acl: None,
        lock: Default::default(),
        encryption: None,
    }
}

pub fn part(n: u32, size: u64, blob: &str) -> Part {
    Part {
        part_number: n,
        size,
        etag: md5_hex(blob.as_bytes()),
        checksum: None,
        blob_id: blob.to_owned(),
        last_modified: 1_700_000_000_500,
    }
}

fn put_part(upload_id: &str, bucket: &str, key: &str, p: Part) -> Mutation {
    Mutation::PutPart {
        upload_id: upload_id.into(),
        bucket: bucket.into(),
        key: key.into(),
        part: p,
        usage: None,
    }
}

fn complete(upload_id: &str, bucket: &str, key: &str, parts: &[&Part]) -> CompleteUpload {
    CompleteUpload {
        upload_id: upload_id.into(),
        bucket: bucket.into(),
        key: key.into(),
        parts: parts
            .iter()
            .map(|p| CompletedPart {
                part_number: p.part_number,
                etag: format!("\"{}\"", p.etag),
                checksum: None,
            })
            .collect(),
        version_id: NULL_VERSION.into(),
        last_modified: 1_700_000_001_000,
        min_part_size: 5 * MIB,
        full_object_checksum: None,
        condition: None,
        bucket_owner: None,
        usage: None,
    }
}

fn byte_usage() -> ByteUsage {
    ByteUsage {
        account_id: A.into(),
        service: "s3".into(),
        added_meter: "stored-bytes-added".into(),
        removed_meter: "stored-bytes-removed".into(),
        unit: "bytes".into(),
        at: 5,
    }
}

fn refusal(r: Result<CommitReceipt, MetaError>) -> Refusal {
    match r {
        Err(MetaError::Refused(r)) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

async fn with_bucket(s: &Arc<dyn MetaStore>, name: &str) {
    commit_ok(s, vec![Mutation::CreateBucket(bucket(name, A))]).await;
}

async fn current_keys(s: &Arc<dyn MetaStore>, bucket: &str, prefix: &str) -> Vec<String> {
    s.list_objects(&ObjectListQuery {
        bucket: bucket.into(),
        prefix: prefix.into(),
        start: ListStart::Beginning,
        limit: usize::MAX,
    })
    .await
    .unwrap()
    .into_iter()
    .map(|o| o.key)
    .collect()
}

fn sorted(v: Vec<String>) -> Vec<String> {
    let mut v = v;
    v.sort();
    v
}

/// Sum of stored-bytes events: added minus removed.
fn net_bytes(events: &[crate::StoredUsageEvent]) -> i64 {
    events
        .iter()
        .map(|e| match e.event.meter.as_str() {
            "stored-bytes-added" => e.event.quantity,
            "stored-bytes-removed" => -e.event.quantity,
            _ => 0,
        })
        .sum()
}

// ---------------------------------------------------------------- buckets

pub async fn buckets_create_get_list_delete(s: Arc<dyn MetaStore>) {
    let b1 = bucket("zeta", A);
    let b2 = Bucket {
        region: "eu-west-1".into(),
        versioning: Versioning::Enabled,
        ..bucket("alpha", A)
    };
    let b3 = bucket("beta", B);
    commit_ok(
        &s,
        vec![
            Mutation::CreateBucket(b1.clone()),
            Mutation::CreateBucket(b2.clone()),
            Mutation::CreateBucket(b3.clone()),
        ],
    )
    .await;
    assert_eq!(s.bucket("alpha").await.unwrap(), Some(b2.clone()));
    assert_eq!(s.bucket("nope").await.unwrap(), None);
    assert_eq!(s.buckets_of(A).await.unwrap(), vec![b2, b1.clone()]);
    assert_eq!(s.buckets_of(B).await.unwrap(), vec![b3]);
    assert_eq!(s.buckets_of("999999999999").await.unwrap(), vec![]);

    commit_ok(
        &s,
        vec![Mutation::SetBucketVersioning {
            name: "zeta".into(),
            versioning: Versioning::Suspended,
            bucket_owner: Some(A.into()),
        }],
    )
    .await;
    assert_eq!(
        s.bucket("zeta").await.unwrap().unwrap().versioning,
        Versioning::Suspended
    );

    commit_ok(
        &s,
        vec![Mutation::DeleteBucket {
            name: "alpha".into(),
            bucket_owner: Some(A.into()),
        }],
    )
    .await;
    assert_eq!(s.bucket("alpha").await.unwrap(), None);
    let r = s
        .commit(vec![Mutation::DeleteBucket {
            name: "alpha".into(),
            bucket_owner: None,
        }])
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchBucket("alpha".into()));
    // The name is free again, for anyone.
    commit_ok(&s, vec![Mutation::CreateBucket(bucket("alpha", B))]).await;
    assert_eq!(s.bucket("alpha").await.unwrap().unwrap().owner, B);
}

pub async fn bucket_name_conflicts(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "taken").await;
    let r = s
        .commit(vec![Mutation::CreateBucket(bucket("taken", A))])
        .await;
    assert_eq!(
        refusal(r),
        Refusal::BucketExists {
            name: "taken".into(),
            owned_by_you: true
        }
    );
    let r = s
        .commit(vec![Mutation::CreateBucket(bucket("taken", B))])
        .await;
    assert_eq!(
        refusal(r),
        Refusal::BucketExists {
            name: "taken".into(),
            owned_by_you: false
        }
    );
    let r = s
        .commit(vec![
            Mutation::CreateBucket(bucket("new", B)),
            Mutation::CreateBucket(bucket("new", B)),
        ])
        .await;
    assert!(matches!(refusal(r), Refusal::BucketExists { .. }));
    assert_eq!(s.bucket("new").await.unwrap(), None);
    assert_eq!(s.buckets_of(B).await.unwrap(), vec![]);
}

pub async fn bucket_delete_refused_while_not_empty(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let del = || Mutation::DeleteBucket {
        name: "b".into(),
        bucket_owner: None,
    };
    commit_ok(&s, vec![put(inline_object("b", "k", b"x"))]).await;
    assert_eq!(
        refusal(s.commit(vec![del()]).await),
        Refusal::BucketNotEmpty("b".into())
    );
    commit_ok(&s, vec![delete_null("b", "k")]).await;

    // A lone delete marker still counts as content.
    commit_ok(
        &s,
        vec![Mutation::DeleteObject {
            bucket: "b".into(),
            key: "k".into(),
            remove_version: None,
            add_marker: Some(DeleteMarker {
                version_id: "v1".into(),
                last_modified: 1,
                owner: A.into(),
            }),
            condition: None,
            bucket_owner: None,
            usage: None,
        }],
    )
    .await;
    assert!(matches!(
        refusal(s.commit(vec![del()]).await),
        Refusal::BucketNotEmpty(_)
    ));
    commit_ok(
        &s,
        vec![Mutation::DeleteObject {
            bucket: "b".into(),
            key: "k".into(),
            remove_version: Some("v1".into()),
            add_marker: None,
            condition: None,
            bucket_owner: None,
            usage: None,
        }],
    )
    .await;

    // So does an in-progress multipart upload.
    commit_ok(
        &s,
        vec![Mutation::CreateMultipartUpload {
            upload: Box::new(upload("u1", "b", "k")),
            bucket_owner: None,
        }],
    )
    .await;
    assert!(matches!(
        refusal(s.commit(vec![del()]).await),
        Refusal::BucketNotEmpty(_)
    ));
    commit_ok(
        &s,
        vec![Mutation::AbortMultipartUpload {
            upload_id: "u1".into(),
            bucket: "b".into(),
            key: "k".into(),
            usage: None,
        }],
    )
    .await;
    commit_ok(&s, vec![del()]).await;
    assert_eq!(s.bucket("b").await.unwrap(), None);
}

pub async fn bucket_owner_guard(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let wrong = Some(B.to_owned());
    let attempts = vec![
        Mutation::PutObject {
            version: Box::new(inline_object("b", "k", b"x")),
            condition: None,
            bucket_owner: wrong.clone(),
            usage: None,
        },
        Mutation::DeleteBucket {
            name: "b".into(),
            bucket_owner: wrong.clone(),
        },
        Mutation::PutBucketConfig {
            bucket: "b".into(),
            kind: "policy".into(),
            doc: b"{}".to_vec(),
            bucket_owner: wrong.clone(),
        },
        Mutation::CreateMultipartUpload {
            upload: Box::new(upload("u", "b", "k")),
            bucket_owner: wrong.clone(),
        },
    ];
    for m in attempts {
        let r = s.commit(vec![m.clone()]).await;
        assert_eq!(refusal(r), Refusal::BucketOwnerChanged("b".into()), "{m:?}");
    }
    let r = s
        .commit(vec![Mutation::PutObject {
            version: Box::new(inline_object("missing", "k", b"x")),
            condition: None,
            bucket_owner: None,
            usage: None,
        }])
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchBucket("missing".into()));
    assert!(s.object("b", "k", None).await.unwrap().is_none());
    assert!(s.bucket("b").await.unwrap().is_some());
}

pub async fn bucket_configs(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let put_cfg = |kind: &str, doc: &[u8]| Mutation::PutBucketConfig {
        bucket: "b".into(),
        kind: kind.into(),
        doc: doc.to_vec(),
        bucket_owner: None,
    };
    commit_ok(
        &s,
        vec![put_cfg("policy", b"{1}"), put_cfg("cors", b"<x/>")],
    )
    .await;
    assert_eq!(
        s.bucket_config("b", "policy").await.unwrap(),
        Some(b"{1}".to_vec())
    );
    commit_ok(&s, vec![put_cfg("policy", b"{2}")]).await;
    assert_eq!(
        s.bucket_config("b", "policy").await.unwrap(),
        Some(b"{2}".to_vec())
    );
    assert_eq!(s.bucket_config("b", "website").await.unwrap(), None);
    commit_ok(
        &s,
        vec![Mutation::DeleteBucketConfig {
            bucket: "b".into(),
            kind: "policy".into(),
            bucket_owner: None,
        }],
    )
    .await;
    assert_eq!(s.bucket_config("b", "policy").await.unwrap(), None);
    with_bucket(&s, "a").await;
    commit_ok(
        &s,
        vec![Mutation::PutBucketConfig {
            bucket: "a".into(),
            kind: "cors".into(),
            doc: vec![],
            bucket_owner: None,
        }],
    )
    .await;
    assert_eq!(s.buckets_with_config("cors").await.unwrap(), ["a", "b"]);
    assert!(s.buckets_with_config("policy").await.unwrap().is_empty());
    let r = s.commit(vec![Mutation::PutBucketConfig {
        bucket: "nope".into(),
        kind: "x".into(),
        doc: vec![],
        bucket_owner: None,
    }]);
    assert!(matches!(refusal(r.await), Refusal::NoSuchBucket(_)));

    // Configs go with their bucket; a re-created bucket starts clean.
    commit_ok(
        &s,
        vec![Mutation::DeleteBucket {
            name: "b".into(),
            bucket_owner: None,
        }],
    )
    .await;
    with_bucket(&s, "b").await;
    assert_eq!(s.bucket_config("b", "cors").await.unwrap(), None);
}

// ---------------------------------------------------------------- objects

pub async fn object_round_trip_all_fields(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let headers = ObjectHeaders {
        content_type: Some("text/plain; charset=utf-8".into()),
        content_encoding: Some("gzip".into()),
        content_disposition: Some("attachment; filename=\"ü.txt\"".into()),
        content_language: Some("de-CH".into()),
        cache_control: Some("no-cache".into()),
        expires: Some("Thu, 01 Dec 1994 16:00:00 GMT".into()),
        user_metadata: vec![
            ("zeta".into(), "1".into()),
            ("alpha".into(), "☁ two".into()),
            ("empty".into(), String::new()),
        ],
    };
    let small = ObjectVersion {
        headers: headers.clone(),
        checksum: Some(ObjectChecksum {
            algorithm: "CRC32".into(),
            value: "i9aeUg==".into(),
            kind: ChecksumType::FullObject,
        }),
        tags: vec![("b".into(), "2".into()), ("a".into(), "1".into())],
        acl: Some(r#"{"owner":"x","grants":[]}"#.into()),
        lock: crate::ObjectLock {
            retention: Some(crate::Retention {
                mode: crate::LockMode::Compliance,
                until: i64::MAX,
            }),
            legal_hold: true,
        },
        encryption: Some(r#"{"alg":"AES256"}"#.into()),
        storage_class: "REDUCED_REDUNDANCY".into(),
        owner: B.into(),
        last_modified: i64::MAX,
        ..inline_object("b", "dir/ümlaut key+%20 ☃", &[0, 1, 2, 255, 0])
    };
    let big = ObjectVersion {
        etag: "0123456789abcdef0123456789abcdef-2".into(),
        data: ObjectData::Segments(vec![
            Segment {
                blob_id: "blob-a".into(),
                offset: 0,
                len: 5 * MIB,
                part: Some(PartRef {
                    number: 1,
                    etag: "e1".into(),
                    checksum: Some("c1".into()),
                }),
            },
            Segment {
                blob_id: "blob-b".into(),
                offset: 7,
                len: 3,
                part: Some(PartRef {
                    number: 2,
                    etag: "e2".into(),
                    checksum: None,
                }),
            },
        ]),
        size: 5 * MIB + 3,
        ..inline_object("b", "big", b"")
    };
    let empty = inline_object("b", "empty", b"");
    commit_ok(
        &s,
        vec![put(small.clone()), put(big.clone()), put(empty.clone())],
    )
    .await;

    for want in [small, big, empty] {
        let got = s.object("b", &want.key, None).await.unwrap().unwrap();
        assert!(got.internal_id > 0);
        assert!(got.is_latest);
        let normalized = ObjectVersion {
            internal_id: got.internal_id,
            ..want.clone()
        };
        assert_eq!(got, normalized);
        let by_version = s.object("b", &want.key, Some(NULL_VERSION)).await.unwrap();
        assert_eq!(by_version, Some(got));
    }
    let big = s.object("b", "big", None).await.unwrap().unwrap();
    assert_eq!(
        big.parts(),
        vec![
            PartSummary {
                part_number: 1,
                size: 5 * MIB,
                etag: "e1".into(),
                checksum: Some("c1".into())
            },
            PartSummary {
                part_number: 2,
                size: 3,
                etag: "e2".into(),
                checksum: None
            },
        ]
    );
    assert_eq!(s.object("b", "nope", None).await.unwrap(), None);
    assert_eq!(s.object("b", "big", Some("v-other")).await.unwrap(), None);
    assert_eq!(s.object("other", "big", None).await.unwrap(), None);
}

pub async fn object_replace_frees_blobs_and_meters_bytes(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let metered = |v: ObjectVersion| Mutation::PutObject {
        version: Box::new(v),
        condition: None,
        bucket_owner: Some(A.into()),
        usage: Some(byte_usage()),
    };
    let r = commit_ok(
        &s,
        vec![metered(blob_object("b", "k", &[("b1", 10), ("b2", 5)]))],
    )
    .await;
    assert!(r.freed_blobs.is_empty());
    let r = commit_ok(&s, vec![metered(blob_object("b", "k", &[("b3", 7)]))]).await;
    assert_eq!(sorted(r.freed_blobs), vec!["b1", "b2"]);
    assert_eq!(r.removed_versions.len(), 1);
    assert_eq!(r.removed_versions[0].size, 15);
    let r = commit_ok(&s, vec![metered(inline_object("b", "k", b"abc"))]).await;
    assert_eq!(r.freed_blobs, vec!["b3"]);
    let r = commit_ok(&s, vec![metered(inline_object("b", "k", b"abcdef"))]).await;
    assert!(r.freed_blobs.is_empty());

    let usage = all_usage(&s).await;
    assert_eq!(net_bytes(&usage), 6, "{usage:?}");
    let keys: HashSet<&str> = usage
        .iter()
        .map(|e| e.event.idempotency_key.as_str())
        .collect();
    assert_eq!(keys.len(), usage.len(), "idempotency keys are unique");
    assert!(
        usage
            .iter()
            .all(|e| e.event.account_id == A && e.event.unit == "bytes")
    );

    let mut queued = s.garbage(i64::MAX, 100).await.unwrap();
    queued.sort();
    assert_eq!(queued, vec!["b1", "b2", "b3"]);
    assert_eq!(current_keys(&s, "b", "").await, vec!["k"]);
}

pub async fn object_write_conditions(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let cond_put = |data: &[u8], c: WriteCondition| Mutation::PutObject {
        version: Box::new(inline_object("b", "k", data)),
        condition: Some(c),
        bucket_owner: None,
        usage: None,
    };
    let none_match = WriteCondition::create_only();
    let if_match = |e: &str| WriteCondition {
        if_match: Some(e.to_owned()),
        ..WriteCondition::default()
    };
    let if_none_match = |e: &str| WriteCondition {
        if_none_match: Some(e.to_owned()),
        ..WriteCondition::default()
    };
    // If-Match on a missing key: NoSuchKey. If-None-Match * on it: fine.
    assert_eq!(
        refusal(s.commit(vec![cond_put(b"1", if_match("x"))]).await),
        Refusal::NoSuchKey
    );
    commit_ok(&s, vec![cond_put(b"1", none_match.clone())]).await;
    assert_eq!(
        refusal(s.commit(vec![cond_put(b"2", none_match.clone())]).await),
        Refusal::PreconditionFailed
    );
    assert_eq!(
        refusal(s.commit(vec![cond_put(b"2", if_match("\"00\""))]).await),
        Refusal::PreconditionFailed
    );
    let etag = md5_hex(b"1");
    assert_eq!(
        refusal(
            s.commit(vec![cond_put(b"2", if_none_match(&format!("\"{etag}\"")))])
                .await
        ),
        Refusal::PreconditionFailed
    );
    commit_ok(&s, vec![cond_put(b"1", if_none_match("\"other\""))]).await;
    commit_ok(&s, vec![cond_put(b"1", if_match("*"))]).await;
    commit_ok(
        &s,
        vec![cond_put(b"2", if_match(&format!("\"x\", \"{etag}\"")))],
    )
    .await;
    let got = s.object("b", "k", None).await.unwrap().unwrap();
    assert_eq!(got.data, ObjectData::Inline(b"2".to_vec()));

    // Conditional delete.
    let cond_del = |c: WriteCondition| Mutation::DeleteObject {
        bucket: "b".into(),
        key: "k".into(),
        remove_version: Some(NULL_VERSION.into()),
        add_marker: None,
        condition: Some(c),
        bucket_owner: None,
        usage: None,
    };
    assert_eq!(
        refusal(s.commit(vec![cond_del(if_match(&etag))]).await),
        Refusal::PreconditionFailed
    );
    // A delete pinned to a stored row refuses once the key was rewritten.
    let row = s.object("b", "k", None).await.unwrap().unwrap().internal_id;
    commit_ok(&s, vec![cond_put(b"3", if_match("*"))]).await;
    let pinned = |row: i64| WriteCondition {
        version_row: Some(row),
        ..WriteCondition::default()
    };
    assert_eq!(
        refusal(s.commit(vec![cond_del(pinned(row))]).await),
        Refusal::PreconditionFailed
    );
    let row = s.object("b", "k", None).await.unwrap().unwrap().internal_id;
    commit_ok(&s, vec![cond_del(pinned(row))]).await;
    assert_eq!(s.object("b", "k", None).await.unwrap(), None);
    // Pinned to the latest row when the delete only adds a marker.
    commit_ok(&s, vec![cond_put(b"4", WriteCondition::default())]).await;
    let row = s.object("b", "k", None).await.unwrap().unwrap().internal_id;
    let marker_on = |row: i64| Mutation::DeleteObject {
        bucket: "b".into(),
        key: "k".into(),
        remove_version: None,
        add_marker: Some(DeleteMarker {
            version_id: "m1".into(),
            last_modified: 1,
            owner: "o".into(),
        }),
        condition: Some(pinned(row)),
        bucket_owner: None,
        usage: None,
    };
    assert_eq!(
        refusal(s.commit(vec![marker_on(row + 1000)]).await),
        Refusal::PreconditionFailed
    );
    commit_ok(&s, vec![marker_on(row)]).await;
    let latest = s.object("b", "k", None).await.unwrap().unwrap();
    assert!(latest.is_delete_marker);
}

pub async fn object_delete_and_gc_queue(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(
        &s,
        vec![
            put(blob_object("b", "x", &[("bx", 100)])),
            put(blob_object("b", "y", &[("by", 100)])),
        ],
    )
    .await;
    let r = commit_ok(&s, vec![delete_null("b", "x")]).await;
    assert_eq!(r.freed_blobs, vec!["bx"]);
    assert_eq!(s.object("b", "x", None).await.unwrap(), None);
    // Deleting what is not there is a successful no-op.
    let r = commit_ok(&s, vec![delete_null("b", "x"), delete_null("b", "never")]).await;
    assert!(r.freed_blobs.is_empty() && r.removed_versions.is_empty());

    assert_eq!(s.garbage(i64::MAX, 10).await.unwrap(), vec!["bx"]);
    // Entries younger than the cut-off are held back.
    assert_eq!(s.garbage(0, 10).await.unwrap(), Vec::<String>::new());
    commit_ok(
        &s,
        vec![Mutation::ForgetGarbage {
            blob_ids: vec!["bx".into(), "unknown".into()],
        }],
    )
    .await;
    assert_eq!(s.garbage(i64::MAX, 10).await.unwrap(), Vec::<String>::new());
    assert_eq!(current_keys(&s, "b", "").await, vec!["y"]);
}

pub async fn object_copy_shares_data(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(
        &s,
        vec![
            put(blob_object("b", "src", &[("shared", 10)])),
            put(inline_object("b", "small", b"tiny")),
        ],
    )
    .await;
    let src = s.object("b", "src", None).await.unwrap().unwrap();
    let small = s.object("b", "small", None).await.unwrap().unwrap();
    let copy = |from: &ObjectVersion, key: &str| {
        put(ObjectVersion {
            key: key.into(),
            data: ObjectData::CopyOf(from.internal_id),
            ..from.clone()
        })
    };
    commit_ok(&s, vec![copy(&src, "dst"), copy(&small, "small-copy")]).await;
    let dst = s.object("b", "dst", None).await.unwrap().unwrap();
    assert_eq!(dst.data, src.data);
    assert_ne!(dst.internal_id, src.internal_id);
    assert_eq!(
        s.object("b", "small-copy", None)
            .await
            .unwrap()
            .unwrap()
            .data,
        ObjectData::Inline(b"tiny".to_vec())
    );

    // Copy onto itself (a metadata change) keeps the data.
    let r = commit_ok(
        &s,
        vec![put(ObjectVersion {
            headers: ObjectHeaders {
                content_type: Some("new/type".into()),
                ..ObjectHeaders::default()
            },
            data: ObjectData::CopyOf(src.internal_id),
            ..src.clone()
        })],
    )
    .await;
    assert!(r.freed_blobs.is_empty());
    let src2 = s.object("b", "src", None).await.unwrap().unwrap();
    assert_eq!(src2.data, src.data);
    assert_eq!(src2.headers.content_type.as_deref(), Some("new/type"));

    // The blob is freed only when its last reference goes.
    let r = commit_ok(&s, vec![delete_null("b", "src")]).await;
    assert!(r.freed_blobs.is_empty());
    let r = commit_ok(&s, vec![delete_null("b", "dst")]).await;
    assert_eq!(r.freed_blobs, vec!["shared"]);

    // Copying from a version that is gone fails and changes nothing.
    let r = s.commit(vec![copy(&src, "late")]).await;
    assert_eq!(refusal(r), Refusal::CopySourceGone);
    assert_eq!(s.object("b", "late", None).await.unwrap(), None);
}

pub async fn object_tags(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(&s, vec![put(inline_object("b", "k", b"x"))]).await;
    let set = |tags: Vec<(String, String)>, version: Option<&str>| Mutation::SetObjectTags {
        bucket: "b".into(),
        key: "k".into(),
        version_id: version.map(str::to_owned),
        tags,
        bucket_owner: None,
    };
    let tags = vec![("z".to_owned(), "1".to_owned()), ("a".into(), "".into())];
    commit_ok(&s, vec![set(tags.clone(), None)]).await;
    assert_eq!(s.object("b", "k", None).await.unwrap().unwrap().tags, tags);
    commit_ok(
        &s,
        vec![set(vec![("v".into(), "2".into())], Some(NULL_VERSION))],
    )
    .await;
    assert_eq!(
        s.object("b", "k", None).await.unwrap().unwrap().tags,
        vec![("v".to_owned(), "2".to_owned())]
    );
    commit_ok(&s, vec![set(vec![], None)]).await;
    assert!(
        s.object("b", "k", None)
            .await
            .unwrap()
            .unwrap()
            .tags
            .is_empty()
    );
    assert_eq!(
        refusal(
            s.commit(vec![Mutation::SetObjectTags {
                bucket: "b".into(),
                key: "missing".into(),
                version_id: None,
                tags: vec![],
                bucket_owner: None,
            }])
            .await
        ),
        Refusal::NoSuchKey
    );
    assert_eq!(
        refusal(s.commit(vec![set(vec![], Some("v9"))]).await),
        Refusal::NoSuchVersion
    );
}

// ---------------------------------------------------------------- listing

/// Keys whose byte order differs from naive char or UTF-16 order.
pub fn tricky_keys() -> Vec<String> {
    [
        "a",
        "a b",
        "a+b",
        "a%2Fb",
        "a/b",
        "a/b/c",
        "a0",
        "ab",
        "z",
        "~",
        "\u{7f}",
        "é",
        "\u{ffff}",
        "\u{ffff}a",
        "\u{10000}",
        "😀",
        "a\u{ffff}",
        "A",
        "!",
        "a/\u{ffff}",
        "a//",
    ]
    .into_iter()
    .map(str::to_owned)
    .collect()
}

pub async fn list_objects_byte_order(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    with_bucket(&s, "other").await;
    let keys = tricky_keys();
    let muts = keys
        .iter()
        .map(|k| put(inline_object("b", k, b"x")))
        .collect();
    commit_ok(&s, muts).await;
    commit_ok(&s, vec![put(inline_object("other", "a", b"x"))]).await;
    let mut want = keys.clone();
    want.sort_by(|x, y| x.as_bytes().cmp(y.as_bytes()));
    assert_eq!(current_keys(&s, "b", "").await, want);

    // Pages of 3 concatenate to the whole listing.
    let mut paged = Vec::new();
    let mut start = ListStart::Beginning;
    loop {
        let page = s
            .list_objects(&ObjectListQuery {
                bucket: "b".into(),
                prefix: String::new(),
                start: start.clone(),
                limit: 3,
            })
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        start = ListStart::After(last.key.clone());
        paged.extend(page.into_iter().map(|o| o.key));
    }
    assert_eq!(paged, want);

    let summary = s
        .list_objects(&ObjectListQuery {
            bucket: "b".into(),
            prefix: "a/b/".into(),
            start: ListStart::Beginning,
            limit: 10,
        })
        .await
        .unwrap();
    assert_eq!(summary.len(), 1);
    let o = &summary[0];
    assert_eq!(
        (o.key.as_str(), o.size, o.version_id.as_str()),
        ("a/b/c", 1, NULL_VERSION)
    );
    assert!(o.is_latest && !o.is_delete_marker);
    assert_eq!(o.etag, md5_hex(b"x"));
}

pub async fn list_objects_prefix_and_start(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let muts = tricky_keys()
        .iter()
        .map(|k| put(inline_object("b", k, b"")))
        .collect();
    commit_ok(&s, muts).await;
    let list = |prefix: &str, start: ListStart| {
        let s = Arc::clone(&s);
        let q = ObjectListQuery {
            bucket: "b".into(),
            prefix: prefix.into(),
            start,
            limit: 100,
        };
        async move {
            s.list_objects(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|o| o.key)
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        list("a/", ListStart::Beginning).await,
        vec!["a//", "a/b", "a/b/c", "a/\u{ffff}"]
    );
    assert_eq!(
        list("\u{ffff}", ListStart::Beginning).await,
        vec!["\u{ffff}", "\u{ffff}a"]
    );
    assert_eq!(
        list("a/", ListStart::After("a/b".into())).await,
        vec!["a/b/c", "a/\u{ffff}"]
    );
    // Seeking past a common prefix skips everything under it.
    assert_eq!(
        list("a", ListStart::PastPrefix("a/".into())).await,
        vec!["a0", "ab", "a\u{ffff}"]
    );
    assert_eq!(
        list("", ListStart::PastPrefix("\u{ffff}".into())).await,
        vec!["\u{10000}", "😀"]
    );
    assert_eq!(
        list("", ListStart::PastPrefix(String::new())).await,
        Vec::<String>::new()
    );
    assert_eq!(
        list("a/", ListStart::After("b".into())).await,
        Vec::<String>::new()
    );
    assert_eq!(list("a/", ListStart::After("0".into())).await.len(), 4);
    assert_eq!(
        list("nothing", ListStart::Beginning).await,
        Vec::<String>::new()
    );
}

// ---------------------------------------------------------------- versions

fn versioned(key: &str, version: &str, data: &[u8]) -> Mutation {
    put(ObjectVersion {
        version_id: version.into(),
        ..inline_object("b", key, data)
    })
}

fn marker(key: &str, version: &str) -> Mutation {
    Mutation::DeleteObject {
        bucket: "b".into(),
        key: key.into(),
        remove_version: None,
        add_marker: Some(DeleteMarker {
            version_id: version.into(),
            last_modified: 7,
            owner: A.into(),
        }),
        condition: None,
        bucket_owner: None,
        usage: None,
    }
}

fn remove(key: &str, version: &str) -> Mutation {
    Mutation::DeleteObject {
        bucket: "b".into(),
        key: key.into(),
        remove_version: Some(version.into()),
        add_marker: None,
        condition: None,
        bucket_owner: None,
        usage: None,
    }
}

pub async fn versions_and_delete_markers(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(&s, vec![versioned("k", "v1", b"one")]).await;
    commit_ok(&s, vec![versioned("k", "v2", b"two")]).await;
    let latest = s.object("b", "k", None).await.unwrap().unwrap();
    assert_eq!(latest.version_id, "v2");
    let v1 = s.object("b", "k", Some("v1")).await.unwrap().unwrap();
    assert!(!v1.is_latest);
    assert_eq!(v1.data, ObjectData::Inline(b"one".to_vec()));

    // A delete marker hides the key from listings but keeps the versions.
    commit_ok(&s, vec![marker("k", "m1")]).await;
    let head = s.object("b", "k", None).await.unwrap().unwrap();
    assert!(head.is_delete_marker && head.is_latest);
    assert_eq!(current_keys(&s, "b", "").await, Vec::<String>::new());
    // Tags and conditions see no object behind a marker.
    let r = s
        .commit(vec![Mutation::SetObjectTags {
            bucket: "b".into(),
            key: "k".into(),
            version_id: None,
            tags: vec![],
            bucket_owner: None,
        }])
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchKey);

    // Removing the marker brings v2 back as latest.
    let r = commit_ok(&s, vec![remove("k", "m1")]).await;
    assert!(r.removed_versions[0].is_delete_marker);
    assert_eq!(
        s.object("b", "k", None).await.unwrap().unwrap().version_id,
        "v2"
    );
    assert_eq!(current_keys(&s, "b", "").await, vec!["k"]);
    // Removing a non-latest version leaves latest alone.
    commit_ok(&s, vec![remove("k", "v1")]).await;
    assert_eq!(
        s.object("b", "k", None).await.unwrap().unwrap().version_id,
        "v2"
    );
    assert_eq!(s.object("b", "k", Some("v1")).await.unwrap(), None);
    commit_ok(&s, vec![remove("k", "v2")]).await;
    assert_eq!(s.object("b", "k", None).await.unwrap(), None);
}

pub async fn list_object_versions_paging(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(&s, vec![versioned("a", "a1", b"1")]).await;
    commit_ok(&s, vec![versioned("b/x", "x1", b"1")]).await;
    commit_ok(&s, vec![versioned("a", "a2", b"2")]).await;
    commit_ok(&s, vec![marker("a", "a3")]).await;
    commit_ok(&s, vec![versioned("c", NULL_VERSION, b"1")]).await;
    commit_ok(&s, vec![versioned("b/x", "x2", b"1")]).await;
    let want = [
        ("a", "a3"),
        ("a", "a2"),
        ("a", "a1"),
        ("b/x", "x2"),
        ("b/x", "x1"),
        ("c", NULL_VERSION),
    ];
    let q = |prefix: &str, start: VersionStart, limit: usize| VersionListQuery {
        bucket: "b".into(),
        prefix: prefix.into(),
        start,
        limit,
    };
    let pairs = |v: Vec<ObjectSummary>| -> Vec<(String, String)> {
        v.into_iter().map(|o| (o.key, o.version_id)).collect()
    };
    let owned = |w: &[(&str, &str)]| -> Vec<(String, String)> {
        w.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let all = s
        .list_object_versions(&q("", VersionStart::Beginning, 100))
        .await
        .unwrap();
    assert!(all[0].is_delete_marker && all[0].is_latest);
    assert!(!all[1].is_latest);
    assert_eq!(pairs(all), owned(&want));

    // Paging by (key, version id) markers, two at a time.
    let mut paged = Vec::new();
    let mut start = VersionStart::Beginning;
    loop {
        let page = s
            .list_object_versions(&q("", start.clone(), 2))
            .await
            .unwrap();
        let Some(last) = page.last() else { break };
        start = VersionStart::AfterVersion {
            key: last.key.clone(),
            version_id: last.version_id.clone(),
        };
        paged.extend(pairs(page));
    }
    assert_eq!(paged, owned(&want));

    let got = s
        .list_object_versions(&q("b/", VersionStart::Beginning, 100))
        .await
        .unwrap();
    assert_eq!(pairs(got), owned(&want[3..5]));
    let got = s
        .list_object_versions(&q("", VersionStart::AfterKey("a".into()), 100))
        .await
        .unwrap();
    assert_eq!(pairs(got), owned(&want[3..]));
    let got = s
        .list_object_versions(&q("", VersionStart::PastPrefix("b/".into()), 100))
        .await
        .unwrap();
    assert_eq!(pairs(got), owned(&want[5..]));
}

// ---------------------------------------------------------------- multipart

async fn start_upload(s: &Arc<dyn MetaStore>, id: &str, key: &str) {
    commit_ok(
        s,
        vec![Mutation::CreateMultipartUpload {
            upload: Box::new(upload(id, "b", key)),
            bucket_owner: Some(A.into()),
        }],
    )
    .await;
}

pub async fn multipart_complete(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(&s, vec![put(blob_object("b", "k", &[("old", 3)]))]).await;
    start_upload(&s, "u1", "k").await;
    let parts = [
        part(1, 5 * MIB, "p1"),
        part(2, 6 * MIB, "p2"),
        part(3, 1, "p3"),
        part(4, 5 * MIB, "p4"),
    ];
    let usage = Some(byte_usage());
    for p in &parts {
        commit_ok(
            &s,
            vec![Mutation::PutPart {
                upload_id: "u1".into(),
                bucket: "b".into(),
                key: "k".into(),
                part: p.clone(),
                usage: usage.clone(),
            }],
        )
        .await;
    }
    let listed = s.list_parts("u1", 0, 100).await.unwrap();
    assert_eq!(listed, parts.to_vec());
    assert_eq!(
        s.list_parts("u1", 2, 1).await.unwrap(),
        vec![parts[2].clone()]
    );
    assert_eq!(s.list_parts("nope", 0, 10).await.unwrap(), vec![]);
    assert_eq!(
        s.multipart_upload("u1").await.unwrap(),
        Some(upload("u1", "b", "k"))
    );

    // Complete with parts 1, 2 and 4 (part 3 is left out: freed).
    let c = CompleteUpload {
        usage: usage.clone(),
        ..complete("u1", "b", "k", &[&parts[0], &parts[1], &parts[3]])
    };
    let r = commit_ok(&s, vec![Mutation::CompleteMultipartUpload(Box::new(c))]).await;
    assert_eq!(sorted(r.freed_blobs.clone()), vec!["old", "p3"]);
    let done = &r.completed_uploads[0];
    let mut h = Md5Hasher::new();
    for p in [&parts[0], &parts[1], &parts[3]] {
        h.update(&md5_raw(&p.etag));
    }
    assert_eq!(done.etag, format!("{}-3", h.finalize_hex()));
    assert_eq!(done.size, 16 * MIB);
    assert_eq!(done.parts_count, 3);

    let obj = s.object("b", "k", None).await.unwrap().unwrap();
    assert_eq!(obj.internal_id, done.internal_id);
    assert_eq!(obj.etag, done.etag);
    assert_eq!(obj.headers, upload("u1", "b", "k").headers);
    assert_eq!(obj.tags, upload("u1", "b", "k").tags);
    let ps = obj.parts();
    assert_eq!(
        ps.iter()
            .map(|p| (p.part_number, p.size))
            .collect::<Vec<_>>(),
        vec![(1, 5 * MIB), (2, 6 * MIB), (4, 5 * MIB)]
    );
    let ObjectData::Segments(segs) = &obj.data else {
        panic!("multipart object must be segments")
    };
    let blobs: Vec<&str> = segs.iter().map(|s| s.blob_id.as_str()).collect();
    assert_eq!(
        blobs,
        vec!["p1", "p2", "p4"],
        "parts are referenced, not copied"
    );

    assert_eq!(s.multipart_upload("u1").await.unwrap(), None);
    assert_eq!(s.list_parts("u1", 0, 10).await.unwrap(), vec![]);
    // Parts were metered as added, then the object replaced them; the old
    // 3-byte object (written unmetered) is metered as removed.
    assert_eq!(net_bytes(&all_usage(&s).await), (16 * MIB) as i64 - 3);
    let r = s
        .commit(vec![Mutation::CompleteMultipartUpload(Box::new(complete(
            "u1",
            "b",
            "k",
            &[&parts[0]],
        )))])
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchUpload("u1".into()));

    // The completed upload is remembered while its version exists.
    let remembered = Some(("b".to_owned(), "k".to_owned(), NULL_VERSION.to_owned()));
    assert_eq!(s.completed_upload("u1").await.unwrap(), remembered);
    assert_eq!(s.completed_upload("nope").await.unwrap(), None);
    commit_ok(&s, vec![put(inline_object("b", "k", b"new"))]).await;
    assert_eq!(s.completed_upload("u1").await.unwrap(), None);
}

fn md5_raw(hex: &str) -> Vec<u8> {
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
        .collect()
}

pub async fn multipart_complete_errors(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    start_upload(&s, "u1", "k").await;
    let p1 = part(1, 5 * MIB, "p1");
    let p2 = part(2, 1024, "p2");
    let p3 = part(3, 1024, "p3");
    for p in [&p1, &p2, &p3] {
        commit_ok(&s, vec![put_part("u1", "b", "k", p.clone())]).await;
    }
    let try_complete = |c: CompleteUpload| {
        let s = Arc::clone(&s);
        async move {
            refusal(
                s.commit(vec![Mutation::CompleteMultipartUpload(Box::new(c))])
                    .await,
            )
        }
    };
    assert_eq!(
        try_complete(complete("u1", "b", "k", &[&p1, &p2, &p3])).await,
        Refusal::EntityTooSmall { part_number: 2 }
    );
    assert_eq!(
        try_complete(complete("u1", "b", "k", &[&p1, &p3, &p2])).await,
        Refusal::InvalidPartOrder
    );
    let mut bad_etag = complete("u1", "b", "k", &[&p1, &p2]);
    bad_etag.parts[1].etag = "\"ffffffffffffffffffffffffffffffff\"".into();
    assert!(matches!(
        try_complete(bad_etag).await,
        Refusal::InvalidPart { part_number: 2, .. }
    ));
    let missing = part(7, 1, "p7");
    assert!(matches!(
        try_complete(complete("u1", "b", "k", &[&p1, &missing])).await,
        Refusal::InvalidPart { part_number: 7, .. }
    ));
    assert!(matches!(
        try_complete(complete("u1", "b", "other-key", &[&p1])).await,
        Refusal::NoSuchUpload(_)
    ));
    assert!(matches!(
        try_complete(complete("nope", "b", "k", &[&p1])).await,
        Refusal::NoSuchUpload(_)
    ));
    let mut cond = complete("u1", "b", "k", &[&p1, &p2]);
    cond.condition = Some(WriteCondition {
        if_match: Some("\"abc\"".into()),
        ..WriteCondition::default()
    });
    assert_eq!(try_complete(cond).await, Refusal::NoSuchKey);
    // Nothing changed: the upload and its parts are intact and still complete.
    assert_eq!(s.list_parts("u1", 0, 10).await.unwrap().len(), 3);
    let r = commit_ok(
        &s,
        vec![Mutation::CompleteMultipartUpload(Box::new(complete(
            "u1",
            "b",
            "k",
            &[&p1, &p2],
        )))],
    )
    .await;
    assert_eq!(r.freed_blobs, vec!["p3"]);
}

pub async fn multipart_part_replace_and_abort(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    start_upload(&s, "u1", "k").await;
    let r = commit_ok(&s, vec![put_part("u1", "b", "k", part(1, 10, "first"))]).await;
    assert!(r.freed_blobs.is_empty());
    let r = commit_ok(&s, vec![put_part("u1", "b", "k", part(1, 20, "second"))]).await;
    assert_eq!(r.freed_blobs, vec!["first"]);
    commit_ok(&s, vec![put_part("u1", "b", "k", part(2, 5, "two"))]).await;
    let listed = s.list_parts("u1", 0, 10).await.unwrap();
    assert_eq!(listed, vec![part(1, 20, "second"), part(2, 5, "two")]);

    let r = s
        .commit(vec![put_part("u1", "b", "wrong-key", part(3, 1, "x"))])
        .await;
    assert!(matches!(refusal(r), Refusal::NoSuchUpload(_)));
    let r = s
        .commit(vec![Mutation::CreateMultipartUpload {
            upload: Box::new(upload("u1", "b", "k")),
            bucket_owner: None,
        }])
        .await;
    assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");

    let abort = || Mutation::AbortMultipartUpload {
        upload_id: "u1".into(),
        bucket: "b".into(),
        key: "k".into(),
        usage: None,
    };
    let r = commit_ok(&s, vec![abort()]).await;
    assert_eq!(sorted(r.freed_blobs), vec!["second", "two"]);
    assert_eq!(s.multipart_upload("u1").await.unwrap(), None);
    assert!(matches!(
        refusal(s.commit(vec![abort()]).await),
        Refusal::NoSuchUpload(_)
    ));
    let mut queued = s.garbage(i64::MAX, 10).await.unwrap();
    queued.sort();
    assert_eq!(queued, vec!["first", "second", "two"]);
}

pub async fn list_uploads_paging(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    with_bucket(&s, "other").await;
    for (id, key) in [
        ("u3", "a/x"),
        ("u1", "a/x"),
        ("u2", "b"),
        ("u4", "a/y"),
        ("u0", "c"),
    ] {
        start_upload(&s, id, key).await;
    }
    commit_ok(
        &s,
        vec![Mutation::CreateMultipartUpload {
            upload: Box::new(upload("u9", "other", "a/x")),
            bucket_owner: None,
        }],
    )
    .await;
    let q = |prefix: &str, start: UploadStart, limit: usize| {
        let s = Arc::clone(&s);
        let q = UploadListQuery {
            bucket: "b".into(),
            prefix: prefix.into(),
            start,
            limit,
        };
        async move {
            s.list_uploads(&q)
                .await
                .unwrap()
                .into_iter()
                .map(|u| (u.key, u.upload_id))
                .collect::<Vec<_>>()
        }
    };
    let own = |w: &[(&str, &str)]| -> Vec<(String, String)> {
        w.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let all = [
        ("a/x", "u1"),
        ("a/x", "u3"),
        ("a/y", "u4"),
        ("b", "u2"),
        ("c", "u0"),
    ];
    assert_eq!(q("", UploadStart::Beginning, 100).await, own(&all));
    assert_eq!(q("a/", UploadStart::Beginning, 100).await, own(&all[..3]));
    assert_eq!(q("", UploadStart::Beginning, 2).await, own(&all[..2]));
    assert_eq!(
        q(
            "",
            UploadStart::AfterUpload {
                key: "a/x".into(),
                upload_id: "u1".into()
            },
            2
        )
        .await,
        own(&all[1..3])
    );
    assert_eq!(
        q("", UploadStart::AfterKey("a/x".into()), 100).await,
        own(&all[2..])
    );
    assert_eq!(
        q("", UploadStart::PastPrefix("a/".into()), 100).await,
        own(&all[3..])
    );
}

pub async fn unreferenced_blobs_query(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    commit_ok(&s, vec![put(blob_object("b", "k", &[("obj", 1)]))]).await;
    start_upload(&s, "u1", "k2").await;
    commit_ok(&s, vec![put_part("u1", "b", "k2", part(1, 1, "prt"))]).await;
    let ids: Vec<String> = ["obj", "prt", "orphan"].map(str::to_owned).to_vec();
    assert_eq!(s.unreferenced_blobs(&ids).await.unwrap(), vec!["orphan"]);
    assert_eq!(
        s.unreferenced_blobs(&[]).await.unwrap(),
        Vec::<String>::new()
    );
}

pub async fn storage_commit_is_atomic_with_usage(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let request = |key: &str| {
        Mutation::RecordUsage(UsageEvent {
            account_id: A.into(),
            service: "s3".into(),
            meter: "requests".into(),
            quantity: 1,
            unit: "requests".into(),
            at: 1,
            idempotency_key: key.into(),
        })
    };
    commit_ok(&s, vec![put(inline_object("b", "k", b"1"))]).await;
    // The write's precondition fails: its usage event must not land either.
    let r = s
        .commit(vec![
            request("req-1"),
            Mutation::PutObject {
                version: Box::new(inline_object("b", "k", b"2")),
                condition: Some(WriteCondition::create_only()),
                bucket_owner: None,
                usage: Some(byte_usage()),
            },
        ])
        .await;
    assert_eq!(refusal(r), Refusal::PreconditionFailed);
    assert!(all_usage(&s).await.is_empty());
    commit_ok(
        &s,
        vec![
            request("req-2"),
            Mutation::PutObject {
                version: Box::new(inline_object("b", "k", b"22")),
                condition: None,
                bucket_owner: None,
                usage: Some(byte_usage()),
            },
        ],
    )
    .await;
    let usage = all_usage(&s).await;
    // The request, the replaced 1-byte version, the new 2-byte version.
    assert_eq!(usage.len(), 3, "{usage:?}");
    assert_eq!(net_bytes(&usage), 1);
}

/// Many concurrent replacements of one key: one survivor, every replaced
/// blob freed exactly once, none of the survivor's.
pub async fn concurrent_puts_to_one_key(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..64 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            let blob = format!("blob-{i}");
            let r = s
                .commit(vec![put(blob_object("b", "k", &[(&blob, 1)]))])
                .await
                .unwrap();
            r.freed_blobs
        });
    }
    let mut freed = Vec::new();
    while let Some(j) = tasks.join_next().await {
        freed.extend(j.unwrap());
    }
    let obj = s.object("b", "k", None).await.unwrap().unwrap();
    let ObjectData::Segments(segs) = obj.data else {
        panic!("expected segments")
    };
    let survivor = segs[0].blob_id.clone();
    let freed_set: HashSet<String> = freed.iter().cloned().collect();
    assert_eq!(freed.len(), 63);
    assert_eq!(freed_set.len(), 63);
    assert!(!freed_set.contains(&survivor));
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn set_lock(key: &str, version: &str, change: LockChange) -> Mutation {
    Mutation::SetObjectLock {
        bucket: "b".into(),
        key: key.into(),
        version_id: version.into(),
        change,
        bucket_owner: None,
    }
}

fn set_retention(key: &str, version: &str, r: Option<Retention>, bypass: bool) -> Mutation {
    set_lock(
        key,
        version,
        LockChange::Retention {
            retention: r,
            bypass_governance: bypass,
        },
    )
}

fn bypassing(m: Mutation) -> Mutation {
    match m {
        Mutation::DeleteObject {
            bucket,
            key,
            remove_version,
            add_marker,
            bucket_owner,
            usage,
            ..
        } => Mutation::DeleteObject {
            bucket,
            key,
            remove_version,
            add_marker,
            condition: Some(WriteCondition {
                bypass_governance: true,
                ..WriteCondition::default()
            }),
            bucket_owner,
            usage,
        },
        other => other,
    }
}

/// Object lock: a protected version is never removed or replaced, by any
/// mutation; retention changes are checked against the stored lock; a
/// bucket with the lock document keeps its versioning Enabled.
pub async fn object_lock_enforced_in_the_commit(s: Arc<dyn MetaStore>) {
    with_bucket(&s, "b").await;
    // The lock document needs versioning Enabled, and then keeps it so.
    let lock_doc = || Mutation::PutBucketConfig {
        bucket: "b".into(),
        kind: OBJECT_LOCK_CONFIG.into(),
        doc: b"{}".to_vec(),
        bucket_owner: None,
    };
    assert_eq!(
        refusal(s.commit(vec![lock_doc()]).await),
        Refusal::InvalidBucketState
    );
    let versioning = |v| Mutation::SetBucketVersioning {
        name: "b".into(),
        versioning: v,
        bucket_owner: None,
    };
    commit_ok(&s, vec![versioning(Versioning::Enabled), lock_doc()]).await;
    assert_eq!(
        refusal(s.commit(vec![versioning(Versioning::Suspended)]).await),
        Refusal::InvalidBucketState
    );

    let far = now_ms() + 3_600_000;
    let compliance = Some(Retention {
        mode: LockMode::Compliance,
        until: far,
    });
    let governance = Some(Retention {
        mode: LockMode::Governance,
        until: far,
    });
    commit_ok(
        &s,
        vec![put(ObjectVersion {
            version_id: "c1".into(),
            lock: ObjectLock {
                retention: compliance,
                legal_hold: false,
            },
            ..inline_object("b", "c", b"c")
        })],
    )
    .await;
    commit_ok(&s, vec![versioned("g", "g1", b"g")]).await;
    commit_ok(&s, vec![set_retention("g", "g1", governance, false)]).await;
    commit_ok(&s, vec![versioned("h", "h1", b"h")]).await;
    commit_ok(&s, vec![set_lock("h", "h1", LockChange::LegalHold(true))]).await;
    let stored = s.object("b", "h", Some("h1")).await.unwrap().unwrap();
    assert!(stored.lock.legal_hold);

    // Removal: compliance never, governance only with bypass, a hold never.
    for m in [
        remove("c", "c1"),
        bypassing(remove("c", "c1")),
        remove("g", "g1"),
        bypassing(remove("h", "h1")),
    ] {
        assert_eq!(refusal(s.commit(vec![m]).await), Refusal::ObjectLocked);
    }
    // Nor replaced in place under the same version id.
    let r = s.commit(vec![versioned("c", "c1", b"new")]).await;
    assert_eq!(refusal(r), Refusal::ObjectLocked);
    // A delete marker on top is fine.
    commit_ok(&s, vec![marker("c", "cm")]).await;
    assert_eq!(
        s.object("b", "c", Some("c1")).await.unwrap().unwrap().data,
        ObjectData::Inline(b"c".to_vec())
    );

    // Retention changes: compliance only extends, in its own mode.
    let shorter = Some(Retention {
        mode: LockMode::Compliance,
        until: far - 1,
    });
    for m in [
        set_retention("c", "c1", shorter, true),
        set_retention("c", "c1", None, true),
        set_retention("c", "c1", governance, true),
        set_retention("g", "g1", compliance, false),
        set_retention("g", "g1", None, false),
    ] {
        assert_eq!(refusal(s.commit(vec![m]).await), Refusal::ObjectLocked);
    }
    let longer = Some(Retention {
        mode: LockMode::Compliance,
        until: far + 1,
    });
    commit_ok(&s, vec![set_retention("c", "c1", longer, false)]).await;
    let stored = s.object("b", "c", Some("c1")).await.unwrap().unwrap();
    assert_eq!(stored.lock.retention, longer);
    // Governance yields to the bypass; then the version can go.
    commit_ok(&s, vec![set_retention("g", "g1", None, true)]).await;
    commit_ok(&s, vec![remove("g", "g1")]).await;
    // A passed date protects nothing.
    commit_ok(&s, vec![versioned("p", "p1", b"p")]).await;
    let past = Some(Retention {
        mode: LockMode::Compliance,
        until: now_ms() + 300,
    });
    commit_ok(&s, vec![set_retention("p", "p1", past, false)]).await;
    assert_eq!(
        refusal(s.commit(vec![remove("p", "p1")]).await),
        Refusal::ObjectLocked
    );
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    commit_ok(&s, vec![remove("p", "p1")]).await;
    // Releasing the hold frees the version.
    commit_ok(&s, vec![set_lock("h", "h1", LockChange::LegalHold(false))]).await;
    commit_ok(&s, vec![remove("h", "h1")]).await;
    // Lock changes name a live version.
    let r = s
        .commit(vec![set_lock("h", "h1", LockChange::LegalHold(true))])
        .await;
    assert_eq!(refusal(r), Refusal::NoSuchVersion);
}

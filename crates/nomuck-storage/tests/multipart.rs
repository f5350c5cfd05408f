//! Multipart uploads end to end.

mod common;

use common::*;
use nomuck_checksum::{Checksum, ChecksumAlgorithm, Md5Hasher};
use nomuck_meta::{ChecksumType, CompletedPart, ObjectHeaders};
use nomuck_storage::*;

const BKT: &str = "mpu";

async fn setup() -> Env {
    let e = env();
    e.storage
        .create_bucket(&alice(), BKT, None, None)
        .await
        .unwrap();
    e
}

async fn upload_part(e: &Env, key: &str, id: &str, n: u32, data: &[u8]) -> UploadPartOutput {
    e.storage
        .upload_part(
            &alice(),
            BKT,
            key,
            id,
            n,
            UploadPartRequest::default(),
            body(data, 256 << 10),
        )
        .await
        .unwrap()
}

fn completed(n: u32, out: &UploadPartOutput) -> CompletedPart {
    CompletedPart {
        part_number: n,
        etag: format!("\"{}\"", out.etag),
        checksum: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_parts_complete_with_the_aws_etag_and_no_copy() {
    let e = setup().await;
    let s = &e.storage;
    let req = CreateMultipartRequest {
        headers: ObjectHeaders {
            content_type: Some("video/mp4".into()),
            user_metadata: vec![("m".into(), "1".into())],
            ..Default::default()
        },
        tags: vec![("t".into(), "1".into())],
        ..Default::default()
    };
    let id = s
        .create_multipart_upload(&alice(), BKT, "movie", req)
        .await
        .unwrap();
    let parts = [
        pattern(5 * MIB, 1),
        pattern(5 * MIB + 3, 2),
        pattern(1234, 3),
    ];
    let mut outs = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        outs.push(upload_part(&e, "movie", &id, i as u32 + 1, p).await);
    }
    let files_before = blob_files(e.dir.path()).len();
    assert_eq!(files_before, 3);
    let listed = s
        .list_parts(
            &alice(),
            BKT,
            "movie",
            &id,
            ListPartsRequest {
                part_number_marker: 0,
                max_parts: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(listed.parts.len(), 2);
    assert!(listed.is_truncated);
    assert_eq!(listed.next_part_number_marker, Some(2));
    assert_eq!(
        listed.upload.headers.content_type.as_deref(),
        Some("video/mp4")
    );
    let rest = s
        .list_parts(
            &alice(),
            BKT,
            "movie",
            &id,
            ListPartsRequest {
                part_number_marker: 2,
                max_parts: 2,
            },
        )
        .await
        .unwrap();
    assert_eq!(rest.parts.len(), 1);
    assert!(!rest.is_truncated);

    let out = s
        .complete_multipart_upload(
            &alice(),
            BKT,
            "movie",
            &id,
            CompleteMultipartRequest {
                parts: outs
                    .iter()
                    .enumerate()
                    .map(|(i, o)| completed(i as u32 + 1, o))
                    .collect(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    // "<md5 of the concatenated binary part md5s>-3"
    let mut h = Md5Hasher::new();
    for p in &parts {
        let mut ph = Md5Hasher::new();
        ph.update(p);
        h.update(&ph.finalize());
    }
    assert_eq!(out.etag, format!("{}-3", h.finalize_hex()));
    assert_eq!(
        Some(out.etag.clone()),
        multipart_etag(outs.iter().map(|o| o.etag.as_str()))
    );
    let total: Vec<u8> = parts.concat();
    assert_eq!(out.size, total.len() as u64);
    assert_eq!(
        blob_files(e.dir.path()).len(),
        files_before,
        "parts were not copied"
    );
    assert!(get(s, &alice(), BKT, "movie").await.unwrap() == total);

    let head = s
        .head_object(&alice(), BKT, "movie", &GetObjectRequest::default())
        .await
        .unwrap();
    assert_eq!(head.info.parts_count, Some(3));
    assert_eq!(
        head.info.headers.user_metadata,
        vec![("m".to_owned(), "1".to_owned())]
    );
    assert_eq!(head.info.tag_count, 1);
    // partNumber GET returns exactly that part.
    let p2 = s
        .get_object(
            &alice(),
            BKT,
            "movie",
            GetObjectRequest {
                part_number: Some(2),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let cr = p2.range.unwrap();
    assert_eq!((cr.start, cr.end), (5 * MIB as u64, 10 * MIB as u64 + 2));
    assert!(read_all(p2.body).await == parts[1]);
    // A range across the part boundary.
    let r = s
        .get_object(
            &alice(),
            BKT,
            "movie",
            GetObjectRequest {
                range: Some(ByteRange::FromTo(5 * MIB as u64 - 10, 5 * MIB as u64 + 9)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(read_all(r.body).await == total[5 * MIB - 10..5 * MIB + 10]);

    let attrs = s
        .get_object_attributes(
            &alice(),
            BKT,
            "movie",
            AttributesRequest {
                max_parts: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let pp = attrs.parts.unwrap();
    assert_eq!(pp.total_parts, 3);
    assert_eq!(pp.parts.len(), 2);
    assert!(pp.is_truncated);
    assert_eq!(pp.parts[1].size, 5 * MIB as u64 + 3);

    // The upload is gone.
    assert!(matches!(
        s.list_parts(&alice(), BKT, "movie", &id, ListPartsRequest::default())
            .await,
        Err(StorageError::NoSuchUpload(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completion_errors() {
    let e = setup().await;
    let s = &e.storage;
    let id = s
        .create_multipart_upload(&alice(), BKT, "k", CreateMultipartRequest::default())
        .await
        .unwrap();
    let p1 = upload_part(&e, "k", &id, 1, &pattern(100, 1)).await;
    let p2 = upload_part(&e, "k", &id, 2, &pattern(100, 2)).await;
    let caller = alice();
    let complete = |parts: Vec<CompletedPart>| {
        s.complete_multipart_upload(
            &caller,
            BKT,
            "k",
            &id,
            CompleteMultipartRequest {
                parts,
                ..Default::default()
            },
        )
    };
    let r = complete(vec![completed(1, &p1), completed(2, &p2)]).await;
    assert!(
        matches!(r, Err(StorageError::EntityTooSmall { part_number: 1 })),
        "{r:?}"
    );
    let r = complete(vec![completed(2, &p2), completed(1, &p1)]).await;
    assert!(matches!(r, Err(StorageError::InvalidPartOrder)), "{r:?}");
    let r = complete(vec![completed(1, &p2)]).await;
    assert!(
        matches!(r, Err(StorageError::InvalidPart { part_number: 1, .. })),
        "{r:?}"
    );
    let r = complete(vec![completed(3, &p1)]).await;
    assert!(
        matches!(r, Err(StorageError::InvalidPart { part_number: 3, .. })),
        "{r:?}"
    );
    let r = complete(vec![]).await;
    assert!(matches!(r, Err(StorageError::InvalidRequest(_))), "{r:?}");
    let r = complete(vec![completed(0, &p1)]).await;
    assert!(
        matches!(r, Err(StorageError::InvalidPart { part_number: 0, .. })),
        "{r:?}"
    );
    let r = s
        .complete_multipart_upload(
            &alice(),
            BKT,
            "k",
            "no-such-upload",
            CompleteMultipartRequest {
                parts: vec![completed(1, &p1)],
                ..Default::default()
            },
        )
        .await;
    assert!(matches!(r, Err(StorageError::NoSuchUpload(_))), "{r:?}");
    let r = s
        .upload_part(
            &alice(),
            BKT,
            "other-key",
            &id,
            1,
            UploadPartRequest::default(),
            body(b"x", 1),
        )
        .await;
    assert!(matches!(r, Err(StorageError::NoSuchUpload(_))), "{r:?}");
    let r = s
        .upload_part(
            &alice(),
            BKT,
            "k",
            &id,
            10_001,
            UploadPartRequest::default(),
            body(b"x", 1),
        )
        .await;
    assert!(matches!(r, Err(StorageError::InvalidArgument(_))), "{r:?}");
    assert!(matches!(
        s.complete_multipart_upload(
            &bob(),
            BKT,
            "k",
            &id,
            CompleteMultipartRequest {
                parts: vec![completed(1, &p1)],
                ..Default::default()
            }
        )
        .await,
        Err(StorageError::AccessDenied)
    ));
    // A single small part is a valid (last) part.
    let out = complete(vec![completed(1, &p1)]).await.unwrap();
    assert!(out.etag.ends_with("-1"));
    // Part 2 was not used: freed and collected.
    s.collect_garbage_now().await.unwrap();
    assert_eq!(blob_files(e.dir.path()).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replace_abort_list_uploads_and_bucket_not_empty() {
    let e = setup().await;
    let s = &e.storage;
    let id = s
        .create_multipart_upload(&alice(), BKT, "dir/k", CreateMultipartRequest::default())
        .await
        .unwrap();
    let id2 = s
        .create_multipart_upload(&alice(), BKT, "dir/k", CreateMultipartRequest::default())
        .await
        .unwrap();
    let id3 = s
        .create_multipart_upload(&alice(), BKT, "top", CreateMultipartRequest::default())
        .await
        .unwrap();
    upload_part(&e, "dir/k", &id, 1, b"first").await;
    let second = upload_part(&e, "dir/k", &id, 1, b"second").await;
    let listed = s
        .list_parts(&alice(), BKT, "dir/k", &id, ListPartsRequest::default())
        .await
        .unwrap();
    assert_eq!(listed.parts.len(), 1);
    assert_eq!(listed.parts[0].etag, second.etag);
    s.collect_garbage_now().await.unwrap();
    assert_eq!(blob_files(e.dir.path()).len(), 1, "replaced part collected");

    let all = s
        .list_multipart_uploads(
            &alice(),
            BKT,
            ListUploadsRequest {
                max_uploads: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<_> = all.uploads.iter().map(|u| u.upload_id.clone()).collect();
    assert_eq!(
        ids,
        [id.clone(), id2.clone(), id3.clone()],
        "by key, then initiation"
    );
    let rolled = s
        .list_multipart_uploads(
            &alice(),
            BKT,
            ListUploadsRequest {
                delimiter: Some("/".into()),
                max_uploads: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(rolled.common_prefixes, ["dir/"]);
    assert_eq!(rolled.uploads.len(), 1);
    let page = s
        .list_multipart_uploads(
            &alice(),
            BKT,
            ListUploadsRequest {
                max_uploads: 1,
                key_marker: Some("dir/k".into()),
                upload_id_marker: Some(id.clone()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.uploads[0].upload_id, id2);
    assert!(page.is_truncated);
    assert_eq!(page.next_upload_id_marker.as_deref(), Some(id2.as_str()));

    // An object keeps the bucket alive, and its uploads are left alone.
    put(s, &alice(), BKT, "keep", b"k").await;
    assert!(matches!(
        s.delete_bucket(&alice(), BKT).await,
        Err(StorageError::BucketNotEmpty(_))
    ));
    let all = s
        .list_multipart_uploads(
            &alice(),
            BKT,
            ListUploadsRequest {
                max_uploads: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(all.uploads.len(), 3);
    s.delete_object(&alice(), BKT, "keep", Default::default())
        .await
        .unwrap();
    for (k, u) in [("dir/k", &id), ("dir/k", &id2), ("top", &id3)] {
        s.abort_multipart_upload(&alice(), BKT, k, u).await.unwrap();
    }
    assert!(matches!(
        s.abort_multipart_upload(&alice(), BKT, "top", &id3).await,
        Err(StorageError::NoSuchUpload(_))
    ));
    s.collect_garbage_now().await.unwrap();
    assert!(blob_files(e.dir.path()).is_empty());
    s.delete_bucket(&alice(), BKT).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_a_bucket_aborts_the_uploads_left_in_it() {
    let e = setup().await;
    let s = &e.storage;
    let id = s
        .create_multipart_upload(&alice(), BKT, "k", Default::default())
        .await
        .unwrap();
    s.upload_part(
        &alice(),
        BKT,
        "k",
        &id,
        1,
        Default::default(),
        body(&pattern(1000, 3), 256),
    )
    .await
    .unwrap();
    // Another account cannot use this to delete the bucket.
    assert!(matches!(
        s.delete_bucket(&bob(), BKT).await,
        Err(StorageError::AccessDenied)
    ));
    s.delete_bucket(&alice(), BKT).await.unwrap();
    assert!(matches!(
        s.bucket_info(&alice(), BKT, S3Action::ListBucket).await,
        Err(StorageError::NoSuchBucket(_))
    ));
    s.collect_garbage_now().await.unwrap();
    assert!(blob_files(e.dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn part_copy_and_composite_checksums() {
    let e = setup().await;
    let s = &e.storage;
    let src = pattern(6 * MIB, 9);
    put(s, &alice(), BKT, "src", &src).await;
    let id = s
        .create_multipart_upload(
            &alice(),
            BKT,
            "dst",
            CreateMultipartRequest {
                checksum_algorithm: Some(ChecksumAlgorithm::Crc32),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let copy = |range| UploadPartCopyRequest {
        source_bucket: BKT.into(),
        source_key: "src".into(),
        source_range: range,
        ..Default::default()
    };
    let p1 = s
        .upload_part_copy(
            &alice(),
            BKT,
            "dst",
            &id,
            1,
            copy(Some((0, 5 * MIB as u64 - 1))),
        )
        .await
        .unwrap();
    let tail = &src[5 * MIB..];
    let p2 = s
        .upload_part(
            &alice(),
            BKT,
            "dst",
            &id,
            2,
            UploadPartRequest {
                checksum: ChecksumRequest {
                    algorithm: Some(ChecksumAlgorithm::Crc32),
                    expected: Some((
                        ChecksumAlgorithm::Crc32,
                        Checksum::compute(ChecksumAlgorithm::Crc32, tail).to_base64(),
                    )),
                },
                ..Default::default()
            },
            body(tail, 100_000),
        )
        .await
        .unwrap();
    let bad = s
        .upload_part_copy(
            &alice(),
            BKT,
            "dst",
            &id,
            3,
            copy(Some((0, 6 * MIB as u64))),
        )
        .await;
    assert!(
        matches!(bad, Err(StorageError::InvalidRange { .. })),
        "{bad:?}"
    );
    let c1 = p1.checksum.clone().unwrap();
    assert_eq!(c1.0, ChecksumAlgorithm::Crc32);
    assert_eq!(
        c1.1,
        Checksum::compute(ChecksumAlgorithm::Crc32, &src[..5 * MIB]).to_base64()
    );
    let out = s
        .complete_multipart_upload(
            &alice(),
            BKT,
            "dst",
            &id,
            CompleteMultipartRequest {
                parts: vec![completed(1, &p1), completed(2, &p2)],
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let ck = out.checksum.unwrap();
    assert_eq!(ck.kind, ChecksumType::Composite);
    let mut raw = Checksum::compute(ChecksumAlgorithm::Crc32, &src[..5 * MIB]).bytes;
    raw.extend(Checksum::compute(ChecksumAlgorithm::Crc32, tail).bytes);
    let want = format!(
        "{}-2",
        Checksum::compute(ChecksumAlgorithm::Crc32, &raw).to_base64()
    );
    assert_eq!(ck.value, want);
    assert!(get(s, &alice(), BKT, "dst").await.unwrap() == src);
}

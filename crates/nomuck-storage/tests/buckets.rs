//! Bucket operations.

mod common;

use common::*;
use nomuck_storage::S3Action as Action;
use nomuck_storage::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_list_head_delete() {
    let e = env();
    let s = &e.storage;
    let b = s
        .create_bucket(&alice(), "zeta-bucket", None, None)
        .await
        .unwrap();
    assert_eq!(b.owner, ALICE);
    assert_eq!(b.region, "us-east-1");
    s.create_bucket(&alice(), "alpha.bucket", Some("eu-west-1"), None)
        .await
        .unwrap();
    s.create_bucket(&bob(), "bobs-bucket", None, None)
        .await
        .unwrap();
    let names: Vec<String> = s
        .list_buckets(&alice())
        .await
        .unwrap()
        .into_iter()
        .map(|b| b.name)
        .collect();
    assert_eq!(names, ["alpha.bucket", "zeta-bucket"]);
    let h = s
        .bucket_info(&alice(), "alpha.bucket", Action::ListBucket)
        .await
        .unwrap();
    assert_eq!(h.region, "eu-west-1");
    assert_eq!(h.versioning, Versioning::Unversioned);
    assert!(matches!(
        s.bucket_info(&bob(), "alpha.bucket", Action::ListBucket)
            .await,
        Err(StorageError::AccessDenied)
    ));
    assert!(matches!(
        s.bucket_info(&alice(), "missing", Action::ListBucket).await,
        Err(StorageError::NoSuchBucket(_))
    ));
    s.delete_bucket(&alice(), "zeta-bucket").await.unwrap();
    assert!(matches!(
        s.bucket_info(&alice(), "zeta-bucket", Action::ListBucket)
            .await,
        Err(StorageError::NoSuchBucket(_))
    ));
    assert!(matches!(
        s.delete_bucket(&alice(), "zeta-bucket").await,
        Err(StorageError::NoSuchBucket(_))
    ));
    // A deleted name can be taken by another account at once.
    s.create_bucket(&bob(), "zeta-bucket", None, None)
        .await
        .unwrap();
    assert!(matches!(
        get(s, &alice(), "zeta-bucket", "k").await,
        Err(StorageError::AccessDenied)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_and_conflicts() {
    let e = env();
    let s = &e.storage;
    for bad in [
        "ab",
        "Upper",
        "_nomuck",
        "a..b",
        "192.168.0.1",
        "xn--x",
        "x-s3alias",
    ] {
        assert!(
            matches!(
                s.create_bucket(&alice(), bad, None, None).await,
                Err(StorageError::InvalidBucketName { .. })
            ),
            "{bad}"
        );
    }
    s.create_bucket(&alice(), "taken", None, None)
        .await
        .unwrap();
    assert!(matches!(
        s.create_bucket(&alice(), "taken", None, None).await,
        Err(StorageError::BucketAlreadyOwnedByYou(_))
    ));
    assert!(matches!(
        s.create_bucket(&bob(), "taken", None, None).await,
        Err(StorageError::BucketAlreadyExists(_))
    ));
    assert!(matches!(
        s.create_bucket(&Caller::anonymous("r"), "anon-bucket", None, None)
            .await,
        Err(StorageError::AccessDenied)
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_empty_and_configs() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "full", None, None).await.unwrap();
    put(s, &alice(), "full", "k", b"x").await;
    assert!(matches!(
        s.delete_bucket(&alice(), "full").await,
        Err(StorageError::BucketNotEmpty(_))
    ));
    s.put_bucket_config(
        &alice(),
        "full",
        "cors",
        b"<CORSConfiguration/>".to_vec(),
        Action::PutBucketCORS,
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_bucket_config(&alice(), "full", "cors", Action::GetBucketCORS)
            .await
            .unwrap(),
        Some(b"<CORSConfiguration/>".to_vec())
    );
    assert!(matches!(
        s.put_bucket_config(
            &bob(),
            "full",
            "cors",
            b"{}".to_vec(),
            Action::PutBucketCORS
        )
        .await,
        Err(StorageError::AccessDenied)
    ));
    s.delete_bucket_config(&alice(), "full", "cors", Action::PutBucketCORS)
        .await
        .unwrap();
    assert_eq!(
        s.get_bucket_config(&alice(), "full", "cors", Action::GetBucketCORS)
            .await
            .unwrap(),
        None
    );
    s.delete_object(&alice(), "full", "k", DeleteObjectRequest::default())
        .await
        .unwrap();
    s.delete_bucket(&alice(), "full").await.unwrap();
}

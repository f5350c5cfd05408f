//! Object lock on SQLite + local disk: every path that would remove or
//! replace a locked version is refused, lifecycle included; COMPLIANCE is
//! extend-only; GOVERNANCE yields only to an authorized bypass; a legal
//! hold blocks deletion regardless of retention.

mod common;

use std::time::Duration;

use common::*;
use nomuck_storage::lifecycle::{Filter, FilterForm, Lifecycle, NoncurrentExpiration, Rule};
use nomuck_storage::*;

const HOUR_MS: i64 = 3_600_000;
const DAY: Duration = Duration::from_millis(200);

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn retention(mode: LockMode, until: i64) -> Option<Retention> {
    Some(Retention { mode, until })
}

async fn lock_bucket(s: &Storage, name: &str) {
    s.create_bucket_with(&alice(), name, None, None, None, true)
        .await
        .unwrap();
}

/// Puts `key` with the given lock headers (and the digest S3 requires with them).
async fn put_locked(s: &Storage, bucket: &str, key: &str, lock: LockRequest) -> String {
    let req = PutObjectRequest {
        lock,
        content_md5: Some("jXd/OF09/siBXSD3SWAm3A==".into()), // MD5 of "data"
        ..PutObjectRequest::default()
    };
    s.put_object(&alice(), bucket, key, req, body(b"data", 4))
        .await
        .unwrap()
        .version_id
        .unwrap()
}

async fn delete_version(
    s: &Storage,
    caller: &Caller,
    bucket: &str,
    key: &str,
    version: &str,
    bypass: bool,
) -> Result<DeleteObjectOutput, StorageError> {
    s.delete_object(
        caller,
        bucket,
        key,
        DeleteObjectRequest {
            version_id: Some(version.to_owned()),
            bypass_governance: bypass,
            ..DeleteObjectRequest::default()
        },
    )
    .await
}

fn locked<T: std::fmt::Debug>(r: Result<T, StorageError>) -> bool {
    matches!(r, Err(StorageError::ObjectLocked))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_bucket_is_versioned_and_cannot_be_suspended() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let info = s
        .bucket_info(&alice(), "lkb", S3Action::GetBucketVersioning)
        .await
        .unwrap();
    assert_eq!(info.versioning, Versioning::Enabled);
    assert!(matches!(
        s.set_bucket_versioning(&alice(), "lkb", Versioning::Suspended)
            .await,
        Err(StorageError::InvalidBucketState(_))
    ));
    // A plain unversioned bucket cannot get a lock configuration...
    s.create_bucket(&alice(), "plain", None, None)
        .await
        .unwrap();
    assert!(matches!(
        s.put_object_lock_configuration(&alice(), "plain", LockConfig::default())
            .await,
        Err(StorageError::InvalidBucketState(_))
    ));
    // ...nor take lock headers.
    let req = PutObjectRequest {
        lock: LockRequest {
            legal_hold: Some(true),
            ..LockRequest::default()
        },
        content_md5: Some("jXd/OF09/siBXSD3SWAm3A==".into()),
        ..PutObjectRequest::default()
    };
    assert!(matches!(
        s.put_object(&alice(), "plain", "k", req, body(b"data", 4))
            .await,
        Err(StorageError::InvalidRequest(_))
    ));
    // Once versioning is Enabled it can, as S3 now allows.
    s.set_bucket_versioning(&alice(), "plain", Versioning::Enabled)
        .await
        .unwrap();
    s.put_object_lock_configuration(&alice(), "plain", LockConfig::default())
        .await
        .unwrap();
    assert!(
        s.get_object_lock_configuration(&alice(), "plain")
            .await
            .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn compliance_blocks_every_delete_and_only_extends() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let until = now() + HOUR_MS;
    let v = put_locked(
        s,
        "lkb",
        "k",
        LockRequest {
            retention: retention(LockMode::Compliance, until),
            legal_hold: None,
        },
    )
    .await;
    // DeleteObject with the version, with or without bypass, by the owner.
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, false).await
    ));
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, true).await
    ));
    // DeleteObjects: a per-key failure, not a failed batch.
    let results = s
        .delete_objects(
            &alice(),
            "lkb",
            vec![ObjectToDelete {
                key: "k".into(),
                version_id: Some(v.clone()),
                if_match: None,
            }],
            true,
        )
        .await
        .unwrap();
    assert!(matches!(
        results.as_slice(),
        [DeleteResult::Failed {
            error: StorageError::ObjectLocked,
            ..
        }]
    ));
    // Shortening, removing or relaxing the mode is refused, bypass or not.
    for (r, bypass) in [
        (retention(LockMode::Compliance, until - 1000), true),
        (None, true),
        (retention(LockMode::Governance, until + HOUR_MS), true),
    ] {
        assert!(
            locked(
                s.put_object_retention(&alice(), "lkb", "k", Some(&v), r, bypass)
                    .await
            ),
            "{r:?}"
        );
    }
    // Extending works and is what GET returns.
    let later = until + HOUR_MS;
    s.put_object_retention(
        &alice(),
        "lkb",
        "k",
        Some(&v),
        retention(LockMode::Compliance, later),
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_object_retention(&alice(), "lkb", "k", Some(&v))
            .await
            .unwrap()
            .until,
        later
    );
    // A delete without a version adds a marker: allowed, the version stays.
    let out = s
        .delete_object(&alice(), "lkb", "k", DeleteObjectRequest::default())
        .await
        .unwrap();
    assert!(out.delete_marker);
    assert_eq!(
        s.head_object(
            &alice(),
            "lkb",
            "k",
            &GetObjectRequest {
                version_id: Some(v.clone()),
                ..GetObjectRequest::default()
            }
        )
        .await
        .unwrap()
        .info
        .lock
        .retention,
        retention(LockMode::Compliance, later)
    );
    assert!(matches!(
        s.delete_bucket(&alice(), "lkb").await,
        Err(StorageError::BucketNotEmpty(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_yields_to_an_authorized_bypass_only() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let far = now() + 10 * HOUR_MS;
    let gov = LockRequest {
        retention: retention(LockMode::Governance, far),
        legal_hold: None,
    };
    let v = put_locked(s, "lkb", "k", gov).await;
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, false).await
    ));
    // Shortening needs the bypass.
    let shorter = retention(LockMode::Governance, far - HOUR_MS);
    assert!(locked(
        s.put_object_retention(&alice(), "lkb", "k", Some(&v), shorter, false)
            .await
    ));
    // Bob may delete versions, but not bypass.
    let grant = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":{actions},"Resource":"arn:aws:s3:::lkb/*"}}]}}"#
        )
    };
    s.put_bucket_policy(&alice(), "lkb", &grant(r#"["s3:DeleteObjectVersion"]"#))
        .await
        .unwrap();
    assert!(locked(
        delete_version(s, &bob(), "lkb", "k", &v, true).await
    ));
    // The owner's own policy can deny it the bypass.
    let deny = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:BypassGovernanceRetention","Resource":"arn:aws:s3:::lkb/*"}]}"#;
    s.put_bucket_policy(&alice(), "lkb", deny).await.unwrap();
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, true).await
    ));
    assert!(locked(
        s.put_object_retention(&alice(), "lkb", "k", Some(&v), shorter, true)
            .await
    ));
    // With the permission, the bypass works for Bob.
    s.put_bucket_policy(
        &alice(),
        "lkb",
        &grant(r#"["s3:DeleteObjectVersion","s3:BypassGovernanceRetention"]"#),
    )
    .await
    .unwrap();
    delete_version(s, &bob(), "lkb", "k", &v, true)
        .await
        .unwrap();
    // And for the owner, who has it implicitly.
    let v2 = put_locked(s, "lkb", "k2", gov).await;
    s.put_object_retention(&alice(), "lkb", "k2", Some(&v2), shorter, true)
        .await
        .unwrap();
    s.put_object_retention(&alice(), "lkb", "k2", Some(&v2), None, true)
        .await
        .unwrap();
    delete_version(s, &alice(), "lkb", "k2", &v2, false)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn legal_hold_blocks_deletion_regardless_of_retention() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let v = put_locked(
        s,
        "lkb",
        "k",
        LockRequest {
            retention: None,
            legal_hold: Some(true),
        },
    )
    .await;
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, true).await
    ));
    s.put_object_legal_hold(&alice(), "lkb", "k", Some(&v), false)
        .await
        .unwrap();
    assert!(
        !s.get_object_legal_hold(&alice(), "lkb", "k", Some(&v))
            .await
            .unwrap()
    );
    delete_version(s, &alice(), "lkb", "k", &v, false)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn default_retention_applies_to_puts_uploads_and_copies() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    s.put_object_lock_configuration(
        &alice(),
        "lkb",
        LockConfig {
            default_retention: Some(DefaultRetention {
                mode: LockMode::Governance,
                period: RetentionPeriod::Days(1),
            }),
        },
    )
    .await
    .unwrap();
    let before = now();
    let v = put(s, &alice(), "lkb", "plain", b"x")
        .await
        .version_id
        .unwrap();
    let r = s
        .get_object_retention(&alice(), "lkb", "plain", Some(&v))
        .await
        .unwrap();
    assert_eq!(r.mode, LockMode::Governance);
    assert!(r.until >= before + 24 * HOUR_MS && r.until <= now() + 24 * HOUR_MS);
    // A multipart object: the upload's lock becomes the version's.
    let up = s
        .create_multipart_upload(
            &alice(),
            "lkb",
            "mp",
            CreateMultipartRequest {
                lock: LockRequest {
                    legal_hold: Some(true),
                    ..LockRequest::default()
                },
                ..CreateMultipartRequest::default()
            },
        )
        .await
        .unwrap();
    let part = s
        .upload_part(
            &alice(),
            "lkb",
            "mp",
            &up,
            1,
            UploadPartRequest::default(),
            body(b"part", 4),
        )
        .await
        .unwrap();
    s.complete_multipart_upload(
        &alice(),
        "lkb",
        "mp",
        &up,
        CompleteMultipartRequest {
            parts: vec![CompletedPart {
                part_number: 1,
                etag: part.etag,
                checksum: None,
            }],
            ..CompleteMultipartRequest::default()
        },
    )
    .await
    .unwrap();
    let head = s
        .head_object(&alice(), "lkb", "mp", &GetObjectRequest::default())
        .await
        .unwrap();
    assert!(head.info.lock.legal_hold);
    assert_eq!(
        head.info.lock.retention.map(|r| r.mode),
        Some(LockMode::Governance)
    );
    // A copy gets the destination's default, not the source's lock.
    s.copy_object(
        &alice(),
        "lkb",
        "cp",
        CopyObjectRequest {
            source_bucket: "lkb".into(),
            source_key: "mp".into(),
            ..CopyObjectRequest::default()
        },
    )
    .await
    .unwrap();
    let head = s
        .head_object(&alice(), "lkb", "cp", &GetObjectRequest::default())
        .await
        .unwrap();
    assert!(!head.info.lock.legal_hold);
    assert!(head.info.lock.retention.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_headers_need_a_digest() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let req = PutObjectRequest {
        lock: LockRequest {
            legal_hold: Some(true),
            ..LockRequest::default()
        },
        ..PutObjectRequest::default()
    };
    assert!(matches!(
        s.put_object(&alice(), "lkb", "k", req, body(b"data", 4))
            .await,
        Err(StorageError::InvalidRequest(m)) if m.contains("Content-MD5")
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lifecycle_never_removes_a_locked_version() {
    let e = env_with(StorageOptions {
        lifecycle_day: DAY,
        ..test_options()
    });
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    // Three versions: the oldest locked, the middle free, the newest current.
    let locked_v = put_locked(
        s,
        "lkb",
        "doc",
        LockRequest {
            retention: retention(LockMode::Compliance, now() + HOUR_MS),
            legal_hold: None,
        },
    )
    .await;
    let free_v = put(s, &alice(), "lkb", "doc", b"2")
        .await
        .version_id
        .unwrap();
    put(s, &alice(), "lkb", "doc", b"3").await;
    let noncurrent = Rule {
        id: "nc".into(),
        enabled: true,
        filter: Filter {
            prefix: Some(String::new()),
            form: FilterForm::Filter,
            ..Filter::default()
        },
        expiration: Some(lifecycle::Expiration::Days(1)),
        noncurrent: Some(NoncurrentExpiration {
            days: 1,
            newer_versions_kept: None,
        }),
        abort_incomplete_after_days: None,
    };
    s.put_bucket_lifecycle(
        &alice(),
        "lkb",
        &Lifecycle {
            rules: vec![noncurrent],
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    let r = s.apply_lifecycle_now().await.unwrap();
    // The current version expired into a delete marker, the free noncurrent
    // version went; the locked one stays.
    assert_eq!(r.expired, 1);
    let versions: Vec<(String, bool)> = s
        .list_object_versions(
            &alice(),
            "lkb",
            ListVersionsRequest {
                max_keys: 1000,
                ..ListVersionsRequest::default()
            },
        )
        .await
        .unwrap()
        .versions
        .into_iter()
        .map(|v| (v.version_id, v.is_delete_marker))
        .collect();
    assert!(
        versions.contains(&(locked_v.clone(), false)),
        "{versions:?}"
    );
    assert!(!versions.iter().any(|(v, _)| *v == free_v), "{versions:?}");
    // Again later: still there.
    tokio::time::sleep(DAY).await;
    s.apply_lifecycle_now().await.unwrap();
    assert!(
        s.head_object(
            &alice(),
            "lkb",
            "doc",
            &GetObjectRequest {
                version_id: Some(locked_v),
                ..GetObjectRequest::default()
            }
        )
        .await
        .is_ok()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retention_expires_on_the_server_clock() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    let v = put_locked(
        s,
        "lkb",
        "k",
        LockRequest {
            retention: retention(LockMode::Compliance, now() + 1500),
            legal_hold: None,
        },
    )
    .await;
    assert!(locked(
        delete_version(s, &alice(), "lkb", "k", &v, false).await
    ));
    tokio::time::sleep(Duration::from_millis(1700)).await;
    delete_version(s, &alice(), "lkb", "k", &v, false)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lock_headers_only_for_callers_who_may_read_the_lock() {
    let e = env();
    let s = &e.storage;
    lock_bucket(s, "lkb").await;
    put_locked(
        s,
        "lkb",
        "k",
        LockRequest {
            retention: retention(LockMode::Governance, now() + HOUR_MS),
            legal_hold: Some(true),
        },
    )
    .await;
    let allow = |actions: &str| {
        format!(
            r#"{{"Version":"2012-10-17","Statement":[{{"Effect":"Allow","Principal":{{"AWS":"{BOB}"}},"Action":{actions},"Resource":"arn:aws:s3:::lkb/*"}}]}}"#
        )
    };
    let head = |caller: Caller| async move {
        s.head_object(&caller, "lkb", "k", &GetObjectRequest::default())
            .await
            .unwrap()
            .info
            .lock
    };
    s.put_bucket_policy(&alice(), "lkb", &allow(r#"["s3:GetObject"]"#))
        .await
        .unwrap();
    assert_eq!(head(bob()).await, ObjectLock::default());
    s.put_bucket_policy(
        &alice(),
        "lkb",
        &allow(r#"["s3:GetObject","s3:GetObjectLegalHold"]"#),
    )
    .await
    .unwrap();
    let seen = head(bob()).await;
    assert!(seen.legal_hold && seen.retention.is_none());
    let owner = head(alice()).await;
    assert!(owner.legal_hold && owner.retention.is_some());
}

//! Access log journal delivery on SQLite + local disk: records become
//! objects in their target buckets, a crash between the put and the mark
//! delivers the same records again under the same key, and a target that is
//! gone drops its records instead of blocking the others.

mod common;

use std::time::Duration;

use common::*;
use nomuck_storage::access_log::{AccessLog, KeyFormat, LogEntry, LoggingConfig};
use nomuck_storage::*;

fn entry(target: &str, source: &str, n: i64) -> LogEntry {
    LogEntry {
        target_bucket: target.into(),
        target_owner: ALICE.into(),
        target_prefix: "logs/".into(),
        key_format: KeyFormat::Simple,
        source_bucket: source.into(),
        source_owner: ALICE.into(),
        source_region: "us-east-1".into(),
        at: 1_700_000_000_000 + n,
        line: format!("record {source} {n}"),
        target_grants: Vec::new(),
    }
}

async fn keys(s: &Storage, bucket: &str) -> Vec<String> {
    let out = s
        .list_objects(
            &alice(),
            bucket,
            ListObjectsRequest {
                prefix: "logs/".into(),
                max_keys: 1000,
                ..ListObjectsRequest::default()
            },
        )
        .await
        .unwrap();
    out.objects.into_iter().map(|o| o.key).collect()
}

fn segment_files(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect()
}

#[tokio::test]
async fn records_are_delivered_once_per_target_and_again_under_the_same_key_after_a_crash() {
    let e = env();
    let s = &e.storage;
    for b in ["target", "src-a", "src-b"] {
        s.create_bucket(&alice(), b, None, None).await.unwrap();
    }
    let dir = e.dir.path().join("access-log");
    let log = AccessLog::open(&dir, Duration::from_secs(3600)).unwrap();
    for n in 0..3 {
        log.append(&entry("target", "src-a", n))
            .unwrap()
            .await
            .unwrap();
        log.append(&entry("target", "src-b", n))
            .unwrap()
            .await
            .unwrap();
    }
    // What a crash after the puts but before the segment's removal leaves.
    let before = segment_files(&dir);
    assert_eq!(before.len(), 1);
    let saved = std::fs::read(&before[0]).unwrap();

    let report = log.deliver_now(s).await.unwrap();
    assert_eq!((report.objects, report.records, report.dropped), (2, 6, 0));
    assert!(
        segment_files(&dir).is_empty(),
        "delivered segments are removed"
    );
    let delivered = keys(s, "target").await;
    assert_eq!(
        delivered.len(),
        2,
        "one object per source bucket: {delivered:?}"
    );
    for k in &delivered {
        assert!(k.starts_with("logs/2023-11-14-22-13-20-"), "{k}");
        let body = get(s, &alice(), "target", k).await.unwrap();
        let text = String::from_utf8(body).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        let source = if lines[0].contains("src-a") {
            "src-a"
        } else {
            "src-b"
        };
        assert_eq!(
            lines,
            (0..3)
                .map(|n| format!("record {source} {n}"))
                .collect::<Vec<_>>()
        );
    }

    std::fs::write(&before[0], &saved).unwrap();
    let again = log.deliver_now(s).await.unwrap();
    assert_eq!((again.objects, again.records), (2, 6));
    assert_eq!(
        keys(s, "target").await,
        delivered,
        "re-delivery overwrites, never adds"
    );
}

#[tokio::test]
async fn a_gone_target_drops_its_records_and_the_rest_arrive() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "target", None, None)
        .await
        .unwrap();
    let dir = e.dir.path().join("access-log");
    let log = AccessLog::open(&dir, Duration::from_secs(3600)).unwrap();
    log.append(&entry("gone", "src", 1)).unwrap().await.unwrap();
    log.append(&entry("target", "src", 2))
        .unwrap()
        .await
        .unwrap();
    let report = log.deliver_now(s).await.unwrap();
    assert_eq!((report.objects, report.records, report.dropped), (1, 1, 1));
    assert!(segment_files(&dir).is_empty());
    assert_eq!(keys(s, "target").await.len(), 1);
}

#[tokio::test]
async fn logging_targets_must_exist_and_share_owner_and_region() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "src", None, None).await.unwrap();
    s.create_bucket(&alice(), "elsewhere", Some("eu-west-1"), None)
        .await
        .unwrap();
    s.create_bucket(&bob(), "bobs", None, None).await.unwrap();
    let config = |target: &str| LoggingConfig {
        target_bucket: target.into(),
        target_prefix: "p/".into(),
        target_grants: Vec::new(),
        key_format: None,
    };
    for target in ["missing", "elsewhere", "bobs"] {
        let err = s
            .put_bucket_logging(&alice(), "src", Some(&config(target)))
            .await
            .unwrap_err();
        assert!(
            matches!(err, StorageError::InvalidTargetBucketForLogging(_)),
            "{target}: {err:?}"
        );
    }
    assert!(s.logging_of("src").await.is_none());
    s.put_bucket_logging(&alice(), "src", Some(&config("src")))
        .await
        .unwrap();
    let target = s.logging_of("src").await.unwrap();
    assert_eq!(
        (
            target.source_owner.as_str(),
            target.config.target_bucket.as_str()
        ),
        (ALICE, "src")
    );
    assert!(matches!(
        s.put_bucket_logging(&bob(), "src", None).await,
        Err(StorageError::AccessDenied)
    ));
    s.put_bucket_logging(&alice(), "src", None).await.unwrap();
    assert!(
        s.get_bucket_logging(&alice(), "src")
            .await
            .unwrap()
            .is_none()
    );
    assert!(s.logging_of("src").await.is_none());
}

#[tokio::test]
async fn target_grants_are_checked_and_given_on_each_log_object() {
    use nomuck_storage::access_log::TargetGrant;
    let e = env();
    let s = &e.storage;
    for b in ["src", "target", "enforced"] {
        s.create_bucket(&alice(), b, None, None).await.unwrap();
    }
    let grant = |kind: &str, who: &str, permission: &str| TargetGrant {
        grantee_type: kind.into(),
        grantee: who.into(),
        permission: permission.into(),
    };
    let config = |target: &str, grants: Vec<TargetGrant>| LoggingConfig {
        target_bucket: target.into(),
        target_prefix: "g/".into(),
        target_grants: grants,
        key_format: None,
    };
    for bad in [
        grant("CanonicalUser", "not-an-account", "READ"),
        grant("Group", "http://example.com/group", "READ"),
        grant("CanonicalUser", BOB, "READ_ACP"),
    ] {
        let err = s
            .put_bucket_logging(&alice(), "src", Some(&config("target", vec![bad])))
            .await
            .unwrap_err();
        assert!(matches!(err, StorageError::InvalidArgument(_)), "{err:?}");
    }
    s.put_ownership_controls(
        &alice(),
        "enforced",
        nomuck_policy::ObjectOwnership::BucketOwnerEnforced,
    )
    .await
    .unwrap();
    let bob_reads = vec![grant("CanonicalUser", BOB, "READ")];
    let err = s
        .put_bucket_logging(
            &alice(),
            "src",
            Some(&config("enforced", bob_reads.clone())),
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        StorageError::InvalidTargetBucketForLogging(_)
    ));
    s.put_bucket_logging(&alice(), "src", Some(&config("target", bob_reads.clone())))
        .await
        .unwrap();

    let dir = e.dir.path().join("access-log");
    let log = AccessLog::open(&dir, Duration::from_secs(3600)).unwrap();
    let mut granted = entry("target", "src", 1);
    granted.target_grants = bob_reads;
    log.append(&granted).unwrap().await.unwrap();
    log.append(&entry("target", "other", 2))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(log.deliver_now(s).await.unwrap().objects, 2);
    let (mut readable, mut private) = (0, 0);
    for key in keys(s, "target").await {
        match s
            .get_object(&bob(), "target", &key, GetObjectRequest::default())
            .await
        {
            Ok(_) => readable += 1,
            Err(StorageError::AccessDenied) => private += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    assert_eq!((readable, private), (1, 1), "only the granted source's log");

    // Deliveries are not billed as requests (AWS charges none for them);
    // what bob and the configuration cost is.
    s.flush_usage().await.unwrap();
    let before = puts_of(&e, ALICE).await;
    log.append(&entry("target", "src", 3))
        .unwrap()
        .await
        .unwrap();
    assert_eq!(log.deliver_now(s).await.unwrap().objects, 1);
    s.flush_usage().await.unwrap();
    assert_eq!(puts_of(&e, ALICE).await, before);
}

/// PUT-class requests metered to `account` so far.
async fn puts_of(e: &Env, account: &str) -> i64 {
    e.meta
        .usage(&nomuck_meta::UsageQuery::default())
        .await
        .unwrap()
        .iter()
        .filter(|ev| {
            ev.event.account_id == account
                && ev.event.meter == nomuck_storage::usage::meters::REQUESTS_PUT_COPY_POST_LIST
        })
        .map(|ev| ev.event.quantity)
        .sum()
}

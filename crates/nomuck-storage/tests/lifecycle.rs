//! Lifecycle rules applied by the background pass, on SQLite + local disk,
//! with a lifecycle day of 200 ms.

mod common;

use std::time::Duration;

use common::*;
use nomuck_storage::lifecycle::{
    Expiration, Filter, FilterForm, Lifecycle, NoncurrentExpiration, Rule,
};
use nomuck_storage::*;

const DAY: Duration = Duration::from_millis(200);

fn lifecycle_env() -> Env {
    env_with(StorageOptions {
        lifecycle_day: DAY,
        ..test_options()
    })
}

fn rule(id: &str, prefix: &str) -> Rule {
    Rule {
        id: id.into(),
        enabled: true,
        filter: Filter {
            prefix: Some(prefix.into()),
            form: FilterForm::Filter,
            ..Filter::default()
        },
        expiration: None,
        noncurrent: None,
        abort_incomplete_after_days: None,
    }
}

async fn set_rules(e: &Env, bucket: &str, rules: Vec<Rule>) {
    e.storage
        .put_bucket_lifecycle(&alice(), bucket, &Lifecycle { rules })
        .await
        .unwrap();
}

async fn versions(e: &Env, bucket: &str) -> Vec<(String, bool)> {
    let page = e
        .storage
        .list_object_versions(
            &alice(),
            bucket,
            ListVersionsRequest {
                max_keys: 1000,
                ..ListVersionsRequest::default()
            },
        )
        .await
        .unwrap();
    page.versions
        .iter()
        .map(|v| (v.key.clone(), v.is_delete_marker))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiration_by_age_prefix_and_tags() {
    let e = lifecycle_env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt-b", None, None)
        .await
        .unwrap();
    put(s, &alice(), "bkt-b", "logs/old", b"x").await;
    put(s, &alice(), "bkt-b", "keep/this", b"y").await;
    let tagged = PutObjectRequest {
        tags: vec![("temp".into(), "yes".into())],
        ..PutObjectRequest::default()
    };
    s.put_object(&alice(), "bkt-b", "t/tagged", tagged, body(b"z", 4))
        .await
        .unwrap();
    put(s, &alice(), "bkt-b", "t/plain", b"z").await;
    let mut by_tag = rule("by-tag", "t/");
    by_tag.filter.tags = vec![("temp".into(), "yes".into())];
    by_tag.expiration = Some(Expiration::Days(1));
    let logs = Rule {
        expiration: Some(Expiration::Days(2)),
        ..rule("logs", "logs/")
    };
    set_rules(&e, "bkt-b", vec![logs, by_tag]).await;

    // Reads say when the object goes, and by which rule.
    let head = s
        .head_object(&alice(), "bkt-b", "logs/old", &GetObjectRequest::default())
        .await
        .unwrap();
    let expiry = head.info.expiration.expect("x-amz-expiration");
    assert_eq!(expiry.rule_id, "logs");
    assert_eq!(
        expiry.at,
        head.info.last_modified + 2 * DAY.as_millis() as i64
    );

    // Nothing is due yet.
    assert_eq!(
        s.apply_lifecycle_now().await.unwrap(),
        LifecycleReport::default()
    );
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    let r = s.apply_lifecycle_now().await.unwrap();
    assert_eq!(r.expired, 1);
    assert!(get(s, &alice(), "bkt-b", "t/tagged").await.is_err());
    assert!(get(s, &alice(), "bkt-b", "t/plain").await.is_ok());
    assert!(get(s, &alice(), "bkt-b", "logs/old").await.is_ok());
    tokio::time::sleep(DAY).await;
    assert_eq!(s.apply_lifecycle_now().await.unwrap().expired, 1);
    assert!(get(s, &alice(), "bkt-b", "logs/old").await.is_err());
    assert_eq!(get(s, &alice(), "bkt-b", "keep/this").await.unwrap(), b"y");

    // A disabled rule or a deleted configuration does nothing.
    s.delete_bucket_lifecycle(&alice(), "bkt-b").await.unwrap();
    tokio::time::sleep(DAY).await;
    assert_eq!(
        s.apply_lifecycle_now().await.unwrap(),
        LifecycleReport::default()
    );
    assert!(get(s, &alice(), "bkt-b", "t/plain").await.is_ok());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versioned_keys_noncurrent_versions_and_delete_markers() {
    let e = lifecycle_env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt-v", None, None)
        .await
        .unwrap();
    s.set_bucket_versioning(&alice(), "bkt-v", Versioning::Enabled)
        .await
        .unwrap();
    for i in 0..4u8 {
        put(s, &alice(), "bkt-v", "doc", &[i]).await;
    }
    put(s, &alice(), "bkt-v", "gone", b"1").await;
    s.delete_object(&alice(), "bkt-v", "gone", DeleteObjectRequest::default())
        .await
        .unwrap();
    let keep_newest = Rule {
        noncurrent: Some(NoncurrentExpiration {
            days: 1,
            newer_versions_kept: Some(1),
        }),
        ..rule("nc", "doc")
    };
    let markers = Rule {
        noncurrent: Some(NoncurrentExpiration {
            days: 1,
            newer_versions_kept: None,
        }),
        expiration: Some(Expiration::ExpiredObjectDeleteMarker),
        ..rule("dm", "gone")
    };
    set_rules(&e, "bkt-v", vec![keep_newest, markers]).await;
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    let r = s.apply_lifecycle_now().await.unwrap();
    // doc: current + the newest noncurrent stay; "gone": its old version
    // goes, and then its delete marker hides nothing and goes too.
    assert_eq!(r.versions_removed, 2 + 2);
    assert_eq!(
        versions(&e, "bkt-v").await,
        [("doc".into(), false), ("doc".into(), false)]
    );
    assert_eq!(get(s, &alice(), "bkt-v", "doc").await.unwrap(), [3]);

    // Expiring a current version in a versioned bucket adds a delete marker.
    set_rules(
        &e,
        "bkt-v",
        vec![Rule {
            expiration: Some(Expiration::Days(1)),
            ..rule("exp", "doc")
        }],
    )
    .await;
    assert_eq!(s.apply_lifecycle_now().await.unwrap().expired, 1);
    assert!(get(s, &alice(), "bkt-v", "doc").await.is_err());
    let listed = versions(&e, "bkt-v").await;
    assert_eq!(listed.len(), 3);
    assert!(listed[0].1, "the delete marker is latest");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stale_multipart_uploads_are_aborted() {
    let e = lifecycle_env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt-m", None, None)
        .await
        .unwrap();
    let stale = s
        .create_multipart_upload(
            &alice(),
            "bkt-m",
            "tmp/a",
            CreateMultipartRequest::default(),
        )
        .await
        .unwrap();
    let kept = s
        .create_multipart_upload(
            &alice(),
            "bkt-m",
            "other/b",
            CreateMultipartRequest::default(),
        )
        .await
        .unwrap();
    set_rules(
        &e,
        "bkt-m",
        vec![Rule {
            abort_incomplete_after_days: Some(1),
            ..rule("abort", "tmp/")
        }],
    )
    .await;
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    assert_eq!(s.apply_lifecycle_now().await.unwrap().uploads_aborted, 1);
    let left = s
        .list_multipart_uploads(
            &alice(),
            "bkt-m",
            ListUploadsRequest {
                max_uploads: 1000,
                ..ListUploadsRequest::default()
            },
        )
        .await
        .unwrap();
    let ids: Vec<&str> = left.uploads.iter().map(|u| u.upload_id.as_str()).collect();
    assert_eq!(ids, [kept.as_str()]);
    assert_ne!(stale, kept);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn only_the_owner_manages_rules_and_bad_rules_are_refused() {
    let e = lifecycle_env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt-o", None, None)
        .await
        .unwrap();
    let ok = Lifecycle {
        rules: vec![Rule {
            expiration: Some(Expiration::Days(1)),
            ..rule("r", "")
        }],
    };
    assert!(matches!(
        s.put_bucket_lifecycle(&bob(), "bkt-o", &ok).await,
        Err(StorageError::AccessDenied)
    ));
    assert!(matches!(
        s.get_bucket_lifecycle(&alice(), "bkt-o").await,
        Err(StorageError::NoSuchConfig(_))
    ));
    let zero = Lifecycle {
        rules: vec![Rule {
            expiration: Some(Expiration::Days(0)),
            ..rule("r", "")
        }],
    };
    assert!(matches!(
        s.put_bucket_lifecycle(&alice(), "bkt-o", &zero).await,
        Err(StorageError::InvalidArgument(_))
    ));
    s.put_bucket_lifecycle(&alice(), "bkt-o", &ok)
        .await
        .unwrap();
    assert_eq!(
        *s.get_bucket_lifecycle(&alice(), "bkt-o").await.unwrap(),
        ok
    );
    assert!(s.get_bucket_lifecycle(&bob(), "bkt-o").await.is_err());
}

/// Writes just the event name, so tests can read what was queued.
struct NameOnly;

impl nomuck_storage::notify::EventRenderer for NameOnly {
    fn render(&self, e: &nomuck_storage::notify::ObjectEvent<'_>) -> Vec<u8> {
        format!("{} {}", e.name, e.key).into_bytes()
    }
}

/// A bucket whose lifecycle events go to a topic, rendered by [`NameOnly`].
async fn bucket_with_events(e: &Env, bucket: &str) -> Caller {
    use nomuck_meta::Mutation;
    use nomuck_meta::events::Topic;
    use nomuck_storage::notify::{Destination, NotificationRule, Notifications};

    let s = &e.storage;
    s.set_event_renderer(
        std::sync::Arc::new(NameOnly),
        std::sync::Arc::new(tokio::sync::Notify::new()),
    );
    let owner = ALICE.to_owned();
    e.meta
        .commit(vec![
            Mutation::CreateAccount(nomuck_meta::Account {
                id: owner.clone(),
                name: "alice".into(),
                is_admin: false,
                created_at: 1,
            }),
            Mutation::PutTopic(Topic {
                account_id: owner.clone(),
                name: "t".into(),
                push_endpoint: "http://127.0.0.1:9/".into(),
                secret_sealed: vec![0],
                attributes: vec![],
                created_at: 0,
            }),
        ])
        .await
        .unwrap();
    let caller = Caller::account(owner.clone(), "req-1");
    s.create_bucket(&caller, bucket, None, None).await.unwrap();
    let rule = NotificationRule {
        id: "all".into(),
        destination: Destination::Topic(format!("arn:aws:sns:us-east-1:{owner}:t")),
        topic_account: owner,
        topic_name: "t".into(),
        events: vec![
            "s3:LifecycleExpiration:*".into(),
            "s3:ObjectCreated:Put".into(),
        ],
        prefix: None,
        suffix: None,
    };
    s.put_bucket_notifications(&caller, bucket, &Notifications { rules: vec![rule] })
        .await
        .unwrap();
    caller
}

async fn queued_events(e: &Env) -> Vec<String> {
    e.meta
        .due_deliveries(i64::MAX, 100)
        .await
        .unwrap()
        .into_iter()
        .map(|d| String::from_utf8(d.payload).unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expirations_are_events_queued_with_the_deletion() {
    let e = lifecycle_env();
    let s = &e.storage;
    let caller = bucket_with_events(&e, "bkt-ev").await;
    put(s, &caller, "bkt-ev", "old", b"x").await;
    let rules = vec![Rule {
        expiration: Some(Expiration::Days(1)),
        ..rule("exp", "")
    }];
    s.put_bucket_lifecycle(&caller, "bkt-ev", &Lifecycle { rules })
        .await
        .unwrap();
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    assert_eq!(s.apply_lifecycle_now().await.unwrap().expired, 1);
    assert_eq!(
        queued_events(&e).await,
        ["ObjectCreated:Put old", "LifecycleExpiration:Delete old"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn suspended_buckets_expire_the_null_version_once() {
    let e = lifecycle_env();
    let s = &e.storage;
    let caller = bucket_with_events(&e, "bkt-sus").await;
    let versioning = |v| s.set_bucket_versioning(&caller, "bkt-sus", v);
    // Versions, newest first: C (versioned, current), null, A (versioned).
    versioning(Versioning::Enabled).await.unwrap();
    put(s, &caller, "bkt-sus", "k", b"A").await;
    versioning(Versioning::Suspended).await.unwrap();
    put(s, &caller, "bkt-sus", "k", b"B").await;
    versioning(Versioning::Enabled).await.unwrap();
    put(s, &caller, "bkt-sus", "k", b"C").await;
    versioning(Versioning::Suspended).await.unwrap();
    let rules = vec![Rule {
        expiration: Some(Expiration::Days(1)),
        noncurrent: Some(NoncurrentExpiration {
            days: 1,
            newer_versions_kept: None,
        }),
        ..rule("both", "")
    }];
    s.put_bucket_lifecycle(&caller, "bkt-sus", &Lifecycle { rules })
        .await
        .unwrap();
    tokio::time::sleep(DAY + Duration::from_millis(50)).await;
    let r = s.apply_lifecycle_now().await.unwrap();
    // Expiring C replaces the null version with a null delete marker, as a
    // client's delete would; A goes as noncurrent; the null version is not
    // removed twice.
    assert_eq!((r.expired, r.versions_removed), (1, 1));
    let left = s
        .list_object_versions(
            &caller,
            "bkt-sus",
            ListVersionsRequest {
                max_keys: 1000,
                ..ListVersionsRequest::default()
            },
        )
        .await
        .unwrap()
        .versions;
    let shape: Vec<(&str, bool)> = left
        .iter()
        .map(|v| (v.version_id.as_str(), v.is_delete_marker))
        .collect();
    assert_eq!(shape.len(), 2);
    assert_eq!(shape[0], ("null", true));
    assert!(!shape[1].1 && shape[1].0 != "null");
    let events = queued_events(&e).await;
    let lifecycle: Vec<&String> = events
        .iter()
        .filter(|e| e.starts_with("Lifecycle"))
        .collect();
    assert_eq!(
        lifecycle,
        [
            "LifecycleExpiration:DeleteMarkerCreated k",
            "LifecycleExpiration:Delete k"
        ]
    );
}

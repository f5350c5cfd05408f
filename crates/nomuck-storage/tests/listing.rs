//! Listings against an in-memory model, with unicode keys and many keys.

mod common;

use std::collections::BTreeSet;
use std::sync::Arc;

use common::*;
use nomuck_storage::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Item {
    Key(String),
    Prefix(String),
}

/// What S3 returns for `prefix`/`delimiter` over `keys`, in order.
fn model(keys: &BTreeSet<Vec<u8>>, prefix: &str, delim: Option<&str>) -> Vec<Item> {
    let mut out = Vec::new();
    for k in keys {
        let k = String::from_utf8(k.clone()).unwrap();
        let Some(rest) = k.strip_prefix(prefix) else {
            continue;
        };
        match delim.and_then(|d| rest.find(d).map(|at| (at, d))) {
            Some((at, d)) => {
                let cp = format!("{prefix}{}", &rest[..at + d.len()]);
                if out.last() != Some(&Item::Prefix(cp.clone())) {
                    out.push(Item::Prefix(cp));
                }
            }
            None => out.push(Item::Key(k)),
        }
    }
    out
}

/// Pages through a listing, V2 style (continuation tokens) or V1 (markers).
async fn list_all(
    s: &Storage,
    bucket: &str,
    prefix: &str,
    delim: Option<&str>,
    page: usize,
    v2: bool,
) -> Vec<Item> {
    let mut out = Vec::new();
    let mut from = ListFrom::Beginning;
    loop {
        let r = s
            .list_objects(
                &alice(),
                bucket,
                ListObjectsRequest {
                    prefix: prefix.into(),
                    delimiter: delim.map(str::to_owned),
                    max_keys: page,
                    from: from.clone(),
                },
            )
            .await
            .unwrap();
        assert!(r.objects.len() + r.common_prefixes.len() <= page);
        // Merge the page's keys and prefixes back into key order.
        let mut items: Vec<Item> = r
            .objects
            .iter()
            .map(|o| Item::Key(o.key.clone()))
            .chain(r.common_prefixes.iter().map(|p| Item::Prefix(p.clone())))
            .collect();
        items.sort_by(|a, b| {
            let k = |i: &Item| match i {
                Item::Key(k) | Item::Prefix(k) => k.as_bytes().to_vec(),
            };
            k(a).cmp(&k(b))
        });
        out.extend(items);
        if !r.is_truncated {
            assert!(r.next_continuation_token.is_none() && r.next_marker.is_none());
            return out;
        }
        from = if v2 {
            ListFrom::ContinuationToken(r.next_continuation_token.unwrap())
        } else {
            ListFrom::Marker(r.next_marker.unwrap())
        };
    }
}

fn key_set(n: usize) -> Vec<String> {
    const DIRS: [&str; 8] = ["a", "ä", "b b", "c+%", "\u{ffff}", "😀", "a0", "z/deep"];
    const SUFFIX: [&str; 6] = ["", " x", "+", "%2F", "é", "\u{ffff}"];
    (0..n)
        .map(|i| {
            if i % 97 == 0 {
                format!("top{i}{}", SUFFIX[i % 6])
            } else {
                format!("{}/{:02}/f{i:06}{}", DIRS[i % 8], i / 8 % 50, SUFFIX[i % 6])
            }
        })
        .collect()
}

/// Zero-byte objects, written by 64 concurrent tasks (group commit).
async fn fill(s: &Arc<Storage>, bucket: &str, keys: &[String]) {
    let mut tasks = tokio::task::JoinSet::new();
    for chunk in keys.chunks(keys.len().div_ceil(64)) {
        let s = Arc::clone(s);
        let (bucket, chunk) = (bucket.to_owned(), chunk.to_vec());
        tasks.spawn(async move {
            for k in chunk {
                put(&s, &alice(), &bucket, &k, b"").await;
            }
        });
    }
    while let Some(j) = tasks.join_next().await {
        j.unwrap();
    }
}

async fn check_many_keys(n: usize) {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "many", None, None).await.unwrap();
    let keys = key_set(n);
    fill(s, "many", &keys).await;
    let set: BTreeSet<Vec<u8>> = keys.iter().map(|k| k.as_bytes().to_vec()).collect();
    assert_eq!(set.len(), n);

    // Everything, 1000 per page, both resumption styles.
    let want = model(&set, "", None);
    assert_eq!(list_all(s, "many", "", None, 1000, true).await, want);
    // Delimited listings at several levels, odd page sizes.
    for (prefix, delim, page, v2) in [
        ("", Some("/"), 3, true),
        ("", Some("/"), 1000, false),
        ("a/", Some("/"), 7, false),
        ("a", Some("/"), 5, true),
        ("\u{ffff}/", Some("/"), 11, true),
        ("z/", Some("/"), 2, false),
        ("c+%/0", Some("/"), 4, true),
        ("", Some("é"), 50, true),
        ("😀/1", None, 300, false),
    ] {
        let want = model(&set, prefix, delim);
        let got = list_all(s, "many", prefix, delim, page, v2).await;
        assert_eq!(got.len(), want.len(), "{prefix:?} {delim:?}");
        assert!(got == want, "{prefix:?} {delim:?} page {page}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_matches_model_with_20k_unicode_keys() {
    check_many_keys(20_000).await;
}

/// The same at 100,000 keys (about 40 s in a debug build on 2 cores; run with
/// `cargo test --release -- --ignored`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn listing_matches_model_with_100k_unicode_keys() {
    check_many_keys(100_000).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn markers_tokens_and_limits() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
    for k in ["a/1", "a/2", "b", "c/1", "d"] {
        put(s, &alice(), "bkt", k, b"x").await;
    }
    let caller = alice();
    let list = |from: ListFrom, max: usize| {
        s.list_objects(
            &caller,
            "bkt",
            ListObjectsRequest {
                prefix: String::new(),
                delimiter: Some("/".into()),
                max_keys: max,
                from,
            },
        )
    };
    // A V1 marker that is a common prefix resumes after everything under it.
    let r = list(ListFrom::Marker("a/".into()), 1000).await.unwrap();
    assert_eq!(
        r.objects.iter().map(|o| &o.key).collect::<Vec<_>>(),
        ["b", "d"]
    );
    assert_eq!(r.common_prefixes, ["c/"]);
    // A marker inside a prefix lists what follows it.
    let r = list(ListFrom::Marker("a/1".into()), 1000).await.unwrap();
    assert_eq!(r.common_prefixes, ["a/", "c/"]);
    let r = list(ListFrom::Beginning, 2).await.unwrap();
    assert!(r.is_truncated);
    assert_eq!(r.common_prefixes, ["a/"]);
    assert_eq!(r.next_marker.as_deref(), Some("b"));
    let r = list(ListFrom::Beginning, 0).await.unwrap();
    assert!(!r.is_truncated && r.objects.is_empty() && r.common_prefixes.is_empty());
    let r = list(ListFrom::ContinuationToken("%%%".into()), 10).await;
    assert!(matches!(r, Err(StorageError::InvalidArgument(_))));
    // max-keys above 1000 is capped.
    let r = list(ListFrom::Beginning, 5000).await.unwrap();
    assert_eq!(r.objects.len() + r.common_prefixes.len(), 4);
    assert!(matches!(
        s.list_objects(&alice(), "missing-bucket", ListObjectsRequest::default())
            .await,
        Err(StorageError::NoSuchBucket(_))
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn versions_of_an_unversioned_bucket_are_null() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
    for k in ["x/1", "x/2", "y"] {
        put(s, &alice(), "bkt", k, b"data").await;
    }
    let r = s
        .list_object_versions(
            &alice(),
            "bkt",
            ListVersionsRequest {
                max_keys: 1000,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.versions.len(), 3);
    assert!(
        r.versions
            .iter()
            .all(|v| v.version_id == NULL_VERSION && v.is_latest)
    );
    let r = s
        .list_object_versions(
            &alice(),
            "bkt",
            ListVersionsRequest {
                delimiter: Some("/".into()),
                max_keys: 1,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(r.is_truncated);
    assert_eq!(r.common_prefixes, ["x/"]);
    assert_eq!(r.next_key_marker.as_deref(), Some("x/"));
    let r = s
        .list_object_versions(
            &alice(),
            "bkt",
            ListVersionsRequest {
                delimiter: Some("/".into()),
                max_keys: 10,
                key_marker: Some("x/".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(r.versions.iter().map(|v| &v.key).collect::<Vec<_>>(), ["y"]);
}

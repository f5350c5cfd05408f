//! The shared conformance suite on SQLite, plus SQLite-only file handling.

use std::path::Path;
use std::sync::Arc;

use nomuck_meta::conformance::{Fixture, access_key, account, usage_event};
use nomuck_meta::{MetaError, MetaStore, Mutation, SqliteMetaStore, UsageQuery};

mod conformance {
    use super::*;

    nomuck_meta::metastore_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

fn raw(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

fn expect_err(r: Result<SqliteMetaStore, MetaError>) -> MetaError {
    match r {
        Ok(s) => panic!("open unexpectedly succeeded: {s:?}"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn fresh_file_gets_latest_schema_wal_and_our_application_id() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = SqliteMetaStore::open(&path).unwrap();
    let c = raw(&path);
    let v: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(v, SqliteMetaStore::schema_version());
    let app: i64 = c
        .query_row("PRAGMA application_id", [], |r| r.get(0))
        .unwrap();
    assert_ne!(app, 0);
    let mode: String = c
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(c);
    store.close().unwrap();
    // Reopening an up-to-date database is a no-op migration.
    SqliteMetaStore::open(&path).unwrap().close().unwrap();
}

#[tokio::test]
async fn newer_schema_is_refused_and_left_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    SqliteMetaStore::open(&path).unwrap().close().unwrap();
    raw(&path).pragma_update(None, "user_version", 999).unwrap();
    let before = std::fs::read(&path).unwrap();

    let e = expect_err(SqliteMetaStore::open(&path));
    assert_eq!(
        e,
        MetaError::NewerSchema {
            found: 999,
            supported: SqliteMetaStore::schema_version()
        }
    );
    assert!(e.to_string().contains("999"), "{e}");
    assert_eq!(std::fs::read(&path).unwrap(), before, "file was modified");
}

#[tokio::test]
async fn garbage_file_is_corrupt_with_sqlite_message() {
    let dir = tempfile::tempdir().unwrap();
    for (name, bytes) in [
        (
            "big.db",
            (0..16384u32)
                .map(|i| (i * 7919 % 251) as u8)
                .collect::<Vec<_>>(),
        ),
        ("text.db", b"definitely not sqlite\n".to_vec()),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).unwrap();
        let e = expect_err(SqliteMetaStore::open(&path));
        match &e {
            MetaError::Corrupt(m) => {
                assert!(m.contains("not a database"), "{m}");
                assert!(m.contains(name), "path missing: {m}");
            }
            other => panic!("{name}: expected Corrupt, got {other:?}"),
        }
        assert_eq!(std::fs::read(&path).unwrap(), bytes, "{name} was modified");
    }
}

#[tokio::test]
async fn foreign_sqlite_database_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("plain.db");
    raw(&plain)
        .execute_batch("CREATE TABLE accounts (x INTEGER)")
        .unwrap();
    let e = expect_err(SqliteMetaStore::open(&plain));
    assert!(
        matches!(&e, MetaError::Corrupt(m) if m.contains("not a nomuck")),
        "{e:?}"
    );

    let other_app = dir.path().join("other.db");
    raw(&other_app)
        .pragma_update(None, "application_id", 42)
        .unwrap();
    let e = expect_err(SqliteMetaStore::open(&other_app));
    assert!(
        matches!(&e, MetaError::Corrupt(m) if m.contains("not a nomuck")),
        "{e:?}"
    );
}

#[tokio::test]
async fn damaged_pages_give_corrupt_error_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = SqliteMetaStore::open(&path).unwrap();
    let muts = (0..500)
        .map(|i| Mutation::CreateAccount(account(i, &format!("acct-{i:04}-{}", "x".repeat(40)), 1)))
        .collect();
    store.commit(muts).await.unwrap();
    store.close().unwrap();

    // Keep page 1 (header + schema) and smash the table/index pages.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 8192, "test needs several pages");
    for (i, b) in bytes.iter_mut().enumerate().skip(4096) {
        *b = (i * 31 % 253) as u8;
    }
    std::fs::write(&path, &bytes).unwrap();

    let err = match SqliteMetaStore::open(&path) {
        Err(e) => e,
        Ok(store) => store
            .accounts()
            .await
            .expect_err("reading smashed pages must fail"),
    };
    assert!(matches!(err, MetaError::Corrupt(_)), "{err:?}");
}

#[tokio::test]
async fn unwritable_location_is_unavailable_with_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"x").unwrap();
    for path in [
        file.join("meta.db"),                           // parent is not a directory
        dir.path().join("missing-dir").join("meta.db"), // parent does not exist
        dir.path().to_path_buf(),                       // path is a directory
    ] {
        let e = expect_err(SqliteMetaStore::open(&path));
        match &e {
            MetaError::Unavailable(m) => {
                assert!(m.contains(&path.display().to_string()), "{m}")
            }
            other => panic!("{}: expected Unavailable, got {other:?}", path.display()),
        }
    }

    // Read-only directory: only meaningful when not running as root.
    use std::os::unix::fs::PermissionsExt;
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    if std::fs::write(ro.join("probe"), b"x").is_err() {
        let e = expect_err(SqliteMetaStore::open(ro.join("meta.db")));
        assert!(matches!(e, MetaError::Unavailable(_)), "{e:?}");
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reopen_after_drop_keeps_data_and_seq_keeps_growing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let a = account(1, "alice", 5);
    let k = access_key(1, &a.id, 6);
    {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![
                Mutation::CreateAccount(a.clone()),
                Mutation::CreateAccessKey(k.clone()),
                Mutation::RecordUsage(usage_event(&a.id, 1, "u1")),
                Mutation::PutSetting {
                    key: "s".into(),
                    value: b"v".to_vec(),
                },
            ])
            .await
            .unwrap();
        // Dropped without close().
    }
    let store = SqliteMetaStore::open(&path).unwrap();
    assert_eq!(store.account(&a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.access_key(&k.id).await.unwrap(), Some(k));
    assert_eq!(store.setting("s").await.unwrap(), Some(b"v".to_vec()));
    let r = store
        .commit(vec![
            Mutation::RecordUsage(usage_event(&a.id, 2, "u1")),
            Mutation::RecordUsage(usage_event(&a.id, 2, "u2")),
        ])
        .await
        .unwrap();
    assert_eq!(r.duplicate_usage, 1, "idempotency survives restart");
    let all = store.usage(&UsageQuery::default()).await.unwrap();
    assert_eq!(all.len(), 2);
    assert!(all[0].seq < all[1].seq);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_commits_share_transactions_and_survive_close() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = Arc::new(SqliteMetaStore::open(&path).unwrap());
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..512 {
        let s = Arc::clone(&store);
        tasks.spawn(async move {
            let ev = usage_event("000000000001", i, &format!("g{i}"));
            s.commit(vec![Mutation::RecordUsage(ev)]).await.unwrap();
        });
    }
    while let Some(j) = tasks.join_next().await {
        j.unwrap();
    }
    let stats = store.stats();
    assert_eq!(stats.commit_calls, 512);
    assert!(
        stats.batches < stats.commit_calls,
        "no group commit happened: {stats:?}"
    );

    let store = Arc::into_inner(store).unwrap();
    store.close().unwrap();
    let store = SqliteMetaStore::open(&path).unwrap();
    assert_eq!(
        store.usage(&UsageQuery::default()).await.unwrap().len(),
        512
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_is_checkpointed_in_the_background() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let store = SqliteMetaStore::open(&path).unwrap();
    let before = std::fs::metadata(&path).unwrap().len();
    for i in 0..200 {
        let muts = (0..20)
            .map(|j| {
                Mutation::RecordUsage(usage_event(
                    "000000000001",
                    i,
                    &format!("ck-{i}-{j}-{}", "x".repeat(100)),
                ))
            })
            .collect();
        store.commit(muts).await.unwrap();
    }
    // The writer does not checkpoint; the checkpointer copies WAL pages into
    // the main file while the store stays open.
    let mut grew = false;
    for _ in 0..100 {
        if std::fs::metadata(&path).unwrap().len() > before + 100_000 {
            grew = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(grew, "main database file never received checkpointed pages");
    assert_eq!(
        store.usage(&UsageQuery::default()).await.unwrap().len(),
        4000
    );
}

//! The SQLite backend keeps its WAL file bounded under sustained commits with
//! concurrent readers, without losing a commit across the restarts that
//! bound it, and without letting a long reader stall the writer for good.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use nomuck_meta::conformance::{bucket, inline_object, put};
use nomuck_meta::storage::ObjectData;
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore, SqliteOptions};

const OWNER: &str = "000000000001";
const BUCKET: &str = "wal";
const MIB: u64 = 1 << 20;

fn wal_path(db: &Path) -> PathBuf {
    let mut p = db.as_os_str().to_owned();
    p.push("-wal");
    p.into()
}

fn wal_len(db: &Path) -> u64 {
    std::fs::metadata(wal_path(db)).map_or(0, |m| m.len())
}

/// Object `i`'s bytes: distinct per object, so a lost or mixed-up commit shows.
fn data(i: u64, len: usize) -> Vec<u8> {
    (0..len as u64)
        .map(|j| (j.wrapping_mul(2_654_435_761) >> 7) as u8 ^ (i as u8) ^ (i >> 8) as u8)
        .collect()
}

fn key(i: u64) -> String {
    format!("k-{i:08}")
}

async fn open(db: &Path, wal_limit: u64) -> Arc<SqliteMetaStore> {
    let opts = SqliteOptions {
        wal_limit,
        ..SqliteOptions::default()
    };
    Arc::new(SqliteMetaStore::open_with(db, opts).unwrap())
}

async fn put_object(s: &SqliteMetaStore, i: u64, len: usize) {
    s.commit(vec![put(inline_object(BUCKET, &key(i), &data(i, len)))])
        .await
        .unwrap();
}

async fn assert_object(s: &SqliteMetaStore, i: u64, len: usize) {
    let v = s.object(BUCKET, &key(i), None).await.unwrap();
    let v = v.unwrap_or_else(|| panic!("{} is missing", key(i)));
    assert!(
        v.data == ObjectData::Inline(data(i, len)),
        "{} has the wrong bytes",
        key(i)
    );
}

/// Polls the WAL file's size until stopped; returns the largest seen. A
/// peak lasts until the next restart, so polling every millisecond sees it.
fn watch_wal(db: PathBuf, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut max = 0;
        while !stop.load(Ordering::Relaxed) {
            max = max.max(wal_len(&db));
            std::thread::sleep(Duration::from_millis(1));
        }
        max.max(wal_len(&db))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wal_stays_bounded_under_sustained_commits_and_reads() {
    const LIMIT: u64 = 4 * MIB;
    const TOTAL: u64 = 64 * MIB; // 16 times the limit
    const WRITERS: u64 = 16;
    const SIZE: usize = 16 << 10; // inline, as objects up to 32 KiB are
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.db");
    let store = open(&db, LIMIT).await;
    store
        .commit(vec![Mutation::CreateBucket(bucket(BUCKET, OWNER))])
        .await
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_wal(db.clone(), Arc::clone(&stop));

    // Writers take object numbers from one counter and list what they have
    // committed; readers read back random committed objects meanwhile.
    let objects = TOTAL / SIZE as u64;
    let next = Arc::new(AtomicU64::new(0));
    let committed = Arc::new(Mutex::new(Vec::new()));
    let mut writers = tokio::task::JoinSet::new();
    for _ in 0..WRITERS {
        let (s, next, committed) = (
            Arc::clone(&store),
            Arc::clone(&next),
            Arc::clone(&committed),
        );
        writers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= objects {
                    return;
                }
                put_object(&s, i, SIZE).await;
                committed.lock().unwrap().push(i);
            }
        });
    }
    let mut readers = tokio::task::JoinSet::new();
    for r in 0..4u64 {
        let (s, committed, stop) = (
            Arc::clone(&store),
            Arc::clone(&committed),
            Arc::clone(&stop),
        );
        readers.spawn(async move {
            let (mut reads, mut slowest) = (0u64, Duration::ZERO);
            let mut pick = r;
            while !stop.load(Ordering::Relaxed) {
                let i = {
                    let c = committed.lock().unwrap();
                    (!c.is_empty()).then(|| c[(pick % c.len() as u64) as usize])
                };
                if let Some(i) = i {
                    let t = Instant::now();
                    assert_object(&s, i, SIZE).await;
                    slowest = slowest.max(t.elapsed());
                    reads += 1;
                }
                pick = pick.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1) >> 1;
                tokio::task::yield_now().await;
            }
            (reads, slowest)
        });
    }
    while let Some(j) = writers.join_next().await {
        j.unwrap();
    }
    stop.store(true, Ordering::Relaxed);
    let max_wal = watcher.join().unwrap();
    let (mut reads, mut slowest) = (0, Duration::ZERO);
    while let Some(j) = readers.join_next().await {
        let (n, s) = j.unwrap();
        reads += n;
        slowest = slowest.max(s);
    }

    let stats = store.stats();
    // One group commit is at most WRITERS objects: SIZE each plus their
    // B-tree pages; 1 MiB covers it several times over.
    assert!(
        max_wal <= LIMIT + MIB,
        "WAL reached {max_wal} bytes with a {LIMIT}-byte limit ({stats:?})"
    );
    assert!(
        stats.wal_restarts >= 4,
        "the limit was never enforced: {stats:?}, WAL peak {max_wal}"
    );
    assert!(reads > 0, "readers made no progress");
    // Restarts never block readers (a reader may wait for a CPU here, not
    // for the writer): far below the 1 s a restart may hold commits.
    assert!(slowest < Duration::from_secs(5), "a read took {slowest:?}");

    // Nothing committed across the restarts is lost, open or reopened.
    for i in 0..objects {
        assert_object(&store, i, SIZE).await;
    }
    Arc::into_inner(store).unwrap().close().unwrap();
    let store = open(&db, LIMIT).await;
    for i in 0..objects {
        assert_object(&store, i, SIZE).await;
    }
    let c = rusqlite::Connection::open(&db).unwrap();
    let check: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_reader_delays_the_wal_restart_but_not_commits() {
    const LIMIT: u64 = MIB;
    const SIZE: usize = 16 << 10;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("meta.db");
    let store = open(&db, LIMIT).await;
    store
        .commit(vec![Mutation::CreateBucket(bucket(BUCKET, OWNER))])
        .await
        .unwrap();
    put_object(&store, 0, SIZE).await;

    // Another connection holds a read snapshot open: the WAL cannot restart
    // while it does, since that snapshot's pages are in the WAL.
    let reader = rusqlite::Connection::open(&db).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT count(*) FROM objects", [], |r| r.get(0))
        .unwrap();
    let started = Instant::now();
    let mut i = 1;
    while wal_len(&db) < 3 * LIMIT {
        put_object(&store, i, SIZE).await;
        i += 1;
    }
    // The writer gave up waiting after a bounded time and went on. (Were it
    // to wait its whole busy timeout after every commit, this would take
    // minutes: some 150 commits at 5 s each.)
    let held = started.elapsed();
    assert!(held < Duration::from_secs(30), "commits stalled: {held:?}");
    assert_eq!(store.stats().wal_restarts, 0);

    // Once the reader is gone the next commits restart and cut the WAL.
    reader.execute_batch("COMMIT").unwrap();
    drop(reader);
    let deadline = Instant::now() + Duration::from_secs(20);
    while store.stats().wal_restarts == 0 || wal_len(&db) > LIMIT + MIB / 4 {
        assert!(
            Instant::now() < deadline,
            "WAL still {} bytes",
            wal_len(&db)
        );
        put_object(&store, i, SIZE).await;
        i += 1;
    }
    for j in 0..i {
        assert_object(&store, j, SIZE).await;
    }
}

//! Crash safety and garbage collection.
//!
//! `kill_9_loses_nothing_acknowledged` runs writers in a child process (this
//! same test binary, its `#[ignore]`d `crash_child` run with `--ignored
//! --exact`), kills it with SIGKILL while uploads are in flight, reopens the
//! data directory and checks that every write acknowledged in any cycle so
//! far is there, whole, and that nothing partial is visible; then does it
//! again on the same directory. `cargo test` runs 3 cycles (a few seconds);
//! `NOMUCK_CRASH_CYCLES=200 cargo test -p nomuck-storage --test durability
//! kill_9` is the long soak.

mod common;

use std::io::{BufRead, BufReader, Read, Seek, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::mpsc::RecvTimeoutError;
use std::time::Duration;

use bytes::Bytes;
use common::*;
use futures_util::{StreamExt, stream};
use nomuck_checksum::Md5Hasher;
use nomuck_meta::SqliteOptions;
use nomuck_storage::*;

const CRASH_DIR: &str = "NOMUCK_STORAGE_CRASH_DIR";
const CRASH_CYCLE: &str = "NOMUCK_STORAGE_CRASH_CYCLE";
/// Kill cycles of the crash test; more for a longer soak.
const CRASH_CYCLES: &str = "NOMUCK_CRASH_CYCLES";
/// A child that acknowledges nothing for this long has hung.
const CHILD_SILENCE: Duration = Duration::from_secs(60);

fn md5_hex(d: &[u8]) -> String {
    let mut h = Md5Hasher::new();
    h.update(d);
    h.finalize_hex()
}

/// Size of object `i` in the crash test: a mix of inline and blob objects.
fn crash_size(i: usize) -> usize {
    match i % 4 {
        0 => 10,
        1 => 3000,
        2 => 40_000,
        _ => 300_000,
    }
}

fn crash_key(cycle: usize, i: usize) -> String {
    format!("obj-{cycle}-{i}")
}

/// Object `i` of `cycle`: its bytes differ from every other object's.
fn crash_data(cycle: usize, i: usize) -> Vec<u8> {
    pattern(crash_size(i), (i as u8) ^ (cycle as u8).wrapping_mul(37))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "child process of kill_9_loses_nothing_acknowledged"]
async fn crash_child() {
    let Ok(dir) = std::env::var(CRASH_DIR) else {
        return;
    };
    let cycle: usize = std::env::var(CRASH_CYCLE).unwrap().parse().unwrap();
    // A small WAL limit, so kills also land around WAL restarts.
    let meta_opts = SqliteOptions {
        wal_limit: 256 << 10,
        ..SqliteOptions::default()
    };
    let (s, _, _) = open_with(Path::new(&dir), meta_opts, StorageOptions::default());
    let _ = s.create_bucket(&alice(), "crash", None, None).await;
    // A large upload that never finishes: its temp file is in flight at the kill.
    let stalled = Arc::clone(&s);
    tokio::spawn(async move {
        let body = body(&pattern(3 * MIB, 0), 64 << 10).chain(stream::pending());
        let _ = stalled
            .put_object(
                &alice(),
                "crash",
                "never",
                PutObjectRequest::default(),
                body,
            )
            .await;
    });
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..8 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            for n in 0.. {
                let i = n * 8 + t;
                let data = crash_data(cycle, i);
                put(&s, &alice(), "crash", &crash_key(cycle, i), &data).await;
                let mut out = std::io::stdout().lock();
                writeln!(out, "ACK {i}").unwrap();
                out.flush().unwrap();
            }
        });
    }
    while tasks.join_next().await.is_some() {}
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_loses_nothing_acknowledged() {
    let cycles: usize = std::env::var(CRASH_CYCLES).map_or(3, |v| v.parse().unwrap());
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    let mut acked = Vec::new();
    for cycle in 0..cycles {
        // A different number of acknowledgements each cycle, so the kill
        // lands at different points of the writers' work.
        let kill_after = 100 + cycle * 89 % 200;
        let new = run_child_until_acked(dir.path(), cycle, kill_after);
        acked.extend(new.into_iter().map(|i| (cycle, i)));
        check_after_crash(dir.path(), &acked, cycle).await;
    }
}

/// Runs `crash_child` for `cycle` until it acknowledged `n` writes, then
/// SIGKILLs it. Returns the acknowledged object numbers.
fn run_child_until_acked(dir: &Path, cycle: usize, n: usize) -> Vec<usize> {
    let mut log = tempfile::tempfile().unwrap();
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CRASH_DIR, dir)
        .env(CRASH_CYCLE, cycle.to_string())
        .stdout(Stdio::piped())
        .stderr(log.try_clone().unwrap())
        .spawn()
        .unwrap();
    // Lines come through a thread so that a hung child times out.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut acked = Vec::new();
    let mut failure = None;
    while acked.len() < n {
        match rx.recv_timeout(CHILD_SILENCE) {
            Ok(line) => {
                if let Some(i) = line.strip_prefix("ACK ") {
                    acked.push(i.parse::<usize>().unwrap());
                }
            }
            Err(RecvTimeoutError::Timeout) => {
                failure = Some(format!("child silent for {CHILD_SILENCE:?}"));
                break;
            }
            Err(RecvTimeoutError::Disconnected) => {
                failure = Some("child stopped early".to_owned());
                break;
            }
        }
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    if let Some(f) = failure {
        let mut err = String::new();
        log.rewind().unwrap();
        log.read_to_string(&mut err).unwrap();
        panic!(
            "cycle {cycle}: {f} after {} of {n} acknowledgements; its stderr:\n{err}",
            acked.len()
        );
    }
    acked
}

/// Reopens `dir` after a kill and checks it: every acknowledged write whole,
/// nothing partial visible, the stalled upload absent, garbage collectable.
async fn check_after_crash(dir: &Path, acked: &[(usize, usize)], cycle: usize) {
    let (s, _, _) = open_at(dir, test_options());
    for &(c, i) in acked {
        let key = crash_key(c, i);
        let got = get(&s, &alice(), "crash", &key).await.unwrap();
        assert!(
            got == crash_data(c, i),
            "cycle {cycle}: acknowledged {key} is wrong after the crash"
        );
    }
    // Whatever else is visible is whole: its bytes match its ETag.
    let mut listed = Vec::new();
    let mut from = ListFrom::Beginning;
    loop {
        let page = s
            .list_objects(
                &alice(),
                "crash",
                ListObjectsRequest {
                    max_keys: 1000,
                    from,
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        listed.extend(page.objects);
        match page.next_continuation_token {
            Some(t) if page.is_truncated => from = ListFrom::ContinuationToken(t),
            _ => break,
        }
    }
    assert!(listed.len() >= acked.len());
    for o in &listed {
        let got = get(&s, &alice(), "crash", &o.key).await.unwrap();
        assert_eq!(md5_hex(&got), o.etag, "cycle {cycle}: {} is partial", o.key);
        assert_eq!(got.len() as u64, o.size);
    }
    assert!(matches!(
        get(&s, &alice(), "crash", "never").await,
        Err(StorageError::NoSuchKey { .. })
    ));
    // Orphans (blobs finished before a commit that never happened) and the
    // stalled upload's temp file are collected.
    s.collect_garbage_now().await.unwrap();
    assert!(temp_files(dir).is_empty());
    let big = listed.iter().filter(|o| o.size > 32 << 10).count();
    assert_eq!(blob_files(dir).len(), big, "cycle {cycle}");
    s.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropped_mid_upload_then_reopened_shows_no_partial_object() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    {
        let (s, _, _) = open_at(dir.path(), test_options());
        s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
        let s2 = Arc::clone(&s);
        let task = tokio::spawn(async move {
            let body = body(&pattern(2 * MIB, 1), 64 << 10).chain(stream::pending());
            s2.put_object(
                &alice(),
                "bkt",
                "partial",
                PutObjectRequest::default(),
                body,
            )
            .await
        });
        // Wait until bytes are on disk in a temp file.
        for _ in 0..500 {
            if !temp_files(dir.path()).is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(temp_files(dir.path()).len(), 1);
        task.abort();
        let _ = task.await;
    }
    let (s, _, _) = open_at(dir.path(), test_options());
    assert!(matches!(
        get(&s, &alice(), "bkt", "partial").await,
        Err(StorageError::NoSuchKey { .. })
    ));
    s.collect_garbage_now().await.unwrap();
    assert!(temp_files(dir.path()).is_empty());
    assert!(blob_files(dir.path()).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gc_deletes_freed_and_orphaned_blobs_but_spares_young_ones() {
    // Default grace periods: nothing young may be touched.
    let e = env_with(StorageOptions::default());
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
    put(s, &alice(), "bkt", "big", &pattern(MIB, 1)).await;
    put(s, &alice(), "bkt", "big", &pattern(MIB, 2)).await;
    // An orphan: bytes whose metadata commit never happened.
    let mut w = e.blobs.create().await.unwrap();
    w.write(Bytes::from(pattern(1000, 3))).await.unwrap();
    w.finish().await.unwrap();
    assert_eq!(blob_files(e.dir.path()).len(), 3);
    let r = s.collect_garbage_now().await.unwrap();
    assert_eq!(r, GcReport::default(), "young blobs are kept");
    assert_eq!(blob_files(e.dir.path()).len(), 3);
    drop(e.storage);

    // Same directory, zero delays: the freed blob and the orphan go.
    let (s, _, _) = open_at(e.dir.path(), test_options());
    let r = s.collect_garbage_now().await.unwrap();
    assert_eq!(r.freed_deleted, 1);
    assert_eq!(r.orphans_deleted, 1);
    assert_eq!(blob_files(e.dir.path()).len(), 1);
    assert!(get(&s, &alice(), "bkt", "big").await.unwrap() == pattern(MIB, 2));
    // Idempotent.
    assert_eq!(s.collect_garbage_now().await.unwrap(), GcReport::default());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_tasks_collect_and_flush() {
    let opts = StorageOptions {
        gc_interval: Duration::from_millis(50),
        usage_flush_interval: Duration::from_millis(50),
        // A GC running beside writes needs the orphan grace that covers a blob
        // finished but not yet committed; freed blobs (gc_delay) stay immediate.
        orphan_grace: Duration::from_secs(60),
        ..test_options()
    };
    let e = env_with(opts);
    let s = &e.storage;
    s.start_background();
    s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
    put(s, &alice(), "bkt", "k", &pattern(MIB, 1)).await;
    get(s, &alice(), "bkt", "k").await.unwrap();
    s.delete_object(&alice(), "bkt", "k", DeleteObjectRequest::default())
        .await
        .unwrap();
    let mut cleaned = false;
    for _ in 0..200 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if blob_files(e.dir.path()).is_empty() {
            cleaned = true;
            break;
        }
    }
    assert!(cleaned, "background GC did not delete the freed blob");
    s.shutdown().await.unwrap();
    let usage = e
        .meta
        .usage(&nomuck_meta::UsageQuery::default())
        .await
        .unwrap();
    assert!(
        usage
            .iter()
            .any(|u| u.event.meter == usage::meters::REQUESTS_GET_OTHER)
    );
}

/// Many concurrent small writes share commits (group commit) and all land.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_small_puts_all_land() {
    let e = env();
    let s = &e.storage;
    s.create_bucket(&alice(), "bkt", None, None).await.unwrap();
    let mut tasks = tokio::task::JoinSet::new();
    for t in 0..64 {
        let s = Arc::clone(s);
        tasks.spawn(async move {
            for i in 0..20 {
                let k = format!("k-{t}-{i}");
                put(&s, &alice(), "bkt", &k, k.as_bytes()).await;
            }
        });
    }
    while let Some(j) = tasks.join_next().await {
        j.unwrap();
    }
    let r = s
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
    assert_eq!(r.objects.len(), 1000);
    assert!(r.is_truncated);
    for o in r.objects.iter().take(50) {
        assert_eq!(
            get(s, &alice(), "bkt", &o.key).await.unwrap(),
            o.key.as_bytes()
        );
    }
}

//! Storage engine throughput without HTTP, on SQLite + local disk with fsync.
//!
//! `CARGO_TARGET_DIR=... cargo bench -p nomuck-storage --bench storage`
//!
//! Besides criterion's timings, each case prints process CPU time per
//! operation (user + system, all threads including the SQLite writer) and,
//! for PUTs, the group-commit factor (commit calls per WAL fsync).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{StreamExt, stream};
use nomuck_blob::LocalBlobStore;
use nomuck_meta::{MetaStore, SqliteMetaStore};
use nomuck_storage::{
    Caller, GetObjectRequest, ListObjectsRequest, PutObjectRequest, Storage, StorageOptions,
};

const TASKS: u64 = 64;
const SMALL: usize = 4096;
const BIG: usize = 64 << 20;
const ACCOUNT: &str = "111111111111";

static NEXT: AtomicU64 = AtomicU64::new(0);

fn caller() -> Caller {
    Caller::account(
        ACCOUNT,
        format!("bench-{}", NEXT.fetch_add(1, Ordering::Relaxed)),
    )
}

/// Process CPU time (all threads).
fn cpu_time() -> Duration {
    // SAFETY: getrusage only writes the struct we pass.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

fn chunks(data: &Bytes, chunk: usize) -> Vec<Bytes> {
    (0..data.len().div_ceil(chunk))
        .map(|i| data.slice(i * chunk..((i + 1) * chunk).min(data.len())))
        .collect()
}

fn body(
    chunks: &[Bytes],
) -> impl futures_util::Stream<Item = Result<Bytes, std::io::Error>> + Send + use<> {
    let owned = chunks.to_vec();
    stream::iter(owned.into_iter().map(Ok))
}

struct Setup {
    storage: Arc<Storage>,
    sqlite: Arc<SqliteMetaStore>,
    _dir: tempfile::TempDir,
}

fn setup(rt: &tokio::runtime::Runtime) -> Setup {
    // On the target dir's disk, not /tmp (possibly tmpfs, where fsync is free).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let sqlite = Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).expect("meta"));
    let meta: Arc<dyn MetaStore> = sqlite.clone();
    let blobs = Arc::new(LocalBlobStore::open(dir.path().join("data")).expect("blobs"));
    let storage = Storage::new(meta, blobs, StorageOptions::default());
    rt.block_on(storage.create_bucket(&caller(), "bench", None, None))
        .expect("bucket");
    Setup {
        storage,
        sqlite,
        _dir: dir,
    }
}

/// Runs `iters` operations spread over `TASKS` tasks; returns wall time.
fn concurrent<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, op: F) -> Duration
where
    F: Fn(u64) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    let op = Arc::new(op);
    rt.block_on(async {
        let start = Instant::now();
        let mut set = tokio::task::JoinSet::new();
        for t in 0..TASKS {
            let op = Arc::clone(&op);
            let n = iters / TASKS + u64::from(t < iters % TASKS);
            set.spawn(async move {
                for i in 0..n {
                    op(t * 1_000_000_000 + i).await;
                }
            });
        }
        while let Some(r) = set.join_next().await {
            r.expect("task");
        }
        start.elapsed()
    })
}

struct CpuMeter {
    ops: u64,
    wall: Duration,
    cpu: Duration,
}

impl CpuMeter {
    fn new() -> Self {
        Self {
            ops: 0,
            wall: Duration::ZERO,
            cpu: Duration::ZERO,
        }
    }

    fn measure(&mut self, iters: u64, f: impl FnOnce() -> Duration) -> Duration {
        let c0 = cpu_time();
        let d = f();
        self.cpu += cpu_time() - c0;
        self.wall += d;
        self.ops += iters;
        d
    }

    fn report(&self, name: &str) {
        if self.ops == 0 {
            return; // filtered out
        }
        let ops = self.ops as f64;
        eprintln!(
            "{name}: {:.0} ops/s, {:.1} µs CPU/op over {} ops",
            ops / self.wall.as_secs_f64().max(1e-9),
            self.cpu.as_secs_f64() * 1e6 / ops,
            self.ops
        );
    }
}

fn small_objects(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = setup(&rt);
    let data = Bytes::from(vec![7u8; SMALL]);
    let mut g = c.benchmark_group("small_4KiB");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(10));

    let mut m = CpuMeter::new();
    let before = s.sqlite.stats();
    g.bench_function("put_64_tasks", |b| {
        b.iter_custom(|iters| {
            let (st, data) = (Arc::clone(&s.storage), data.clone());
            m.measure(iters, || {
                concurrent(&rt, iters, move |i| {
                    let (st, data) = (Arc::clone(&st), data.clone());
                    async move {
                        st.put_object(
                            &caller(),
                            "bench",
                            &format!("small/{i:012}"),
                            PutObjectRequest::default(),
                            body(&[data]),
                        )
                        .await
                        .expect("put");
                    }
                })
            })
        })
    });
    m.report("put 4 KiB x64 tasks");
    let after = s.sqlite.stats();
    eprintln!(
        "  group commit: {:.1} commit calls per transaction (fsync)",
        (after.commit_calls - before.commit_calls) as f64
            / (after.batches - before.batches).max(1) as f64
    );

    // Reads of 10,000 existing keys.
    let keys: Arc<Vec<String>> = Arc::new((0..10_000).map(|i| format!("get/{i:06}")).collect());
    rt.block_on(async {
        let mut set = tokio::task::JoinSet::new();
        for chunk in keys.chunks(200) {
            let (st, data, chunk) = (Arc::clone(&s.storage), data.clone(), chunk.to_vec());
            set.spawn(async move {
                for k in chunk {
                    st.put_object(
                        &caller(),
                        "bench",
                        &k,
                        PutObjectRequest::default(),
                        body(std::slice::from_ref(&data)),
                    )
                    .await
                    .expect("put");
                }
            });
        }
        while set.join_next().await.is_some() {}
    });
    let mut m = CpuMeter::new();
    g.bench_function("get_64_tasks", |b| {
        b.iter_custom(|iters| {
            let (st, keys) = (Arc::clone(&s.storage), Arc::clone(&keys));
            m.measure(iters, || {
                concurrent(&rt, iters, move |i| {
                    let (st, keys) = (Arc::clone(&st), Arc::clone(&keys));
                    async move {
                        let k = &keys[(i.wrapping_mul(7919) % keys.len() as u64) as usize];
                        let out = st
                            .get_object(&caller(), "bench", k, GetObjectRequest::default())
                            .await
                            .expect("get");
                        let mut body = out.body;
                        let mut n = 0;
                        while let Some(c) = body.next().await {
                            n += c.expect("chunk").len();
                        }
                        assert_eq!(n, SMALL);
                    }
                })
            })
        })
    });
    m.report("get 4 KiB x64 tasks");

    // LIST: one page of 1,000 from 10,000 keys under "get/".
    let mut m = CpuMeter::new();
    g.throughput(Throughput::Elements(1000));
    g.bench_function("list_1000_of_10000", |b| {
        b.iter_custom(|iters| {
            let st = Arc::clone(&s.storage);
            m.measure(iters, || {
                rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        let r = st
                            .list_objects(
                                &caller(),
                                "bench",
                                ListObjectsRequest {
                                    prefix: "get/".into(),
                                    max_keys: 1000,
                                    from: nomuck_storage::ListFrom::Marker(format!(
                                        "get/{:06}",
                                        (i * 1000) % 9000
                                    )),
                                    ..Default::default()
                                },
                            )
                            .await
                            .expect("list");
                        assert_eq!(r.objects.len(), 1000);
                    }
                    start.elapsed()
                })
            })
        })
    });
    m.report("list 1000 of 10000 (per page)");
    g.bench_function("list_delimited_1000_prefixes", |b| {
        b.iter(|| {
            rt.block_on(async {
                let r = s
                    .storage
                    .list_objects(
                        &caller(),
                        "bench",
                        ListObjectsRequest {
                            prefix: "small/".into(),
                            delimiter: Some("0".into()),
                            max_keys: 1000,
                            ..Default::default()
                        },
                    )
                    .await
                    .expect("list");
                assert!(!r.common_prefixes.is_empty());
            })
        })
    });
    g.finish();
}

fn big_objects(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let s = setup(&rt);
    let data = Bytes::from((0..BIG).map(|i| (i * 131 % 251) as u8).collect::<Vec<u8>>());
    // 64 KiB chunks, about what an HTTP body delivers.
    let parts = chunks(&data, 64 << 10);
    let mut g = c.benchmark_group("big_64MiB");
    g.throughput(Throughput::Bytes(BIG as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(20));

    let mut m = CpuMeter::new();
    let mut n = 0u64;
    g.bench_function("put", |b| {
        b.iter_custom(|iters| {
            m.measure(iters, || {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        // Same key: each PUT frees the previous blob (GC is off here).
                        n += 1;
                        s.storage
                            .put_object(
                                &caller(),
                                "bench",
                                "big",
                                PutObjectRequest::default(),
                                body(&parts),
                            )
                            .await
                            .expect("put");
                    }
                    start.elapsed()
                })
            })
        })
    });
    m.report("put 64 MiB");
    let mut m = CpuMeter::new();
    g.bench_function("get", |b| {
        b.iter_custom(|iters| {
            m.measure(iters, || {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let out = s
                            .storage
                            .get_object(&caller(), "bench", "big", GetObjectRequest::default())
                            .await
                            .expect("get");
                        let mut body = out.body;
                        let mut total = 0;
                        while let Some(c) = body.next().await {
                            total += c.expect("chunk").len();
                        }
                        assert_eq!(total, BIG);
                    }
                    start.elapsed()
                })
            })
        })
    });
    m.report("get 64 MiB");
    g.finish();
    rt.block_on(s.storage.collect_garbage_now()).expect("gc");
}

criterion_group!(benches, small_objects, big_objects);
criterion_main!(benches);

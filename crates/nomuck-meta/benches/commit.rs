//! Commit throughput of single-usage-event commits: 64 concurrent tasks
//! (group commit) vs 1 task (one fsync per commit).
//!
//! `CARGO_TARGET_DIR=... cargo bench -p nomuck-meta --bench commit`
//! After each case it prints the writer stats: commits per transaction is the
//! group-commit factor, transactions/s is WAL fsyncs/s.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore, UsageEvent};

static NEXT_KEY: AtomicU64 = AtomicU64::new(0);

fn event() -> Mutation {
    let n = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
    Mutation::RecordUsage(UsageEvent {
        account_id: "000000000001".into(),
        service: "s3".into(),
        meter: "requests.put".into(),
        quantity: 1,
        unit: "count".into(),
        at: 1_700_000_000_000,
        idempotency_key: format!("bench-{n}"),
    })
}

async fn run(store: &Arc<SqliteMetaStore>, tasks: u64, iters: u64) -> Duration {
    let start = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for t in 0..tasks {
        let s = Arc::clone(store);
        // Spread `iters` commits over the tasks.
        let n = iters / tasks + u64::from(t < iters % tasks);
        set.spawn(async move {
            for _ in 0..n {
                s.commit(vec![event()]).await.expect("commit");
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("task");
    }
    start.elapsed()
}

fn commit_throughput(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // On the target dir's disk, not /tmp (often tmpfs, where fsync is free).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");

    let mut g = c.benchmark_group("commit_single_usage_event");
    g.throughput(Throughput::Elements(1));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(8));
    for tasks in [64u64, 1] {
        let store = Arc::new(
            SqliteMetaStore::open(dir.path().join(format!("bench-{tasks}.db"))).expect("open"),
        );
        let mut busy = Duration::ZERO;
        g.bench_function(format!("{tasks}_tasks"), |b| {
            b.iter_custom(|iters| {
                let d = rt.block_on(run(&store, tasks, iters));
                busy += d;
                d
            })
        });
        let st = store.stats();
        let secs = busy.as_secs_f64().max(1e-9);
        eprintln!(
            "{tasks} tasks: {} commits in {} transactions ({:.1} commits/txn), \
             {:.0} commits/s, {:.0} fsyncs/s",
            st.commit_calls,
            st.batches,
            st.commit_calls as f64 / st.batches.max(1) as f64,
            st.commit_calls as f64 / secs,
            st.batches as f64 / secs,
        );
    }
    g.finish();
}

criterion_group!(benches, commit_throughput);
criterion_main!(benches);

//! 64 MiB blob write and read throughput, and the choice of I/O strategy.
//!
//! `CARGO_TARGET_DIR=... cargo bench -p nomuck-blob --bench blob_io`
//!
//! Write variants (all end with fsync + rename + directory fsync, fed 64 KiB
//! chunks like an HTTP body):
//! - `local`: `LocalBlobStore` (std::fs on the blocking pool, 1 MiB buffers,
//!   one write in flight, early writeback).
//! - `local_no_writeback`: the same without the early-writeback hint.
//! - `tokio_fs`: `tokio::fs::File` + `write_all` per chunk, then `sync_data`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use futures_util::StreamExt;
use nomuck_blob::{BlobStore, LocalBlobStore, LocalOptions};
use tokio::io::AsyncWriteExt;

const SIZE: usize = 64 << 20;
const CHUNK: usize = 64 << 10;

fn chunks() -> Vec<Bytes> {
    let data: Vec<u8> = (0..SIZE).map(|i| (i * 31 % 251) as u8).collect();
    let data = Bytes::from(data);
    (0..SIZE / CHUNK)
        .map(|i| data.slice(i * CHUNK..(i + 1) * CHUNK))
        .collect()
}

async fn write_store(store: &dyn BlobStore, chunks: &[Bytes]) {
    let mut w = store.create().await.expect("create");
    for c in chunks {
        w.write(c.clone()).await.expect("write");
    }
    let id = w.id().clone();
    w.finish().await.expect("finish");
    store.delete(&id).await.expect("delete");
}

async fn write_tokio_fs(dir: &std::path::Path, n: u64, chunks: &[Bytes]) {
    let tmp = dir.join(format!("t{n}"));
    let mut f = tokio::fs::File::create(&tmp).await.expect("create");
    for c in chunks {
        f.write_all(c).await.expect("write");
    }
    f.flush().await.expect("flush");
    f.sync_data().await.expect("fsync");
    let dest = dir.join(format!("d{n}"));
    tokio::fs::rename(&tmp, &dest).await.expect("rename");
    let d = tokio::fs::File::open(dir).await.expect("open dir");
    d.sync_all().await.expect("fsync dir");
    tokio::fs::remove_file(&dest).await.expect("remove");
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    // On the target dir's disk, not /tmp (possibly tmpfs, where fsync is free).
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("tempdir");
    let chunks = chunks();

    let mut g = c.benchmark_group("blob_64MiB");
    g.throughput(Throughput::Bytes(SIZE as u64));
    g.sample_size(10);
    g.measurement_time(Duration::from_secs(15));

    let local = Arc::new(LocalBlobStore::open(dir.path().join("local")).expect("open"));
    g.bench_function("write/local", |b| {
        b.iter(|| rt.block_on(write_store(local.as_ref(), &chunks)))
    });
    let opts = LocalOptions {
        early_writeback: false,
        ..LocalOptions::default()
    };
    let plain = LocalBlobStore::open_with(dir.path().join("plain"), opts).expect("open");
    g.bench_function("write/local_no_writeback", |b| {
        b.iter(|| rt.block_on(write_store(&plain, &chunks)))
    });
    let tdir = dir.path().join("tokio");
    std::fs::create_dir_all(&tdir).expect("mkdir");
    let mut n = 0;
    g.bench_function("write/tokio_fs", |b| {
        b.iter(|| {
            n += 1;
            rt.block_on(write_tokio_fs(&tdir, n, &chunks))
        })
    });

    // Read back one blob (from the page cache, as a hot object would be).
    let id = rt.block_on(async {
        let mut w = local.create().await.expect("create");
        for c in &chunks {
            w.write(c.clone()).await.expect("write");
        }
        let id = w.id().clone();
        w.finish().await.expect("finish");
        id
    });
    g.bench_function("read/local", |b| {
        b.iter(|| {
            rt.block_on(async {
                let mut s = local.open(&id, 0..SIZE as u64).await.expect("open");
                let mut total = 0;
                while let Some(c) = s.next().await {
                    total += c.expect("chunk").len();
                }
                assert_eq!(total, SIZE);
            })
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);

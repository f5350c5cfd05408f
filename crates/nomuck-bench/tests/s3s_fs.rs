//! Every workload against a real S3 server: s3s-fs 0.14.1, started on
//! 127.0.0.1 with a temporary root. Skipped (with a message) unless
//! `S3S_FS_BIN` points at its binary:
//!
//! ```text
//! cargo install s3s-fs --version 0.14.1 --locked --features binary --root target-bench/tools
//! S3S_FS_BIN=target-bench/tools/bin/s3s-fs cargo test -p nomuck-bench --test s3s_fs
//! ```

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use nomuck_bench::{Args, Report};

const ACCESS_KEY: &str = "AKIDBENCHTEST";
const SECRET_KEY: &str = "bench/secret/key";

#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    args: Args,
}

struct Server {
    child: Child,
    endpoint: String,
    root: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn s3s_fs_bin() -> Option<PathBuf> {
    match std::env::var_os("S3S_FS_BIN") {
        Some(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            println!(
                "SKIPPED: S3S_FS_BIN is not set. Install the server with `cargo install s3s-fs \
                 --version 0.14.1 --locked --features binary` and set S3S_FS_BIN to its path \
                 to run this test."
            );
            None
        }
    }
}

fn start(bin: &Path) -> Server {
    let root = tempfile::tempdir().unwrap();
    // Ask the OS for a free port; the tiny window until s3s-fs binds it is acceptable here.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(bin)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
        .arg(root.path())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + Duration::from_secs(15);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "s3s-fs did not start listening");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server {
        child,
        endpoint: format!("http://{addr}"),
        root,
    }
}

fn args(server: &Server, extra: &[&str]) -> Args {
    let base = [
        "bench",
        "--endpoint",
        &server.endpoint,
        "--access-key",
        ACCESS_KEY,
        "--secret-key",
        SECRET_KEY,
        "--quiet",
        "--timeout",
        "20s",
    ];
    Cli::try_parse_from(base.iter().chain(extra)).unwrap().args
}

fn assert_clean(r: &Report) {
    assert_eq!(
        r.errors, 0,
        "errors: {:?} {:?}",
        r.error_counts, r.error_samples
    );
    assert!(!r.interrupted);
    assert!(r.ops > 0, "{r}");
    assert_eq!(r.latency.count, r.ops);
    assert!(r.latency.p50_us > 0 && r.latency.p50_us <= r.latency.p99_us);
    assert!(r.latency.p99_us <= r.latency.max_us);
    assert!(r.ops_per_sec > 0.0 && r.client_cpu_us_per_op > 0.0);
}

/// Objects and buckets left under the server's root (buckets are
/// directories there). s3s-fs keeps `.bucket-*.json` sidecar files of deleted
/// objects, which are its own leftovers, so dot-files are not counted.
fn files_under(dir: &Path) -> usize {
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_name().to_string_lossy().starts_with('.') {
            continue;
        }
        n += 1;
        if e.file_type().unwrap().is_dir() {
            n += files_under(&e.path());
        }
    }
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_workload_against_s3s_fs() {
    let Some(bin) = s3s_fs_bin() else { return };
    let server = start(&bin);
    let pid = server.child.id().to_string();

    // put, bounded by time, with the server's CPU charged per op.
    let r = nomuck_bench::run(args(
        &server,
        &[
            "--workload",
            "put",
            "--concurrency",
            "8",
            "--duration",
            "2s",
            "--server-pid",
            &pid,
        ],
    ))
    .await
    .unwrap();
    println!("{r}");
    assert_clean(&r);
    assert_eq!(r.bytes, r.ops * 4096);
    assert!((1.9..6.0).contains(&r.elapsed_secs), "{r}");
    assert!(r.server_cpu_us_per_op.is_some_and(|us| us > 0.0), "{r}");
    assert_eq!(files_under(server.root.path()), 0, "put left files behind");

    // put, bounded by count.
    let r = nomuck_bench::run(args(&server, &["--ops", "123", "--concurrency", "4"]))
        .await
        .unwrap();
    assert_clean(&r);
    assert_eq!(r.ops, 123);

    // get, with content verification.
    let r = nomuck_bench::run(args(
        &server,
        &[
            "--workload",
            "get",
            "--objects",
            "40",
            "--concurrency",
            "4",
            "--duration",
            "2s",
            "--verify",
        ],
    ))
    .await
    .unwrap();
    println!("{r}");
    assert_clean(&r);
    assert_eq!(r.setup.as_ref().map(|s| s.objects), Some(40));
    assert_eq!(r.bytes, r.ops * 4096);

    // mixed, larger objects: both kinds run and are reported apart.
    let r = nomuck_bench::run(args(
        &server,
        &[
            "--workload",
            "mixed",
            "--get-ratio",
            "0.5",
            "--size",
            "256KiB",
            "--objects",
            "8",
            "--concurrency",
            "4",
            "--duration",
            "2s",
            "--verify",
            "--json",
        ],
    ))
    .await
    .unwrap();
    println!("{r}");
    assert_clean(&r);
    let kinds: Vec<&str> = r.by_op.iter().map(|o| o.op).collect();
    assert_eq!(kinds, ["put", "get"]);
    assert_eq!(r.by_op.iter().map(|o| o.ops).sum::<u64>(), r.ops);

    // list: 2,500 keys in pages of 1,000 (3 pages per listing).
    let r = nomuck_bench::run(args(
        &server,
        &[
            "--workload",
            "list",
            "--list-keys",
            "2500",
            "--size",
            "1KiB",
            "--concurrency",
            "2",
            "--duration",
            "2s",
        ],
    ))
    .await
    .unwrap();
    println!("{r}");
    assert_clean(&r);
    let l = r.listing.as_ref().unwrap();
    assert!(l.listings >= 1, "{r}");
    assert_eq!(l.keys_per_listing, 2500);
    assert!(l.keys_listed >= 2500 * l.listings);
    assert_eq!(l.latency.count, l.listings);

    // delete: every pre-written key exactly once, then the run ends by itself.
    let r = nomuck_bench::run(args(
        &server,
        &[
            "--workload",
            "delete",
            "--objects",
            "300",
            "--concurrency",
            "8",
            "--duration",
            "10s",
        ],
    ))
    .await
    .unwrap();
    println!("{r}");
    assert_clean(&r);
    assert_eq!(r.ops, 300);
    assert!(r.elapsed_secs < 10.0);

    assert_eq!(
        files_under(server.root.path()),
        0,
        "a run left files behind"
    );

    // --keep leaves the objects (and the bucket).
    let r = nomuck_bench::run(args(&server, &["--ops", "10", "--keep"]))
        .await
        .unwrap();
    assert_clean(&r);
    assert!(files_under(server.root.path()) >= 10);

    // Wrong credentials: a clear error, not a report full of 403s.
    let mut bad = args(&server, &["--ops", "1"]);
    bad.secret_key = Some("wrong".into());
    let err = nomuck_bench::run(bad).await.unwrap_err();
    assert!(format!("{err:#}").contains("403"), "{err:#}");
}

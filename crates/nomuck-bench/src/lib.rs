//! `nomuck bench s3`: a load generator for any S3 endpoint.
//!
//! Built to stay out of the way of the server it measures: one keep-alive
//! HTTP/1.1 connection per worker, SigV4 with `UNSIGNED-PAYLOAD` (bodies are
//! never hashed), one preallocated random payload shared as `Bytes` slices,
//! and per-worker statistics merged only at the end.
//!
//! ```ignore
//! #[derive(clap::Subcommand)]
//! enum Bench { S3(nomuck_bench::Args) }
//! // …
//! Bench::S3(args) => { nomuck_bench::run_and_print(args).await?; }
//! ```

mod client;
mod cpu;
mod creds;
mod engine;
mod hist;
mod report;
mod sample;
mod units;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use http::{HeaderValue, Method, StatusCode, Uri};
use serde::Serialize;

pub use client::ClientError;
pub use hist::{Latency, LatencySummary};
pub use report::{ListingReport, OpReport, Report, SetupReport};
pub use sample::{Sample, WatchedFile};
pub use units::{UnitError, format_size, parse_duration, parse_size};

use client::{Conn, Target};
use engine::{Env, OpKind, Phase, Plan, Stats};

/// Largest single PUT S3 allows.
const MAX_SIZE: u64 = 5 << 30;
/// Default key space for get/mixed/delete is capped to this many bytes.
const SETUP_BYTES_BUDGET: u64 = 1 << 30;
/// Measured phase length when neither `--duration` nor `--ops` is given.
const DEFAULT_DURATION: Duration = Duration::from_secs(10);
/// Safety bound when only `--ops` is given.
const OPS_ONLY_MAX_DURATION: Duration = Duration::from_secs(600);

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Workload {
    /// PUT new objects.
    Put,
    /// GET random objects of the pre-populated key space.
    Get,
    /// GET or overwrite random objects of the key space (see --get-ratio).
    Mixed,
    /// Page through --list-keys objects with ListObjectsV2.
    List,
    /// DELETE the pre-populated objects, each once.
    Delete,
}

impl Workload {
    pub fn as_str(self) -> &'static str {
        match self {
            Workload::Put => "put",
            Workload::Get => "get",
            Workload::Mixed => "mixed",
            Workload::List => "list",
            Workload::Delete => "delete",
        }
    }
}

/// Options of `nomuck bench s3`.
#[derive(Debug, Clone, clap::Args)]
pub struct Args {
    /// S3 endpoint (http or https), addressed path-style.
    #[arg(long, default_value = "http://127.0.0.1:2006")]
    pub endpoint: String,
    /// PEM certificates an https endpoint is trusted by [default: $AWS_CA_BUNDLE].
    #[arg(long, env = "AWS_CA_BUNDLE")]
    pub ca_bundle: Option<std::path::PathBuf>,
    /// Access key id [default: $AWS_ACCESS_KEY_ID, else the shared credentials file].
    #[arg(long)]
    pub access_key: Option<String>,
    /// Secret access key [default: $AWS_SECRET_ACCESS_KEY, else the shared credentials file].
    #[arg(long)]
    pub secret_key: Option<String>,
    /// Profile of $AWS_SHARED_CREDENTIALS_FILE (or ~/.aws/credentials) [default: $AWS_PROFILE or default].
    #[arg(long)]
    pub profile: Option<String>,
    /// Region in the signature's scope.
    #[arg(long, default_value = "us-east-1")]
    pub region: String,
    /// Bucket to use; created if missing (and then removed after the run, unless --keep).
    #[arg(long, default_value = "nomuck-bench")]
    pub bucket: String,
    /// Leave the objects (and a bucket created by the run) in place.
    #[arg(long)]
    pub keep: bool,
    /// What load to generate.
    #[arg(long, value_enum, default_value_t = Workload::Put)]
    pub workload: Workload,
    /// Share of GETs in the mixed workload (the rest are PUTs), 0 to 1.
    #[arg(long, default_value_t = 0.8)]
    pub get_ratio: f64,
    /// Object size: bytes or with a unit (4KiB, 1MiB, 64MiB; KB/MB are powers of 1000).
    #[arg(long, default_value = "4KiB", value_parser = parse_size)]
    pub size: u64,
    /// Concurrent requests, one connection each.
    #[arg(long, default_value_t = 16)]
    pub concurrency: usize,
    /// Length of the measured phase (10s, 500ms, 1m) [default: 10s, or up to 10m with --ops].
    #[arg(long, value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Stop after this many operations (whichever of --ops and --duration comes first).
    #[arg(long)]
    pub ops: Option<u64>,
    /// Key space for get/mixed/delete, written before measuring [default: up to 1000
    /// objects and 1 GiB for get/mixed; --ops or 10000 for delete].
    #[arg(long)]
    pub objects: Option<u64>,
    /// Connections used to write the key space before measuring (setup is not measured,
    /// so it may use more than --concurrency).
    #[arg(long, default_value_t = 32)]
    pub setup_concurrency: usize,
    /// Objects written before the list workload pages through them.
    #[arg(long, default_value_t = 10_000)]
    pub list_keys: u64,
    /// max-keys of each ListObjectsV2 page.
    #[arg(long, default_value_t = 1000)]
    pub page_size: u32,
    /// Server process to charge CPU time to (reads /proc/PID/stat around the measured phase).
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Compare GET bodies byte for byte with what was written (lengths are always checked).
    #[arg(long)]
    pub verify: bool,
    /// Per-request timeout.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub timeout: Duration,
    /// Also report the throughput of every interval this long (e.g. 10s) of the measured phase.
    #[arg(long, value_parser = parse_duration)]
    pub sample_every: Option<Duration>,
    /// A file whose size is followed during the measured phase, e.g. the server's
    /// `meta.db-wal`: its largest and final size (and per interval with --sample-every).
    #[arg(long)]
    pub watch_file: Option<PathBuf>,
    /// Send `x-amz-server-side-encryption: VALUE` (e.g. AES256) with every PUT.
    #[arg(long)]
    pub sse: Option<String>,
    /// GETs read a range of this many bytes at a random offset (e.g. 1MiB).
    #[arg(long, value_parser = parse_size)]
    pub range_size: Option<u64>,
    /// Print the report as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// No progress messages on stderr.
    #[arg(long)]
    pub quiet: bool,
}

/// Runs the benchmark and prints its report (table or `--json`) on stdout.
pub async fn run_and_print(args: Args) -> anyhow::Result<Report> {
    let json = args.json;
    let report = run(args).await?;
    if json {
        println!("{}", report.to_json());
    } else {
        print!("{report}");
    }
    Ok(report)
}

/// Runs the benchmark: create the bucket if needed, write the key space the
/// workload needs (not measured), measure, then delete the run's objects
/// (unless `--keep`). Ctrl-C ends the measured phase early with a partial
/// report; a second Ctrl-C exits the process.
pub async fn run(args: Args) -> anyhow::Result<Report> {
    validate(&args)?;
    if let Some(pid) = args.server_pid {
        // Fail before any setup work rather than after it.
        cpu::process_cpu(pid)
            .with_context(|| format!("cannot read the CPU time of --server-pid {pid}"))?;
    }
    let target = Arc::new(resolve_target(&args).await?);
    let seed = seed();
    let prefix = format!("nomuck-bench/{:08x}/", seed as u32);
    let size = usize::try_from(args.size).context("--size does not fit in memory")?;
    let mut env = Env::new(
        target.clone(),
        prefix.clone(),
        size,
        args.verify,
        args.timeout,
        seed,
    );
    env.sse = args
        .sse
        .as_deref()
        .map(http::HeaderValue::from_str)
        .transpose()
        .context("--sse is not a header value")?;
    env.range = args.range_size;
    let env = Arc::new(env);
    let say = |msg: String| {
        if !args.quiet {
            eprintln!("nomuck bench: {msg}");
        }
    };

    let ctrl_c = {
        let flag = env.interrupted.clone();
        let quiet = args.quiet;
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                flag.store(true, Ordering::Relaxed);
                if !quiet {
                    eprintln!(
                        "nomuck bench: interrupted, finishing requests in flight \
                         (Ctrl-C again to quit at once)"
                    );
                }
                if tokio::signal::ctrl_c().await.is_ok() {
                    std::process::exit(130);
                }
            }
        })
    };
    let _abort_ctrl_c = AbortOnDrop(ctrl_c);

    let mut conns = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        conns.push(
            Conn::connect(target.clone())
                .await
                .with_context(|| format!("cannot reach {}", args.endpoint))?,
        );
    }
    let created_bucket = ensure_bucket(&mut conns[0], &target).await?;

    let result = measure(&args, &env, conns, &say).await;
    let (report, conns, written) = match result {
        Ok(r) => r,
        Err((e, conns, written)) => {
            finish(&args, &env, conns, written, created_bucket, &say).await;
            return Err(e);
        }
    };
    finish(&args, &env, conns, written, created_bucket, &say).await;
    Ok(report)
}

type MeasureError = (anyhow::Error, Vec<Conn>, u64);

/// Setup and measured phase. Returns the report, the connections and how
/// many keys (`0..n`) the run may have written, for cleanup.
async fn measure(
    args: &Args,
    env: &Arc<Env>,
    conns: Vec<Conn>,
    say: &dyn Fn(String),
) -> Result<(Report, Vec<Conn>, u64), MeasureError> {
    let seed = seed();
    let key_space = match args.workload {
        Workload::Put => 0,
        Workload::Get | Workload::Mixed | Workload::Delete => args.objects.unwrap_or_else(|| {
            default_objects(args.workload, args.size, args.concurrency, args.ops)
        }),
        Workload::List => args.list_keys,
    };

    let mut conns = conns;
    let mut setup = None;
    if key_space > 0 {
        say(format!(
            "writing {key_space} × {} objects (not measured)",
            format_size(args.size)
        ));
        let phase = Phase {
            plan: Plan::Put,
            max_ops: key_space,
            duration: None,
            honor_interrupt: true,
            progress: None,
        };
        let wanted = args.setup_concurrency.max(args.concurrency);
        while conns.len() < wanted {
            match Conn::connect(env.target.clone()).await {
                Ok(c) => conns.push(c),
                Err(e) => return Err((e.into(), conns, 0)),
            }
        }
        let (st, elapsed, mut c) = engine::run_phase(env, phase, conns, seed).await;
        c.truncate(args.concurrency);
        conns = c;
        if env.interrupted.load(Ordering::Relaxed) {
            return Err((
                anyhow::anyhow!("interrupted during setup"),
                conns,
                key_space,
            ));
        }
        if st.total_errors() > 0 {
            let e = anyhow::anyhow!(
                "setup failed: {} of {key_space} PUTs failed ({})",
                st.total_errors(),
                st.samples.join("; ")
            );
            return Err((e, conns, key_space));
        }
        setup = Some(SetupReport {
            objects: key_space,
            elapsed_secs: elapsed.as_secs_f64(),
        });
    }

    let plan = match args.workload {
        Workload::Put => Plan::Put,
        Workload::Get => Plan::Get { objects: key_space },
        Workload::Mixed => Plan::Mixed {
            objects: key_space,
            get_ratio: args.get_ratio,
        },
        Workload::Delete => Plan::Delete,
        Workload::List => Plan::List {
            page_size: args.page_size,
            expect_keys: key_space,
        },
    };
    let mut max_ops = args.ops.unwrap_or(u64::MAX);
    if args.workload == Workload::Delete {
        max_ops = max_ops.min(key_space);
    }
    let duration = match (args.duration, args.ops) {
        (Some(d), _) => d,
        (None, None) => DEFAULT_DURATION,
        (None, Some(_)) => OPS_ONLY_MAX_DURATION,
    };
    say(format!(
        "{} for up to {:?}{} with {} connections",
        args.workload.as_str(),
        duration,
        args.ops.map(|n| format!(" or {n} ops")).unwrap_or_default(),
        args.concurrency
    ));

    let server_before = match args.server_pid.map(cpu::process_cpu) {
        None => None,
        Some(Ok(t)) => Some(t),
        Some(Err(e)) => {
            let e = anyhow::Error::new(e).context("cannot read the CPU time of --server-pid");
            return Err((e, conns, key_space));
        }
    };
    let client_before = cpu::self_cpu();
    let progress = Arc::new(AtomicU64::new(0));
    let sampler = (args.sample_every.is_some() || args.watch_file.is_some()).then(|| {
        sample::Sampler::start(progress.clone(), args.sample_every, args.watch_file.clone())
    });
    let phase = Phase {
        plan,
        max_ops,
        duration: Some(duration),
        honor_interrupt: true,
        progress: sampler.is_some().then_some(progress),
    };
    let (stats, elapsed, conns) = engine::run_phase(env, phase, conns, seed ^ 1).await;
    let client_cpu = cpu::self_cpu().saturating_sub(client_before);
    let (samples, watched_file) = match sampler {
        Some(s) => s.finish().await,
        None => (Vec::new(), None),
    };
    let server_cpu = match (args.server_pid, server_before) {
        (Some(pid), Some(before)) => match cpu::process_cpu(pid) {
            Ok(after) => Some(after.saturating_sub(before)),
            Err(e) => {
                say(format!(
                    "cannot read the server's CPU time after the run: {e}"
                ));
                None
            }
        },
        _ => None,
    };

    let written = match args.workload {
        // Every ticket handed out may have written a key.
        Workload::Put => stats.total_ok() + stats.total_errors(),
        _ => key_space,
    };
    let mut report = build_report(
        args, env, &stats, elapsed, client_cpu, server_cpu, setup, key_space,
    );
    report.samples = samples;
    report.watched_file = watched_file;
    Ok((report, conns, written))
}

#[allow(clippy::too_many_arguments)]
fn build_report(
    args: &Args,
    env: &Env,
    st: &Stats,
    elapsed: Duration,
    client_cpu: Duration,
    server_cpu: Option<Duration>,
    setup: Option<SetupReport>,
    key_space: u64,
) -> Report {
    let secs = elapsed.as_secs_f64().max(1e-9);
    let ok = st.total_ok();
    let all_ops = (ok + st.total_errors()).max(1) as f64;
    let mut overall = Latency::new();
    let mut by_op = Vec::new();
    for kind in OpKind::ALL {
        let i = kind as usize;
        overall.merge(&st.latency[i]);
        if st.ok[i] + st.errors[i] > 0 {
            by_op.push(OpReport {
                op: kind.name(),
                ops: st.ok[i],
                errors: st.errors[i],
                ops_per_sec: st.ok[i] as f64 / secs,
                latency: st.latency[i].summary(),
            });
        }
    }
    let listing = (args.workload == Workload::List).then(|| ListingReport {
        page_size: args.page_size,
        keys_per_listing: key_space,
        listings: st.listings,
        keys_listed: st.keys_listed,
        keys_per_sec: st.keys_listed as f64 / secs,
        latency: st.listing_latency.summary(),
    });
    Report {
        workload: args.workload,
        endpoint: args.endpoint.clone(),
        bucket: args.bucket.clone(),
        prefix: env.prefix.clone(),
        size_bytes: args.size,
        concurrency: args.concurrency,
        elapsed_secs: elapsed.as_secs_f64(),
        interrupted: env.interrupted.load(Ordering::Relaxed),
        ops: ok,
        errors: st.total_errors(),
        ops_per_sec: ok as f64 / secs,
        bytes: st.bytes,
        mb_per_sec: st.bytes as f64 / 1e6 / secs,
        latency: overall.summary(),
        by_op,
        error_counts: st.error_kinds.clone(),
        error_samples: st.samples.clone(),
        client_cpu_us_per_op: client_cpu.as_secs_f64() * 1e6 / all_ops,
        client_cpu_cores: client_cpu.as_secs_f64() / secs,
        server_pid: args.server_pid,
        server_cpu_us_per_op: server_cpu.map(|c| c.as_secs_f64() * 1e6 / all_ops),
        server_cpu_cores: server_cpu.map(|c| c.as_secs_f64() / secs),
        listing,
        setup,
        samples: Vec::new(),
        watched_file: None,
    }
}

/// Deletes the run's objects and a bucket the run created, unless `--keep`.
async fn finish(
    args: &Args,
    env: &Arc<Env>,
    mut conns: Vec<Conn>,
    written: u64,
    created_bucket: bool,
    say: &dyn Fn(String),
) {
    if args.keep {
        if written > 0 {
            say(format!(
                "kept the objects under s3://{}/{}",
                args.bucket, env.prefix
            ));
        }
        return;
    }
    if conns.is_empty() {
        match Conn::connect(env.target.clone()).await {
            Ok(c) => conns.push(c),
            Err(e) => {
                say(format!("cannot clean up: {e}"));
                return;
            }
        }
    }
    if written > 0 {
        say(format!("deleting {written} objects"));
        let started = Instant::now();
        let (c, back) = engine::cleanup(env, conns, written).await;
        conns = back;
        if c.failed > 0 {
            say(format!(
                "{} of {written} objects under s3://{}/{} were not deleted: {}",
                c.failed,
                args.bucket,
                env.prefix,
                c.samples.join("; ")
            ));
        } else {
            say(format!(
                "deleted in {:.2} s",
                started.elapsed().as_secs_f64()
            ));
        }
    }
    if created_bucket && let Some(conn) = conns.first_mut() {
        let path = format!("/{}", args.bucket);
        match conn.send(Method::DELETE, &path, Bytes::new(), &[]).await {
            Ok((status, body)) => {
                let text = client::collect(body, 2048).await.unwrap_or_default();
                if !status.is_success() {
                    say(format!(
                        "cannot delete bucket {}: {status} {}",
                        args.bucket,
                        String::from_utf8_lossy(&text)
                    ));
                }
            }
            Err(e) => say(format!("cannot delete bucket {}: {e}", args.bucket)),
        }
    }
}

fn validate(args: &Args) -> anyhow::Result<()> {
    if !(1..=4096).contains(&args.concurrency) || !(1..=4096).contains(&args.setup_concurrency) {
        bail!("--concurrency and --setup-concurrency must be between 1 and 4096");
    }
    if !(0.0..=1.0).contains(&args.get_ratio) {
        bail!("--get-ratio must be between 0 and 1");
    }
    if args.size > MAX_SIZE {
        bail!("--size is larger than a single PUT allows (5 GiB)");
    }
    if !(1..=1000).contains(&args.page_size) {
        bail!("--page-size must be between 1 and 1000");
    }
    if args.ops == Some(0) || args.duration == Some(Duration::ZERO) {
        bail!("--ops and --duration must be positive");
    }
    if args.timeout.is_zero() {
        bail!("--timeout must be positive");
    }
    if args
        .sample_every
        .is_some_and(|d| d < Duration::from_millis(100))
    {
        bail!("--sample-every must be at least 100ms");
    }
    if let Some(f) = &args.watch_file {
        // The file itself may appear later (a WAL does); its directory must exist.
        let dir = f.parent().filter(|d| !d.as_os_str().is_empty());
        if !f.exists() && dir.is_some_and(|d| !d.is_dir()) {
            bail!("--watch-file {}: no such file or directory", f.display());
        }
    }
    if args.objects == Some(0) {
        bail!("--objects must be positive");
    }
    if args.workload == Workload::List && args.list_keys == 0 {
        bail!("--list-keys must be positive");
    }
    let b = &args.bucket;
    let valid = (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'.')
        && !b.starts_with(['-', '.'])
        && !b.ends_with(['-', '.']);
    if !valid {
        bail!("--bucket {b:?} is not a valid bucket name (3-63 of a-z, 0-9, '-', '.')");
    }
    Ok(())
}

fn default_objects(workload: Workload, size: u64, concurrency: usize, ops: Option<u64>) -> u64 {
    let budget = (SETUP_BYTES_BUDGET / size.max(1)).max(1);
    match workload {
        Workload::Delete => ops.unwrap_or(10_000).min(budget.max(concurrency as u64)),
        _ => budget.min(1000).max(concurrency as u64),
    }
}

async fn resolve_target(args: &Args) -> anyhow::Result<Target> {
    let uri: Uri = args
        .endpoint
        .parse()
        .with_context(|| format!("--endpoint {:?} is not a URL", args.endpoint))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => bail!("--endpoint must start with http:// or https://"),
    };
    if !matches!(uri.path(), "" | "/") || uri.query().is_some() {
        bail!("--endpoint must not have a path (buckets are addressed path-style)");
    }
    let authority = uri.authority().context("--endpoint has no host")?;
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let addr = tokio::net::lookup_host((host, port))
        .await
        .with_context(|| format!("cannot resolve {host}"))?
        .next()
        .with_context(|| format!("{host} has no address"))?;
    let tls = match (https, &args.ca_bundle) {
        (false, _) => None,
        (true, None) => bail!("an https --endpoint needs --ca-bundle (or AWS_CA_BUNDLE)"),
        (true, Some(bundle)) => {
            let config = nomuck_edge::client_config(std::slice::from_ref(bundle))?;
            let name = rustls_name(host)?;
            Some((config, name))
        }
    };
    // HTTP clients omit the default port from Host, and signers sign what is sent.
    let host_header = if authority.port_u16() == Some(if https { 443 } else { 80 }) {
        authority.host().to_owned()
    } else {
        authority.as_str().to_owned()
    };
    let credentials = creds::resolve(
        args.access_key.as_deref(),
        args.secret_key.as_deref(),
        args.profile.as_deref(),
    )?;
    Ok(Target {
        addr,
        host: HeaderValue::from_str(&host_header).context("invalid endpoint host")?,
        tls,
        credentials,
        region: args.region.clone(),
        bucket: args.bucket.clone(),
    })
}

fn rustls_name(host: &str) -> anyhow::Result<tokio_rustls::rustls::pki_types::ServerName<'static>> {
    tokio_rustls::rustls::pki_types::ServerName::try_from(host.to_owned())
        .with_context(|| format!("{host} is not a name a certificate can be for"))
}

/// HEAD the bucket, create it when missing. Returns whether it was created.
async fn ensure_bucket(conn: &mut Conn, target: &Target) -> anyhow::Result<bool> {
    let path = format!("/{}", target.bucket);
    let (status, body) = conn.send(Method::HEAD, &path, Bytes::new(), &[]).await?;
    let _ = client::collect(body, 0).await;
    match status {
        StatusCode::OK => return Ok(false),
        StatusCode::NOT_FOUND => {}
        StatusCode::FORBIDDEN => bail!(
            "HEAD bucket {} answered 403: wrong credentials, or the bucket belongs to someone else",
            target.bucket
        ),
        s => bail!("HEAD bucket {} answered {s}", target.bucket),
    }
    let body = if target.region == "us-east-1" {
        Bytes::new()
    } else {
        Bytes::from(format!(
            "<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">\
             <LocationConstraint>{}</LocationConstraint></CreateBucketConfiguration>",
            target.region
        ))
    };
    let (status, resp) = conn.send(Method::PUT, &path, body, &[]).await?;
    let text = client::collect(resp, 2048).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&text);
    if status.is_success() {
        return Ok(true);
    }
    if client::xml_text(&text, "Code").as_deref() == Some("BucketAlreadyOwnedByYou") {
        return Ok(false);
    }
    bail!("cannot create bucket {}: {status} {text}", target.bucket)
}

fn seed() -> u64 {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    engine::Rng::new(nanos ^ u64::from(std::process::id()) << 32).next_u64()
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: Args,
    }

    fn parse(argv: &[&str]) -> Result<Args, clap::Error> {
        Cli::try_parse_from(std::iter::once("bench").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn defaults() {
        let a = parse(&[]).unwrap();
        assert_eq!(a.endpoint, "http://127.0.0.1:2006");
        assert_eq!(a.workload, Workload::Put);
        assert_eq!(a.size, 4096);
        assert_eq!(a.concurrency, 16);
        assert_eq!(a.duration, None);
        assert_eq!(a.timeout, Duration::from_secs(60));
        assert!(validate(&a).is_ok());
    }

    #[test]
    fn flags() {
        let a = parse(&[
            "--workload",
            "mixed",
            "--get-ratio",
            "0.5",
            "--size",
            "64MiB",
            "--concurrency",
            "2",
            "--duration",
            "15s",
            "--ops",
            "100",
            "--server-pid",
            "1",
            "--json",
        ])
        .unwrap();
        assert_eq!(a.workload, Workload::Mixed);
        assert_eq!(a.size, 64 << 20);
        assert_eq!(a.duration, Some(Duration::from_secs(15)));
        assert_eq!(a.ops, Some(100));
        assert!(a.json);
        assert!(parse(&["--size", "lots"]).is_err());
        assert!(parse(&["--duration", "10 parsecs"]).is_err());
        assert!(parse(&["--workload", "scan"]).is_err());
    }

    #[test]
    fn validation() {
        let ok = parse(&[]).unwrap();
        for (f, bad) in [
            ("concurrency", parse(&["--concurrency", "0"]).unwrap()),
            ("ratio", parse(&["--get-ratio", "1.5"]).unwrap()),
            ("size", parse(&["--size", "6GiB"]).unwrap()),
            ("page", parse(&["--page-size", "1001"]).unwrap()),
            ("ops", parse(&["--ops", "0"]).unwrap()),
            ("bucket", parse(&["--bucket", "Bad_Bucket"]).unwrap()),
            ("bucket", parse(&["--bucket", "ab"]).unwrap()),
            ("sample", parse(&["--sample-every", "10ms"]).unwrap()),
            (
                "watch",
                parse(&["--watch-file", "/no/such/dir/meta.db-wal"]).unwrap(),
            ),
        ] {
            assert!(validate(&bad).is_err(), "{f} accepted");
        }
        assert!(validate(&ok).is_ok());
        // A watched file that does not exist yet is fine in an existing directory.
        let dir = tempfile::tempdir().unwrap();
        let wal = dir.path().join("meta.db-wal");
        let a = parse(&[
            "--sample-every",
            "10s",
            "--watch-file",
            wal.to_str().unwrap(),
        ])
        .unwrap();
        assert_eq!(a.sample_every, Some(Duration::from_secs(10)));
        assert!(validate(&a).is_ok());
    }

    #[test]
    fn default_key_space() {
        assert_eq!(default_objects(Workload::Get, 4096, 64, None), 1000);
        assert_eq!(default_objects(Workload::Get, 64 << 20, 2, None), 16);
        assert_eq!(default_objects(Workload::Get, 1 << 30, 32, None), 32);
        assert_eq!(default_objects(Workload::Delete, 4096, 16, None), 10_000);
        assert_eq!(default_objects(Workload::Delete, 4096, 16, Some(500)), 500);
    }
}

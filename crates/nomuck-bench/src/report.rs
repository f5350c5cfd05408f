//! The result of a run: a human table (`Display`) and JSON (`Serialize`).

use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

use serde::Serialize;

use crate::Workload;
use crate::hist::LatencySummary;
use crate::sample::{Sample, WatchedFile};
use crate::units::{format_micros, format_size};

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub workload: Workload,
    pub endpoint: String,
    pub bucket: String,
    /// Key prefix of this run's objects (left behind with `--keep`).
    pub prefix: String,
    pub size_bytes: u64,
    pub concurrency: usize,
    /// Wall time of the measured phase.
    pub elapsed_secs: f64,
    /// Stopped early by Ctrl-C.
    pub interrupted: bool,
    /// Successful operations.
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    /// Object bytes sent (PUT) and received (GET, list pages).
    pub bytes: u64,
    /// `bytes` per second in MB (10^6 bytes).
    pub mb_per_sec: f64,
    /// Latency of successful operations, request start to last body byte.
    pub latency: LatencySummary,
    /// Per operation kind (more than one for `mixed`).
    pub by_op: Vec<OpReport>,
    /// Errors grouped by HTTP status and S3 code (or transport/timeout/bad body).
    pub error_counts: BTreeMap<String, u64>,
    pub error_samples: Vec<String>,
    /// This process's CPU time divided by all operations (ok + errors).
    pub client_cpu_us_per_op: f64,
    /// This process's CPU time divided by wall time (1.0 = one core busy).
    pub client_cpu_cores: f64,
    pub server_pid: Option<u32>,
    /// The server's CPU time (utime + stime) divided by all operations.
    pub server_cpu_us_per_op: Option<f64>,
    pub server_cpu_cores: Option<f64>,
    pub listing: Option<ListingReport>,
    pub setup: Option<SetupReport>,
    /// Throughput per `--sample-every` interval of the measured phase.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub samples: Vec<Sample>,
    /// The `--watch-file` over the measured phase.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watched_file: Option<WatchedFile>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OpReport {
    pub op: &'static str,
    pub ops: u64,
    pub errors: u64,
    pub ops_per_sec: f64,
    pub latency: LatencySummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct ListingReport {
    pub page_size: u32,
    pub keys_per_listing: u64,
    /// Complete listings of all `keys_per_listing` keys.
    pub listings: u64,
    pub keys_listed: u64,
    pub keys_per_sec: f64,
    /// Time for one complete listing.
    pub latency: LatencySummary,
}

#[derive(Debug, Clone, Serialize)]
pub struct SetupReport {
    pub objects: u64,
    pub elapsed_secs: f64,
}

impl Report {
    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("a report always serializes")
    }
}

/// A file size that changes by the byte, e.g. a WAL.
fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / f64::from(1u32 << 20))
}

fn latency_line(l: &LatencySummary) -> String {
    format!(
        "p50 {}  p90 {}  p99 {}  max {}  (mean {})",
        format_micros(l.p50_us as f64),
        format_micros(l.p90_us as f64),
        format_micros(l.p99_us as f64),
        format_micros(l.max_us as f64),
        format_micros(l.mean_us),
    )
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "{} {} × {} connections against {} (bucket {})",
            self.workload.as_str(),
            format_size(self.size_bytes),
            self.concurrency,
            self.endpoint,
            self.bucket
        );
        let mut row = |k: &str, v: String| {
            let _ = writeln!(out, "  {k:<12} {v}");
        };
        if let Some(s) = &self.setup {
            row(
                "setup",
                format!(
                    "{} objects in {:.2} s (not measured)",
                    s.objects, s.elapsed_secs
                ),
            );
        }
        let interrupted = if self.interrupted {
            " (interrupted)"
        } else {
            ""
        };
        row(
            "duration",
            format!("{:.2} s{interrupted}", self.elapsed_secs),
        );
        row("ops", format!("{} ok, {} errors", self.ops, self.errors));
        row(
            "throughput",
            format!("{:.1} ops/s, {:.2} MB/s", self.ops_per_sec, self.mb_per_sec),
        );
        row("latency", latency_line(&self.latency));
        if self.by_op.len() > 1 {
            for op in &self.by_op {
                row(
                    &format!("  {}", op.op),
                    format!(
                        "{} ok, {} errors, {:.1} ops/s, {}",
                        op.ops,
                        op.errors,
                        op.ops_per_sec,
                        latency_line(&op.latency)
                    ),
                );
            }
        }
        if let Some(l) = &self.listing {
            row(
                "listings",
                format!(
                    "{} complete of {} keys in pages of {}, {:.0} keys/s",
                    l.listings, l.keys_per_listing, l.page_size, l.keys_per_sec
                ),
            );
            row("  listing", latency_line(&l.latency));
        }
        let mut cpu = format!(
            "client {:.1} µs/op ({:.2} cores)",
            self.client_cpu_us_per_op, self.client_cpu_cores
        );
        if let (Some(pid), Some(us), Some(cores)) = (
            self.server_pid,
            self.server_cpu_us_per_op,
            self.server_cpu_cores,
        ) {
            let _ = write!(cpu, ", server {us:.1} µs/op ({cores:.2} cores, pid {pid})");
        }
        row("cpu", cpu);
        if let Some(w) = &self.watched_file {
            row(
                "file",
                format!(
                    "{}: max {}, end {} (start {})",
                    w.path,
                    mib(w.max_bytes),
                    mib(w.end_bytes),
                    mib(w.start_bytes)
                ),
            );
        }
        for s in &self.samples {
            let mut line = format!("{:.1} ops/s", s.ops_per_sec);
            if let (Some(end), Some(max)) = (s.file_bytes, s.file_max_bytes) {
                let _ = write!(line, ", file {} (max {})", mib(end), mib(max));
            }
            row(&format!("  at {:.0} s", s.end_secs), line);
        }
        if !self.error_counts.is_empty() {
            let counts: Vec<String> = self
                .error_counts
                .iter()
                .map(|(k, v)| format!("{k}: {v}"))
                .collect();
            row("errors", counts.join(", "));
            for s in &self.error_samples {
                let s: String = s.chars().take(300).collect();
                let _ = writeln!(out, "    {s}");
            }
        }
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lat(p50: u64) -> LatencySummary {
        LatencySummary {
            count: 10,
            mean_us: p50 as f64 * 1.1,
            p50_us: p50,
            p90_us: p50 * 2,
            p99_us: p50 * 4,
            max_us: p50 * 10,
        }
    }

    fn sample() -> Report {
        Report {
            workload: Workload::Mixed,
            endpoint: "http://127.0.0.1:2006".into(),
            bucket: "nomuck-bench".into(),
            prefix: "nomuck-bench/0123abcd/".into(),
            size_bytes: 4096,
            concurrency: 64,
            elapsed_secs: 10.0,
            interrupted: false,
            ops: 50_000,
            errors: 2,
            ops_per_sec: 5_000.0,
            bytes: 204_800_000,
            mb_per_sec: 20.48,
            latency: lat(800),
            by_op: vec![
                OpReport {
                    op: "put",
                    ops: 10_000,
                    errors: 2,
                    ops_per_sec: 1_000.0,
                    latency: lat(1500),
                },
                OpReport {
                    op: "get",
                    ops: 40_000,
                    errors: 0,
                    ops_per_sec: 4_000.0,
                    latency: lat(600),
                },
            ],
            error_counts: [("503 SlowDown".to_owned(), 2)].into(),
            error_samples: vec!["PUT /nomuck-bench/k -> 503 Service Unavailable: <Error>".into()],
            client_cpu_us_per_op: 42.0,
            client_cpu_cores: 0.21,
            server_pid: Some(4242),
            server_cpu_us_per_op: Some(180.5),
            server_cpu_cores: Some(0.9),
            listing: None,
            setup: Some(SetupReport {
                objects: 1000,
                elapsed_secs: 0.5,
            }),
            samples: Vec::new(),
            watched_file: None,
        }
    }

    #[test]
    fn table() {
        let t = sample().to_string();
        let expect = [
            "mixed 4 KiB × 64 connections against http://127.0.0.1:2006 (bucket nomuck-bench)",
            "  setup        1000 objects in 0.50 s (not measured)",
            "  duration     10.00 s",
            "  ops          50000 ok, 2 errors",
            "  throughput   5000.0 ops/s, 20.48 MB/s",
            "  latency      p50 800 µs  p90 1.60 ms  p99 3.20 ms  max 8.00 ms  (mean 880 µs)",
            "    put        10000 ok, 2 errors, 1000.0 ops/s, p50 1.50 ms",
            "    get        40000 ok, 0 errors, 4000.0 ops/s, p50 600 µs",
            "  cpu          client 42.0 µs/op (0.21 cores), server 180.5 µs/op (0.90 cores, pid 4242)",
            "  errors       503 SlowDown: 2",
            "    PUT /nomuck-bench/k -> 503 Service Unavailable: <Error>",
        ];
        for line in expect {
            assert!(t.contains(line), "missing {line:?} in\n{t}");
        }
        assert!(!t.contains("listings"));
    }

    #[test]
    fn table_listing_and_interrupt() {
        let mut r = sample();
        r.workload = Workload::List;
        r.by_op.truncate(1);
        r.interrupted = true;
        r.server_pid = None;
        r.server_cpu_us_per_op = None;
        r.error_counts.clear();
        r.listing = Some(ListingReport {
            page_size: 1000,
            keys_per_listing: 10_000,
            listings: 12,
            keys_listed: 120_000,
            keys_per_sec: 12_000.0,
            latency: lat(800_000),
        });
        let t = r.to_string();
        assert!(t.contains("10.00 s (interrupted)"), "{t}");
        assert!(
            t.contains("listings     12 complete of 10000 keys in pages of 1000, 12000 keys/s"),
            "{t}"
        );
        assert!(t.contains("listing    p50 800.00 ms"), "{t}");
        assert!(!t.contains("server"), "{t}");
        assert!(!t.contains("errors      "), "{t}");
    }

    #[test]
    fn json() {
        let v: serde_json::Value = serde_json::from_str(&sample().to_json()).unwrap();
        assert_eq!(v["workload"], "mixed");
        assert_eq!(v["ops"], 50_000);
        assert_eq!(v["latency"]["p99_us"], 3200);
        assert_eq!(v["by_op"][1]["op"], "get");
        assert_eq!(v["error_counts"]["503 SlowDown"], 2);
        assert_eq!(v["server_cpu_us_per_op"], 180.5);
        assert!(v["listing"].is_null());
        assert!(v.get("samples").is_none() && v.get("watched_file").is_none());
    }

    #[test]
    fn samples_and_watched_file() {
        let mut r = sample();
        r.samples = vec![
            Sample {
                end_secs: 10.0,
                ops_per_sec: 5123.4,
                file_bytes: Some(64 << 20),
                file_max_bytes: Some((64 << 20) + (1 << 19)),
            },
            Sample {
                end_secs: 20.0,
                ops_per_sec: 4980.0,
                file_bytes: Some(3 << 20),
                file_max_bytes: Some(65 << 20),
            },
        ];
        r.watched_file = Some(WatchedFile {
            path: "/d/meta.db-wal".into(),
            start_bytes: 1 << 20,
            max_bytes: 65 << 20,
            end_bytes: 3 << 20,
        });
        let t = r.to_string();
        for line in [
            "  file         /d/meta.db-wal: max 65.0 MiB, end 3.0 MiB (start 1.0 MiB)",
            "    at 10 s    5123.4 ops/s, file 64.0 MiB (max 64.5 MiB)",
            "    at 20 s    4980.0 ops/s, file 3.0 MiB (max 65.0 MiB)",
        ] {
            assert!(t.contains(line), "missing {line:?} in\n{t}");
        }
        let v: serde_json::Value = serde_json::from_str(&r.to_json()).unwrap();
        assert_eq!(v["samples"][1]["end_secs"], 20.0);
        assert_eq!(v["samples"][0]["file_max_bytes"], (64 << 20) + (1 << 19));
        assert_eq!(v["watched_file"]["max_bytes"], 65 << 20);
    }
}

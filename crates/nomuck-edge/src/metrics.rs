//! Prometheus metrics, rendered in the text exposition format at `/_nomuck/metrics`.
//!
//! One mutex guards all per-request series: one short lock per request costs far less
//! than the request itself, and keeps the series consistent with each other.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the latency histogram buckets, in seconds.
const BUCKETS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

#[derive(Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

#[derive(Default)]
struct Series {
    /// (service, operation, status) -> requests
    requests: BTreeMap<(&'static str, &'static str, u16), u64>,
    /// (service, operation, code) -> errors
    errors: BTreeMap<(&'static str, &'static str, &'static str), u64>,
    /// (service, operation) -> latency
    latency: BTreeMap<(&'static str, &'static str), Histogram>,
}

#[derive(Default)]
pub struct Metrics {
    series: Mutex<Series>,
    pub connections_open: AtomicU64,
    pub connections_total: AtomicU64,
    pub connections_refused: AtomicU64,
    /// TLS handshakes that failed or timed out (plain HTTP on the TLS port included).
    pub tls_handshakes_failed: AtomicU64,
}

impl Metrics {
    pub fn observe(
        &self,
        service: &'static str,
        operation: &'static str,
        status: u16,
        error_code: Option<&'static str>,
        elapsed: Duration,
    ) {
        let mut s = self.series.lock().unwrap_or_else(|p| p.into_inner());
        *s.requests.entry((service, operation, status)).or_default() += 1;
        if let Some(code) = error_code {
            *s.errors.entry((service, operation, code)).or_default() += 1;
        }
        let h = s.latency.entry((service, operation)).or_default();
        let secs = elapsed.as_secs_f64();
        for (bound, count) in BUCKETS.iter().zip(h.counts.iter_mut()) {
            if secs <= *bound {
                *count += 1;
            }
        }
        h.count += 1;
        h.sum += secs;
    }

    pub fn render(&self) -> String {
        let mut out = String::with_capacity(4096);
        let s = self.series.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str("# HELP nomuck_requests_total Requests answered, by service, operation and HTTP status.\n# TYPE nomuck_requests_total counter\n");
        for ((svc, op, status), n) in &s.requests {
            let _ = writeln!(
                out,
                "nomuck_requests_total{{service=\"{}\",operation=\"{}\",status=\"{status}\"}} {n}",
                label(svc),
                label(op)
            );
        }
        out.push_str("# HELP nomuck_request_errors_total Error replies, by service, operation and protocol error code.\n# TYPE nomuck_request_errors_total counter\n");
        for ((svc, op, code), n) in &s.errors {
            let _ = writeln!(
                out,
                "nomuck_request_errors_total{{service=\"{}\",operation=\"{}\",code=\"{}\"}} {n}",
                label(svc),
                label(op),
                label(code)
            );
        }
        out.push_str("# HELP nomuck_request_duration_seconds Time from request head to response head.\n# TYPE nomuck_request_duration_seconds histogram\n");
        for ((svc, op), h) in &s.latency {
            let (svc, op) = (label(svc), label(op));
            for (bound, count) in BUCKETS.iter().zip(h.counts.iter()) {
                let _ = writeln!(
                    out,
                    "nomuck_request_duration_seconds_bucket{{service=\"{svc}\",operation=\"{op}\",le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "nomuck_request_duration_seconds_bucket{{service=\"{svc}\",operation=\"{op}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "nomuck_request_duration_seconds_sum{{service=\"{svc}\",operation=\"{op}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "nomuck_request_duration_seconds_count{{service=\"{svc}\",operation=\"{op}\"}} {}",
                h.count
            );
        }
        drop(s);
        for (name, help, value) in [
            (
                "nomuck_connections_open",
                "Connections open now.",
                &self.connections_open,
            ),
            (
                "nomuck_connections_total",
                "Connections accepted since start.",
                &self.connections_total,
            ),
            (
                "nomuck_connections_refused_total",
                "Connections refused because the connection limit was reached.",
                &self.connections_refused,
            ),
            (
                "nomuck_tls_handshakes_failed_total",
                "TLS handshakes that failed or timed out, plain HTTP on the TLS port included.",
                &self.tls_handshakes_failed,
            ),
        ] {
            let kind = if name.ends_with("_total") {
                "counter"
            } else {
                "gauge"
            };
            let _ = writeln!(
                out,
                "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {}",
                value.load(Ordering::Relaxed)
            );
        }
        out
    }
}

fn label(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_histogram() {
        let m = Metrics::default();
        m.observe(
            "sts",
            "GetCallerIdentity",
            200,
            None,
            Duration::from_micros(700),
        );
        m.observe(
            "sts",
            "GetCallerIdentity",
            403,
            Some("SignatureDoesNotMatch"),
            Duration::from_millis(3),
        );
        let text = m.render();
        assert!(text.contains(
            "nomuck_requests_total{service=\"sts\",operation=\"GetCallerIdentity\",status=\"200\"} 1"
        ));
        assert!(text.contains("code=\"SignatureDoesNotMatch\"} 1"));
        assert!(text.contains("le=\"0.001\"} 1"));
        assert!(text.contains("le=\"0.005\"} 2"));
        assert!(text.contains("le=\"+Inf\"} 2"));
    }
}

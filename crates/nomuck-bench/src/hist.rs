//! Latency histogram: an HDR histogram of microseconds, one per worker and
//! operation kind (no sharing on the hot path), merged at the end.

use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency tracked exactly; longer ones are clamped (the request
/// timeout bounds them anyway).
const MAX_MICROS: u64 = 3_600_000_000;

#[derive(Debug, Clone)]
pub struct Latency {
    h: Histogram<u64>,
}

impl Default for Latency {
    fn default() -> Self {
        Self::new()
    }
}

impl Latency {
    pub fn new() -> Self {
        // 3 significant digits: every percentile is within 0.1% of the truth.
        let h = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .expect("static histogram bounds are valid");
        Self { h }
    }

    pub fn record(&mut self, d: Duration) {
        let us = u64::try_from(d.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.h.saturating_record(us);
    }

    pub fn merge(&mut self, other: &Latency) {
        // Both have the same bounds, so adding cannot fail.
        let _ = self.h.add(&other.h);
    }

    pub fn count(&self) -> u64 {
        self.h.len()
    }

    /// Latency at quantile `q` in 0..=1, in microseconds (0 when empty).
    pub fn quantile_us(&self, q: f64) -> u64 {
        if self.h.is_empty() {
            return 0;
        }
        self.h.value_at_quantile(q)
    }

    pub fn summary(&self) -> LatencySummary {
        if self.h.is_empty() {
            return LatencySummary::default();
        }
        LatencySummary {
            count: self.count(),
            mean_us: self.h.mean(),
            p50_us: self.quantile_us(0.50),
            p90_us: self.quantile_us(0.90),
            p99_us: self.quantile_us(0.99),
            max_us: self.h.max(),
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct LatencySummary {
    pub count: u64,
    pub mean_us: f64,
    pub p50_us: u64,
    pub p90_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn within(actual: u64, expected: u64) -> bool {
        actual.abs_diff(expected) * 1000 <= expected
    }

    #[test]
    fn uniform_percentiles() {
        let mut l = Latency::new();
        for us in 1..=10_000u64 {
            l.record(Duration::from_micros(us));
        }
        let s = l.summary();
        assert_eq!(s.count, 10_000);
        assert!(within(s.p50_us, 5_000), "{s:?}");
        assert!(within(s.p90_us, 9_000), "{s:?}");
        assert!(within(s.p99_us, 9_900), "{s:?}");
        assert!(within(s.max_us, 10_000), "{s:?}");
        assert!((s.mean_us - 5_000.5).abs() < 10.0, "{s:?}");
    }

    #[test]
    fn tail_shows_in_p99_not_p50() {
        let mut l = Latency::new();
        for _ in 0..980 {
            l.record(Duration::from_micros(100));
        }
        for _ in 0..20 {
            l.record(Duration::from_millis(50));
        }
        let s = l.summary();
        assert!(within(s.p50_us, 100));
        assert!(within(s.p90_us, 100));
        assert!(within(s.p99_us, 50_000));
        assert!(within(s.max_us, 50_000));
    }

    #[test]
    fn merge_and_extremes() {
        let mut a = Latency::new();
        let mut b = Latency::new();
        a.record(Duration::from_nanos(10)); // sub-microsecond counts as 1 µs
        b.record(Duration::from_secs(100_000)); // clamped, not dropped
        a.merge(&b);
        assert_eq!(a.count(), 2);
        assert_eq!(a.quantile_us(0.0), 1);
        assert!(within(a.summary().max_us, MAX_MICROS));
    }

    #[test]
    fn empty() {
        let l = Latency::new();
        assert_eq!(l.summary(), LatencySummary::default());
        assert_eq!(l.quantile_us(0.99), 0);
    }
}

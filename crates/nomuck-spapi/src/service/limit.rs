//! Per-account request rate limit: a token bucket per account, refilled at
//! the configured rate and holding up to twice as many requests, so a short
//! burst passes and a sustained flood gets SP-API's 429 `QuotaExceeded`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub(crate) struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl RateLimiter {
    pub(crate) fn new(per_second: f64) -> Self {
        let per_second = if per_second.is_finite() && per_second > 0.0 {
            per_second
        } else {
            f64::INFINITY
        };
        Self {
            per_second,
            burst: (per_second * 2.0).max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn per_second(&self) -> f64 {
        self.per_second
    }

    /// Takes one request from `account`'s bucket; false when it is empty.
    pub(crate) fn allow(&self, account: &str) -> bool {
        if self.per_second.is_infinite() {
            return true;
        }
        let now = Instant::now();
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, at) = buckets
            .entry(account.to_owned())
            .or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::RateLimiter;

    #[test]
    fn a_burst_passes_then_the_flood_is_refused_per_account() {
        let limiter = RateLimiter::new(5.0);
        let passed = (0..100).filter(|_| limiter.allow("a")).count();
        // Twice the rate as a burst, plus what refilled meanwhile (microseconds).
        assert!((10..=11).contains(&passed), "{passed}");
        assert!(limiter.allow("b"), "another account has its own bucket");
    }
}

//! Milliseconds since the epoch and ISO 8601, the only time formats here.

use nomuck_meta::Millis;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub fn now_millis() -> Millis {
    let now = OffsetDateTime::now_utc();
    i64::try_from(now.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// `2026-12-03T20:13:02Z` (whole seconds, UTC), as SP-API writes dates.
pub fn iso8601(at: Millis) -> String {
    OffsetDateTime::from_unix_timestamp(at.div_euclid(1000))
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// Accepts `Z` or an offset, with or without fractional seconds.
pub fn parse_iso8601(s: &str) -> Option<Millis> {
    let t = OffsetDateTime::parse(s, &Rfc3339).ok()?;
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

pub const HOUR_MS: Millis = 3_600_000;
pub const DAY_MS: Millis = 24 * HOUR_MS;

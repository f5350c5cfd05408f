//! Parsing and printing of sizes (`4KiB`, `64MiB`) and durations (`10s`, `1m30s`).

use std::time::Duration;

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum UnitError {
    #[error("empty value")]
    Empty,
    #[error("{0:?} is not a whole number followed by an optional unit")]
    Malformed(String),
    #[error("unknown unit {unit:?} in {input:?} (expected one of {expected})")]
    UnknownUnit {
        input: String,
        unit: String,
        expected: &'static str,
    },
    #[error("{0:?} is too large")]
    Overflow(String),
}

const SIZE_UNITS: &str = "B, KiB, MiB, GiB, KB, MB, GB, K, M, G";
const DURATION_UNITS: &str = "ms, s, m, h";

/// Splits `"64MiB"` into `(64, "MiB")`.
fn split_number(s: &str) -> Option<(u64, &str)> {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    if end == 0 {
        return None;
    }
    let n = s[..end].parse().ok()?;
    Some((n, s[end..].trim_start()))
}

/// Parses a byte size. Binary units (`KiB`, and the shorthand `K`) are powers
/// of 1024; decimal ones (`KB`) powers of 1000. A bare number is bytes.
pub fn parse_size(input: &str) -> Result<u64, UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    let (n, unit) = split_number(s).ok_or_else(|| UnitError::Malformed(input.to_owned()))?;
    let mult: u64 = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kib" => 1 << 10,
        "m" | "mib" => 1 << 20,
        "g" | "gib" => 1 << 30,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        _ => {
            return Err(UnitError::UnknownUnit {
                input: input.to_owned(),
                unit: unit.to_owned(),
                expected: SIZE_UNITS,
            });
        }
    };
    n.checked_mul(mult)
        .ok_or_else(|| UnitError::Overflow(input.to_owned()))
}

/// Parses a duration: one or more `<number><unit>` groups (`1m30s`); a bare
/// number is seconds.
pub fn parse_duration(input: &str) -> Result<Duration, UnitError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(UnitError::Empty);
    }
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(Duration::from_secs(secs));
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    while !rest.is_empty() {
        let (n, tail) = split_number(rest).ok_or_else(|| UnitError::Malformed(input.to_owned()))?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(tail.len());
        let unit = tail[..unit_len].trim();
        let part = match unit {
            "ms" => Some(Duration::from_millis(n)),
            "s" => Some(Duration::from_secs(n)),
            "m" | "min" => n.checked_mul(60).map(Duration::from_secs),
            "h" => n.checked_mul(3600).map(Duration::from_secs),
            "" => return Err(UnitError::Malformed(input.to_owned())),
            _ => {
                return Err(UnitError::UnknownUnit {
                    input: input.to_owned(),
                    unit: unit.to_owned(),
                    expected: DURATION_UNITS,
                });
            }
        };
        total = part
            .and_then(|p| total.checked_add(p))
            .ok_or_else(|| UnitError::Overflow(input.to_owned()))?;
        rest = tail[unit_len..].trim_start();
    }
    Ok(total)
}

/// `4096` -> `"4 KiB"`; sizes that are not a whole number of a unit stay in bytes.
pub fn format_size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    for (mult, name) in UNITS {
        if bytes >= mult && bytes.is_multiple_of(mult) {
            return format!("{} {name}", bytes / mult);
        }
    }
    format!("{bytes} B")
}

/// Latency with a unit that keeps three or four significant digits.
pub fn format_micros(us: f64) -> String {
    if us < 1_000.0 {
        format!("{us:.0} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1_000.0)
    } else {
        format!("{:.2} s", us / 1_000_000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("4KiB"), Ok(4096));
        assert_eq!(parse_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_size("64MiB"), Ok(64 << 20));
        assert_eq!(parse_size("64mib"), Ok(64 << 20));
        assert_eq!(parse_size("2 GiB"), Ok(2 << 30));
        assert_eq!(parse_size("4k"), Ok(4096));
        assert_eq!(parse_size("4KB"), Ok(4000));
        assert_eq!(parse_size("1MB"), Ok(1_000_000));
        assert_eq!(parse_size("0"), Ok(0));
        assert_eq!(parse_size("123"), Ok(123));
        assert_eq!(parse_size(" 7B "), Ok(7));
    }

    #[test]
    fn bad_sizes() {
        assert_eq!(parse_size(""), Err(UnitError::Empty));
        assert!(matches!(parse_size("KiB"), Err(UnitError::Malformed(_))));
        assert!(matches!(parse_size("-1"), Err(UnitError::Malformed(_))));
        assert!(matches!(
            parse_size("1.5MiB"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("4 parsecs"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_size("99999999999GiB"),
            Err(UnitError::Overflow(_))
        ));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("10"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("1s 250ms"), Ok(Duration::from_millis(1250)));
    }

    #[test]
    fn bad_durations() {
        assert_eq!(parse_duration(" "), Err(UnitError::Empty));
        assert!(matches!(parse_duration("s"), Err(UnitError::Malformed(_))));
        assert!(matches!(
            parse_duration("10x"),
            Err(UnitError::UnknownUnit { .. })
        ));
        assert!(matches!(
            parse_duration("1m30"),
            Err(UnitError::Malformed(_))
        ));
        assert!(matches!(
            parse_duration("99999999999999999h"),
            Err(UnitError::Overflow(_))
        ));
    }

    #[test]
    fn formatting() {
        assert_eq!(format_size(4096), "4 KiB");
        assert_eq!(format_size(64 << 20), "64 MiB");
        assert_eq!(format_size(1 << 30), "1 GiB");
        assert_eq!(format_size(1000), "1000 B");
        assert_eq!(format_size(0), "0 B");
        assert_eq!(format_micros(412.4), "412 µs");
        assert_eq!(format_micros(1234.0), "1.23 ms");
        assert_eq!(format_micros(2_500_000.0), "2.50 s");
    }
}

//! Strict ISO 8601 "basic" timestamps (`20130524T000000Z`) as used by SigV4.

use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

fn digits(s: &[u8]) -> Option<u32> {
    let mut v: u32 = 0;
    for &b in s {
        if !b.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(b - b'0');
    }
    Some(v)
}

/// Parses exactly `YYYYMMDDTHHMMSSZ`. Strictness matters: the string-to-sign
/// is rebuilt from the parsed value, so only one spelling may be accepted.
pub(crate) fn parse_amz_date(s: &str) -> Option<OffsetDateTime> {
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let year = i32::try_from(digits(&b[0..4])?).ok()?;
    let month = Month::try_from(u8::try_from(digits(&b[4..6])?).ok()?).ok()?;
    let day = u8::try_from(digits(&b[6..8])?).ok()?;
    let hour = u8::try_from(digits(&b[9..11])?).ok()?;
    let minute = u8::try_from(digits(&b[11..13])?).ok()?;
    let second = u8::try_from(digits(&b[13..15])?).ok()?;
    let date = Date::from_calendar_date(year, month, day).ok()?;
    let time = Time::from_hms(hour, minute, second).ok()?;
    Some(PrimitiveDateTime::new(date, time).assume_utc())
}

fn push_num(out: &mut String, v: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = v;
    for slot in buf[..width].iter_mut().rev() {
        *slot = b'0' + (v % 10) as u8;
        v /= 10;
    }
    out.extend(buf[..width].iter().map(|&c| c as char));
}

/// `YYYYMMDD` in UTC.
pub(crate) fn format_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = String::with_capacity(8);
    // Years outside 0..=9999 cannot come from parse_amz_date; clamp to keep width.
    push_num(&mut s, t.year().clamp(0, 9999) as u32, 4);
    push_num(&mut s, u32::from(u8::from(t.month())), 2);
    push_num(&mut s, u32::from(t.day()), 2);
    s
}

/// `YYYYMMDDTHHMMSSZ` in UTC.
pub(crate) fn format_amz_date(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let mut s = format_date(t);
    s.reserve(8);
    s.push('T');
    push_num(&mut s, u32::from(t.hour()), 2);
    push_num(&mut s, u32::from(t.minute()), 2);
    push_num(&mut s, u32::from(t.second()), 2);
    s.push('Z');
    s
}

/// RFC 7231 `Date` header (IMF-fixdate, RFC 850 or asctime), for clients
/// that send `Date` instead of `x-amz-date`.
pub(crate) fn parse_http_date(s: &str) -> Option<OffsetDateTime> {
    let st = httpdate::parse_http_date(s).ok()?;
    Some(OffsetDateTime::from(st))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let t = parse_amz_date("20130524T235959Z").unwrap();
        assert_eq!(format_amz_date(t), "20130524T235959Z");
        assert_eq!(format_date(t), "20130524");
    }

    #[test]
    fn rejects_variants() {
        for s in [
            "20130524T000000",
            "2013-05-24T00:00:00Z",
            "20131324T000000Z",
            "20130524T250000Z",
            "20130524t000000Z",
            "2013052AT000000Z",
            "+0130524T000000Z",
            "",
            "20130230T000000Z",
        ] {
            assert!(parse_amz_date(s).is_none(), "{s}");
        }
    }

    #[test]
    fn http_date() {
        let t = parse_http_date("Fri, 24 May 2013 00:00:00 GMT").unwrap();
        assert_eq!(format_amz_date(t), "20130524T000000Z");
    }
}

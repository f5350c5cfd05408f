//! Dates on the wire. Replies always carry ISO 8601 in UTC with a `Z`
//! (`2026-12-03T20:13:02Z`, milliseconds only when there are any); requests may carry
//! `Z` or any offset, with or without fractional seconds. `DateOnly` is the models'
//! `format: date` (`2026-12-03`).

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::format_description::well_known::{Iso8601, Rfc3339};
use time::macros::format_description;
use time::{Date, OffsetDateTime, UtcOffset};

/// An instant (the models' `format: date-time`), held in UTC so rendering cannot fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

/// A calendar date (the models' `format: date`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DateOnly(pub Date);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(OffsetDateTime::UNIX_EPOCH);

    /// `at` in UTC; `None` when that falls outside the representable years.
    pub fn new(at: OffsetDateTime) -> Option<Timestamp> {
        at.checked_to_offset(UtcOffset::UTC).map(Timestamp)
    }

    pub fn get(&self) -> OffsetDateTime {
        self.0
    }

    /// Parses RFC 3339 (`Z` or `±hh:mm`), falling back to ISO 8601's other forms
    /// (`±hhmm` offsets, basic format). A date-time without any offset is refused: it
    /// names no instant.
    pub fn parse(text: &str) -> Option<Timestamp> {
        OffsetDateTime::parse(text, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(text, &Iso8601::DEFAULT))
            .ok()
            // An offset can carry a date at the edge of the range past it in UTC
            // (`9999-12-31T23:00:00-05:00`); that is not an instant we can name.
            .and_then(Timestamp::new)
    }

    /// Milliseconds since the Unix epoch, the unit the domain keeps time in.
    pub fn unix_millis(&self) -> i128 {
        self.0.unix_timestamp_nanos() / 1_000_000
    }

    /// The instant `millis` after the Unix epoch; `None` out of `time`'s range.
    pub fn from_unix_millis(millis: i64) -> Option<Timestamp> {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000)
            .ok()
            .and_then(Timestamp::new)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let utc = self.0;
        let text = if utc.millisecond() == 0 {
            utc.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
            ))
        } else {
            utc.format(format_description!(
                "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
            ))
        };
        // Formatting a UTC date-time in the crate's year range does not fail.
        f.write_str(&text.map_err(|_| fmt::Error)?)
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Timestamp, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Timestamp::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{}' is not an ISO 8601 date-time with an offset (such as 2026-12-03T20:13:02Z)",
                text.chars().take(64).collect::<String>()
            ))
        })
    }
}

impl DateOnly {
    pub fn parse(text: &str) -> Option<DateOnly> {
        Date::parse(text, format_description!("[year]-[month]-[day]"))
            .ok()
            .map(DateOnly)
    }
}

impl fmt::Display for DateOnly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self
            .0
            .format(format_description!("[year]-[month]-[day]"))
            .map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for DateOnly {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for DateOnly {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<DateOnly, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        DateOnly::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "'{}' is not a date (such as 2026-12-03)",
                text.chars().take(64).collect::<String>()
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_z_and_offsets_and_renders_utc_z() {
        let z = Timestamp::parse("2026-12-03T20:13:02Z").unwrap();
        for same in [
            "2026-12-03T21:13:02+01:00",
            "2026-12-03T15:13:02-05:00",
            "2026-12-03T20:13:02.000Z",
            "2026-12-03T21:13:02+0100",
        ] {
            assert_eq!(Timestamp::parse(same), Some(z), "{same}");
        }
        assert_eq!(z.to_string(), "2026-12-03T20:13:02Z");
        let ms = Timestamp::parse("2020-07-13T19:42:04.284Z").unwrap();
        assert_eq!(
            serde_json::to_string(&ms).unwrap(),
            "\"2020-07-13T19:42:04.284Z\""
        );
        for bad in [
            "2026-12-03T20:13:02",
            "2026-12-03",
            "yesterday",
            "",
            "2026-13-03T00:00:00Z",
        ] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
        assert!(serde_json::from_str::<Timestamp>("\"nope\"").is_err());
        assert_eq!(Timestamp::parse("9999-12-31T23:00:00-05:00"), None);
    }

    #[test]
    fn date_only_round_trips() {
        let d: DateOnly = serde_json::from_str("\"2026-02-28\"").unwrap();
        assert_eq!(serde_json::to_string(&d).unwrap(), "\"2026-02-28\"");
        assert!(serde_json::from_str::<DateOnly>("\"2026-02-30\"").is_err());
    }
}

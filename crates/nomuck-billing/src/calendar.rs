//! UTC days and calendar months. A day is a number (days since 1970-01-01),
//! as the seam stores it; a month is `YYYY-MM`.

use std::fmt;

use nomuck_meta::Millis;
use time::Date;

use crate::BillingError;

pub const DAY_MS: i64 = 86_400_000;
/// Julian day number of 1970-01-01.
const EPOCH_JULIAN: i64 = 2_440_588;

/// The UTC day `ms` falls in.
pub fn day_of(ms: Millis) -> i64 {
    ms.div_euclid(DAY_MS)
}

pub fn day_start(day: i64) -> Millis {
    day.saturating_mul(DAY_MS)
}

pub fn date_of(day: i64) -> Result<Date, BillingError> {
    i32::try_from(day + EPOCH_JULIAN)
        .ok()
        .and_then(|j| Date::from_julian_day(j).ok())
        .ok_or_else(|| BillingError::Invalid(format!("day {day} is out of range")))
}

pub fn day_of_date(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - EPOCH_JULIAN
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    pub year: i32,
    /// 1..=12.
    pub month: u8,
}

impl Month {
    pub fn parse(text: &str) -> Result<Self, BillingError> {
        let bad = || BillingError::Invalid(format!("month {text:?} is not YYYY-MM"));
        nomuck_meta::billing::check_month(text).map_err(|_| bad())?;
        let year = text.get(..4).and_then(|y| y.parse().ok()).ok_or_else(bad)?;
        let month = text.get(5..).and_then(|m| m.parse().ok()).ok_or_else(bad)?;
        Ok(Self { year, month })
    }

    pub fn of_day(day: i64) -> Result<Self, BillingError> {
        let d = date_of(day)?;
        Ok(Self {
            year: d.year(),
            month: u8::from(d.month()),
        })
    }

    pub fn of_millis(ms: Millis) -> Result<Self, BillingError> {
        Self::of_day(day_of(ms))
    }

    pub fn first_day(self) -> Result<i64, BillingError> {
        let m = time::Month::try_from(self.month)
            .map_err(|_| BillingError::Invalid(format!("month {self} is out of range")))?;
        Date::from_calendar_date(self.year, m, 1)
            .map(day_of_date)
            .map_err(|_| BillingError::Invalid(format!("month {self} is out of range")))
    }

    pub fn next(self) -> Self {
        if self.month >= 12 {
            Self {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Self {
                year: self.year,
                month: self.month + 1,
            }
        }
    }

    /// First day of the next month (the end, exclusive).
    pub fn end_day(self) -> Result<i64, BillingError> {
        self.next().first_day()
    }

    pub fn days(self) -> Result<i64, BillingError> {
        Ok(self.end_day()? - self.first_day()?)
    }
}

impl fmt::Display for Month {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}", self.year, self.month)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_and_days() {
        let m = Month::parse("2026-02").unwrap();
        assert_eq!(m.days().unwrap(), 28);
        assert_eq!(Month::parse("2024-02").unwrap().days().unwrap(), 29);
        assert_eq!(
            Month::parse("2026-12").unwrap().next().to_string(),
            "2027-01"
        );
        assert_eq!(Month::parse("1970-01").unwrap().first_day().unwrap(), 0);
        assert_eq!(Month::of_day(31).unwrap().to_string(), "1970-02");
        assert_eq!(day_of(-1), -1);
        assert!(Month::parse("2026-13").is_err());
        assert!(Month::parse("26-01").is_err());
    }
}

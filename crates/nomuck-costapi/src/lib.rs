//! The cost APIs over the AWS JSON 1.1 protocol ([`nomuck_http::json`]):
//! Cost Explorer ([`ce::CostExplorerApi`], credential scope `ce`) and Budgets
//! ([`budgets::BudgetsApi`], scope `budgets`), the Cost and Usage Report
//! definitions ([`cur::CurApi`], scope `cur`: where billing puts an
//! account's report), plus the evaluator that sends a
//! budget's threshold alerts ([`alerts::BudgetAlerts`]).
//!
//! They read costs through one port, [`CostSource`]: an account's rated cost
//! and usage per UTC day. The billing domain implements it; this crate knows
//! no price book and no meter, only rated rows.

use std::sync::Arc;

use rust_decimal::Decimal;
use time::{Date, Duration, Month, OffsetDateTime};

pub mod alerts;
pub mod budgets;
pub mod ce;
pub mod cur;

/// One account's rated cost and usage on one UTC day for one usage type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCost {
    pub day: Date,
    /// Cost Explorer's `SERVICE` value (`Amazon Simple Storage Service`).
    pub service: String,
    pub usage_type: String,
    pub operation: String,
    pub unit: String,
    pub quantity: Decimal,
    /// In USD.
    pub cost: Decimal,
}

#[derive(Debug, thiserror::Error)]
pub enum CostSourceError {
    /// The costs cannot be read now (the store is down); worth retrying.
    #[error("cost data unavailable: {0}")]
    Unavailable(String),
}

/// Where the cost APIs read rated costs.
#[async_trait::async_trait]
pub trait CostSource: Send + Sync + 'static {
    /// One account's rated cost and usage per UTC day in [start, end_exclusive).
    async fn daily_costs(
        &self,
        account_id: &str,
        start: Date,
        end_exclusive: Date,
    ) -> Result<Vec<DailyCost>, CostSourceError>;
}

/// "Now", replaceable in tests so month boundaries and forecasts are exact.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// An amount as AWS writes it: a plain decimal string without trailing zeros
/// (`"0"`, `"12.5"`).
pub fn amount(d: Decimal) -> String {
    d.normalize().to_string()
}

/// The first day of `day`'s month.
pub fn month_start(day: Date) -> Date {
    day.replace_day(1).unwrap_or(day)
}

/// The first day of the month after `day`'s.
pub fn next_month(day: Date) -> Date {
    let first = month_start(day);
    let (year, month) = match first.month() {
        Month::December => (first.year() + 1, Month::January),
        m => (first.year(), m.next()),
    };
    Date::from_calendar_date(year, month, 1).unwrap_or(first + Duration::days(31))
}

/// `YYYY-MM` of a month, the key of a monthly budget period.
pub fn month_key(day: Date) -> String {
    format!("{:04}-{:02}", day.year(), u8::from(day.month()))
}

/// An account's spend this month: what it cost up to and including today,
/// and that spread over the whole month at the same daily rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MonthSpend {
    pub actual: Decimal,
    pub forecast: Decimal,
}

/// [`MonthSpend`] of the rows `keep` selects, for the month holding `today`.
/// `rows` must cover [month start, today].
pub fn month_spend(
    rows: &[DailyCost],
    today: Date,
    keep: impl Fn(&DailyCost) -> bool,
) -> MonthSpend {
    let start = month_start(today);
    let actual: Decimal = rows
        .iter()
        .filter(|r| r.day >= start && r.day <= today && keep(r))
        .map(|r| r.cost)
        .sum();
    let elapsed = Decimal::from((today - start).whole_days() + 1);
    let days = Decimal::from((next_month(today) - start).whole_days());
    // Multiply before dividing: exact whenever the result is.
    let forecast = (actual * days / elapsed).round_dp(10);
    MonthSpend { actual, forecast }
}

#[cfg(test)]
mod tests {
    use rust_decimal::Decimal;
    use time::macros::date;

    use super::*;

    #[test]
    fn months_and_amounts() {
        assert_eq!(next_month(date!(2026 - 12 - 31)), date!(2027 - 01 - 01));
        assert_eq!(next_month(date!(2026 - 02 - 01)), date!(2026 - 03 - 01));
        assert_eq!(month_key(date!(2026 - 03 - 09)), "2026-03");
        assert_eq!(amount(Decimal::new(12_500, 3)), "12.5");
        assert_eq!(amount(Decimal::ZERO), "0");
    }

    #[test]
    fn month_spend_extrapolates_the_daily_rate() {
        let row = |day, cost| DailyCost {
            day,
            service: "S".into(),
            usage_type: "U".into(),
            operation: "O".into(),
            unit: "Hrs".into(),
            quantity: Decimal::ONE,
            cost: Decimal::new(cost, 2),
        };
        let rows = [
            row(date!(2026 - 11 - 30), 999),
            row(date!(2026 - 12 - 01), 300),
            row(date!(2026 - 12 - 02), 300),
        ];
        // $6 in two days of a 31-day month: $93 forecast.
        let s = month_spend(&rows, date!(2026 - 12 - 02), |_| true);
        assert_eq!(
            (s.actual, s.forecast),
            (Decimal::new(600, 2), Decimal::from(93))
        );
        let s = month_spend(&rows, date!(2026 - 12 - 02), |r| r.day.day() == 1);
        assert_eq!(s.actual, Decimal::from(3));
    }
}

//! What a meter means on a bill: the Cost Explorer service and usage type it
//! is billed under, the unit, and how its quantity is priced.
//!
//! **Conventions (as AWS's):** a GB is 2^30 bytes. A GB-month is a GB stored
//! for the whole of the calendar month the storage falls in, so a day's
//! byte-milliseconds count `1 / (2^30 * milliseconds in that month)` GB-months
//! (a month of 1 GiB is exactly 1 GB-month whatever the month's length).
//! Instance-hours: every started hour of a run is billed, in the day the hour
//! started. Amounts are exact decimals; a day's cost is rounded to 10 decimal
//! places (a ten-billionth of a dollar) once, and sums are of those.

use rust_decimal::Decimal;

use crate::price::Rates;

/// Meters and services nomuck's services write (see their crates).
pub mod meters {
    pub const S3: &str = "s3";
    pub const EC2: &str = "ec2";
    pub const KMS: &str = "kms";
    /// KMS's cryptographic requests (nomuck-kms's `meters::REQUESTS`).
    pub const KMS_REQUESTS: &str = "requests";
    pub const STORED_ADDED: &str = "storage.bytes-added";
    pub const STORED_REMOVED: &str = "storage.bytes-removed";
    pub const BYTES_OUT: &str = "transfer.bytes-out";
    pub const TIER1: &str = "requests.put-copy-post-list";
    pub const TIER2: &str = "requests.get-other";
    pub const DELETE: &str = "requests.delete";
    pub const BOX_USAGE: &str = "BoxUsage:";
    /// The unit of usage that is already money (fulfillment's fees).
    pub const MICRO_USD: &str = "USD-micro";
    /// The unit the rater stores instance runs' started hours in.
    pub const INSTANCE_HOURS: &str = "instance-hours";
}

pub const S3_SERVICE: &str = "Amazon Simple Storage Service";
pub const EC2_SERVICE: &str = "Amazon Elastic Compute Cloud - Compute";
pub const FULFILLMENT_SERVICE: &str = "Fulfillment by Amazon";
pub const KMS_SERVICE: &str = "AWS Key Management Service";

/// Places a day's cost is rounded to.
pub const COST_DP: u32 = 10;

/// How a line's quantity is measured and priced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// Stored bytes integrated over time (byte-milliseconds) → GB-months.
    GbMonths,
    /// Bytes → GB.
    Gb,
    /// Requests, priced per 1,000 (tier 1) or 10,000 (tier 2); free.
    Tier1,
    Tier2,
    /// KMS requests, priced per 10,000.
    KmsRequests,
    Free,
    /// Instance-hours of one type.
    Hours,
    /// Micro-dollars: billed at their own amount.
    Money,
    /// A meter the price book does not price (shown with rate 0).
    Unpriced,
}

/// A bill line's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineKind {
    pub service: String,
    pub usage_type: String,
    pub operation: String,
    pub unit: String,
    pub measure: Measure,
}

fn kind(
    service: &str,
    usage_type: &str,
    operation: &str,
    unit: &str,
    measure: Measure,
) -> LineKind {
    LineKind {
        service: service.into(),
        usage_type: usage_type.into(),
        operation: operation.into(),
        unit: unit.into(),
        measure,
    }
}

/// The line a stored `(service, meter, unit)` is billed on. Both stored-bytes
/// meters give the one storage line (their difference is what is stored).
pub fn line_of(service: &str, meter: &str, unit: &str) -> LineKind {
    use meters::*;
    if unit == MICRO_USD {
        let s = if service == "fulfillment" {
            FULFILLMENT_SERVICE
        } else {
            service
        };
        return kind(s, meter, meter, "USD", Measure::Money);
    }
    match (service, meter) {
        (S3, STORED_ADDED | STORED_REMOVED) => kind(
            S3_SERVICE,
            "TimedStorage-ByteHrs",
            "StandardStorage",
            "GB-Mo",
            Measure::GbMonths,
        ),
        (S3, BYTES_OUT) => kind(
            S3_SERVICE,
            "DataTransfer-Out-Bytes",
            "GetObject",
            "GB",
            Measure::Gb,
        ),
        (S3, TIER1) => kind(
            S3_SERVICE,
            "Requests-Tier1",
            "PutObject",
            "Requests",
            Measure::Tier1,
        ),
        (S3, TIER2) => kind(
            S3_SERVICE,
            "Requests-Tier2",
            "GetObject",
            "Requests",
            Measure::Tier2,
        ),
        (S3, DELETE) => kind(
            S3_SERVICE,
            "Requests-NoCharge",
            "DeleteObject",
            "Requests",
            Measure::Free,
        ),
        (KMS, KMS_REQUESTS) => kind(
            KMS_SERVICE,
            "KMS-Requests",
            "CryptographicRequest",
            "Requests",
            Measure::KmsRequests,
        ),
        (EC2, m) if m.starts_with(BOX_USAGE) && unit == INSTANCE_HOURS => {
            kind(EC2_SERVICE, m, "RunInstances", "Hrs", Measure::Hours)
        }
        _ => kind(service, meter, meter, unit, Measure::Unpriced),
    }
}

/// 2^30.
fn gib() -> Decimal {
    Decimal::from(1_u64 << 30)
}

/// `(quantity in the line's unit, rate per unit, cost)` of one day; `raw` is
/// the stored quantity (byte-milliseconds for storage), `month_days` the
/// length of the day's month.
pub fn price(
    line: &LineKind,
    rates: &Rates,
    raw: i128,
    month_days: i64,
) -> Option<(Decimal, Decimal, Decimal)> {
    let raw = Decimal::try_from_i128_with_scale(raw, 0).ok()?;
    let per = |n: i64| Decimal::from(n);
    let (quantity, rate, cost) = match line.measure {
        Measure::GbMonths => {
            let denom =
                gib().checked_mul(per(month_days).checked_mul(per(crate::calendar::DAY_MS))?)?;
            let rate = rates.storage_gb_month;
            (
                raw.checked_div(denom)?,
                rate,
                raw.checked_mul(rate)?.checked_div(denom)?,
            )
        }
        Measure::Gb => {
            let rate = rates.transfer_out_gb;
            (
                raw.checked_div(gib())?,
                rate,
                raw.checked_mul(rate)?.checked_div(gib())?,
            )
        }
        Measure::Tier1 => {
            let rate = rates.requests_tier1_per_1000.checked_div(per(1_000))?;
            (raw, rate, raw.checked_mul(rate)?)
        }
        Measure::Tier2 => {
            let rate = rates.requests_tier2_per_10000.checked_div(per(10_000))?;
            (raw, rate, raw.checked_mul(rate)?)
        }
        Measure::KmsRequests => {
            let rate = rates.kms_requests_per_10000.checked_div(per(10_000))?;
            (raw, rate, raw.checked_mul(rate)?)
        }
        Measure::Free | Measure::Unpriced => (raw, Decimal::ZERO, Decimal::ZERO),
        Measure::Hours => {
            let ty = line
                .usage_type
                .strip_prefix(meters::BOX_USAGE)
                .unwrap_or("");
            let rate = rates.instance_type_hour(ty).unwrap_or(Decimal::ZERO);
            (raw, rate, raw.checked_mul(rate)?)
        }
        Measure::Money => {
            let usd = raw.checked_div(per(1_000_000))?;
            (usd, Decimal::ONE, usd)
        }
    };
    Some((
        quantity.round_dp(COST_DP).normalize(),
        rate.normalize(),
        cost.round_dp(COST_DP).normalize(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kms_requests_cost_three_cents_per_ten_thousand() {
        let line = line_of(meters::KMS, meters::KMS_REQUESTS, "requests");
        assert_eq!(line.service, KMS_SERVICE);
        assert_eq!(line.measure, Measure::KmsRequests);
        let (q, rate, cost) = price(&line, &Rates::aws_2006(), 20_000, 30).unwrap();
        assert_eq!(q, Decimal::from(20_000));
        assert_eq!(rate.to_string(), "0.000003");
        assert_eq!(cost.to_string(), "0.06");
    }
}

//! Billing's part of the persistence seam: what the rater has made of the
//! usage meter, with its own trait ([`BillingStore`], reached through
//! [`crate::MetaStore::billing`]), its own mutations ([`BillingMutation`],
//! committed through [`crate::MetaStore::commit`]), its own migration
//! (`0012_billing.sql`) and its own conformance cases.
//!
//! These are meta's own records; prices, usage types and money belong to the
//! billing domain (`nomuck-billing`), which knows what a meter means.
//!
//! **Exactly once.** One row holds the rater's cursor (the last usage `seq`
//! rated) and the last closed month. [`BillingMutation::Rate`] adds a batch's
//! sums and moves the cursor in the same transaction, and applies only if the
//! state is still the one the rater read ([`BillingState`]), so a batch is
//! counted once however often a rater crashes, restarts or races another.
//!
//! **Closed months.** [`BillingMutation::CloseMonth`] stores each account's
//! bill of the month as the domain serialized it and advances
//! `closed_through`; months close in order, each once, and a stored bill is
//! never rewritten.

use serde::{Deserialize, Serialize};

use crate::model::{check_account_id, non_empty};
use crate::{MetaError, Millis};

/// Where the rater stands.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BillingState {
    /// Every usage event with `seq <= cursor` has been rated.
    pub cursor: i64,
    /// The last closed month (`YYYY-MM`); every earlier month is closed too.
    pub closed_through: Option<String>,
}

/// Rated usage of one account, UTC day and meter. As a mutation's item it is a
/// delta added to the stored sums.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DayUsageRecord {
    pub account_id: String,
    /// Days since 1970-01-01 (UTC).
    pub day: i64,
    pub service: String,
    pub meter: String,
    pub unit: String,
    /// Sum of the rated quantities.
    pub quantity: i64,
    /// Sum of `quantity * (end of day - at)` in unit-milliseconds: what a
    /// stored-bytes delta contributes to that day's byte-milliseconds.
    pub partial: i128,
}

/// One run of an instance: from entering `running` to leaving it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RunRecord {
    /// The domain's identity of the run (unique across all accounts).
    pub run_key: String,
    pub account_id: String,
    pub started_at: Millis,
    /// Running seconds rated so far.
    pub seconds: i64,
}

/// A closed month's bill of one account, as the domain serialized it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ClosedBill {
    pub account_id: String,
    /// `YYYY-MM`.
    pub month: String,
    pub body: Vec<u8>,
}

/// Where and how an account's cost and usage report is written: the
/// object key is `{s3_prefix}/{report_name}/{YYYY-MM}.csv` (no prefix: no
/// leading part), with `.gz` when gzipped.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportTarget {
    pub bucket: String,
    pub report_name: String,
    /// May be empty.
    pub s3_prefix: String,
    /// The region the client named (empty when set by the operator).
    pub s3_region: String,
    pub gzip: bool,
}

impl ReportTarget {
    /// What `nomuck bill report-bucket` sets: `nomuck-cost-reports/YYYY-MM.csv`.
    pub fn plain(bucket: &str) -> Self {
        Self {
            bucket: bucket.to_owned(),
            report_name: "nomuck-cost-reports".into(),
            s3_prefix: String::new(),
            s3_region: String::new(),
            gzip: false,
        }
    }
}

/// An account's report definition (one per account).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ReportBucket {
    pub account_id: String,
    pub target: ReportTarget,
    /// The last UTC day (days since 1970-01-01) whose report was written.
    pub written_day: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BillingMutation {
    /// Adds `days` to the stored sums, replaces `runs`, and moves the cursor
    /// to `cursor`; `Conflict` (nothing applied) unless the stored state is
    /// `expect`.
    Rate {
        expect: BillingState,
        cursor: i64,
        days: Vec<DayUsageRecord>,
        runs: Vec<RunRecord>,
    },
    /// Stores `bills` (all of month `month`) and sets `closed_through` to it;
    /// `Conflict` unless the stored state is `expect` and `month` is the one
    /// after `expect.closed_through` (any month if none is closed yet).
    CloseMonth {
        expect: BillingState,
        month: String,
        bills: Vec<ClosedBill>,
    },
    /// Sets (or with `None` clears) the account's report definition; a new
    /// one starts over (`written_day` cleared).
    SetReportBucket {
        account_id: String,
        target: Option<ReportTarget>,
    },
    /// Records that the account's report was written through `day`.
    ReportWritten { account_id: String, day: i64 },
}

/// `YYYY-MM`, with a month from 01 to 12.
pub fn check_month(month: &str) -> Result<(), MetaError> {
    let ok = month.len() == 7
        && month.as_bytes().get(4) == Some(&b'-')
        && month
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
        && matches!(
            month.get(5..7).and_then(|m| m.parse::<u8>().ok()),
            Some(1..=12)
        );
    if ok {
        Ok(())
    } else {
        Err(MetaError::Invalid(format!(
            "month {month:?} is not YYYY-MM"
        )))
    }
}

impl BillingMutation {
    pub(crate) fn validate(&self) -> Result<(), MetaError> {
        match self {
            BillingMutation::Rate {
                expect,
                cursor,
                days,
                runs,
            } => {
                if *cursor < expect.cursor {
                    return Err(MetaError::Invalid(format!(
                        "billing cursor would move back from {} to {cursor}",
                        expect.cursor
                    )));
                }
                for d in days {
                    non_empty("billing account", &d.account_id)?;
                    non_empty("billing service", &d.service)?;
                    non_empty("billing meter", &d.meter)?;
                }
                for r in runs {
                    non_empty("billing run key", &r.run_key)?;
                    non_empty("billing account", &r.account_id)?;
                }
                Ok(())
            }
            BillingMutation::CloseMonth { month, bills, .. } => {
                check_month(month)?;
                for b in bills {
                    non_empty("billing account", &b.account_id)?;
                    if b.month != *month {
                        return Err(MetaError::Invalid(format!(
                            "bill of {} in the closing of {month}",
                            b.month
                        )));
                    }
                }
                Ok(())
            }
            BillingMutation::SetReportBucket { account_id, target } => {
                check_account_id(account_id)?;
                target.as_ref().map_or(Ok(()), |t| {
                    non_empty("report bucket", &t.bucket)?;
                    non_empty("report name", &t.report_name)
                })
            }
            BillingMutation::ReportWritten { account_id, .. } => check_account_id(account_id),
        }
    }
}

/// What [`BillingStore::usage_days`] read: usage events after a seq, summed
/// per account, service, meter, unit and UTC day, except those it was asked
/// to keep whole.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageDays {
    /// The last seq read (`None`: no event after the one asked for).
    pub last_seq: Option<i64>,
    /// Events read.
    pub events: usize,
    /// Sums of the events not kept: `partial` is `sum(quantity * (end of
    /// day - at))` as in [`DayUsageRecord`].
    pub days: Vec<DayUsageRecord>,
    /// The events kept whole, in seq order.
    pub kept: Vec<crate::StoredUsageEvent>,
}

/// Events [`BillingStore::usage_days`] returns whole: those of `service` whose
/// meter starts with `meter_prefix`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeepWhole {
    pub service: String,
    pub meter_prefix: String,
}

/// Billing's reads.
#[async_trait::async_trait]
pub trait BillingStore: Send + Sync {
    async fn billing_state(&self) -> Result<BillingState, MetaError>;
    /// Up to `limit` usage events with `seq > after_seq`, in seq order (the
    /// same gap-free cursor as [`crate::MetaStore::usage`]), summed by day
    /// except those matching `keep`. Summing in the store spares the rater
    /// one allocated event per row.
    async fn usage_days(
        &self,
        after_seq: i64,
        limit: usize,
        keep: &[KeepWhole],
    ) -> Result<UsageDays, MetaError>;
    /// Stored sums of days `from_day <= day < to_day`, of one account or of
    /// all (`None`), ordered by account, day, service, meter.
    async fn day_usage(
        &self,
        account_id: Option<&str>,
        from_day: i64,
        to_day: i64,
    ) -> Result<Vec<DayUsageRecord>, MetaError>;
    /// Quantities summed over all days before `day`, per account, service and
    /// meter (`day` = 0 and `partial` = 0 in the answer): a level such as bytes
    /// stored at the start of `day`.
    async fn quantity_before(
        &self,
        account_id: Option<&str>,
        day: i64,
    ) -> Result<Vec<DayUsageRecord>, MetaError>;
    async fn run(&self, run_key: &str) -> Result<Option<RunRecord>, MetaError>;
    async fn closed_bill(
        &self,
        account_id: &str,
        month: &str,
    ) -> Result<Option<ClosedBill>, MetaError>;
    /// Every account's bill of a closed month, by account.
    async fn closed_bills(&self, month: &str) -> Result<Vec<ClosedBill>, MetaError>;
    async fn report_bucket(&self, account_id: &str) -> Result<Option<ReportBucket>, MetaError>;
    /// All report buckets, by account.
    async fn report_buckets(&self) -> Result<Vec<ReportBucket>, MetaError>;
}

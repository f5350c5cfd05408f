//! nomuck's billing: the meter's usage, priced. Knows nothing of HTTP.
//!
//! - [`price`]: the versioned price book (Amazon's 2006 prices embedded).
//! - [`rate`](crate::Billing::rate_pending): usage events become per-day sums
//!   in the billing seam (`nomuck_meta::billing`), each counted once by its
//!   meter seq, the cursor moving in the same commit.
//! - [`Billing::daily_costs`], [`Billing::bill`], [`Billing::report_csv`]:
//!   costs per account, service, usage type, operation and UTC day; a month's
//!   bill; the cost and usage report.
//! - Months close ([`Billing::close_due_months`]) once `grace` has passed after
//!   their end and every event metered so far is rated: each account's month is
//!   then stored as it stands and read from there ever after, byte for byte.
//!   Usage that arrives later for a closed month is billed in the first open
//!   month (see [`rate`](crate::rate)).
//!
//! Money is `rust_decimal::Decimal` (exact); see [`lines`] for the units and
//! rounding conventions.
#![cfg_attr(
    not(test),
    deny(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::indexing_slicing
    )
)]

pub mod calendar;
pub mod lines;
pub mod price;
mod query;
mod rate;
mod report;

use std::sync::Arc;
use std::time::Duration;

use nomuck_meta::{MetaError, MetaStore, Millis};
pub use rust_decimal::Decimal;

pub use calendar::Month;
pub use price::{PriceBook, Rates};
pub use query::{Bill, BillLine, DailyCost, cents};
pub use report::{ReportSink, gzip_stored, report_key};

#[derive(Debug, thiserror::Error)]
pub enum BillingError {
    #[error(transparent)]
    Store(#[from] MetaError),
    #[error("price book: {0}")]
    PriceBook(String),
    #[error("{0}")]
    Invalid(String),
}

/// Tuning of the rater and of month closing.
#[derive(Debug, Clone)]
pub struct BillingOptions {
    /// How long after its end a month stays open for late usage.
    pub grace: Duration,
    /// Events rated per commit.
    pub batch: usize,
    /// Pause between rating rounds once caught up.
    pub interval: Duration,
}

impl Default for BillingOptions {
    fn default() -> Self {
        Self {
            // AWS finalizes a month's bill in the first days of the next.
            grace: Duration::from_secs(3 * 86_400),
            batch: 100_000,
            interval: Duration::from_secs(1),
        }
    }
}

pub type Clock = Arc<dyn Fn() -> Millis + Send + Sync>;

fn system_now() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// The billing service over a metadata store.
#[derive(Clone)]
pub struct Billing {
    store: Arc<dyn MetaStore>,
    book: Arc<PriceBook>,
    opts: BillingOptions,
    clock: Clock,
    reports: Option<Arc<dyn ReportSink>>,
}

impl Billing {
    pub fn new(store: Arc<dyn MetaStore>, book: PriceBook, opts: BillingOptions) -> Self {
        Self {
            store,
            book: Arc::new(book),
            opts,
            clock: Arc::new(system_now),
            reports: None,
        }
    }

    /// Replaces the wall clock (tests, replay).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// Where the background task puts accounts' daily reports.
    pub fn with_report_sink(mut self, sink: Arc<dyn ReportSink>) -> Self {
        self.reports = Some(sink);
        self
    }

    pub fn price_book(&self) -> &PriceBook {
        &self.book
    }

    pub(crate) fn now(&self) -> Millis {
        (self.clock)()
    }

    /// Rates one batch of events after the cursor; the number rated (0 when
    /// caught up).
    pub async fn rate_batch(&self) -> Result<usize, BillingError> {
        rate::rate_batch(self.store.as_ref(), self.opts.batch).await
    }

    /// Rates every event metered so far; the number rated.
    pub async fn rate_pending(&self) -> Result<usize, BillingError> {
        let mut total = 0;
        loop {
            let n = self.rate_batch().await?;
            total += n;
            if n < self.opts.batch {
                return Ok(total);
            }
        }
    }

    /// Rates, closes due months, writes due reports and repeats every
    /// `interval`, until aborted.
    /// Everything it does is committed with its cursor, so after a crash the
    /// next start simply resumes.
    pub fn start(self) -> tokio::task::JoinHandle<()> {
        tokio::spawn(async move {
            loop {
                let pause = match self.round().await {
                    Ok(n) if n >= self.opts.batch => Duration::ZERO,
                    Ok(_) => self.opts.interval,
                    Err(e) => {
                        tracing::warn!(error = %e, "billing: rating failed; retrying");
                        self.opts.interval.max(Duration::from_secs(1))
                    }
                };
                tokio::time::sleep(pause).await;
            }
        })
    }

    async fn round(&self) -> Result<usize, BillingError> {
        let n = self.rate_batch().await?;
        if n < self.opts.batch {
            self.close_due_months().await?;
            if let Some(sink) = &self.reports {
                self.write_due_reports(sink.as_ref()).await?;
            }
        }
        Ok(n)
    }

    /// Closes, in order, every month whose grace has passed, once all usage
    /// metered so far is rated. The months closed.
    pub async fn close_due_months(&self) -> Result<Vec<Month>, BillingError> {
        query::close_due_months(self).await
    }
}

//! Costs from the rated sums: per day ([`DailyCost`]), per month ([`Bill`]),
//! and the closing of months (each account's month stored as it stands).

use std::collections::BTreeMap;

use nomuck_meta::billing::{BillingMutation, ClosedBill};
use nomuck_meta::{MetaError, Mutation, UsageQuery};
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::calendar::{Month, date_of, day_of, day_of_date, day_start};
use crate::lines::{LineKind, Measure, line_of, meters, price};
use crate::{Billing, BillingError};

/// One day's cost of one line of one account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DailyCost {
    pub day: time::Date,
    /// Cost Explorer's SERVICE value (`Amazon Simple Storage Service`, …).
    pub service: String,
    /// Cost Explorer's USAGE_TYPE value (`TimedStorage-ByteHrs`, `BoxUsage:m1.small`, …).
    pub usage_type: String,
    pub operation: String,
    /// `GB-Mo`, `GB`, `Requests`, `Hrs`, `USD`, or an unpriced meter's own unit.
    pub unit: String,
    pub quantity: Decimal,
    /// USD per unit.
    pub rate: Decimal,
    /// USD.
    pub cost: Decimal,
}

/// A month's line: a usage type at one rate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BillLine {
    pub service: String,
    pub usage_type: String,
    pub operation: String,
    pub unit: String,
    pub quantity: Decimal,
    pub rate: Decimal,
    pub cost: Decimal,
}

/// An account's bill of a month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bill {
    pub account_id: String,
    /// `YYYY-MM`.
    pub month: String,
    /// Closed: final, never to change.
    pub closed: bool,
    pub lines: Vec<BillLine>,
    /// Exact sum of the lines' costs.
    pub total: Decimal,
    /// `total` rounded to the cent, as an invoice shows it.
    pub total_usd: Decimal,
}

/// A closed month as stored (JSON). Days are numbers, amounts strings.
#[derive(Serialize, Deserialize)]
struct Snapshot {
    daily: Vec<StoredDaily>,
    lines: Vec<BillLine>,
}

#[derive(Serialize, Deserialize)]
struct StoredDaily {
    day: i64,
    service: String,
    usage_type: String,
    operation: String,
    unit: String,
    quantity: Decimal,
    rate: Decimal,
    cost: Decimal,
}

/// A day's stored quantity of one line (byte-milliseconds for storage).
struct RawDay {
    account_id: String,
    day: i64,
    kind: LineKind,
    raw: i128,
}

/// An account's bytes stored at the start of a range, and per day of it the
/// net (quantity, partial) of its added/removed events.
type StoredBytes = (i128, BTreeMap<i64, (i128, i128)>);

/// A month line's identity (service, usage type, operation, unit, price version).
type LineKey = (String, String, String, String, usize);

fn month_days(day: i64) -> Result<i64, BillingError> {
    Month::of_day(day)?.days()
}

/// Rated usage of days `from..to` (all accounts when `account` is `None`),
/// with stored bytes integrated into byte-milliseconds per day up to `now`.
async fn raw_days(
    billing: &Billing,
    account: Option<&str>,
    from: i64,
    to: i64,
    now: i64,
) -> Result<Vec<RawDay>, BillingError> {
    let seam = billing.store.billing();
    let rows = seam.day_usage(account, from, to).await?;
    let levels = seam.quantity_before(account, from).await?;
    let sign = |meter: &str| {
        if meter == meters::STORED_REMOVED {
            -1
        } else {
            1
        }
    };
    // Per account: bytes stored at `from`, and per day (net delta, net partial).
    let mut storage: BTreeMap<String, StoredBytes> = BTreeMap::new();
    for l in levels {
        if line_of(&l.service, &l.meter, &l.unit).measure == Measure::GbMonths {
            storage.entry(l.account_id).or_default().0 += sign(&l.meter) * i128::from(l.quantity);
        }
    }
    let mut out = Vec::new();
    for r in rows {
        let kind = line_of(&r.service, &r.meter, &r.unit);
        if kind.measure == Measure::GbMonths {
            let s = sign(&r.meter);
            let d = storage
                .entry(r.account_id)
                .or_default()
                .1
                .entry(r.day)
                .or_default();
            d.0 += s * i128::from(r.quantity);
            d.1 += s * r.partial;
        } else {
            out.push(RawDay {
                account_id: r.account_id,
                day: r.day,
                kind,
                raw: i128::from(r.quantity),
            });
        }
    }
    let storage_kind = line_of(meters::S3, meters::STORED_ADDED, "bytes");
    let last = to.min(day_of(now).saturating_add(1));
    for (account_id, (mut level, days)) in storage {
        for day in from..last {
            let (nq, np) = days.get(&day).copied().unwrap_or_default();
            if level == 0 && nq == 0 && np == 0 {
                continue;
            }
            let (s, e) = (day_start(day), day_start(day + 1));
            let x = e.min(now);
            let byte_ms = level * i128::from(x - s) + np - nq * i128::from(e - x);
            level += nq;
            if byte_ms != 0 {
                out.push(RawDay {
                    account_id: account_id.clone(),
                    day,
                    kind: storage_kind.clone(),
                    raw: byte_ms,
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (&a.account_id, a.day, &a.kind.service, &a.kind.usage_type).cmp(&(
            &b.account_id,
            b.day,
            &b.kind.service,
            &b.kind.usage_type,
        ))
    });
    Ok(out)
}

fn priced(
    billing: &Billing,
    kind: &LineKind,
    version: usize,
    raw: i128,
    days: i64,
) -> Result<(Decimal, Decimal, Decimal), BillingError> {
    price(kind, billing.book.rates_of(version), raw, days).ok_or_else(|| {
        BillingError::Invalid(format!(
            "{} {raw} is beyond what can be priced",
            kind.usage_type
        ))
    })
}

fn daily(billing: &Billing, r: &RawDay) -> Result<StoredDaily, BillingError> {
    let (quantity, rate, cost) = priced(
        billing,
        &r.kind,
        billing.book.version_on(r.day),
        r.raw,
        month_days(r.day)?,
    )?;
    Ok(StoredDaily {
        day: r.day,
        service: r.kind.service.clone(),
        usage_type: r.kind.usage_type.clone(),
        operation: r.kind.operation.clone(),
        unit: r.kind.unit.clone(),
        quantity,
        rate,
        cost,
    })
}

/// A month's lines from its days: raw quantities summed per line and price
/// version, then priced once (so a month of storage is exactly its GB-months).
fn month_lines(billing: &Billing, days: &[&RawDay]) -> Result<Vec<BillLine>, BillingError> {
    let mut groups: BTreeMap<LineKey, (LineKind, i128, i64)> = BTreeMap::new();
    for r in days {
        let k = &r.kind;
        let version = billing.book.version_on(r.day);
        let g = groups
            .entry((
                k.service.clone(),
                k.usage_type.clone(),
                k.operation.clone(),
                k.unit.clone(),
                version,
            ))
            .or_insert_with(|| (k.clone(), 0, 0));
        g.1 += r.raw;
        g.2 = month_days(r.day)?;
    }
    groups
        .into_iter()
        .map(|((.., version), (kind, raw, days))| {
            let (quantity, rate, cost) = priced(billing, &kind, version, raw, days)?;
            Ok(BillLine {
                service: kind.service,
                usage_type: kind.usage_type,
                operation: kind.operation,
                unit: kind.unit,
                quantity,
                rate,
                cost,
            })
        })
        .collect()
}

/// Rounded half away from zero to the cent, always with two places.
pub fn cents(amount: Decimal) -> Decimal {
    let mut c =
        amount.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    c.rescale(2);
    c
}

fn bill_of(account_id: &str, month: Month, closed: bool, lines: Vec<BillLine>) -> Bill {
    let total: Decimal = lines.iter().map(|l| l.cost).sum();
    Bill {
        account_id: account_id.to_owned(),
        month: month.to_string(),
        closed,
        lines,
        total: total.normalize(),
        total_usd: cents(total),
    }
}

fn to_daily(d: StoredDaily) -> Result<DailyCost, BillingError> {
    Ok(DailyCost {
        day: date_of(d.day)?,
        service: d.service,
        usage_type: d.usage_type,
        operation: d.operation,
        unit: d.unit,
        quantity: d.quantity,
        rate: d.rate,
        cost: d.cost,
    })
}

fn parse_snapshot(body: &[u8]) -> Result<Snapshot, BillingError> {
    serde_json::from_slice(body)
        .map_err(|e| BillingError::Store(MetaError::Corrupt(format!("closed bill: {e}"))))
}

impl Billing {
    async fn closed_through(&self) -> Result<Option<Month>, BillingError> {
        self.store
            .billing()
            .billing_state()
            .await?
            .closed_through
            .as_deref()
            .map(Month::parse)
            .transpose()
    }

    /// Every open month's per-account, per-day costs of days `from..to`.
    async fn open_daily(
        &self,
        account: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, StoredDaily)>, BillingError> {
        let raw = raw_days(self, account, from, to, self.now()).await?;
        raw.iter()
            .map(|r| Ok((r.account_id.clone(), daily(self, r)?)))
            .collect()
    }

    /// Costs per day, service, usage type and operation of `account` over
    /// `start..end_exclusive`. Closed months come from their stored bills.
    pub async fn daily_costs(
        &self,
        account_id: &str,
        start: time::Date,
        end_exclusive: time::Date,
    ) -> Result<Vec<DailyCost>, BillingError> {
        let (from, to) = (day_of_date(start), day_of_date(end_exclusive));
        Ok(self
            .daily_of(Some(account_id), from, to)
            .await?
            .into_iter()
            .map(|(_, d)| d)
            .collect())
    }

    async fn daily_of(
        &self,
        account: Option<&str>,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, DailyCost)>, BillingError> {
        if from >= to {
            return Ok(Vec::new());
        }
        let open_from = match self.closed_through().await? {
            Some(m) => m.end_day()?.max(from),
            None => from,
        };
        let mut out = Vec::new();
        let mut month = Month::of_day(from)?;
        while month.first_day()? < open_from.min(to) {
            let bills = match account {
                Some(a) => self
                    .store
                    .billing()
                    .closed_bill(a, &month.to_string())
                    .await?
                    .into_iter()
                    .collect(),
                None => {
                    self.store
                        .billing()
                        .closed_bills(&month.to_string())
                        .await?
                }
            };
            for b in bills {
                for d in parse_snapshot(&b.body)?.daily {
                    if (from..to).contains(&d.day) {
                        out.push((b.account_id.clone(), to_daily(d)?));
                    }
                }
            }
            month = month.next();
        }
        if open_from < to {
            for (a, d) in self.open_daily(account, open_from, to).await? {
                out.push((a, to_daily(d)?));
            }
        }
        Ok(out)
    }

    /// `account`'s bill of `month`.
    pub async fn bill(&self, account_id: &str, month: Month) -> Result<Bill, BillingError> {
        Ok(self
            .bills(Some(account_id), month)
            .await?
            .pop()
            .unwrap_or_else(|| {
                let closed = false;
                bill_of(account_id, month, closed, Vec::new())
            }))
    }

    /// The bills of `month` of one account or, for the admin, every account
    /// with usage (by account).
    pub async fn bills(
        &self,
        account: Option<&str>,
        month: Month,
    ) -> Result<Vec<Bill>, BillingError> {
        let closed = self.closed_through().await?.is_some_and(|c| month <= c);
        if closed {
            let stored = match account {
                Some(a) => self
                    .store
                    .billing()
                    .closed_bill(a, &month.to_string())
                    .await?
                    .into_iter()
                    .collect(),
                None => {
                    self.store
                        .billing()
                        .closed_bills(&month.to_string())
                        .await?
                }
            };
            let mut bills = stored
                .into_iter()
                .map(|b| {
                    Ok(bill_of(
                        &b.account_id,
                        month,
                        true,
                        parse_snapshot(&b.body)?.lines,
                    ))
                })
                .collect::<Result<Vec<_>, BillingError>>()?;
            if bills.is_empty()
                && let Some(a) = account
            {
                bills.push(bill_of(a, month, true, Vec::new()));
            }
            return Ok(bills);
        }
        let raw = raw_days(
            self,
            account,
            month.first_day()?,
            month.end_day()?,
            self.now(),
        )
        .await?;
        let mut by_account: BTreeMap<&str, Vec<&RawDay>> = BTreeMap::new();
        for r in &raw {
            by_account.entry(&r.account_id).or_default().push(r);
        }
        by_account
            .into_iter()
            .map(|(a, days)| Ok(bill_of(a, month, false, month_lines(self, &days)?)))
            .collect()
    }

    /// Per-account daily costs of `month` (all accounts when `None`), for reports.
    pub async fn month_daily(
        &self,
        account: Option<&str>,
        month: Month,
    ) -> Result<Vec<(String, DailyCost)>, BillingError> {
        self.daily_of(account, month.first_day()?, month.end_day()?)
            .await
    }
}

/// See [`Billing::close_due_months`].
pub(crate) async fn close_due_months(billing: &Billing) -> Result<Vec<Month>, BillingError> {
    let seam = billing.store.billing();
    let mut closed = Vec::new();
    loop {
        let state = seam.billing_state().await?;
        let pending = billing
            .store
            .usage(&UsageQuery {
                after_seq: Some(state.cursor),
                limit: 1,
                ..UsageQuery::default()
            })
            .await?;
        if !pending.is_empty() {
            return Ok(closed);
        }
        let now = billing.now();
        let grace = i64::try_from(billing.opts.grace.as_millis()).unwrap_or(i64::MAX);
        // Months before this one have ended at least `grace` ago.
        let due_before = Month::of_millis(now.saturating_sub(grace))?;
        let target = match &state.closed_through {
            Some(m) => Month::parse(m)?.next(),
            None => {
                let first = seam.day_usage(None, i64::MIN, i64::MAX).await?;
                match first.iter().map(|d| d.day).min() {
                    Some(day) => Month::of_day(day)?,
                    None => return Ok(closed),
                }
            }
        };
        if target >= due_before {
            return Ok(closed);
        }
        let (from, to) = (target.first_day()?, target.end_day()?);
        let raw = raw_days(billing, None, from, to, now.max(day_start(to))).await?;
        let mut by_account: BTreeMap<&str, Vec<&RawDay>> = BTreeMap::new();
        for r in &raw {
            by_account.entry(&r.account_id).or_default().push(r);
        }
        let mut bills = Vec::new();
        for (account, days) in by_account {
            let snapshot = Snapshot {
                daily: days
                    .iter()
                    .map(|r| daily(billing, r))
                    .collect::<Result<_, _>>()?,
                lines: month_lines(billing, &days)?,
            };
            let body = serde_json::to_vec(&snapshot)
                .map_err(|e| BillingError::Invalid(format!("closed bill: {e}")))?;
            bills.push(ClosedBill {
                account_id: account.to_owned(),
                month: target.to_string(),
                body,
            });
        }
        match billing
            .store
            .commit(vec![Mutation::Billing(BillingMutation::CloseMonth {
                expect: state,
                month: target.to_string(),
                bills,
            })])
            .await
        {
            Ok(_) => {
                tracing::info!(month = %target, "billing: month closed");
                closed.push(target);
            }
            // A rater moved on meanwhile: the next round tries again.
            Err(MetaError::Conflict(_)) => return Ok(closed),
            Err(e) => return Err(e.into()),
        }
    }
}

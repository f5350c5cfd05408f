//! Reading the ledger: FBA Inventory v1 summaries, inventory as of a past
//! moment, the ledger by cursor; and the daily storage fee, a fold of it.

use nomuck_ledger::{Bucket, Entry, InventoryDetails, Movement, Quantities, Summary};
use nomuck_meta::Millis;
use time::Date;

use crate::Fulfillment;
use crate::error::{FulfillmentError, Result};
use crate::items::Item;

/// The meter of the daily storage fee.
pub const STORAGE_FEE_METER: &str = "FBAStorageFee";
/// Micrometres in a foot, exactly.
const UM_PER_FOOT: i128 = 304_800;

/// FBA Inventory v1 `InventorySummary` (one per seller SKU, all centers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventorySummary {
    pub fn_sku: String,
    pub seller_sku: String,
    /// Always `NewItem`: nomuck grades no used conditions.
    pub condition: &'static str,
    pub total_quantity: u64,
    /// The last ledger movement of the SKU (its registration if none).
    pub last_updated_time: Millis,
    /// Present when asked for (`details=true`).
    pub details: Option<InventoryDetails>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InventoryQuery {
    /// Empty: every SKU.
    pub seller_skus: Vec<String>,
    /// Only SKUs with a movement at or after this time.
    pub start_date_time: Option<Millis>,
    pub details: bool,
    /// A `next_token` of an earlier page.
    pub after_token: Option<String>,
    pub limit: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryPage {
    pub summaries: Vec<InventorySummary>,
    /// Never expires: it names the last SKU of this page.
    pub next_token: Option<String>,
}

/// One (SKU, center) position at a moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub seller_sku: String,
    pub fn_sku: String,
    pub center_id: String,
    pub details: InventoryDetails,
    /// Units per bucket (what `details` breaks down).
    pub quantities: Quantities,
}

/// The inventory as it was at a moment: the fold of the ledger up to
/// `seq`, the last entry at or before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryAsOf {
    pub at: Millis,
    pub seq: u64,
    pub positions: Vec<Position>,
}

/// A ledger entry with the seller SKU beside its fnSku.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerEntry {
    pub seq: u64,
    pub at: Millis,
    pub seller_sku: String,
    pub movement: Movement,
}

/// One item's storage fee for one day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StorageCharge {
    pub seller_sku: String,
    pub fn_sku: String,
    /// Units held at the end of the day.
    pub units: u64,
    pub micro_usd: i64,
}

/// The next token: the last seller SKU of a page, hex (opaque to clients,
/// and `+`, `/` or `=` never meet a URL).
fn token(seller_sku: &str) -> String {
    hex::encode(seller_sku.as_bytes())
}

fn untoken(t: &str) -> Result<String> {
    hex::decode(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| FulfillmentError::invalid("nextToken", "not a token this service issued"))
}

fn summary_of(item: &Item, s: &Summary, details: bool) -> InventorySummary {
    InventorySummary {
        fn_sku: item.fn_sku.clone(),
        seller_sku: item.seller_sku.clone(),
        condition: "NewItem",
        total_quantity: s.quantities.total(),
        last_updated_time: if s.last_seq == 0 {
            item.created_at
        } else {
            s.last_at
        },
        details: details.then(|| s.quantities.details()),
    }
}

/// Units that occupy shelf space: everything in the building except what is
/// still on its way in.
fn held(s: &Summary) -> u64 {
    let q = &s.quantities;
    q.total()
        .saturating_sub(q.get(Bucket::InboundWorking))
        .saturating_sub(q.get(Bucket::InboundShipped))
        .saturating_sub(q.get(Bucket::InboundReceiving))
}

/// `units × volume × monthly rate / days in month`, in micro-dollars,
/// rounded half up, exactly (integers only; `None` on overflow).
pub fn storage_fee(
    units: u64,
    dims: nomuck_meta::fulfillment::ItemDimensions,
    rate_per_cubic_foot_month: i64,
    days_in_month: u8,
) -> Option<i64> {
    let volume_um3 = i128::from(dims.length_um)
        .checked_mul(i128::from(dims.width_um))?
        .checked_mul(i128::from(dims.height_um))?;
    let numerator = i128::from(units)
        .checked_mul(volume_um3)?
        .checked_mul(i128::from(rate_per_cubic_foot_month))?;
    let denominator = UM_PER_FOOT.pow(3) * i128::from(days_in_month);
    if denominator == 0 {
        return None;
    }
    i64::try_from((numerator * 2 + denominator) / (denominator * 2)).ok()
}

pub(crate) fn day_bounds(day: Date) -> (Millis, String) {
    let end = day.next_day().map_or(Millis::MAX, |d| {
        d.midnight().assume_utc().unix_timestamp() * 1000 - 1
    });
    let name = format!(
        "{:04}-{:02}-{:02}",
        day.year(),
        u8::from(day.month()),
        day.day()
    );
    (end, name)
}

impl Fulfillment {
    /// `GET /fba/inventory/v1/summaries`: one summary per registered SKU in
    /// seller SKU order, totals across centers.
    pub async fn inventory_summaries(
        &self,
        account_id: &str,
        q: InventoryQuery,
    ) -> Result<InventoryPage> {
        let after = q.after_token.as_deref().map(untoken).transpose()?;
        let limit = q.limit.max(1);
        self.read(account_id, |b| {
            let mut summaries = Vec::new();
            let mut more = false;
            let candidates = b
                .items
                .values()
                .filter(|i| after.as_ref().is_none_or(|a| i.seller_sku > *a))
                .filter(|i| q.seller_skus.is_empty() || q.seller_skus.contains(&i.seller_sku));
            for item in candidates {
                let s = b.ledger.total(&item.fn_sku);
                if q.start_date_time
                    .is_some_and(|t| s.last_seq == 0 || s.last_at < t)
                {
                    continue;
                }
                if summaries.len() == limit {
                    more = true;
                    break;
                }
                summaries.push(summary_of(item, &s, q.details));
            }
            let next_token = more
                .then(|| {
                    summaries
                        .last()
                        .map(|s: &InventorySummary| token(&s.seller_sku))
                })
                .flatten();
            InventoryPage {
                summaries,
                next_token,
            }
        })
        .await
    }

    /// Every (SKU, center) position as it was at `at` (exact: a fold of the
    /// ledger's entries up to that moment, from its nearest checkpoint).
    pub async fn inventory_as_of(&self, account_id: &str, at: Millis) -> Result<InventoryAsOf> {
        let (seq, then, names) = self
            .read(account_id, |b| -> Result<_> {
                let seq = b.ledger.seq_at(at);
                Ok((seq, b.ledger.positions_at(seq)?, b.fn_skus.clone()))
            })
            .await??;
        let positions = then
            .positions()
            .map(|(fn_sku, center, s)| Position {
                seller_sku: names.get(fn_sku).cloned().unwrap_or_default(),
                fn_sku: fn_sku.to_owned(),
                center_id: center.to_owned(),
                details: s.quantities.details(),
                quantities: s.quantities,
            })
            .collect();
        Ok(InventoryAsOf { at, seq, positions })
    }

    /// The ledger after `after_seq`, at most `limit` entries: a cursor that
    /// never expires.
    pub async fn ledger_entries(
        &self,
        account_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<LedgerEntry>> {
        self.read(account_id, |b| {
            b.ledger
                .entries_after(after_seq)
                .take(limit)
                .map(|e: &Entry| LedgerEntry {
                    seq: e.seq,
                    at: e.at,
                    seller_sku: b.fn_skus.get(&e.movement.sku).cloned().unwrap_or_default(),
                    movement: e.movement.clone(),
                })
                .collect()
        })
        .await
    }

    /// Meters `day`'s storage fee of every item with dimensions: the units
    /// held at the day's end (UTC) × cubic feet × the monthly rate / the
    /// month's days. Exactly once per (item, day): the meter key is
    /// `fba-storage:{account}:{fnSku}:{YYYY-MM-DD}`, so calling again for
    /// the same day charges nothing more.
    pub async fn charge_storage(&self, account_id: &str, day: Date) -> Result<Vec<StorageCharge>> {
        let (end, name) = day_bounds(day);
        let rate = self.config().fees.storage_per_cubic_foot_month;
        let days = day.month().length(day.year());
        let account = account_id.to_owned();
        self.write(account_id, move |b, tx| {
            let seq = b.ledger.seq_at(end);
            let then = if seq == b.ledger.last_seq() {
                None
            } else {
                Some(b.ledger.positions_at(seq)?)
            };
            let total = |fn_sku: &str| match &then {
                Some(p) => p.total(fn_sku),
                None => b.ledger.total(fn_sku),
            };
            let mut out = Vec::new();
            for item in b.items.values() {
                let Some(dims) = item.dimensions else {
                    continue;
                };
                let units = held(&total(&item.fn_sku));
                if units == 0 {
                    continue;
                }
                let Some(micro_usd) = storage_fee(units, dims, rate, days) else {
                    tracing::warn!(sku = %item.seller_sku, "storage fee overflows; not charged");
                    continue;
                };
                tx.fee(
                    &account,
                    STORAGE_FEE_METER,
                    micro_usd,
                    format!("fba-storage:{account}:{}:{name}", item.fn_sku),
                );
                out.push(StorageCharge {
                    seller_sku: item.seller_sku.clone(),
                    fn_sku: item.fn_sku.clone(),
                    units,
                    micro_usd,
                });
            }
            Ok(out)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nomuck_meta::fulfillment::ItemDimensions;

    #[test]
    fn storage_fee_is_exact_and_rounds_half_up() {
        // One cubic foot, 30-day month, $0.45: 15,000 micro-dollars a day.
        let foot = ItemDimensions {
            length_um: 304_800,
            width_um: 304_800,
            height_um: 304_800,
        };
        assert_eq!(storage_fee(1, foot, 450_000, 30), Some(15_000));
        assert_eq!(storage_fee(10, foot, 450_000, 30), Some(150_000));
        // 31 days: 450000/31 = 14516.129… → 14516.
        assert_eq!(storage_fee(1, foot, 450_000, 31), Some(14_516));
        // Exactly half: 1 / 2 micro-dollar rounds up to 1.
        assert_eq!(storage_fee(1, foot, 1, 2), Some(1));
        assert_eq!(storage_fee(1, foot, 1, 3), Some(0));
        assert_eq!(storage_fee(u64::MAX, foot, i64::MAX, 30), None);
    }

    #[test]
    fn tokens_round_trip_and_refuse_junk() {
        assert_eq!(untoken(&token("sku+1/ä")).unwrap(), "sku+1/ä");
        assert!(untoken("zz").is_err());
    }
}

//! The daily storage fee, charged for every day, downtime included.
//!
//! Each account keeps a cursor record (`storage-charges`): the last UTC day
//! whose fees are metered. Catching up charges each day after it through
//! yesterday from ONE forward pass over the ledger (units held at each day's
//! end), a month of days per write so a long catch-up never holds the
//! account's writer for long, and moves the cursor in the same commit as the
//! fees. The fee keys name the day (`fba-storage:{account}:{fnSku}:{day}`),
//! so a day charged twice (say by [`Fulfillment::charge_storage`]) is metered
//! once.

use std::collections::HashMap;

use nomuck_ledger::{Bucket, Entry};
use serde::{Deserialize, Serialize};
use time::Date;

use crate::Fulfillment;
use crate::book::{Book, Tx};
use crate::error::Result;
use crate::inventory::{STORAGE_FEE_METER, day_bounds, storage_fee};
use crate::record::Record;
use crate::time::DAY_MS;

/// Days charged per write at most.
const DAYS_PER_WRITE: i64 = 31;

/// The last day whose storage fees are metered (days since the epoch, UTC).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StorageCursor {
    pub charged_through_day: i64,
    pub generation: i64,
}

impl Record for StorageCursor {
    const KIND: &'static str = "storage-charges";
    fn id(&self) -> &str {
        "cursor"
    }
    fn is_open(&self) -> bool {
        true
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn set_generation(&mut self, generation: i64) {
        self.generation = generation;
    }
}

/// Units counted for storage: every bucket but the three inbound ones (not
/// in the building yet) and outside the ledger.
fn held(bucket: Option<Bucket>) -> bool {
    !matches!(
        bucket,
        None | Some(Bucket::InboundWorking | Bucket::InboundShipped | Bucket::InboundReceiving)
    )
}

fn date_of(day: i64) -> Option<Date> {
    time::OffsetDateTime::from_unix_timestamp(day.checked_mul(86_400)?)
        .ok()
        .map(|t| t.date())
}

impl Fulfillment {
    /// Meters the storage fees of every day not charged yet, through
    /// `through_day` (days since the epoch; normally yesterday). Returns the
    /// number of days charged.
    pub async fn charge_storage_due(&self, account_id: &str, through_day: i64) -> Result<i64> {
        let rate = self.config().fees.storage_per_cubic_foot_month;
        let mut charged = 0;
        loop {
            let done = self
                .write(account_id, move |b, tx| {
                    Ok(charge_days(b, tx, through_day, DAYS_PER_WRITE, rate))
                })
                .await?;
            charged += done;
            if done == 0 {
                return Ok(charged);
            }
        }
    }
}

/// Charges up to `max_days` days after the cursor through `through_day`;
/// returns how many. Without a cursor, the account's first day is that of
/// its first ledger entry.
fn charge_days(book: &mut Book, tx: &mut Tx, through_day: i64, max_days: i64, rate: i64) -> i64 {
    let mut entries = book.ledger.entries_after(0).peekable();
    let first = match &book.storage {
        Some(c) => c.charged_through_day + 1,
        None => match entries.peek() {
            Some(e) => e.at.div_euclid(DAY_MS),
            None => return 0,
        },
    };
    let last = through_day.min(first.saturating_add(max_days - 1));
    if last < first {
        return 0;
    }
    let account = book.account_id.clone();
    let mut held_units: HashMap<&str, i128> = HashMap::new();
    for day in first..=last {
        let Some(date) = date_of(day) else {
            break;
        };
        let (end, name) = day_bounds(date);
        fold_until(&mut entries, end, &mut held_units);
        let days_in_month = date.month().length(date.year());
        for item in book.items.values() {
            let (Some(dims), Some(&units)) =
                (item.dimensions, held_units.get(item.fn_sku.as_str()))
            else {
                continue;
            };
            let Ok(units) = u64::try_from(units) else {
                continue;
            };
            if units == 0 {
                continue;
            }
            match storage_fee(units, dims, rate, days_in_month) {
                Some(micro_usd) => tx.fee(
                    &account,
                    STORAGE_FEE_METER,
                    micro_usd,
                    format!("fba-storage:{account}:{}:{name}", item.fn_sku),
                ),
                None => {
                    tracing::warn!(sku = %item.seller_sku, "storage fee overflows; not charged")
                }
            }
        }
    }
    let mut cursor = book.storage.clone().unwrap_or(StorageCursor {
        charged_through_day: last,
        generation: 0,
    });
    cursor.charged_through_day = last;
    if let Err(e) = tx.save(&account, &mut cursor) {
        tracing::warn!(error = %e, "storage cursor not saved");
        return 0;
    }
    book.storage = Some(cursor);
    last - first + 1
}

/// Folds the next entries at or before `end` into `held_units`.
fn fold_until<'a>(
    entries: &mut std::iter::Peekable<impl Iterator<Item = &'a Entry>>,
    end: i64,
    held_units: &mut HashMap<&'a str, i128>,
) {
    while let Some(e) = entries.next_if(|e| e.at <= end) {
        let m = &e.movement;
        let q = i128::from(m.quantity);
        let d = i128::from(held(m.to)) * q - i128::from(held(m.from)) * q;
        if d != 0 {
            *held_units.entry(m.sku.as_str()).or_default() += d;
        }
    }
}

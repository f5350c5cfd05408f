//! One account's fulfillment state in memory ([`Book`]) and the changes one
//! call makes to it ([`Tx`]).
//!
//! Every write runs as a closure over `(&mut Book, &mut Tx)` on the account's
//! single writer (see `actor.rs`). The closure must **check everything before
//! it changes anything**: a call that returns an error leaves the book as it
//! found it and its `Tx` is dropped. A call that succeeds has changed the book
//! and recorded in its `Tx` what must be persisted (records, ledger entries,
//! events, usage); the writer commits the `Tx`s of a batch in one store commit
//! and only then answers the callers.

use std::collections::{BTreeMap, HashMap};

use nomuck_ledger::{Bucket, Entry, Ledger, Movement};
use nomuck_meta::Millis;
use nomuck_meta::UsageEvent;
use nomuck_meta::fulfillment::{DocRecord, ItemRecord};
use serde_json::Value;

use crate::error::Result;
use crate::inbound::InboundShipment;
use crate::items::Item;
use crate::orders::Order;
use crate::record::{Record, encode};
use crate::returns::Return;
use crate::stock::Bins;

/// One account's state: the ledger and every open record, plus the closed
/// ones seen since start (the store has them all).
#[derive(Debug, Default)]
pub struct Book {
    pub account_id: String,
    pub ledger: Ledger,
    /// By seller SKU.
    pub items: BTreeMap<String, Item>,
    /// fnSku → seller SKU.
    pub fn_skus: HashMap<String, String>,
    pub inbound: BTreeMap<String, InboundShipment>,
    /// Locations of the account's units, by center id.
    pub bins: BTreeMap<String, Bins>,
    /// By sellerFulfillmentOrderId.
    pub orders: BTreeMap<String, Order>,
    /// packageNumber → sellerFulfillmentOrderId.
    pub packages: HashMap<i64, String>,
    /// Packing's idempotency keys ([`crate::stock::center_key`]) → the
    /// package each made (the keys themselves are kept on the packages).
    pub pack_keys: HashMap<String, i64>,
    /// Put-aways made under a key, by [`crate::stock::center_key`].
    pub put_aways: HashMap<String, crate::stock::KeptPutAway>,
    pub returns: BTreeMap<String, Return>,
    /// The last day whose storage fees are metered (none yet: `None`).
    pub storage: Option<crate::storage_fees::StorageCursor>,
    /// The last event seq written (the stream's head).
    pub event_head: i64,
    /// Outbound orders with due work, and the next package number.
    pub outbound: crate::sim::OutboundIndex,
}

/// An event for the account's stream; numbered when its batch commits.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_type: String,
    pub subject: String,
    pub payload: Value,
}

/// What one call changed, to persist in its batch's commit.
#[derive(Debug)]
pub struct Tx {
    /// The call's clock.
    pub now: Millis,
    pub(crate) entries: Vec<Entry>,
    pub(crate) items: Vec<(ItemRecord, Option<i64>)>,
    pub(crate) docs: Vec<(DocRecord, Option<i64>)>,
    pub(crate) events: Vec<NewEvent>,
    pub(crate) usage: Vec<UsageEvent>,
}

impl Tx {
    pub(crate) fn new(now: Millis) -> Self {
        Self {
            now,
            entries: Vec::new(),
            items: Vec::new(),
            docs: Vec::new(),
            events: Vec::new(),
            usage: Vec::new(),
        }
    }

    /// Persists `r` as it is now, one generation up. Call it after every
    /// change to a record, also when one call changes it twice.
    pub fn save<R: Record>(&mut self, account_id: &str, r: &mut R) -> Result<()> {
        let old = r.generation();
        r.set_generation(old + 1);
        let doc = encode(account_id, r, self.now)?;
        self.docs.push((doc, (old > 0).then_some(old)));
        Ok(())
    }

    pub(crate) fn save_item(&mut self, record: ItemRecord, expect_generation: Option<i64>) {
        self.items.push((record, expect_generation));
    }

    /// Adds an event to the account's stream.
    pub fn event(&mut self, event_type: &str, subject: &str, payload: Value) {
        self.events.push(NewEvent {
            event_type: event_type.to_owned(),
            subject: subject.to_owned(),
            payload,
        });
    }

    /// Meters a fee (micro-dollars) exactly once: `key` is unique for what
    /// incurred it.
    pub fn fee(&mut self, account_id: &str, meter: &str, micro_usd: i64, key: String) {
        if micro_usd <= 0 {
            return;
        }
        self.usage.push(UsageEvent {
            account_id: account_id.to_owned(),
            service: crate::METER_SERVICE.to_owned(),
            meter: meter.to_owned(),
            quantity: micro_usd,
            unit: "USD-micro".to_owned(),
            at: self.now,
            idempotency_key: key,
        });
    }
}

impl Book {
    pub fn new(account_id: &str) -> Self {
        Self {
            account_id: account_id.to_owned(),
            ..Self::default()
        }
    }

    /// Applies `movements` to the ledger, all or none, and records the new
    /// entries (a repeated idempotency key adds nothing) with one
    /// `INVENTORY_MOVEMENT` event listing them.
    pub fn move_units(&mut self, tx: &mut Tx, movements: Vec<Movement>) -> Result<Vec<Entry>> {
        let head = self.ledger.last_seq();
        let entries = self.ledger.apply_all(movements, tx.now)?;
        self.record_entries(tx, head, &entries);
        Ok(entries)
    }

    /// Records what a ledger call applied beyond `head` (the seq before it):
    /// the entries, and one `INVENTORY_MOVEMENT` event for all of them. One
    /// event per call rather than per entry: a ten-line order is one fact
    /// for a subscriber, and one stream row instead of ten.
    pub(crate) fn record_entries(&mut self, tx: &mut Tx, head: u64, entries: &[Entry]) {
        let new: Vec<&Entry> = entries.iter().filter(|e| e.seq > head).collect();
        let Some(first) = new.first() else {
            return;
        };
        let movements: Vec<Value> = new
            .iter()
            .map(|e| {
                let seller_sku = self.fn_skus.get(&e.movement.sku).map_or("", String::as_str);
                crate::events::movement_json(e, seller_sku)
            })
            .collect();
        tx.event(
            crate::events::INVENTORY_MOVEMENT,
            &first.movement.reference,
            serde_json::json!({ "movements": movements }),
        );
        tx.entries.extend(new.into_iter().cloned());
    }

    /// Units of `fn_sku` in `bucket` at `center`.
    pub fn units(&self, fn_sku: &str, center: &str, bucket: Bucket) -> u64 {
        self.ledger.summary(fn_sku, center).quantities.get(bucket)
    }
}

//! Fulfillment's part of the persistence seam: the inventory ledger and the
//! item registry, with their own trait ([`FulfillmentStore`], reached through
//! [`crate::MetaStore::fulfillment`]), their own mutations
//! ([`FulfillmentMutation`], committed through [`crate::MetaStore::commit`] so a
//! movement, its fees (usage events) and its events (deliveries) share one
//! transaction), their own migrations and their own conformance cases.
//!
//! These are meta's own records: this crate knows nothing of `nomuck-ledger`;
//! the fulfillment domain converts its `Entry`/`Movement` to and from them.
//!
//! **Sequence numbers.** The ledger is per account: one account never sees
//! another's entries, and each account's `seq` runs 1, 2, 3, … without gaps in
//! commit order, so `after_seq` is a cursor per account. The store assigns
//! seqs (the caller cannot pick a taken one, and two concurrent appends are
//! serialized by the commit, never given the same seq). A writer that mirrors
//! the ledger in memory names the head it last saw (`expect_head`) and gets
//! `Conflict` if another append landed since. The seqs taken are reported in
//! [`crate::CommitReceipt::ledger_seqs`].
//!
//! **Idempotency.** An idempotency key is unique per account. Appending a
//! movement whose key is already in the account's ledger is a no-op if it is
//! the same movement (every field but `at`: a retry carries a later clock),
//! counted in [`crate::CommitReceipt::duplicate_ledger`]; a different movement
//! under a used key is `Conflict` and the whole commit applies nothing.

use serde::{Deserialize, Serialize};

use crate::model::{check_account_id, non_empty};
use crate::{MetaError, Millis};

/// One movement of units between buckets, as the caller hands it in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LedgerMovement {
    /// The fnSku (unique across accounts, see [`ItemRecord::fn_sku`]).
    pub fn_sku: String,
    /// Fulfillment center id (`SIM1`, …).
    pub center_id: String,
    /// `None`: units enter the ledger (a receipt).
    pub from_bucket: Option<String>,
    /// `None`: units leave the ledger (a shipment, a disposal).
    pub to_bucket: Option<String>,
    /// Greater than zero.
    pub quantity: i64,
    pub reason: String,
    /// The order, shipment, receipt, return or adjustment it belongs to.
    pub reference: String,
    /// Unique per account; the same movement twice has one effect.
    pub idempotency_key: String,
}

/// A movement accepted into an account's ledger.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LedgerEntryRecord {
    pub account_id: String,
    /// 1, 2, 3, … per account, without gaps, in commit order.
    pub seq: i64,
    /// Never decreases along `seq` (see [`FulfillmentMutation::AppendLedger`]).
    pub at: Millis,
    pub movement: LedgerMovement,
}

/// Outer dimensions of one unit, in micrometres (SP-API's inches and
/// centimetres both convert exactly enough, and integers keep `Eq`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemDimensions {
    pub length_um: i64,
    pub width_um: i64,
    pub height_um: i64,
}

/// A SKU the seller registered.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ItemRecord {
    pub account_id: String,
    /// Unique per account.
    pub seller_sku: String,
    /// Unique across all accounts; fixed once minted.
    pub fn_sku: String,
    /// Unknown for a SKU first named in an inbound shipment.
    pub dimensions: Option<ItemDimensions>,
    /// Weight of one unit in milligrams.
    pub weight_mg: Option<i64>,
    pub tracks_lots: bool,
    pub tracks_expiry: bool,
    pub created_at: Millis,
    pub generation: i64,
}

/// A state-machine record of the fulfillment domain (an inbound shipment, an
/// order, a return, a warehouse task, …), stored whole as the domain's own
/// serialization: the store indexes it by `(account, kind, id)`, lists it by
/// `updated_at` and knows whether it is still `open` (the domain loads only
/// open records at start), but never looks inside `body`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DocRecord {
    pub account_id: String,
    /// `order`, `inbound`, `return`, … (the domain's names).
    pub kind: String,
    /// Unique per account and kind.
    pub id: String,
    /// Not yet in a final state: work remains.
    pub open: bool,
    pub updated_at: Millis,
    pub generation: i64,
    pub body: Vec<u8>,
}

/// One event of an account's ordered, replayable stream.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct EventRecord {
    pub account_id: String,
    /// 1, 2, 3, … per account, without gaps; chosen by the writer (see
    /// [`FulfillmentMutation::AppendEvents`]).
    pub seq: i64,
    pub at: Millis,
    /// `FULFILLMENT_ORDER_STATUS`, `LEDGER_MOVEMENT`, … (the domain's names).
    pub event_type: String,
    /// What it is about (an order id, a shipment id, an fnSku).
    pub subject: String,
    pub payload: Vec<u8>,
}

/// Fulfillment's writes. Committed with [`crate::Mutation::Fulfillment`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FulfillmentMutation {
    /// Appends `movements` to the account's ledger, in order, at seqs
    /// head+1, head+2, … (repeats of earlier movements take none, see the
    /// module docs). Each entry is stored at `max(at, the head's at)` so time
    /// never runs backwards along the ledger. `expect_head: Some(h)` refuses
    /// with `Conflict` unless the account's last seq is `h` (0: empty).
    AppendLedger {
        account_id: String,
        at: Millis,
        movements: Vec<LedgerMovement>,
        expect_head: Option<i64>,
    },
    /// Insert (`expect_generation: None`: the seller SKU must be new) or
    /// replace the item stored at `expect_generation`; the new generation must
    /// be greater. `Conflict` when the generation moved, the fnSku belongs to
    /// another item, or a replacement changes the fnSku.
    PutItem {
        record: Box<ItemRecord>,
        expect_generation: Option<i64>,
    },
    /// Insert (`expect_generation: None`: the id must be new for its kind) or
    /// replace the record stored at `expect_generation`; the new generation
    /// must be greater. `Conflict` when the generation moved.
    PutDoc {
        record: Box<DocRecord>,
        expect_generation: Option<i64>,
    },
    /// Appends events to the account's stream. The writer numbers them (one
    /// writer per account, the domain's), so the store only checks that they
    /// continue the stream: the first is head+1 and each next one +1, else
    /// `Conflict` and nothing of the commit applies. A stream with gaps or
    /// repeats would break every reader's cursor.
    AppendEvents {
        account_id: String,
        events: Vec<EventRecord>,
    },
}

/// Fulfillment's reads. Every read is scoped to one account except
/// [`FulfillmentStore::item_by_fn_sku`] (fnSkus are global).
#[async_trait::async_trait]
pub trait FulfillmentStore: Send + Sync {
    /// The account's entries with `seq > after_seq`, ascending, at most `limit`.
    async fn ledger_after(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<LedgerEntryRecord>, MetaError>;
    async fn ledger_entry_by_key(
        &self,
        account_id: &str,
        idempotency_key: &str,
    ) -> Result<Option<LedgerEntryRecord>, MetaError>;
    /// The account's last seq; 0 for an empty ledger.
    async fn ledger_head(&self, account_id: &str) -> Result<i64, MetaError>;
    async fn item(
        &self,
        account_id: &str,
        seller_sku: &str,
    ) -> Result<Option<ItemRecord>, MetaError>;
    /// Whoever owns it: the caller checks `account_id` before showing it.
    async fn item_by_fn_sku(&self, fn_sku: &str) -> Result<Option<ItemRecord>, MetaError>;
    /// The account's items with a seller SKU after `after_seller_sku` (byte
    /// order), at most `limit`.
    async fn items(
        &self,
        account_id: &str,
        after_seller_sku: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ItemRecord>, MetaError>;
    async fn doc(
        &self,
        account_id: &str,
        kind: &str,
        id: &str,
    ) -> Result<Option<DocRecord>, MetaError>;
    /// The account's records of `kind` with an id after `after_id` (byte
    /// order), at most `limit`; only open ones with `open_only`.
    async fn docs(
        &self,
        account_id: &str,
        kind: &str,
        after_id: Option<&str>,
        open_only: bool,
        limit: usize,
    ) -> Result<Vec<DocRecord>, MetaError>;
    /// Every account that has a fulfillment record, item, ledger entry or
    /// event: whose books a restarted server must load.
    async fn fulfillment_accounts(&self) -> Result<Vec<String>, MetaError>;
    /// The account's events with `seq > after_seq`, ascending, at most `limit`.
    async fn events_after(
        &self,
        account_id: &str,
        after_seq: i64,
        limit: usize,
    ) -> Result<Vec<EventRecord>, MetaError>;
    /// The account's last event seq; 0 for none.
    async fn event_head(&self, account_id: &str) -> Result<i64, MetaError>;
}

impl FulfillmentMutation {
    /// Rejects malformed records before they reach a backend.
    pub(crate) fn validate(&self) -> Result<(), MetaError> {
        match self {
            Self::AppendLedger {
                account_id,
                movements,
                expect_head,
                ..
            } => {
                check_account_id(account_id)?;
                if movements.is_empty() {
                    return Err(MetaError::Invalid("ledger append without movements".into()));
                }
                if expect_head.is_some_and(|h| h < 0) {
                    return Err(MetaError::Invalid("negative expected ledger head".into()));
                }
                movements.iter().try_for_each(validate_movement)
            }
            Self::PutItem { record, .. } => {
                check_account_id(&record.account_id)?;
                non_empty("seller SKU", &record.seller_sku)?;
                non_empty("fnSku", &record.fn_sku)?;
                let dims = record
                    .dimensions
                    .map(|d| [d.length_um, d.width_um, d.height_um])
                    .unwrap_or([1; 3]);
                if dims.iter().chain(&record.weight_mg).any(|&v| v <= 0) {
                    return Err(MetaError::Invalid(format!(
                        "item {:?}: dimensions and weight must be positive",
                        record.seller_sku
                    )));
                }
                Ok(())
            }
            Self::PutDoc { record, .. } => {
                check_account_id(&record.account_id)?;
                non_empty("record kind", &record.kind)?;
                non_empty("record id", &record.id)?;
                Ok(())
            }
            Self::AppendEvents { account_id, events } => {
                check_account_id(account_id)?;
                if events.is_empty() {
                    return Err(MetaError::Invalid("event append without events".into()));
                }
                for e in events {
                    if e.account_id != *account_id {
                        return Err(MetaError::Invalid(format!(
                            "event {} belongs to {}, not {account_id}",
                            e.seq, e.account_id
                        )));
                    }
                    non_empty("event type", &e.event_type)?;
                }
                Ok(())
            }
        }
    }
}

fn validate_movement(m: &LedgerMovement) -> Result<(), MetaError> {
    non_empty("fnSku", &m.fn_sku)?;
    non_empty("center id", &m.center_id)?;
    non_empty("movement reason", &m.reason)?;
    non_empty("movement idempotency key", &m.idempotency_key)?;
    if m.quantity <= 0 {
        return Err(MetaError::Invalid(format!(
            "movement {:?}: quantity {} is not positive",
            m.idempotency_key, m.quantity
        )));
    }
    for b in [&m.from_bucket, &m.to_bucket].into_iter().flatten() {
        non_empty("bucket", b)?;
    }
    match (&m.from_bucket, &m.to_bucket) {
        (None, None) => Err(MetaError::Invalid(format!(
            "movement {:?} has neither a source nor a destination bucket",
            m.idempotency_key
        ))),
        (Some(f), Some(t)) if f == t => Err(MetaError::Invalid(format!(
            "movement {:?} moves units from {f} to itself",
            m.idempotency_key
        ))),
        _ => Ok(()),
    }
}

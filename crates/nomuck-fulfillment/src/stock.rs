//! Inside a center: put-away to locations, cycle counts and adjustments.
//!
//! Locations are bookkeeping beside the ledger, not part of it: the ledger
//! counts units per (fnSku, center, bucket), which is what inventory and
//! reservations need; where in the building they sit is the center's
//! business, kept in one `bins` record per center of the account. Put-away
//! therefore moves no units.
//!
//! An operation's idempotency key is kept where its effect is, in the same
//! commit: an adjustment's in its ledger entry, a put-away's in a
//! [`KeptPutAway`] record written with the `bins` it changed (a record of
//! its own per key, so `bins` does not grow with every key ever used).

use std::collections::BTreeMap;

use nomuck_ledger::{Bucket, Entry, Movement, Reason};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::Fulfillment;
use crate::book::{Book, Tx};
use crate::error::{FulfillmentError, Result};
use crate::inbound::{MAX_QUANTITY, check_quantity};
use crate::record::Record;

/// Event types of this module.
pub const PUT_AWAY: &str = "PUT_AWAY";
pub const CYCLE_COUNT: &str = "CYCLE_COUNT";
pub const INVENTORY_ADJUSTMENT: &str = "INVENTORY_ADJUSTMENT";

/// A storage location: zone/aisle/bay/level/bin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub zone: String,
    pub aisle: String,
    pub bay: String,
    pub level: String,
    pub bin: String,
}

impl Location {
    /// `zone-aisle-bay-level-bin`: the label on the shelf.
    pub fn code(&self) -> String {
        format!(
            "{}-{}-{}-{}-{}",
            self.zone, self.aisle, self.bay, self.level, self.bin
        )
    }

    fn check(&self) -> Result<()> {
        for (name, v) in [
            ("zone", &self.zone),
            ("aisle", &self.aisle),
            ("bay", &self.bay),
            ("level", &self.level),
            ("bin", &self.bin),
        ] {
            if v.is_empty() || v.len() > 16 || !v.chars().all(|c| c.is_ascii_alphanumeric()) {
                return Err(FulfillmentError::invalid(
                    format!("location.{name}"),
                    "1 to 16 ASCII letters or digits",
                ));
            }
        }
        Ok(())
    }
}

/// Where an account's units sit in one center: fnSku → location code →
/// units (codes, not [`Location`]s, as keys: JSON map keys are strings).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    pub center_id: String,
    pub locations: BTreeMap<String, BTreeMap<String, u64>>,
    pub generation: i64,
}

impl Record for Bins {
    const KIND: &'static str = "bins";
    fn id(&self) -> &str {
        &self.center_id
    }
    /// Always loaded: the center works from it every day.
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

/// A put-away made under an operator's idempotency key: what it asked and
/// what it answered. The same key again at the center answers the same and
/// changes nothing; another request under it is a conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KeptPutAway {
    /// [`center_key`] of the center and the key.
    pub id: String,
    pub seller_sku: String,
    pub quantity: u64,
    /// The location's code.
    pub location: String,
    /// The answer: the SKU's units per location code after it.
    pub locations: BTreeMap<String, u64>,
    pub generation: i64,
}

impl Record for KeptPutAway {
    const KIND: &'static str = "putaway";
    fn id(&self) -> &str {
        &self.id
    }
    /// Nothing is left to do; loaded with the book all the same (every
    /// record is), which is what makes the key durable across a restart.
    fn is_open(&self) -> bool {
        false
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn set_generation(&mut self, generation: i64) {
        self.generation = generation;
    }
}

/// An operator's key scoped to its center: `{centerIdLength}:{centerId}:{key}`
/// (the length makes it unambiguous whatever the key holds).
pub(crate) fn center_key(center: &str, key: &str) -> String {
    format!("{}:{center}:{key}", center.len())
}

/// An operator's idempotency key: 1 to 64 characters, none a control character.
pub(crate) fn check_key(field: &str, key: &str) -> Result<()> {
    let n = key.chars().count();
    if n == 0 || n > 64 || key.chars().any(char::is_control) {
        return Err(FulfillmentError::invalid(
            field,
            "1 to 64 characters, none a control character",
        ));
    }
    Ok(())
}

/// What a cycle count found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CycleCount {
    pub seller_sku: String,
    pub fn_sku: String,
    pub center_id: String,
    /// `FULFILLABLE` before the count.
    pub expected: u64,
    pub counted: u64,
    /// The adjustment's ledger entry, if the count differed.
    pub entry: Option<Entry>,
}

/// A manual move between in-center buckets (damage found on the shelf,
/// research resolved, …).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentSpec {
    pub seller_sku: String,
    pub from: Bucket,
    pub to: Bucket,
    pub quantity: u64,
    /// The caller's id for this adjustment: its idempotency key.
    pub adjustment_id: String,
    pub note: String,
}

fn fn_sku(book: &Book, seller_sku: &str) -> Result<String> {
    book.items
        .get(seller_sku)
        .map(|i| i.fn_sku.clone())
        .ok_or_else(|| FulfillmentError::NotFound(format!("item {seller_sku:?}")))
}

/// Buckets a center's staff may adjust between: the ones physically on its
/// shelves and not promised to an order (reservations belong to orders).
fn adjustable(b: Bucket) -> bool {
    matches!(
        b,
        Bucket::Fulfillable | Bucket::Researching | Bucket::Unfulfillable(_)
    )
}

pub(crate) fn put_away(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    seller_sku: &str,
    quantity: u64,
    location: Location,
    key: Option<&str>,
) -> Result<BTreeMap<String, u64>> {
    check_quantity("quantity", quantity)?;
    location.check()?;
    let kept_id = key
        .map(|k| check_key("idempotencyKey", k).map(|()| center_key(center, k)))
        .transpose()?;
    // A key seen before answers what it answered then, whatever the shelf
    // holds now: the first call had the one effect.
    if let Some(kept) = kept_id.as_ref().and_then(|id| book.put_aways.get(id)) {
        return if kept.seller_sku == seller_sku
            && kept.quantity == quantity
            && kept.location == location.code()
        {
            Ok(kept.locations.clone())
        } else {
            Err(FulfillmentError::Conflict(format!(
                "idempotencyKey {:?} was already used at {center} for another put-away \
                 ({} units of {} to {})",
                key.unwrap_or_default(),
                kept.quantity,
                kept.seller_sku,
                kept.location
            )))
        };
    }
    let fn_sku = fn_sku(book, seller_sku)?;
    // One move shelves at most what is sellable here now; totals across
    // moves are not reconciled with picks (locations are advisory).
    let fulfillable = book.units(&fn_sku, center, Bucket::Fulfillable);
    if quantity > fulfillable {
        return Err(FulfillmentError::Conflict(format!(
            "{seller_sku} has {fulfillable} fulfillable units at {center}, {quantity} put away"
        )));
    }
    let mut bins = book.bins.get(center).cloned().unwrap_or_else(|| Bins {
        center_id: center.to_owned(),
        ..Bins::default()
    });
    let at = bins.locations.entry(fn_sku.clone()).or_default();
    let slot = at.entry(location.code()).or_insert(0);
    *slot = slot.saturating_add(quantity).min(MAX_QUANTITY);
    let now_there = at.clone();
    tx.event(
        PUT_AWAY,
        &fn_sku,
        json!({
            "centerId": center, "sellerSku": seller_sku, "fnSku": fn_sku,
            "location": location.code(), "quantity": quantity,
        }),
    );
    let account = book.account_id.clone();
    tx.save(&account, &mut bins)?;
    if let Some(id) = kept_id {
        let mut kept = KeptPutAway {
            id: id.clone(),
            seller_sku: seller_sku.to_owned(),
            quantity,
            location: location.code(),
            locations: now_there.clone(),
            generation: 0,
        };
        tx.save(&account, &mut kept)?;
        book.put_aways.insert(id, kept);
    }
    book.bins.insert(center.to_owned(), bins);
    Ok(now_there)
}

pub(crate) fn cycle_count(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    seller_sku: &str,
    counted: u64,
) -> Result<CycleCount> {
    if counted > MAX_QUANTITY {
        return Err(FulfillmentError::invalid(
            "counted",
            format!("at most {MAX_QUANTITY}"),
        ));
    }
    let fn_sku = fn_sku(book, seller_sku)?;
    let expected = book.units(&fn_sku, center, Bucket::Fulfillable);
    // Keyed by the ledger's head: a count is of the shelf as it is now, and
    // a retry after it committed finds the shelf matching and moves nothing.
    let key = format!("count/{center}/{fn_sku}/{}", book.ledger.last_seq());
    let movement = |from, to, quantity| Movement {
        sku: fn_sku.clone(),
        center: center.to_owned(),
        from,
        to,
        quantity,
        reason: Reason::Adjustment,
        reference: format!("cycle-count/{center}"),
        idempotency_key: key.clone(),
    };
    let movements = match counted.cmp(&expected) {
        std::cmp::Ordering::Equal => vec![],
        // Found: units nobody knew of enter as fulfillable.
        std::cmp::Ordering::Greater => {
            vec![movement(
                None,
                Some(Bucket::Fulfillable),
                counted - expected,
            )]
        }
        // Missing: to research, not written off, until they are found or lost.
        std::cmp::Ordering::Less => vec![movement(
            Some(Bucket::Fulfillable),
            Some(Bucket::Researching),
            expected - counted,
        )],
    };
    let entry = book.move_units(tx, movements)?.pop();
    tx.event(
        CYCLE_COUNT,
        &fn_sku,
        json!({
            "centerId": center, "sellerSku": seller_sku, "fnSku": fn_sku,
            "expected": expected, "counted": counted,
        }),
    );
    Ok(CycleCount {
        seller_sku: seller_sku.to_owned(),
        fn_sku,
        center_id: center.to_owned(),
        expected,
        counted,
        entry,
    })
}

pub(crate) fn adjust(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    spec: AdjustmentSpec,
) -> Result<Entry> {
    check_quantity("quantity", spec.quantity)?;
    for (field, b) in [("from", spec.from), ("to", spec.to)] {
        if !adjustable(b) {
            return Err(FulfillmentError::invalid(
                field,
                format!("{} is not adjustable by a center", b.name()),
            ));
        }
    }
    if spec.from == spec.to {
        return Err(FulfillmentError::invalid("to", "the same bucket as from"));
    }
    check_key("adjustmentId", &spec.adjustment_id)?;
    if spec.note.chars().count() > 1000 {
        return Err(FulfillmentError::invalid("note", "at most 1000 characters"));
    }
    let fn_sku = fn_sku(book, &spec.seller_sku)?;
    let head = book.ledger.last_seq();
    let mut entries = book.move_units(
        tx,
        vec![Movement {
            sku: fn_sku.clone(),
            center: center.to_owned(),
            from: Some(spec.from),
            to: Some(spec.to),
            quantity: spec.quantity,
            reason: Reason::Adjustment,
            reference: spec.adjustment_id.clone(),
            idempotency_key: format!("adjust/{center}/{}", spec.adjustment_id),
        }],
    )?;
    let entry = entries
        .pop()
        .ok_or_else(|| FulfillmentError::Internal("an adjustment applied nothing".into()))?;
    if entry.seq > head {
        tx.event(
            INVENTORY_ADJUSTMENT,
            &fn_sku,
            json!({
                "centerId": center, "sellerSku": spec.seller_sku, "fnSku": fn_sku,
                "adjustmentId": spec.adjustment_id, "note": spec.note,
                "ledgerSeq": entry.seq,
            }),
        );
    }
    Ok(entry)
}

impl Fulfillment {
    /// Shelves `quantity` units of the SKU at `location` in `center`.
    /// Answers every location code of that SKU there with its units. Under
    /// an `idempotency_key` (per center), the same request again is
    /// answered as the first was and changes nothing; another is a conflict.
    pub async fn put_away(
        &self,
        center: &str,
        account_id: &str,
        seller_sku: &str,
        quantity: u64,
        location: Location,
        idempotency_key: Option<String>,
    ) -> Result<BTreeMap<String, u64>> {
        self.check_center_exists(center)?;
        let (center, sku) = (center.to_owned(), seller_sku.to_owned());
        self.write(account_id, move |b, tx| {
            put_away(
                b,
                tx,
                &center,
                &sku,
                quantity,
                location,
                idempotency_key.as_deref(),
            )
        })
        .await
    }

    /// The account's locations in `center`.
    pub async fn bins(&self, center: &str, account_id: &str) -> Result<Bins> {
        self.check_center_exists(center)?;
        Ok(self
            .read(account_id, |b| b.bins.get(center).cloned())
            .await?
            .unwrap_or_else(|| Bins {
                center_id: center.to_owned(),
                ..Bins::default()
            }))
    }

    /// A count of the SKU's sellable units at `center`: found units enter
    /// `FULFILLABLE`, missing ones go to `RESEARCHING` (reason `Adjustment`).
    pub async fn cycle_count(
        &self,
        center: &str,
        account_id: &str,
        seller_sku: &str,
        counted: u64,
    ) -> Result<CycleCount> {
        self.check_center_exists(center)?;
        let (center, sku) = (center.to_owned(), seller_sku.to_owned());
        self.write(account_id, move |b, tx| {
            cycle_count(b, tx, &center, &sku, counted)
        })
        .await
    }

    /// Moves units between in-center buckets (reason `Adjustment`),
    /// exactly once per `adjustment_id`.
    pub async fn adjust(
        &self,
        center: &str,
        account_id: &str,
        spec: AdjustmentSpec,
    ) -> Result<Entry> {
        self.check_center_exists(center)?;
        let center = center.to_owned();
        self.write(account_id, move |b, tx| adjust(b, tx, &center, spec))
            .await
    }

    pub(crate) fn check_center_exists(&self, center: &str) -> Result<()> {
        self.config()
            .center(center)
            .map(|_| ())
            .ok_or_else(|| FulfillmentError::NotFound(format!("fulfillment center {center:?}")))
    }
}

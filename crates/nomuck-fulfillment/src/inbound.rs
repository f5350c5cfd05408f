//! Inbound shipments (SP-API Fulfillment Inbound v0 shapes, FWS's simple
//! flow): the seller's side. The center's side is `inbound_ops.rs`.
//!
//! Units of a shipment sit in the ledger bucket of its status
//! ([`ShipmentStatus::bucket`]): `INBOUND_WORKING` while the seller prepares
//! it, `INBOUND_SHIPPED` from "shipped" to the dock, `INBOUND_RECEIVING` from
//! check-in until they are received (or found short at close). Every status
//! change is an `INBOUND_SHIPMENT_STATUS` event.

use std::collections::{BTreeMap, BTreeSet};

use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_meta::Millis;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::book::{Book, Tx};
use crate::config::Address;
use crate::error::{FulfillmentError, Result};
use crate::items::{check_seller_sku, ensure_item};
use crate::record::Record;
use crate::{Fulfillment, events};

/// The longest shipment id or name we accept (SP-API's ids are short; this
/// bounds what a client can make us store and echo).
pub const MAX_SHIPMENT_ID_CHARS: usize = 40;
pub const MAX_SHIPMENT_NAME_CHARS: usize = 200;
/// Quantities are SP-API `int32`s.
pub const MAX_QUANTITY: u64 = i32::MAX as u64;

/// Inbound v0 `ShipmentStatus`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentStatus {
    Working,
    Shipped,
    InTransit,
    Delivered,
    CheckedIn,
    Receiving,
    Closed,
    Cancelled,
    Deleted,
    Error,
}

impl ShipmentStatus {
    pub const ALL: [ShipmentStatus; 10] = [
        Self::Working,
        Self::Shipped,
        Self::InTransit,
        Self::Delivered,
        Self::CheckedIn,
        Self::Receiving,
        Self::Closed,
        Self::Cancelled,
        Self::Deleted,
        Self::Error,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Self::Working => "WORKING",
            Self::Shipped => "SHIPPED",
            Self::InTransit => "IN_TRANSIT",
            Self::Delivered => "DELIVERED",
            Self::CheckedIn => "CHECKED_IN",
            Self::Receiving => "RECEIVING",
            Self::Closed => "CLOSED",
            Self::Cancelled => "CANCELLED",
            Self::Deleted => "DELETED",
            Self::Error => "ERROR",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.name() == name)
    }

    /// Where the shipment's expected (not yet received) units are.
    pub fn bucket(self) -> Option<Bucket> {
        match self {
            Self::Working => Some(Bucket::InboundWorking),
            Self::Shipped | Self::InTransit | Self::Delivered => Some(Bucket::InboundShipped),
            Self::CheckedIn | Self::Receiving => Some(Bucket::InboundReceiving),
            _ => None,
        }
    }

    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Closed | Self::Cancelled | Self::Deleted | Self::Error
        )
    }
}

/// One SKU of a shipment (Inbound v0 `InboundShipmentItem`, plus what
/// receiving found).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundItem {
    pub shipment_id: String,
    pub seller_sku: String,
    pub fulfillment_network_sku: String,
    /// Units the seller says are on the shipment.
    pub quantity_shipped: u64,
    /// Every unit received, whatever its condition, over-receipts included.
    pub quantity_received: u64,
    /// Units per case (0: not cased).
    pub quantity_in_case: u64,
    /// Received units by condition name, `Sellable` included.
    pub received_by_condition: BTreeMap<String, u64>,
    /// Units received beyond `quantity_shipped`.
    pub quantity_over: u64,
    /// Units shipped but never received, known at close.
    pub quantity_short: u64,
    pub updated_at: Millis,
}

impl InboundItem {
    /// Expected units not yet received: still in the shipment's bucket.
    pub fn outstanding(&self) -> u64 {
        let expected_received = self.quantity_received.saturating_sub(self.quantity_over);
        self.quantity_shipped
            .saturating_sub(expected_received)
            .saturating_sub(self.quantity_short)
    }
}

/// The grade a receiver gives units at the dock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Condition {
    Sellable,
    WarehouseDamaged,
    CarrierDamaged,
    DistributorDamaged,
    Defective,
    Expired,
}

impl Condition {
    pub fn name(self) -> &'static str {
        match self {
            Self::Sellable => "Sellable",
            Self::WarehouseDamaged => "WarehouseDamaged",
            Self::CarrierDamaged => "CarrierDamaged",
            Self::DistributorDamaged => "DistributorDamaged",
            Self::Defective => "Defective",
            Self::Expired => "Expired",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        [
            Self::Sellable,
            Self::WarehouseDamaged,
            Self::CarrierDamaged,
            Self::DistributorDamaged,
            Self::Defective,
            Self::Expired,
        ]
        .into_iter()
        .find(|c| c.name() == name)
    }

    /// Where units graded so go.
    pub fn bucket(self) -> Bucket {
        use nomuck_ledger::Damage;
        match self {
            Self::Sellable => Bucket::Fulfillable,
            Self::WarehouseDamaged => Bucket::Unfulfillable(Damage::WarehouseDamaged),
            Self::CarrierDamaged => Bucket::Unfulfillable(Damage::CarrierDamaged),
            Self::DistributorDamaged => Bucket::Unfulfillable(Damage::DistributorDamaged),
            Self::Defective => Bucket::Unfulfillable(Damage::Defective),
            Self::Expired => Bucket::Unfulfillable(Damage::Expired),
        }
    }
}

/// One line of a received box.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoxLine {
    pub seller_sku: String,
    pub quantity: u64,
    pub condition: Condition,
}

/// A box received at the dock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReceivedBox {
    pub box_id: String,
    pub lines: Vec<BoxLine>,
    pub received_at: Millis,
}

/// An inbound shipment (Inbound v0 `InboundShipmentInfo` and its items).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundShipment {
    pub shipment_id: String,
    pub shipment_name: String,
    pub ship_from_address: Address,
    pub destination_fulfillment_center_id: String,
    pub shipment_status: ShipmentStatus,
    /// `SELLER_LABEL | AMAZON_LABEL | NO_LABEL` (stored as given).
    pub label_prep_type: String,
    pub are_cases_required: bool,
    pub items: Vec<InboundItem>,
    pub boxes: Vec<ReceivedBox>,
    /// Bumped by every edit of the items: part of the ledger keys of the
    /// edit's movements, so each edit's movements are distinct and a retry of
    /// the same edit (a zero difference) moves nothing.
    pub revision: u64,
    pub created_at: Millis,
    pub updated_at: Millis,
    /// When the seller marked it shipped.
    pub shipped_at: Option<Millis>,
    /// When the simulated operator's next step is due (kept on the record so
    /// a restart continues where it stopped).
    pub sim_due: Option<Millis>,
    /// A center's staff moved it through the warehouse API: the simulated
    /// operator leaves it to them (two operators receiving the same boxes
    /// would count them twice).
    #[serde(default)]
    pub by_hand: bool,
    pub generation: i64,
}

impl Record for InboundShipment {
    const KIND: &'static str = "inbound";
    fn id(&self) -> &str {
        &self.shipment_id
    }
    fn is_open(&self) -> bool {
        !self.shipment_status.is_final()
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn set_generation(&mut self, generation: i64) {
        self.generation = generation;
    }
}

impl InboundShipment {
    pub fn item(&self, seller_sku: &str) -> Option<&InboundItem> {
        self.items.iter().find(|i| i.seller_sku == seller_sku)
    }
}

/// One SKU line of a create or update.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundItemSpec {
    pub seller_sku: String,
    pub quantity_shipped: u64,
    pub quantity_in_case: Option<u64>,
}

/// What the seller sends to create or update a shipment
/// (`InboundShipmentHeader` and `InboundShipmentItems`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboundShipmentSpec {
    pub shipment_name: String,
    pub ship_from_address: Address,
    pub destination_fulfillment_center_id: String,
    pub label_prep_type: String,
    pub are_cases_required: bool,
    /// `WORKING` (the default), `SHIPPED` or `CANCELLED`.
    pub shipment_status: Option<ShipmentStatus>,
    /// The whole list: SKUs left out are taken off the shipment.
    pub items: Vec<InboundItemSpec>,
}

/// Filters of `getShipments`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InboundFilter {
    /// Empty: any.
    pub statuses: Vec<ShipmentStatus>,
    /// Empty: any.
    pub ids: Vec<String>,
    pub updated_after: Option<Millis>,
    pub updated_before: Option<Millis>,
}

pub(crate) fn check_shipment_id(id: &str) -> Result<()> {
    let n = id.chars().count();
    if n == 0 || n > MAX_SHIPMENT_ID_CHARS || id.chars().any(|c| c.is_control() || c == '/') {
        return Err(FulfillmentError::invalid(
            "ShipmentId",
            format!("1 to {MAX_SHIPMENT_ID_CHARS} characters, no '/' or control characters"),
        ));
    }
    Ok(())
}

pub(crate) fn check_quantity(field: &str, q: u64) -> Result<()> {
    if q == 0 || q > MAX_QUANTITY {
        return Err(FulfillmentError::invalid(
            field,
            format!("must be between 1 and {MAX_QUANTITY}"),
        ));
    }
    Ok(())
}

fn check_spec(f: &Fulfillment, spec: &InboundShipmentSpec) -> Result<()> {
    if spec.shipment_name.chars().count() > MAX_SHIPMENT_NAME_CHARS {
        return Err(FulfillmentError::invalid(
            "ShipmentName",
            format!("at most {MAX_SHIPMENT_NAME_CHARS} characters"),
        ));
    }
    if f.config()
        .center(&spec.destination_fulfillment_center_id)
        .is_none()
    {
        return Err(FulfillmentError::invalid(
            "DestinationFulfillmentCenterId",
            format!(
                "no fulfillment center {:?}",
                spec.destination_fulfillment_center_id
            ),
        ));
    }
    if let Some(s) = spec.shipment_status
        && !matches!(
            s,
            ShipmentStatus::Working | ShipmentStatus::Shipped | ShipmentStatus::Cancelled
        )
    {
        return Err(FulfillmentError::invalid(
            "ShipmentStatus",
            "a seller sets WORKING, SHIPPED or CANCELLED",
        ));
    }
    if spec.items.is_empty() {
        return Err(FulfillmentError::invalid(
            "InboundShipmentItems",
            "at least one item",
        ));
    }
    let mut seen = BTreeSet::new();
    for (i, item) in spec.items.iter().enumerate() {
        check_seller_sku(
            &format!("InboundShipmentItems[{i}].SellerSKU"),
            &item.seller_sku,
        )?;
        check_quantity(
            &format!("InboundShipmentItems[{i}].QuantityShipped"),
            item.quantity_shipped,
        )?;
        // v0: QuantityInCase is given for every item or none (all boxes
        // case-packed or none), required when AreCasesRequired, and
        // QuantityShipped is a whole number of cases.
        let field = format!("InboundShipmentItems[{i}].QuantityInCase");
        match item.quantity_in_case {
            Some(c) => {
                check_quantity(&field, c)?;
                if item.quantity_shipped % c != 0 {
                    return Err(FulfillmentError::invalid(
                        field,
                        format!(
                            "QuantityShipped {} is not a whole number of cases of {c}",
                            item.quantity_shipped
                        ),
                    ));
                }
            }
            None if spec.are_cases_required => {
                return Err(FulfillmentError::invalid(
                    field,
                    "required when AreCasesRequired is true",
                ));
            }
            None => {}
        }
        let cased = spec
            .items
            .first()
            .is_some_and(|f| f.quantity_in_case.is_some());
        if item.quantity_in_case.is_some() != cased {
            return Err(FulfillmentError::invalid(
                field,
                "given for every item or for none",
            ));
        }
        if !seen.insert(&item.seller_sku) {
            return Err(FulfillmentError::invalid(
                format!("InboundShipmentItems[{i}].SellerSKU"),
                format!("{:?} appears twice", item.seller_sku),
            ));
        }
    }
    Ok(())
}

/// Records a status change: the record's status and time, the event.
pub(crate) fn set_status(tx: &mut Tx, s: &mut InboundShipment, to: ShipmentStatus) {
    let from = s.shipment_status;
    s.shipment_status = to;
    s.updated_at = tx.now;
    tx.event(
        events::INBOUND_SHIPMENT_STATUS,
        &s.shipment_id,
        json!({
            "shipmentId": s.shipment_id,
            "shipmentStatus": to.name(),
            "previousStatus": (from != to).then_some(from.name()),
            "destinationFulfillmentCenterId": s.destination_fulfillment_center_id,
        }),
    );
}

/// The movements taking every outstanding unit of `s` from `from` to `to`
/// (`None`: out of the ledger), keyed `{shipment}/{fnSku}/{step}`.
pub(crate) fn move_outstanding(
    s: &InboundShipment,
    from: Bucket,
    to: Option<Bucket>,
    reason: Reason,
    step: &str,
) -> Vec<Movement> {
    s.items
        .iter()
        .filter(|i| i.outstanding() > 0)
        .map(|i| Movement {
            sku: i.fulfillment_network_sku.clone(),
            center: s.destination_fulfillment_center_id.clone(),
            from: Some(from),
            to,
            quantity: i.outstanding(),
            reason,
            reference: s.shipment_id.clone(),
            idempotency_key: format!(
                "inbound/{}/{}/{step}",
                s.shipment_id, i.fulfillment_network_sku
            ),
        })
        .collect()
}

/// Whether `spec` asks for nothing `s` does not already have. A create
/// asking `WORKING` is had by every shipment: each was created `WORKING`,
/// and what happened since is later history, not a change the create asks.
fn unchanged(s: &InboundShipment, spec: &InboundShipmentSpec, create: bool) -> bool {
    use ShipmentStatus::*;
    let status_ok = match spec.shipment_status {
        None => true,
        Some(Working) if create => true,
        Some(Shipped) => matches!(
            s.shipment_status,
            Shipped | InTransit | Delivered | CheckedIn | Receiving | Closed
        ),
        Some(t) => t == s.shipment_status,
    };
    let have: BTreeSet<(&str, u64, u64)> = s
        .items
        .iter()
        .filter(|i| i.quantity_shipped > 0)
        .map(|i| {
            (
                i.seller_sku.as_str(),
                i.quantity_shipped,
                i.quantity_in_case,
            )
        })
        .collect();
    let want: BTreeSet<(&str, u64, u64)> = spec
        .items
        .iter()
        .map(|i| {
            (
                i.seller_sku.as_str(),
                i.quantity_shipped,
                i.quantity_in_case.unwrap_or(0),
            )
        })
        .collect();
    status_ok
        && have == want
        && s.shipment_name == spec.shipment_name
        && s.ship_from_address == spec.ship_from_address
        && s.destination_fulfillment_center_id == spec.destination_fulfillment_center_id
        && s.label_prep_type == spec.label_prep_type
        && s.are_cases_required == spec.are_cases_required
}

/// Creates the shipment or replaces its editable parts, then applies the
/// requested status. Checks first; changes only once everything passed.
pub(crate) fn put_shipment(
    book: &mut Book,
    tx: &mut Tx,
    id: &str,
    spec: InboundShipmentSpec,
    minted: &BTreeMap<String, String>,
    create: bool,
) -> Result<InboundShipment> {
    let existing = book.inbound.get(id).cloned();
    let mut s = match (existing, create) {
        (None, false) => return Err(FulfillmentError::NotFound(format!("shipment {id:?}"))),
        // A create repeated as it was is answered below, whatever the status.
        (Some(s), true)
            if s.shipment_status != ShipmentStatus::Working && !unchanged(&s, &spec, true) =>
        {
            return Err(FulfillmentError::Conflict(format!(
                "shipment {id:?} is {} and can no longer be replaced",
                s.shipment_status.name()
            )));
        }
        (Some(s), _) => s,
        (None, true) => InboundShipment {
            shipment_id: id.to_owned(),
            shipment_name: String::new(),
            ship_from_address: Address::default(),
            destination_fulfillment_center_id: spec.destination_fulfillment_center_id.clone(),
            shipment_status: ShipmentStatus::Working,
            label_prep_type: String::new(),
            are_cases_required: false,
            items: Vec::new(),
            boxes: Vec::new(),
            revision: 0,
            created_at: tx.now,
            updated_at: tx.now,
            shipped_at: None,
            sim_due: None,
            by_hand: false,
            generation: 0,
        },
    };
    // A retry of the cancel that ended it answers as it did.
    if spec.shipment_status == Some(ShipmentStatus::Cancelled)
        && matches!(
            s.shipment_status,
            ShipmentStatus::Cancelled | ShipmentStatus::Deleted
        )
    {
        return Ok(s);
    }
    let is_new = s.generation == 0;
    let status = s.shipment_status;
    // A repeat of an earlier request (the seller's "shipped" again after the
    // center moved it on, the same items and header) changes nothing and is
    // answered, whatever the status: clients retry after timeouts.
    if !is_new && unchanged(&s, &spec, create) {
        return Ok(s);
    }
    let Some(bucket) = status.bucket().filter(|b| *b != Bucket::InboundReceiving) else {
        return Err(FulfillmentError::Conflict(format!(
            "shipment {id:?} is {}: its items can no longer change",
            status.name()
        )));
    };
    if s.destination_fulfillment_center_id != spec.destination_fulfillment_center_id
        && status != ShipmentStatus::Working
    {
        return Err(FulfillmentError::Conflict(format!(
            "shipment {id:?} is {}: its destination can no longer change",
            status.name()
        )));
    }
    let target = spec.shipment_status.unwrap_or(status);
    let allowed = target == status
        || matches!(
            (status, target),
            (ShipmentStatus::Working, ShipmentStatus::Shipped)
                | (
                    ShipmentStatus::Working
                        | ShipmentStatus::Shipped
                        | ShipmentStatus::InTransit
                        | ShipmentStatus::Delivered,
                    ShipmentStatus::Cancelled
                )
        );
    if !allowed {
        return Err(FulfillmentError::Conflict(format!(
            "shipment {id:?} cannot go from {} to {}",
            status.name(),
            target.name()
        )));
    }

    // The item difference, all checked by the ledger at once below. A new
    // destination (only while WORKING) moves every unit: out of the old
    // center, into the new one.
    let revision = s.revision + 1;
    let old_center = s.destination_fulfillment_center_id.clone();
    let new_center = spec.destination_fulfillment_center_id.clone();
    let mut movements = Vec::new();
    let key = |fn_sku: &str, dir: &str| format!("inbound/{id}/{fn_sku}/r{revision}/{dir}");
    let fn_sku_of = |book: &Book, sku: &str| -> Option<String> {
        book.items
            .get(sku)
            .map(|i| i.fn_sku.clone())
            .or_else(|| minted.get(sku).cloned())
    };
    let wanted: BTreeMap<&str, u64> = spec
        .items
        .iter()
        .map(|i| (i.seller_sku.as_str(), i.quantity_shipped))
        .collect();
    for old in &s.items {
        let keep = wanted.get(old.seller_sku.as_str()).copied().unwrap_or(0);
        let moved_center = old_center != new_center;
        let out = if moved_center {
            old.quantity_shipped
        } else {
            old.quantity_shipped.saturating_sub(keep)
        };
        if out > 0 {
            movements.push(Movement {
                sku: old.fulfillment_network_sku.clone(),
                center: old_center.clone(),
                from: Some(bucket),
                to: None,
                quantity: out,
                reason: Reason::InboundPlan,
                reference: id.to_owned(),
                idempotency_key: key(&old.fulfillment_network_sku, "out"),
            });
        }
    }
    for line in &spec.items {
        let fn_sku = fn_sku_of(book, &line.seller_sku).ok_or_else(|| {
            FulfillmentError::Internal(format!("no fnSku for {}", line.seller_sku))
        })?;
        let had = s
            .item(&line.seller_sku)
            .filter(|_| old_center == new_center)
            .map_or(0, |i| i.quantity_shipped);
        if line.quantity_shipped > had {
            movements.push(Movement {
                sku: fn_sku.clone(),
                center: new_center.clone(),
                from: None,
                to: Some(bucket),
                quantity: line.quantity_shipped - had,
                reason: Reason::InboundPlan,
                reference: id.to_owned(),
                idempotency_key: key(&fn_sku, "in"),
            });
        }
    }
    // `move_units` is all-or-nothing, so it is the last check: nothing was
    // changed before it, and nothing after it can fail on input.
    let items_changed = !movements.is_empty()
        || s.items.len() != spec.items.len()
        || spec.items.iter().any(|l| {
            s.item(&l.seller_sku)
                .is_none_or(|i| i.quantity_in_case != l.quantity_in_case.unwrap_or(0))
        });
    book.move_units(tx, movements)?;

    // Checked and applied: now change the record.
    let mut items = Vec::with_capacity(spec.items.len());
    for line in &spec.items {
        let fn_sku = ensure_item(book, tx, &line.seller_sku, minted)?;
        let mut item = s.item(&line.seller_sku).cloned().unwrap_or_default();
        item.shipment_id = id.to_owned();
        item.seller_sku = line.seller_sku.clone();
        item.fulfillment_network_sku = fn_sku;
        if item.quantity_shipped != line.quantity_shipped
            || item.quantity_in_case != line.quantity_in_case.unwrap_or(0)
            || item.updated_at == 0
        {
            item.updated_at = tx.now;
        }
        item.quantity_shipped = line.quantity_shipped;
        item.quantity_in_case = line.quantity_in_case.unwrap_or(0);
        items.push(item);
    }
    if items_changed {
        s.revision = revision;
    }
    s.items = items;
    s.shipment_name = spec.shipment_name;
    s.ship_from_address = spec.ship_from_address;
    s.destination_fulfillment_center_id = new_center;
    s.label_prep_type = spec.label_prep_type;
    s.are_cases_required = spec.are_cases_required;
    s.updated_at = tx.now;
    if is_new {
        set_status(tx, &mut s, ShipmentStatus::Working);
    }
    match target {
        ShipmentStatus::Shipped if status == ShipmentStatus::Working => {
            book.move_units(
                tx,
                move_outstanding(
                    &s,
                    Bucket::InboundWorking,
                    Some(Bucket::InboundShipped),
                    Reason::InboundTransit,
                    &format!("r{}/ship", s.revision),
                ),
            )?;
            s.shipped_at = Some(tx.now);
            set_status(tx, &mut s, ShipmentStatus::Shipped);
        }
        ShipmentStatus::Cancelled => {
            book.move_units(
                tx,
                move_outstanding(
                    &s,
                    bucket,
                    None,
                    Reason::InboundPlan,
                    &format!("r{}/cancel", s.revision),
                ),
            )?;
            s.sim_due = None;
            // v0's names: DELETED when cancelled before it left the
            // seller, CANCELLED after.
            let end = if status == ShipmentStatus::Working {
                ShipmentStatus::Deleted
            } else {
                ShipmentStatus::Cancelled
            };
            set_status(tx, &mut s, end);
        }
        _ => {}
    }
    tx.save(&book.account_id.clone(), &mut s)?;
    book.inbound.insert(id.to_owned(), s.clone());
    Ok(s)
}

impl Fulfillment {
    async fn put_inbound(
        &self,
        account_id: &str,
        id: &str,
        spec: InboundShipmentSpec,
        create: bool,
    ) -> Result<InboundShipment> {
        check_shipment_id(id)?;
        check_spec(self, &spec)?;
        let skus = spec.items.iter().map(|i| i.seller_sku.clone()).collect();
        let minted = self.mint_fn_skus(account_id, &skus).await?;
        let id = id.to_owned();
        self.write(account_id, move |book, tx| {
            put_shipment(book, tx, &id, spec, &minted, create)
        })
        .await
    }

    /// `createInboundShipment`: creates the shipment, or replaces it while it
    /// is `WORKING` (the same request again changes nothing). Its units enter
    /// `INBOUND_WORKING`; SKUs not yet registered are registered bare.
    pub async fn create_inbound_shipment(
        &self,
        account_id: &str,
        shipment_id: &str,
        spec: InboundShipmentSpec,
    ) -> Result<InboundShipment> {
        self.put_inbound(account_id, shipment_id, spec, true).await
    }

    /// `updateInboundShipment`: items change until receiving starts (the
    /// difference moves in or out of the shipment's bucket); `SHIPPED` moves
    /// the units to `INBOUND_SHIPPED`; `CANCELLED` takes them out of the
    /// ledger, allowed until check-in.
    pub async fn update_inbound_shipment(
        &self,
        account_id: &str,
        shipment_id: &str,
        spec: InboundShipmentSpec,
    ) -> Result<InboundShipment> {
        self.put_inbound(account_id, shipment_id, spec, false).await
    }

    pub async fn inbound_shipment(
        &self,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<InboundShipment> {
        self.read(account_id, |b| b.inbound.get(shipment_id).cloned())
            .await?
            .ok_or_else(|| FulfillmentError::NotFound(format!("shipment {shipment_id:?}")))
    }

    /// `getShipments`: by id after `after`, at most `limit`.
    pub async fn inbound_shipments(
        &self,
        account_id: &str,
        filter: InboundFilter,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<InboundShipment>> {
        self.read(account_id, |b| {
            b.inbound
                .values()
                .filter(|s| after.is_none_or(|a| s.shipment_id.as_str() > a))
                .filter(|s| {
                    filter.statuses.is_empty() || filter.statuses.contains(&s.shipment_status)
                })
                .filter(|s| filter.ids.is_empty() || filter.ids.contains(&s.shipment_id))
                .filter(|s| filter.updated_after.is_none_or(|t| s.updated_at >= t))
                .filter(|s| filter.updated_before.is_none_or(|t| s.updated_at <= t))
                .take(limit)
                .cloned()
                .collect()
        })
        .await
    }

    /// `getShipmentItemsByShipmentId`.
    pub async fn inbound_items(
        &self,
        account_id: &str,
        shipment_id: &str,
    ) -> Result<Vec<InboundItem>> {
        Ok(self.inbound_shipment(account_id, shipment_id).await?.items)
    }

    /// `getShipmentItems` by `LastUpdatedAfter`/`LastUpdatedBefore`
    /// (inclusive), ordered by shipment id then SKU.
    pub async fn inbound_items_updated(
        &self,
        account_id: &str,
        after: Millis,
        before: Millis,
    ) -> Result<Vec<InboundItem>> {
        self.read(account_id, |b| {
            b.inbound
                .values()
                .flat_map(|s| &s.items)
                .filter(|i| i.updated_at >= after && i.updated_at <= before)
                .cloned()
                .collect()
        })
        .await
    }

    /// `getLabels`: a one-page PDF naming the shipment, its destination and
    /// its box ids (`number_of_packages` boxes; default: one per case, or per
    /// SKU when not cased).
    pub async fn labels(
        &self,
        account_id: &str,
        shipment_id: &str,
        number_of_packages: Option<u32>,
    ) -> Result<Vec<u8>> {
        let s = self.inbound_shipment(account_id, shipment_id).await?;
        if number_of_packages.is_some_and(|n| n == 0 || n > 999) {
            return Err(FulfillmentError::invalid(
                "NumberOfPackages",
                "between 1 and 999",
            ));
        }
        Ok(crate::labels::pdf(&s, number_of_packages))
    }
}

impl Fulfillment {
    /// The seller marks the shipment `SHIPPED` or `CANCELLED`, keeping its
    /// header and items as they are: `updateInboundShipment` with the
    /// shipment's own contents, built inside the write so a concurrent edit
    /// is never overwritten with a stale copy.
    pub async fn set_inbound_status(
        &self,
        account_id: &str,
        shipment_id: &str,
        status: ShipmentStatus,
    ) -> Result<InboundShipment> {
        if !matches!(status, ShipmentStatus::Shipped | ShipmentStatus::Cancelled) {
            return Err(FulfillmentError::invalid(
                "status",
                "a seller sets SHIPPED or CANCELLED",
            ));
        }
        let id = shipment_id.to_owned();
        self.write(account_id, move |book, tx| {
            let s = book
                .inbound
                .get(&id)
                .ok_or_else(|| FulfillmentError::NotFound(format!("shipment {id:?}")))?;
            let spec = InboundShipmentSpec {
                shipment_name: s.shipment_name.clone(),
                ship_from_address: s.ship_from_address.clone(),
                destination_fulfillment_center_id: s.destination_fulfillment_center_id.clone(),
                label_prep_type: s.label_prep_type.clone(),
                are_cases_required: s.are_cases_required,
                shipment_status: Some(status),
                items: s
                    .items
                    .iter()
                    .filter(|i| i.quantity_shipped > 0)
                    .map(|i| InboundItemSpec {
                        seller_sku: i.seller_sku.clone(),
                        quantity_shipped: i.quantity_shipped,
                        quantity_in_case: (i.quantity_in_case > 0).then_some(i.quantity_in_case),
                    })
                    .collect(),
            };
            put_shipment(book, tx, &id, spec, &BTreeMap::new(), false)
        })
        .await
    }
}

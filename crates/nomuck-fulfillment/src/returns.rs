//! Customer returns of fulfillment orders. (To be completed.)

use serde::{Deserialize, Serialize};

use crate::record::Record;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Return {
    pub return_id: String,
    pub generation: i64,
}

impl Record for Return {
    const KIND: &'static str = "return";
    fn id(&self) -> &str {
        &self.return_id
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

// ---- Returns of outbound orders (createFulfillmentReturn and the center's
// receipt of them). Return items live on their order (getFulfillmentOrder
// lists them); each is one unit, as in SP-API.

use nomuck_ledger::{Bucket, Damage, Movement, Reason};

use crate::book::{Book, Tx};
use crate::error::{FulfillmentError, Result};
use crate::order_events::return_received;
use crate::order_ops::{order_of, put_order};
use crate::orders::{ReturnCondition, ReturnItem, ReturnStatus, ShipmentStatus};

/// `ReasonCodeDetails`: (returnReasonCode, description).
pub const RETURN_REASON_CODES: &[(&str, &str)] = &[
    ("CR-UNWANTED_ITEM", "The customer no longer wants the item."),
    ("CR-DEFECTIVE", "The item does not work."),
    (
        "CR-DAMAGED_BY_CARRIER",
        "The item arrived damaged in transit.",
    ),
    (
        "CR-DAMAGED_BY_FC",
        "The item was damaged before it left the center.",
    ),
    ("CR-WRONG_ITEM", "A different item was sent."),
    (
        "CR-ORDERED_WRONG_ITEM",
        "The customer ordered the wrong item.",
    ),
    ("CR-NOT_AS_DESCRIBED", "The item is not as described."),
    ("CR-MISSING_PARTS", "Parts or accessories are missing."),
    ("CR-MISSED_ESTIMATED_DELIVERY", "The item arrived too late."),
    ("CR-NO_REASON_GIVEN", "No reason given."),
];

/// `CreateReturnItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    pub amazon_shipment_id: String,
    pub return_reason_code: String,
    pub return_comment: Option<String>,
}

/// `InvalidReturnItem`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    /// `InvalidItemReasonCode`.
    pub invalid_item_reason: &'static str,
}

/// `CreateFulfillmentReturnResult`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateReturnResult {
    pub return_items: Vec<ReturnItem>,
    pub invalid_return_items: Vec<InvalidReturnItem>,
}

/// createFulfillmentReturn: each valid item becomes a return item `New`;
/// the same `sellerReturnItemId` again returns the existing one.
pub fn create_return(
    book: &mut Book,
    tx: &mut Tx,
    id: &str,
    items: Vec<CreateReturnItem>,
) -> Result<CreateReturnResult> {
    let mut order = order_of(book, id)?;
    if items.is_empty() {
        return Err(FulfillmentError::invalid("items", "at least one item"));
    }
    let mut out = CreateReturnResult::default();
    let mut changed = false;
    for it in items {
        let invalid = |reason| InvalidReturnItem {
            seller_return_item_id: it.seller_return_item_id.clone(),
            seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id.clone(),
            invalid_item_reason: reason,
        };
        if let Some(r) = order
            .return_items
            .iter()
            .find(|r| r.seller_return_item_id == it.seller_return_item_id)
        {
            if r.seller_fulfillment_order_item_id == it.seller_fulfillment_order_item_id
                && r.amazon_shipment_id == it.amazon_shipment_id
            {
                out.return_items.push(r.clone());
            } else {
                out.invalid_return_items.push(invalid("DuplicateRequest"));
            }
            continue;
        }
        let known_reason = RETURN_REASON_CODES
            .iter()
            .any(|(c, _)| *c == it.return_reason_code);
        if it.seller_return_item_id.is_empty()
            || it.seller_return_item_id.chars().count() > 80
            || it
                .return_comment
                .as_ref()
                .is_some_and(|c| c.chars().count() > 1000)
            || !known_reason
        {
            out.invalid_return_items.push(invalid("InvalidValues"));
            continue;
        }
        let shipped = order
            .shipments
            .iter()
            .filter(|s| {
                s.amazon_shipment_id == it.amazon_shipment_id
                    && s.fulfillment_shipment_status == ShipmentStatus::Shipped
            })
            .flat_map(|s| &s.items)
            .filter(|i| i.seller_fulfillment_order_item_id == it.seller_fulfillment_order_item_id)
            .map(|i| i.shipped)
            .sum::<u64>();
        if shipped == 0 {
            out.invalid_return_items
                .push(invalid("NoCompletedShipItems"));
            continue;
        }
        let already = order
            .return_items
            .iter()
            .filter(|r| {
                r.amazon_shipment_id == it.amazon_shipment_id
                    && r.seller_fulfillment_order_item_id == it.seller_fulfillment_order_item_id
            })
            .count() as u64;
        if already >= shipped {
            out.invalid_return_items
                .push(invalid("NoReturnableQuantity"));
            continue;
        }
        let r = ReturnItem {
            seller_return_item_id: it.seller_return_item_id,
            seller_fulfillment_order_item_id: it.seller_fulfillment_order_item_id,
            amazon_shipment_id: it.amazon_shipment_id,
            seller_return_reason_code: it.return_reason_code,
            return_comment: it.return_comment,
            status: ReturnStatus::New,
            status_changed_date: tx.now,
            return_received_condition: None,
            fulfillment_center_id: None,
        };
        out.return_items.push(r.clone());
        order.return_items.push(r);
        changed = true;
    }
    if changed {
        put_order(book, tx, order)?;
    }
    Ok(out)
}

/// Where a returned unit goes, by the condition it came back in.
pub fn return_bucket(c: ReturnCondition) -> Bucket {
    match c {
        ReturnCondition::Sellable => Bucket::Fulfillable,
        ReturnCondition::Defective => Bucket::Unfulfillable(Damage::Defective),
        ReturnCondition::CustomerDamaged => Bucket::Unfulfillable(Damage::CustomerDamaged),
        ReturnCondition::CarrierDamaged => Bucket::Unfulfillable(Damage::CarrierDamaged),
        ReturnCondition::FulfillerDamaged => Bucket::Unfulfillable(Damage::WarehouseDamaged),
    }
}

/// The center receives a returned unit and grades it: it re-enters the
/// ledger (CustomerReturn) in the bucket of its condition; the return item
/// is Processed. Receiving it again is a no-op.
pub fn receive_return(
    book: &mut Book,
    tx: &mut Tx,
    center: &str,
    id: &str,
    return_item_id: &str,
    condition: ReturnCondition,
) -> Result<ReturnItem> {
    let mut order = order_of(book, id)?;
    let k = order
        .return_items
        .iter()
        .position(|r| r.seller_return_item_id == return_item_id)
        .ok_or_else(|| {
            FulfillmentError::NotFound(format!("return item {return_item_id:?} of order {id:?}"))
        })?;
    let r = order
        .return_items
        .get(k)
        .cloned()
        .ok_or_else(|| FulfillmentError::Internal("return".into()))?;
    if r.status == ReturnStatus::Processed {
        return Ok(r);
    }
    let sku = order
        .item(&r.seller_fulfillment_order_item_id)
        .map(|i| (i.fulfillment_network_sku.clone(), i.seller_sku.clone()))
        .ok_or_else(|| FulfillmentError::Internal("return of an unknown line".into()))?;
    book.move_units(
        tx,
        vec![Movement {
            sku: sku.0.clone(),
            center: center.to_owned(),
            from: None,
            to: Some(return_bucket(condition)),
            quantity: 1,
            reason: Reason::CustomerReturn,
            reference: id.to_owned(),
            idempotency_key: format!("return:{}:{id}:{return_item_id}", id.len()),
        }],
    )?;
    let account = book.account_id.clone();
    let r = order
        .return_items
        .get_mut(k)
        .ok_or_else(|| FulfillmentError::Internal("return".into()))?;
    r.status = ReturnStatus::Processed;
    r.status_changed_date = tx.now;
    r.return_received_condition = Some(condition);
    r.fulfillment_center_id = Some(center.to_owned());
    let r = r.clone();
    return_received(tx, &account, &order, &r, &sku.1);
    put_order(book, tx, order)?;
    Ok(r)
}

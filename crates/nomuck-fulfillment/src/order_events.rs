//! The SP-API notifications outbound work emits: `FULFILLMENT_ORDER_STATUS`
//! on every status change (and shipment or return), and the
//! `FBA_INVENTORY_AVAILABILITY_CHANGES` payload (emitted by the writer once
//! per SKU per commit whose fulfillable units changed, see `actor.rs`).

use serde_json::{Value, json};

use crate::book::{Book, NewEvent, Tx};
use crate::events::{FBA_INVENTORY_AVAILABILITY_CHANGES, FULFILLMENT_ORDER_STATUS};
use crate::orders::{Order, OrderStatus, ReturnItem, Shipment};
use crate::time::iso8601;

/// The marketplace an order lands in when the seller names none (US).
pub const DEFAULT_MARKETPLACE: &str = "ATVPDKIKX0DER";

fn shipment_json(s: &Shipment) -> Value {
    json!({
        "FulfillmentShipmentStatus": s.fulfillment_shipment_status.name(),
        "AmazonShipmentId": s.amazon_shipment_id,
        "EstimatedArrivalDateTime": s.estimated_arrival_date.map(iso8601),
        "FulfillmentShipmentPackages": s.packages.iter().map(|p| json!({
            "PackageNumber": p.package_number,
            "CarrierCode": p.carrier_code,
            "TrackingNumber": p.tracking_number,
        })).collect::<Vec<_>>(),
    })
}

/// `FulfillmentOrderStatusNotification` of `order` as it is now. `kind` is
/// the notification's `EventType` (`Order`, `Shipment`, `Return`).
fn notify(
    tx: &mut Tx,
    account: &str,
    order: &Order,
    kind: &str,
    shipment: Option<&Shipment>,
    ret: Option<(&ReturnItem, &str)>,
) {
    let mut n = json!({
        "SellerId": account,
        "EventType": kind,
        "StatusUpdatedDateTime": iso8601(tx.now),
        "SellerFulfillmentOrderId": order.seller_fulfillment_order_id,
        "FulfillmentOrderStatus": order.fulfillment_order_status.name(),
    });
    if let Some(s) = shipment {
        n["FulfillmentShipment"] = shipment_json(s);
    }
    if let Some((r, sku)) = ret {
        n["FulfillmentReturnItem"] = json!({
            "ReceivedDateTime": iso8601(r.status_changed_date),
            "ReturnedQuantity": 1,
            "SellerSKU": sku,
        });
    }
    tx.event(
        FULFILLMENT_ORDER_STATUS,
        &order.seller_fulfillment_order_id,
        json!({ "FulfillmentOrderStatusNotification": n }),
    );
}

/// Moves `order` to `status` (if it is not there) and says so.
pub(crate) fn set_status(tx: &mut Tx, account: &str, order: &mut Order, status: OrderStatus) {
    if order.fulfillment_order_status == status {
        return;
    }
    order.fulfillment_order_status = status;
    order.status_updated_date = tx.now;
    notify(tx, account, order, "Order", None, None);
}

pub(crate) fn shipment_changed(tx: &mut Tx, account: &str, order: &Order, index: usize) {
    notify(
        tx,
        account,
        order,
        "Shipment",
        order.shipments.get(index),
        None,
    );
}

pub(crate) fn return_received(
    tx: &mut Tx,
    account: &str,
    order: &Order,
    r: &ReturnItem,
    sku: &str,
) {
    notify(tx, account, order, "Return", None, Some((r, sku)));
}

/// The `FBA_INVENTORY_AVAILABILITY_CHANGES` payload for one SKU (all
/// centers together).
pub(crate) fn availability(book: &Book, fn_sku: &str) -> NewEvent {
    let d = book.ledger.total(fn_sku).quantities.details();
    let seller_sku = book.fn_skus.get(fn_sku).cloned().unwrap_or_default();
    NewEvent {
        event_type: FBA_INVENTORY_AVAILABILITY_CHANGES.to_owned(),
        subject: fn_sku.to_owned(),
        payload: json!({
            "SellerId": book.account_id,
            "FNSKU": fn_sku,
            "SKU": seller_sku,
            "FulfillmentInventoryByMarketplace": [{
                "MarketplaceId": DEFAULT_MARKETPLACE,
                "FulfillmentInventory": {
                    "InboundQuantityBreakdown": {
                        "Working": d.inbound_working_quantity,
                        "Shipped": d.inbound_shipped_quantity,
                        "Receiving": d.inbound_receiving_quantity,
                    },
                    "Fulfillable": d.fulfillable_quantity,
                    "Unfulfillable": d.unfulfillable_quantity.total_unfulfillable_quantity,
                    "Researching": d.researching_quantity,
                    "ReservedQuantityBreakdown": {
                        "WarehouseProcessing": d.reserved_quantity.fc_processing_quantity,
                        "WarehouseTransfer": d.reserved_quantity.pending_transshipment_quantity,
                        "PendingCustomerOrder": d.reserved_quantity.pending_customer_order_quantity,
                    },
                },
            }],
        }),
    }
}

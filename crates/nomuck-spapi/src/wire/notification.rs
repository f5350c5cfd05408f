//! The SP-API notification envelope and the two payloads nomuck sends in it
//! (`FULFILLMENT_ORDER_STATUS`, `FBA_INVENTORY_AVAILABILITY_CHANGES`). PascalCase on the
//! wire, as in Amazon's notification schemas.

use serde::{Deserialize, Serialize};

use crate::date::Timestamp;

pub const FULFILLMENT_ORDER_STATUS: &str = "FULFILLMENT_ORDER_STATUS";
pub const FBA_INVENTORY_AVAILABILITY_CHANGES: &str = "FBA_INVENTORY_AVAILABILITY_CHANGES";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Notification<P> {
    /// `"1.0"`.
    pub notification_version: String,
    pub notification_type: String,
    /// `"1.0"`.
    pub payload_version: String,
    pub event_time: Timestamp,
    pub payload: P,
    pub notification_metadata: NotificationMetadata,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationMetadata {
    pub application_id: String,
    pub subscription_id: String,
    pub publish_time: Timestamp,
    /// The event id: receivers de-duplicate by it.
    pub notification_id: String,
}

/// `Payload` of `FULFILLMENT_ORDER_STATUS`: one key wrapping the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FulfillmentOrderStatusPayload {
    pub fulfillment_order_status_notification: FulfillmentOrderStatusNotification,
}

/// What changed: the order itself, one of its shipments, or a return.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentEventType {
    Order,
    Shipment,
    Return,
}

/// The schema lists `FulfillmentShipment` and `FulfillmentReturnItem` as required, but
/// only one of them can describe a given event (Amazon's own notifications carry the one
/// that applies); nomuck sends the one matching `EventType` and omits the other.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FulfillmentOrderStatusNotification {
    pub seller_id: String,
    pub event_type: FulfillmentEventType,
    pub status_updated_date_time: Timestamp,
    pub seller_fulfillment_order_id: String,
    /// The order status (`New`, …, `Complete`), as in Outbound 2020-07-01.
    pub fulfillment_order_status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_shipment: Option<NotificationShipment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_return_item: Option<NotificationReturnItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationShipment {
    pub fulfillment_shipment_status: String,
    pub amazon_shipment_id: String,
    pub estimated_arrival_date_time: Timestamp,
    pub fulfillment_shipment_packages: Vec<NotificationPackage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationPackage {
    pub package_number: i32,
    pub carrier_code: String,
    pub tracking_number: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NotificationReturnItem {
    pub received_date_time: Timestamp,
    pub returned_quantity: i64,
    #[serde(rename = "SellerSKU")]
    pub seller_sku: String,
}

/// `Payload` of `FBA_INVENTORY_AVAILABILITY_CHANGES`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryAvailabilityPayload {
    pub seller_id: String,
    #[serde(rename = "FNSKU")]
    pub fnsku: String,
    /// nomuck has no catalog; the fnSku stands in.
    #[serde(rename = "ASIN")]
    pub asin: String,
    #[serde(rename = "SKU")]
    pub sku: String,
    pub fulfillment_inventory_by_marketplace: Vec<InventoryByMarketplace>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InventoryByMarketplace {
    pub marketplace_id: String,
    pub item_name: String,
    pub fulfillment_inventory: FulfillmentInventory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores: Option<Vec<String>>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FulfillmentInventory {
    pub inbound_quantity_breakdown: InboundQuantityBreakdown,
    pub fulfillable: i64,
    pub unfulfillable: i64,
    pub researching: i64,
    pub reserved_quantity_breakdown: ReservedQuantityBreakdown,
    pub future_supply_buyable: i64,
    pub pending_customer_order_in_transit: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundQuantityBreakdown {
    pub working: i64,
    pub shipped: i64,
    pub receiving: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReservedQuantityBreakdown {
    pub warehouse_processing: i64,
    pub warehouse_transfer: i64,
    pub pending_customer_order: i64,
}

//! Fulfillment Outbound 2020-07-01: reply bodies (each wrapped in
//! [`super::Payload`] by the handler).

use serde::{Deserialize, Serialize};

use super::outbound::{
    Address, DeliveryWindow, FeatureSettings, FulfillmentAction, FulfillmentOrderStatus,
    FulfillmentPolicy, Money, ShippingSpeedCategory,
};
use crate::date::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum WeightUnit {
    #[serde(rename = "KG")]
    Kg,
    Kilograms,
    #[serde(rename = "LB")]
    Lb,
    Pounds,
}

/// The model types `value` as a string (a decimal).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weight {
    pub unit: WeightUnit,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeeName {
    #[serde(rename = "FBAPerUnitFulfillmentFee")]
    PerUnitFulfillment,
    #[serde(rename = "FBAPerOrderFulfillmentFee")]
    PerOrderFulfillment,
    #[serde(rename = "FBATransportationFee")]
    Transportation,
    #[serde(rename = "FBAFulfillmentCODFee")]
    FulfillmentCod,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fee {
    pub name: FeeName,
    pub amount: Money,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentPreviewItem {
    pub seller_sku: String,
    pub quantity: i64,
    pub seller_fulfillment_order_item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_shipping_weight: Option<Weight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_weight_calculation_method: Option<WeightCalculationMethod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum WeightCalculationMethod {
    Package,
    Dimensional,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentPreviewShipment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_ship_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_ship_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub earliest_arrival_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latest_arrival_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_notes: Option<Vec<String>>,
    pub fulfillment_preview_items: Vec<FulfillmentPreviewItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfulfillablePreviewItem {
    pub seller_sku: String,
    pub quantity: i64,
    pub seller_fulfillment_order_item_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_unfulfillable_reasons: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduledDeliveryInfo {
    pub delivery_time_zone: String,
    pub delivery_windows: Vec<DeliveryWindow>,
}

/// One speed's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentPreview {
    pub shipping_speed_category: ShippingSpeedCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduled_delivery_info: Option<ScheduledDeliveryInfo>,
    pub is_fulfillable: bool,
    #[serde(rename = "isCODCapable")]
    pub is_cod_capable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_shipping_weight: Option<Weight>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_fees: Option<Vec<Fee>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_preview_shipments: Option<Vec<FulfillmentPreviewShipment>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unfulfillable_preview_items: Option<Vec<UnfulfillablePreviewItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_unfulfillable_reasons: Option<Vec<String>>,
    pub marketplace_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFulfillmentPreviewResult {
    pub fulfillment_previews: Vec<FulfillmentPreview>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrder {
    pub seller_fulfillment_order_id: String,
    pub marketplace_id: String,
    pub displayable_order_id: String,
    pub displayable_order_date: Timestamp,
    pub displayable_order_comment: String,
    pub shipping_speed_category: ShippingSpeedCategory,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_window: Option<DeliveryWindow>,
    pub destination_address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_action: Option<FulfillmentAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_policy: Option<FulfillmentPolicy>,
    pub received_date: Timestamp,
    pub fulfillment_order_status: FulfillmentOrderStatus,
    pub status_updated_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentOrderItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_network_sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_item_disposition: Option<String>,
    pub cancelled_quantity: i64,
    pub unfulfillable_quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_ship_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_tax: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_declared_value: Option<Money>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum FulfillmentShipmentStatus {
    Pending,
    Shipped,
    CancelledByFulfiller,
    CancelledBySeller,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentShipmentItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub package_number: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serial_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manufacturer_lot_codes: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentShipmentPackage {
    pub package_number: i32,
    pub carrier_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FulfillmentShipment {
    pub amazon_shipment_id: String,
    pub fulfillment_center_id: String,
    pub fulfillment_shipment_status: FulfillmentShipmentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_notes: Option<Vec<String>>,
    pub fulfillment_shipment_item: Vec<FulfillmentShipmentItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_shipment_package: Option<Vec<FulfillmentShipmentPackage>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentReturnItemStatus {
    New,
    Processed,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ReturnItemDisposition {
    Sellable,
    Defective,
    CustomerDamaged,
    CarrierDamaged,
    FulfillerDamaged,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    pub amazon_shipment_id: String,
    pub seller_return_reason_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub amazon_return_reason_code: Option<String>,
    pub status: FulfillmentReturnItemStatus,
    pub status_changed_date: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_authorization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_received_condition: Option<ReturnItemDisposition>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_center_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnAuthorization {
    pub return_authorization_id: String,
    pub fulfillment_center_id: String,
    pub return_to_address: Address,
    pub amazon_rma_id: String,
    #[serde(rename = "rmaPageURL")]
    pub rma_page_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFulfillmentOrderResult {
    pub fulfillment_order: FulfillmentOrder,
    pub fulfillment_order_items: Vec<FulfillmentOrderItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_shipments: Option<Vec<FulfillmentShipment>>,
    pub return_items: Vec<ReturnItem>,
    pub return_authorizations: Vec<ReturnAuthorization>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListAllFulfillmentOrdersResult {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
    /// Optional in the model; always sent, `[]` when there are none.
    pub fulfillment_orders: Vec<FulfillmentOrder>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum CurrentStatus {
    InTransit,
    Delivered,
    Returning,
    Returned,
    Undeliverable,
    Delayed,
    AvailableForPickup,
    CustomerAction,
    Unknown,
    OutForDelivery,
    DeliveryAttempted,
    PickupSuccessful,
    PickupCancelled,
    PickupAttempted,
    PickupScheduled,
    ReturnRequestAccepted,
    RefundIssued,
    ReturnReceivedInFc,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingAddress {
    pub city: String,
    pub state: String,
    pub country: String,
}

/// `EVENT_101` (carrier picked up), `EVENT_301` (delivered), … as the model lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TrackingEvent {
    pub event_date: Timestamp,
    pub event_address: TrackingAddress,
    pub event_code: String,
    pub event_description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DateRange {
    pub earliest: Timestamp,
    pub latest: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageTrackingDetails {
    pub package_number: i32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer_tracking_link: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_phone_number: Option<String>,
    #[serde(
        default,
        rename = "carrierURL",
        skip_serializing_if = "Option::is_none"
    )]
    pub carrier_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimated_arrival_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_to_address: Option<TrackingAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status: Option<CurrentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_status_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_window: Option<DateRange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_for_by: Option<String>,
    /// Optional in the model; always sent, `[]` before the first scan.
    pub tracking_events: Vec<TrackingEvent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReasonCodeDetails {
    pub return_reason_code: String,
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub translated_description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListReturnReasonCodesResult {
    pub reason_code_details: Vec<ReasonCodeDetails>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum InvalidItemReasonCode {
    InvalidValues,
    DuplicateRequest,
    NoCompletedShipItems,
    NoReturnableQuantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidItemReason {
    pub invalid_item_reason_code: InvalidItemReasonCode,
    pub description: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InvalidReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    pub invalid_item_reason: InvalidItemReason,
}

/// All three lists are optional in the model; always sent here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFulfillmentReturnResult {
    pub return_items: Vec<ReturnItem>,
    pub invalid_return_items: Vec<InvalidReturnItem>,
    pub return_authorizations: Vec<ReturnAuthorization>,
}

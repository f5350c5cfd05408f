//! Fulfillment Outbound 2020-07-01: request bodies and the types they share with replies.

use serde::{Deserialize, Serialize};

use crate::date::Timestamp;
use crate::decimal::Decimal;
use crate::error::ApiError;
use crate::json::{Quantity, Validate, non_empty, optional, required};

/// `sellerFulfillmentOrderId`, `displayableOrderId`: `maxLength: 40`.
pub const ORDER_ID_MAX: usize = 40;
/// `sellerSku`, `sellerFulfillmentOrderItemId`: `maxLength: 50`.
pub const SKU_MAX: usize = 50;
/// Most items one order or preview may carry. The models set no limit; this bounds the
/// work one request can ask for.
pub const ITEMS_MAX: usize = 250;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Money {
    pub currency_code: String,
    pub value: Decimal,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line3: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_or_county: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_or_region: Option<String>,
    pub postal_code: String,
    pub country_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
}

impl Address {
    /// `field` is the address's own path (`destinationAddress`), for error details.
    pub fn check(&self, field: &str) -> Result<(), ApiError> {
        required(&format!("{field}.name"), &self.name, 250)?;
        required(&format!("{field}.addressLine1"), &self.address_line1, 250)?;
        for (name, value) in [
            ("addressLine2", &self.address_line2),
            ("addressLine3", &self.address_line3),
            ("city", &self.city),
            ("districtOrCounty", &self.district_or_county),
            ("stateOrRegion", &self.state_or_region),
            ("phone", &self.phone),
        ] {
            optional(&format!("{field}.{name}"), value.as_deref(), 250)?;
        }
        required(&format!("{field}.postalCode"), &self.postal_code, 40)?;
        required(&format!("{field}.countryCode"), &self.country_code, 2)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ShippingSpeedCategory {
    Standard,
    Expedited,
    Priority,
    ScheduledDelivery,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentAction {
    Ship,
    Hold,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentPolicy {
    FillOrKill,
    FillAll,
    FillAllAvailable,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum FulfillmentOrderStatus {
    New,
    Received,
    Planning,
    Processing,
    Cancelled,
    Complete,
    CompletePartialled,
    Unfulfillable,
    Invalid,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeliveryWindow {
    pub start_date: Timestamp,
    pub end_date: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FeatureSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_fulfillment_policy: Option<FeatureFulfillmentPolicy>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum FeatureFulfillmentPolicy {
    Required,
    NotRequired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFulfillmentPreviewItem {
    pub seller_sku: String,
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_declared_value: Option<Money>,
    pub seller_fulfillment_order_item_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetFulfillmentPreviewRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    pub address: Address,
    pub items: Vec<GetFulfillmentPreviewItem>,
    /// Absent or empty: every speed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_speed_categories: Option<Vec<ShippingSpeedCategory>>,
    #[serde(
        default,
        rename = "includeCODFulfillmentPreview",
        skip_serializing_if = "Option::is_none"
    )]
    pub include_cod_fulfillment_preview: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub include_delivery_windows: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
}

impl Validate for GetFulfillmentPreviewRequest {
    fn validate(&self) -> Result<(), ApiError> {
        self.address.check("address")?;
        non_empty("items", &self.items, ITEMS_MAX)?;
        for (i, item) in self.items.iter().enumerate() {
            required(&format!("items[{i}].sellerSku"), &item.seller_sku, SKU_MAX)?;
            required(
                &format!("items[{i}].sellerFulfillmentOrderItemId"),
                &item.seller_fulfillment_order_item_id,
                SKU_MAX,
            )?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFulfillmentOrderItem {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_network_sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_declared_value: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_tax: Option<Money>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFulfillmentOrderRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    pub seller_fulfillment_order_id: String,
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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_from_country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
    pub items: Vec<CreateFulfillmentOrderItem>,
}

impl Validate for CreateFulfillmentOrderRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required(
            "sellerFulfillmentOrderId",
            &self.seller_fulfillment_order_id,
            ORDER_ID_MAX,
        )?;
        required(
            "displayableOrderId",
            &self.displayable_order_id,
            ORDER_ID_MAX,
        )?;
        required(
            "displayableOrderComment",
            &self.displayable_order_comment,
            750,
        )?;
        self.destination_address.check("destinationAddress")?;
        check_emails(self.notification_emails.as_deref())?;
        non_empty("items", &self.items, ITEMS_MAX)?;
        let mut item_ids = std::collections::HashSet::new();
        for (i, item) in self.items.iter().enumerate() {
            required(&format!("items[{i}].sellerSku"), &item.seller_sku, SKU_MAX)?;
            let id_field = format!("items[{i}].sellerFulfillmentOrderItemId");
            required(&id_field, &item.seller_fulfillment_order_item_id, SKU_MAX)?;
            if !item_ids.insert(item.seller_fulfillment_order_item_id.as_str()) {
                return Err(ApiError::invalid_input(format!(
                    "{id_field} '{}' appears more than once",
                    item.seller_fulfillment_order_item_id
                )));
            }
            item_texts(
                i,
                item.gift_message.as_deref(),
                item.displayable_comment.as_deref(),
            )?;
            optional(
                &format!("items[{i}].fulfillmentNetworkSku"),
                item.fulfillment_network_sku.as_deref(),
                SKU_MAX,
            )?;
        }
        Ok(())
    }
}

/// The free-text fields of an order line: `giftMessage` ≤ 512, `displayableComment` ≤ 250.
fn item_texts(
    i: usize,
    gift_message: Option<&str>,
    displayable_comment: Option<&str>,
) -> Result<(), ApiError> {
    optional(&format!("items[{i}].giftMessage"), gift_message, 512)?;
    optional(
        &format!("items[{i}].displayableComment"),
        displayable_comment,
        250,
    )
}

fn check_emails(emails: Option<&[String]>) -> Result<(), ApiError> {
    for (i, email) in emails.unwrap_or_default().iter().enumerate() {
        required(&format!("notificationEmails[{i}]"), email, 64)?;
    }
    Ok(())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFulfillmentOrderItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_sku: Option<String>,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: Quantity,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gift_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_network_sku: Option<String>,
    /// `Sellable` or `Unsellable`: this network fulfills sellable units only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_item_disposition: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_declared_value: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_tax: Option<Money>,
}

/// Every field optional: only what is sent changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateFulfillmentOrderRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub marketplace_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_order_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_order_date: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub displayable_order_comment: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipping_speed_category: Option<ShippingSpeedCategory>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_address: Option<Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_action: Option<FulfillmentAction>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_policy: Option<FulfillmentPolicy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_from_country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification_emails: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub feature_constraints: Option<Vec<FeatureSettings>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<UpdateFulfillmentOrderItem>>,
}

impl Validate for UpdateFulfillmentOrderRequest {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(id) = &self.displayable_order_id {
            required("displayableOrderId", id, ORDER_ID_MAX)?;
        }
        optional(
            "displayableOrderComment",
            self.displayable_order_comment.as_deref(),
            750,
        )?;
        if let Some(address) = &self.destination_address {
            address.check("destinationAddress")?;
        }
        check_emails(self.notification_emails.as_deref())?;
        for (i, item) in self.items.iter().flatten().enumerate() {
            optional(
                &format!("items[{i}].sellerSku"),
                item.seller_sku.as_deref(),
                SKU_MAX,
            )?;
            required(
                &format!("items[{i}].sellerFulfillmentOrderItemId"),
                &item.seller_fulfillment_order_item_id,
                SKU_MAX,
            )?;
            item_texts(
                i,
                item.gift_message.as_deref(),
                item.displayable_comment.as_deref(),
            )?;
            optional(
                &format!("items[{i}].fulfillmentNetworkSku"),
                item.fulfillment_network_sku.as_deref(),
                SKU_MAX,
            )?;
            if let Some(d) = item
                .order_item_disposition
                .as_deref()
                .filter(|d| *d != "Sellable")
            {
                return Err(ApiError::invalid_input(format!(
                    "items[{i}].orderItemDisposition '{}' is not served: orders are filled from sellable units only (Sellable)",
                    d.chars().take(20).collect::<String>()
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    pub amazon_shipment_id: String,
    pub return_reason_code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub return_comment: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateFulfillmentReturnRequest {
    pub items: Vec<CreateReturnItem>,
}

impl Validate for CreateFulfillmentReturnRequest {
    fn validate(&self) -> Result<(), ApiError> {
        non_empty("items", &self.items, ITEMS_MAX)?;
        for (i, item) in self.items.iter().enumerate() {
            required(
                &format!("items[{i}].sellerReturnItemId"),
                &item.seller_return_item_id,
                80,
            )?;
            required(
                &format!("items[{i}].sellerFulfillmentOrderItemId"),
                &item.seller_fulfillment_order_item_id,
                SKU_MAX,
            )?;
            required(
                &format!("items[{i}].amazonShipmentId"),
                &item.amazon_shipment_id,
                ORDER_ID_MAX,
            )?;
            required(
                &format!("items[{i}].returnReasonCode"),
                &item.return_reason_code,
                ORDER_ID_MAX,
            )?;
            optional(
                &format!("items[{i}].returnComment"),
                item.return_comment.as_deref(),
                1000,
            )?;
        }
        Ok(())
    }
}

/// Sandbox-style forced status change (`PUT …/{id}/status`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubmitFulfillmentOrderStatusUpdateRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_order_status: Option<FulfillmentOrderStatus>,
}

impl Validate for SubmitFulfillmentOrderStatusUpdateRequest {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// `PUT …/{id}/cancel` carries no body; accept (and ignore) whatever object is sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoBody {}

impl Validate for NoBody {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

//! Fulfillment Inbound v0 (PascalCase on the wire). `createInboundShipment` and
//! `updateInboundShipment` come from the model as it stood before Amazon removed those
//! operations (they share `InboundShipmentRequest`).

use serde::{Deserialize, Serialize};

use crate::date::DateOnly;
use crate::error::ApiError;
use crate::json::{Count, Quantity, Validate, non_empty, optional, required};

/// Seller-chosen shipment ids. The model sets no limit; Amazon's own are 12 characters.
pub const SHIPMENT_ID_MAX: usize = 40;
/// Most distinct SKUs on one inbound shipment.
pub const SHIPMENT_ITEMS_MAX: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ShipmentStatus {
    Working,
    ReadyToShip,
    Shipped,
    Receiving,
    Cancelled,
    Deleted,
    Closed,
    Error,
    InTransit,
    Delivered,
    CheckedIn,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabelPrepPreference {
    SellerLabel,
    AmazonLabelOnly,
    AmazonLabelPreferred,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum LabelPrepType {
    NoLabel,
    SellerLabel,
    AmazonLabel,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BoxContentsSource {
    #[serde(rename = "NONE")]
    None,
    #[serde(rename = "FEED")]
    Feed,
    #[serde(rename = "2D_BARCODE")]
    Barcode2d,
    #[serde(rename = "INTERACTIVE")]
    Interactive,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub name: String,
    pub address_line1: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_line2: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub district_or_county: Option<String>,
    pub city: String,
    pub state_or_province_code: String,
    pub country_code: String,
    pub postal_code: String,
}

impl Address {
    fn check(&self, field: &str) -> Result<(), ApiError> {
        required(&format!("{field}.Name"), &self.name, 50)?;
        required(&format!("{field}.AddressLine1"), &self.address_line1, 180)?;
        optional(
            &format!("{field}.AddressLine2"),
            self.address_line2.as_deref(),
            60,
        )?;
        optional(
            &format!("{field}.DistrictOrCounty"),
            self.district_or_county.as_deref(),
            25,
        )?;
        required(&format!("{field}.City"), &self.city, 30)?;
        required(
            &format!("{field}.StateOrProvinceCode"),
            &self.state_or_province_code,
            30,
        )?;
        required(&format!("{field}.CountryCode"), &self.country_code, 2)?;
        required(&format!("{field}.PostalCode"), &self.postal_code, 30)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrepDetails {
    pub prep_instruction: String,
    pub prep_owner: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundShipmentHeader {
    pub shipment_name: String,
    pub ship_from_address: Address,
    pub destination_fulfillment_center_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub are_cases_required: Option<bool>,
    pub shipment_status: ShipmentStatus,
    pub label_prep_preference: LabelPrepPreference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intended_box_contents_source: Option<BoxContentsSource>,
}

/// One line of a shipment, in requests and in `getShipmentItems` replies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundShipmentItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    #[serde(rename = "SellerSKU")]
    pub seller_sku: String,
    #[serde(
        default,
        rename = "FulfillmentNetworkSKU",
        skip_serializing_if = "Option::is_none"
    )]
    pub fulfillment_network_sku: Option<String>,
    pub quantity_shipped: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_received: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity_in_case: Option<Count>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<DateOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prep_details_list: Option<Vec<PrepDetails>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundShipmentRequest {
    pub inbound_shipment_header: InboundShipmentHeader,
    pub inbound_shipment_items: Vec<InboundShipmentItem>,
    pub marketplace_id: String,
}

impl Validate for InboundShipmentRequest {
    fn validate(&self) -> Result<(), ApiError> {
        let header = &self.inbound_shipment_header;
        required(
            "InboundShipmentHeader.ShipmentName",
            &header.shipment_name,
            200,
        )?;
        header
            .ship_from_address
            .check("InboundShipmentHeader.ShipFromAddress")?;
        required(
            "InboundShipmentHeader.DestinationFulfillmentCenterId",
            &header.destination_fulfillment_center_id,
            SHIPMENT_ID_MAX,
        )?;
        required("MarketplaceId", &self.marketplace_id, 40)?;
        non_empty(
            "InboundShipmentItems",
            &self.inbound_shipment_items,
            SHIPMENT_ITEMS_MAX,
        )?;
        let mut skus = std::collections::HashSet::new();
        for (i, item) in self.inbound_shipment_items.iter().enumerate() {
            let field = format!("InboundShipmentItems[{i}].SellerSKU");
            required(&field, &item.seller_sku, super::outbound::SKU_MAX)?;
            if !skus.insert(item.seller_sku.as_str()) {
                return Err(ApiError::invalid_input(format!(
                    "{field} '{}' appears more than once",
                    item.seller_sku
                )));
            }
            // Shipping zero of a SKU is meaningless; the model's Quantity is int32.
            if Quantity::new(item.quantity_shipped.get()).is_none() {
                return Err(ApiError::invalid_input(format!(
                    "InboundShipmentItems[{i}].QuantityShipped must be between 1 and {}",
                    Quantity::MAX
                )));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundShipmentResult {
    pub shipment_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InboundShipmentInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_name: Option<String>,
    pub ship_from_address: Address,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub destination_fulfillment_center_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shipment_status: Option<ShipmentStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_prep_type: Option<LabelPrepType>,
    pub are_cases_required: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirmed_need_by_date: Option<DateOnly>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub box_contents_source: Option<BoxContentsSource>,
}

/// `getShipments`; `ShipmentData` is optional in the model, always sent here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShipmentsResult {
    pub shipment_data: Vec<InboundShipmentInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `getShipmentItems` and `getShipmentItemsByShipmentId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetShipmentItemsResult {
    pub item_data: Vec<InboundShipmentItem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// `getLabels`: where to download the labels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LabelDownloadUrl {
    #[serde(rename = "DownloadURL")]
    pub download_url: String,
}

//! nomuck's own `/fws/v1` shapes for what SP-API has no model for: centers, the item
//! registry, the ledger, the event stream, inventory as of a moment. camelCase JSON,
//! lists as `{"<things>": [...], "nextToken"?}`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::inbound::ShipmentStatus;
use super::outbound::Address;
use crate::date::Timestamp;
use crate::decimal::Decimal;
use crate::error::ApiError;
use crate::json::Validate;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessingTimes {
    pub receive_hours: u32,
    pub pick_pack_hours: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Center {
    pub center_id: String,
    pub name: String,
    pub address: Address,
    /// IANA name (`America/Los_Angeles`).
    pub time_zone: String,
    pub capacity_units_per_day: u64,
    pub processing_times: ProcessingTimes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CenterList {
    pub centers: Vec<Center>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LengthUnit {
    Inches,
    Centimeters,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MassUnit {
    Pounds,
    Kilograms,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Dimensions {
    pub length: Decimal,
    pub width: Decimal,
    pub height: Decimal,
    pub unit_of_measurement: LengthUnit,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemWeight {
    pub value: Decimal,
    pub unit: MassUnit,
}

fn positive(field: &str, value: &Decimal) -> Result<(), ApiError> {
    if value.mantissa() <= 0 {
        return Err(ApiError::invalid_input(format!(
            "{field} must be greater than zero"
        )));
    }
    Ok(())
}

impl Dimensions {
    pub fn check(&self, field: &str) -> Result<(), ApiError> {
        positive(&format!("{field}.length"), &self.length)?;
        positive(&format!("{field}.width"), &self.width)?;
        positive(&format!("{field}.height"), &self.height)
    }
}

impl ItemWeight {
    pub fn check(&self, field: &str) -> Result<(), ApiError> {
        positive(&format!("{field}.value"), &self.value)
    }
}

/// `PUT /fws/v1/items/{sellerSku}`: register (or update) a SKU. The fnSku is minted
/// by the server, once.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutItemRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<ItemWeight>,
    #[serde(default)]
    pub tracks_lots: bool,
    #[serde(default)]
    pub tracks_expiry: bool,
}

impl Validate for PutItemRequest {
    fn validate(&self) -> Result<(), ApiError> {
        if let Some(d) = &self.dimensions {
            d.check("dimensions")?;
        }
        if let Some(w) = &self.weight {
            w.check("weight")?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    pub seller_sku: String,
    pub fn_sku: String,
    /// Absent for a SKU first named on an inbound shipment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<Dimensions>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<ItemWeight>,
    pub tracks_lots: bool,
    pub tracks_expiry: bool,
    pub created_time: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemList {
    pub items: Vec<Item>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One movement in the ledger. Buckets and reasons by their ledger names
/// (`FULFILLABLE`, `Receipt`); `fromBucket` is absent when units enter the system,
/// `toBucket` when they leave it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerEntry {
    pub seq: u64,
    pub time: Timestamp,
    pub fn_sku: String,
    pub seller_sku: String,
    pub center_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_bucket: Option<String>,
    pub quantity: u64,
    pub reason: String,
    pub reference: String,
    pub idempotency_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LedgerPage {
    pub entries: Vec<LedgerEntry>,
    /// The cursor for `after=`: the last seq returned (absent on an empty page; the
    /// caller keeps its own cursor then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// One event of the account's stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Event {
    pub seq: u64,
    /// Unique and stable: webhook receivers de-duplicate by it.
    pub event_id: String,
    pub time: Timestamp,
    /// `FulfillmentOrderStatus`, `InventoryMovement`, `InboundShipmentStatus`, …
    pub event_type: String,
    /// What it is about (`order/ORDER-1`, `shipment/FBA1`, `package/17`).
    pub subject: String,
    pub payload: serde_json::Value,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventPage {
    pub events: Vec<Event>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// Units of one SKU at one center, per bucket (ledger names; buckets holding nothing are
/// left out).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryPosition {
    pub seller_sku: String,
    pub fn_sku: String,
    pub center_id: String,
    pub buckets: BTreeMap<String, u64>,
}

/// `GET /fws/v1/inventory?asOf=`: the fold of the ledger up to `asOf` (through `seq`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventorySnapshot {
    pub as_of: Timestamp,
    pub seq: u64,
    pub inventory: Vec<InventoryPosition>,
}

/// `PUT /fws/v1/inbound/{shipmentId}/status`: the seller marks a shipment `SHIPPED` (or
/// `CANCELLED`). Other statuses are the center's to set; the handler refuses them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InboundStatusUpdate {
    pub status: ShipmentStatus,
}

impl Validate for InboundStatusUpdate {
    fn validate(&self) -> Result<(), ApiError> {
        match self.status {
            ShipmentStatus::Shipped | ShipmentStatus::Cancelled => Ok(()),
            other => Err(ApiError::invalid_input(format!(
                "status must be SHIPPED or CANCELLED, not {}",
                serde_json::to_value(other)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default()
            ))),
        }
    }
}

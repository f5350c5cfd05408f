//! Bodies of the warehouse operations API (`/fws/v1/centers/{centerId}/…`), used by a
//! center's staff, scanners and the simulator. A receipt's boxes are keyed
//! by their `boxId`; adjustments, put-away and packing carry an
//! `idempotencyKey` (per center): the same request under it again has one
//! effect and is answered as the first was, another request under it is 409.
//! Keys are kept in the same commit as their effect, so they hold across a
//! restart. A cycle count is idempotent by nature (the same count again moves
//! nothing).

use serde::{Deserialize, Serialize};

use super::native::{Dimensions, ItemWeight};
use super::outbound::SKU_MAX;
use super::outbound_reply::{CurrentStatus, ReturnItemDisposition, TrackingAddress};
use crate::date::{DateOnly, Timestamp};
use crate::error::ApiError;
use crate::json::{Count, Quantity, Validate, non_empty, optional, required};

/// Ids the warehouse side makes up (box, location part, task, key): at most this long.
pub const WAREHOUSE_ID_MAX: usize = 64;
/// A pick task's id names its order and line (`{orderIdLength}:{orderId}:{itemId}`),
/// so it is longer than the other ids.
pub const TASK_ID_MAX: usize = 128;
/// Most lines in one receipt, package or wave.
pub const LINES_MAX: usize = 500;

/// The grade a unit gets at the dock. `Sellable` goes to fulfillable stock; the others
/// to the unfulfillable bucket of the same name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Condition {
    Sellable,
    WarehouseDamaged,
    CarrierDamaged,
    DistributorDamaged,
    CustomerDamaged,
    Defective,
    Expired,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptLine {
    pub seller_sku: String,
    pub quantity: Quantity,
    pub condition: Condition,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lot: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiry: Option<DateOnly>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptBox {
    /// The carton's label (unique within the shipment): a box received twice counts once.
    pub box_id: String,
    pub items: Vec<ReceiptLine>,
}

/// `POST …/receipts`: boxes of an inbound shipment arrived at the dock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptRequest {
    pub shipment_id: String,
    pub boxes: Vec<ReceiptBox>,
    /// Nothing more is coming: close the shipment (short receipts become final).
    #[serde(default)]
    pub close: bool,
}

impl Validate for ReceiptRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required(
            "shipmentId",
            &self.shipment_id,
            super::inbound::SHIPMENT_ID_MAX,
        )?;
        if self.boxes.len() > LINES_MAX {
            return Err(ApiError::invalid_input(format!(
                "boxes has {} entries; the limit is {LINES_MAX}",
                self.boxes.len()
            )));
        }
        for (b, one) in self.boxes.iter().enumerate() {
            required(&format!("boxes[{b}].boxId"), &one.box_id, WAREHOUSE_ID_MAX)?;
            non_empty(&format!("boxes[{b}].items"), &one.items, LINES_MAX)?;
            for (i, line) in one.items.iter().enumerate() {
                let at = format!("boxes[{b}].items[{i}]");
                required(&format!("{at}.sellerSku"), &line.seller_sku, SKU_MAX)?;
                optional(&format!("{at}.lot"), line.lot.as_deref(), WAREHOUSE_ID_MAX)?;
            }
        }
        Ok(())
    }
}

/// A storage location: zone/aisle/bay/level/bin.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Location {
    pub zone: String,
    pub aisle: String,
    pub bay: String,
    pub level: String,
    pub bin: String,
}

impl Location {
    pub fn check(&self, field: &str) -> Result<(), ApiError> {
        for (name, value) in [
            ("zone", &self.zone),
            ("aisle", &self.aisle),
            ("bay", &self.bay),
            ("level", &self.level),
            ("bin", &self.bin),
        ] {
            required(&format!("{field}.{name}"), value, WAREHOUSE_ID_MAX)?;
        }
        Ok(())
    }
}

/// `POST …/putaway`: received units placed at a location.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutawayRequest {
    pub seller_sku: String,
    pub quantity: Quantity,
    pub location: Location,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Validate for PutawayRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required("sellerSku", &self.seller_sku, SKU_MAX)?;
        self.location.check("location")?;
        optional(
            "idempotencyKey",
            self.idempotency_key.as_deref(),
            WAREHOUSE_ID_MAX,
        )
    }
}

/// `POST …/waves`: release orders waiting at this center to picking. Without
/// `orderIds`, up to `maxOrders` of the oldest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_orders: Option<Quantity>,
}

impl Validate for WaveRequest {
    fn validate(&self) -> Result<(), ApiError> {
        let ids = self.order_ids.as_deref().unwrap_or_default();
        if ids.len() > LINES_MAX {
            return Err(ApiError::invalid_input(format!(
                "orderIds has {} entries; the limit is {LINES_MAX}",
                ids.len()
            )));
        }
        for (i, id) in ids.iter().enumerate() {
            required(&format!("orderIds[{i}]"), id, super::outbound::ORDER_ID_MAX)?;
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickTask {
    pub task_id: String,
    pub seller_fulfillment_order_id: String,
    pub seller_sku: String,
    pub fn_sku: String,
    pub quantity: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

/// The reply to `POST …/waves`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Wave {
    pub wave_id: String,
    pub tasks: Vec<PickTask>,
}

/// `PUT …/picks/{taskId}`: what was picked; less than asked is a short pick.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickConfirmation {
    pub picked_quantity: Count,
}

impl Validate for PickConfirmation {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackLine {
    pub seller_sku: String,
    pub quantity: Quantity,
}

/// `POST …/packages`: picked units of one order packed into a carton.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackRequest {
    pub seller_fulfillment_order_id: String,
    pub items: Vec<PackLine>,
    pub weight: ItemWeight,
    pub dimensions: Dimensions,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Validate for PackRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required(
            "sellerFulfillmentOrderId",
            &self.seller_fulfillment_order_id,
            super::outbound::ORDER_ID_MAX,
        )?;
        non_empty("items", &self.items, LINES_MAX)?;
        for (i, line) in self.items.iter().enumerate() {
            required(&format!("items[{i}].sellerSku"), &line.seller_sku, SKU_MAX)?;
        }
        self.weight.check("weight")?;
        self.dimensions.check("dimensions")?;
        optional(
            "idempotencyKey",
            self.idempotency_key.as_deref(),
            WAREHOUSE_ID_MAX,
        )
    }
}

/// The reply to `POST …/packages`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Package {
    pub package_number: i32,
    pub seller_fulfillment_order_id: String,
    pub amazon_shipment_id: String,
    pub items: Vec<PackLine>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tracking_number: Option<String>,
    pub status: String,
}

/// `POST …/packages/{packageNumber}/label`: buy a label. Without `carrierCode`, the
/// center's default carrier.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LabelRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub carrier_code: Option<String>,
}

impl Validate for LabelRequest {
    fn validate(&self) -> Result<(), ApiError> {
        optional(
            "carrierCode",
            self.carrier_code.as_deref(),
            WAREHOUSE_ID_MAX,
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Label {
    pub package_number: i32,
    pub carrier_code: String,
    pub tracking_number: String,
    pub cost: super::outbound::Money,
}

/// `POST …/packages/{packageNumber}/ship`: the package left the building.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShipRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_time: Option<Timestamp>,
}

impl Validate for ShipRequest {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// `POST …/packages/{packageNumber}/events`: a carrier scan (in transit, delivered,
/// delayed, undeliverable, returning, …).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PackageEventRequest {
    pub status: CurrentStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<TrackingAddress>,
}

impl Validate for PackageEventRequest {
    fn validate(&self) -> Result<(), ApiError> {
        optional("description", self.description.as_deref(), 500)?;
        if let Some(a) = &self.address {
            required("address.city", &a.city, 150)?;
            required("address.state", &a.state, 150)?;
            required("address.country", &a.country, 6)?;
        }
        Ok(())
    }
}

/// `POST …/returns/{returnId}/grade`: a returned item received and graded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReturnGradeRequest {
    pub condition: ReturnItemDisposition,
}

impl Validate for ReturnGradeRequest {
    fn validate(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// `POST …/counts`: a cycle count found `countedQuantity` units of a SKU (at a location,
/// or in the whole center). The difference to the books becomes an adjustment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleCountRequest {
    pub seller_sku: String,
    pub counted_quantity: Count,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

impl Validate for CycleCountRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required("sellerSku", &self.seller_sku, SKU_MAX)?;
        if let Some(l) = &self.location {
            l.check("location")?;
        }
        optional(
            "idempotencyKey",
            self.idempotency_key.as_deref(),
            WAREHOUSE_ID_MAX,
        )
    }
}

/// `POST …/adjustments`: move units between buckets by hand (ledger bucket names;
/// `fromBucket` absent adds found units, `toBucket` absent removes lost ones).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AdjustmentRequest {
    pub seller_sku: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_bucket: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to_bucket: Option<String>,
    pub quantity: Quantity,
    pub reason: String,
    pub idempotency_key: String,
}

impl Validate for AdjustmentRequest {
    fn validate(&self) -> Result<(), ApiError> {
        required("sellerSku", &self.seller_sku, SKU_MAX)?;
        optional("fromBucket", self.from_bucket.as_deref(), WAREHOUSE_ID_MAX)?;
        optional("toBucket", self.to_bucket.as_deref(), WAREHOUSE_ID_MAX)?;
        if self.from_bucket.is_none() && self.to_bucket.is_none() {
            return Err(ApiError::invalid_input(
                "fromBucket or toBucket (or both) must be given",
            ));
        }
        required("reason", &self.reason, 250)?;
        required("idempotencyKey", &self.idempotency_key, WAREHOUSE_ID_MAX)
    }
}

/// One thing waiting for the operator at a center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkItem {
    /// `receive`, `putaway`, `wave`, `pick`, `pack`, `label`, `ship`, `gradeReturn`.
    pub kind: String,
    /// The shipment, order, task, package or return it concerns.
    pub reference: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_sku: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<u32>,
    pub since: Timestamp,
    /// The seller it is for: the `sellerId` of the operation that does it.
    pub seller_id: String,
    /// The order it belongs to (outbound work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seller_fulfillment_order_id: Option<String>,
}

/// `GET …/work`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WorkQueue {
    pub center_id: String,
    pub work: Vec<WorkItem>,
}

/// What an inbound shipment looks like to the dock after a receipt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Receipt {
    pub shipment_id: String,
    pub shipment_status: super::inbound::ShipmentStatus,
    /// Every box received so far, in the order received.
    pub box_ids: Vec<String>,
    pub items: Vec<ReceiptItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceiptItem {
    pub seller_sku: String,
    pub fn_sku: String,
    pub quantity_shipped: u64,
    /// Every unit received, whatever its condition.
    pub quantity_received: u64,
    /// Received units by [`Condition`] name.
    pub received_by_condition: std::collections::BTreeMap<String, u64>,
    /// Received beyond what was shipped.
    pub quantity_over: u64,
    /// Shipped but not received, once the shipment closed.
    pub quantity_short: u64,
}

/// The reply to `POST …/putaway`: the SKU's units per location code
/// (`zone-aisle-bay-level-bin`) at this center.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PutawayResult {
    pub seller_sku: String,
    pub locations: std::collections::BTreeMap<String, u64>,
}

/// The reply to `PUT …/picks/{taskId}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PickResult {
    pub task_id: String,
    pub seller_fulfillment_order_id: String,
    pub seller_sku: String,
    pub quantity: u32,
    pub picked_quantity: u32,
}

/// The reply to `POST …/counts`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CycleCountResult {
    pub seller_sku: String,
    pub fn_sku: String,
    pub center_id: String,
    /// Fulfillable units the books held before the count.
    pub expected_quantity: u64,
    pub counted_quantity: u64,
    /// The ledger entry that settled a difference (absent when none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<super::native::LedgerEntry>,
}

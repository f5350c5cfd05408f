//! FBA Inventory v1 `getInventorySummaries` reply. The model marks nothing inside a
//! summary required; nomuck always sends the identity, totals and (with `details=true`)
//! every breakdown, with zeros rather than gaps.

use serde::{Deserialize, Serialize};

use crate::date::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Granularity {
    pub granularity_type: String,
    pub granularity_id: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReservedQuantity {
    pub total_reserved_quantity: i64,
    pub pending_customer_order_quantity: i64,
    pub pending_transshipment_quantity: i64,
    pub fc_processing_quantity: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResearchingQuantity {
    pub total_researching_quantity: i64,
    /// Optional in the model; sent as `[]` (nomuck does not age research).
    pub researching_quantity_breakdown: Vec<ResearchingQuantityEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResearchingQuantityEntry {
    /// `researchingQuantityInShortTerm`, `…InMidTerm`, `…InLongTerm`.
    pub name: String,
    pub quantity: i64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UnfulfillableQuantity {
    pub total_unfulfillable_quantity: i64,
    pub customer_damaged_quantity: i64,
    pub warehouse_damaged_quantity: i64,
    pub distributor_damaged_quantity: i64,
    pub carrier_damaged_quantity: i64,
    pub defective_quantity: i64,
    pub expired_quantity: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventoryDetails {
    pub fulfillable_quantity: i64,
    pub inbound_working_quantity: i64,
    pub inbound_shipped_quantity: i64,
    pub inbound_receiving_quantity: i64,
    pub reserved_quantity: ReservedQuantity,
    pub researching_quantity: ResearchingQuantity,
    pub unfulfillable_quantity: UnfulfillableQuantity,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InventorySummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asin: Option<String>,
    pub fn_sku: String,
    pub seller_sku: String,
    /// `NewItem` for everything nomuck holds.
    pub condition: String,
    /// Only with `details=true`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inventory_details: Option<InventoryDetails>,
    pub last_updated_time: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product_name: Option<String>,
    pub total_quantity: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stores: Option<Vec<String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GetInventorySummariesResult {
    pub granularity: Granularity,
    pub inventory_summaries: Vec<InventorySummary>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Pagination {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

/// The whole reply: unlike the other operations, `pagination` sits beside `payload`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GetInventorySummariesResponse {
    pub payload: GetInventorySummariesResult,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pagination: Option<Pagination>,
}

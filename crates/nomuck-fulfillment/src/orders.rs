//! Outbound fulfillment orders (SP-API Fulfillment Outbound 2020-07-01): the
//! record and its vocabulary. The operations are in `order_ops.rs` (seller
//! side), `warehouse.rs` (the center's side), `preview.rs`, `returns.rs` and
//! `sim.rs`.
//!
//! Field names follow the model (in snake case; the API crate maps them 1:1);
//! times are milliseconds, money is exact micro-dollars or the seller's own
//! decimal string.

use nomuck_meta::Millis;
use nomuck_meta::fulfillment::ItemDimensions;
use serde::{Deserialize, Serialize};

use crate::config::Address;
use crate::record::Record;

/// An enum whose variants are the model's names: `name()`, `from_name()` and
/// serde all use those exact strings.
macro_rules! names {
    ($(#[$m:meta])* pub enum $t:ident { $($v:ident = $n:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $t { $(#[serde(rename = $n)] $v),+ }
        impl $t {
            pub const ALL: &'static [$t] = &[$($t::$v),+];
            pub fn name(self) -> &'static str {
                match self { $($t::$v => $n),+ }
            }
            pub fn from_name(s: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|x| x.name() == s)
            }
        }
    };
}

names! {
    /// `FulfillmentOrderStatus`.
    pub enum OrderStatus {
        New = "New",
        Received = "Received",
        Planning = "Planning",
        Processing = "Processing",
        Cancelled = "Cancelled",
        Complete = "Complete",
        CompletePartialled = "CompletePartialled",
        Unfulfillable = "Unfulfillable",
        Invalid = "Invalid",
    }
}

impl OrderStatus {
    pub fn is_final(self) -> bool {
        matches!(
            self,
            Self::Cancelled
                | Self::Complete
                | Self::CompletePartialled
                | Self::Unfulfillable
                | Self::Invalid
        )
    }

    /// Before the center started on it: the seller may still cancel or
    /// change the address.
    pub fn before_processing(self) -> bool {
        matches!(self, Self::New | Self::Received | Self::Planning)
    }
}

names! {
    /// `ShippingSpeedCategory`.
    pub enum Speed {
        Standard = "Standard",
        Expedited = "Expedited",
        Priority = "Priority",
        ScheduledDelivery = "ScheduledDelivery",
    }
}

names! {
    /// `FulfillmentAction`.
    pub enum FulfillmentAction {
        Ship = "Ship",
        Hold = "Hold",
    }
}

names! {
    /// `FulfillmentPolicy` (the ledger's [`nomuck_ledger::FillPolicy`], with serde).
    pub enum FulfillmentPolicy {
        FillOrKill = "FillOrKill",
        FillAll = "FillAll",
        FillAllAvailable = "FillAllAvailable",
    }
}

impl FulfillmentPolicy {
    pub fn fill(self) -> nomuck_ledger::FillPolicy {
        match self {
            Self::FillOrKill => nomuck_ledger::FillPolicy::FillOrKill,
            Self::FillAll => nomuck_ledger::FillPolicy::FillAll,
            Self::FillAllAvailable => nomuck_ledger::FillPolicy::FillAllAvailable,
        }
    }
}

names! {
    /// `fulfillmentShipmentStatus`.
    pub enum ShipmentStatus {
        Pending = "PENDING",
        Shipped = "SHIPPED",
        CancelledByFulfiller = "CANCELLED_BY_FULFILLER",
        CancelledBySeller = "CANCELLED_BY_SELLER",
    }
}

names! {
    /// `CurrentStatus` of a package (the subset a carrier here reports).
    pub enum TrackingStatus {
        InTransit = "IN_TRANSIT",
        Delivered = "DELIVERED",
        Returning = "RETURNING",
        Returned = "RETURNED",
        Undeliverable = "UNDELIVERABLE",
        Delayed = "DELAYED",
        OutForDelivery = "OUT_FOR_DELIVERY",
        DeliveryAttempted = "DELIVERY_ATTEMPTED",
    }
}

impl TrackingStatus {
    /// No further scan is expected.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Delivered | Self::Returned | Self::Undeliverable)
    }

    /// The model's `EventCode` a scan to this status carries.
    pub fn event_code(self) -> &'static str {
        match self {
            Self::InTransit => "EVENT_202",
            Self::Delivered => "EVENT_301",
            Self::Returning => "EVENT_408",
            Self::Returned => "EVENT_309",
            Self::Undeliverable => "EVENT_416",
            Self::Delayed => "EVENT_418",
            Self::OutForDelivery => "EVENT_302",
            Self::DeliveryAttempted => "EVENT_304",
        }
    }
}

names! {
    /// `FulfillmentReturnItemStatus`.
    pub enum ReturnStatus {
        New = "New",
        Processed = "Processed",
    }
}

names! {
    /// `ReturnItemDisposition`: the condition a return is received in.
    pub enum ReturnCondition {
        Sellable = "Sellable",
        Defective = "Defective",
        CustomerDamaged = "CustomerDamaged",
        CarrierDamaged = "CarrierDamaged",
        FulfillerDamaged = "FulfillerDamaged",
    }
}

/// `Money`, kept as the seller wrote it (never computed with).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub currency_code: String,
    pub value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryWindow {
    pub start_date: Millis,
    pub end_date: Millis,
}

/// One line of a create request (`CreateFulfillmentOrderItem`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItemRequest {
    pub seller_sku: String,
    pub seller_fulfillment_order_item_id: String,
    /// Checked to be in 1..=i32::MAX.
    pub quantity: i64,
    pub gift_message: Option<String>,
    pub displayable_comment: Option<String>,
    pub per_unit_declared_value: Option<Money>,
    /// Kept and shown, never computed with (absent: left out of the
    /// request's hash, so hashes of requests without them do not change).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_price: Option<Money>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_unit_tax: Option<Money>,
    /// The fnSku the seller expects the SKU to have: checked against the
    /// item registry, so an order never ships another product than the one
    /// the seller's system meant (absent: not checked, not hashed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fulfillment_network_sku: Option<String>,
}

/// A `featureConstraints` entry. This service offers no optional features,
/// so only `NotRequired` ones are accepted (and kept, as the order's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FeatureConstraint {
    pub feature_name: String,
    /// `Required` or `NotRequired`.
    pub feature_fulfillment_policy: String,
}

/// `CreateFulfillmentOrderRequest` (what this service uses of it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderRequest {
    pub marketplace_id: Option<String>,
    pub seller_fulfillment_order_id: String,
    pub displayable_order_id: String,
    pub displayable_order_date: Millis,
    pub displayable_order_comment: String,
    pub shipping_speed_category: Speed,
    pub delivery_window: Option<DeliveryWindow>,
    pub destination_address: Address,
    pub fulfillment_action: Option<FulfillmentAction>,
    pub fulfillment_policy: Option<FulfillmentPolicy>,
    pub notification_emails: Vec<String>,
    pub items: Vec<OrderItemRequest>,
    /// Only centers in this country may ship it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ship_from_country_code: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_constraints: Vec<FeatureConstraint>,
}

/// `UpdateFulfillmentOrderRequest`: only what is given changes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderUpdate {
    pub displayable_order_id: Option<String>,
    pub displayable_order_date: Option<Millis>,
    pub displayable_order_comment: Option<String>,
    pub shipping_speed_category: Option<Speed>,
    pub destination_address: Option<Address>,
    pub fulfillment_action: Option<FulfillmentAction>,
    pub notification_emails: Option<Vec<String>>,
    /// Lines to change (existing ones only, by their id).
    #[serde(default)]
    pub items: Vec<OrderItemUpdate>,
}

/// `UpdateFulfillmentOrderItem`: an existing line's new quantity and texts.
/// Its SKU cannot change; named anyway, it must be the line's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItemUpdate {
    pub seller_fulfillment_order_item_id: String,
    pub seller_sku: Option<String>,
    pub fulfillment_network_sku: Option<String>,
    /// Checked to be in 1..=i32::MAX.
    pub quantity: i64,
    pub gift_message: Option<String>,
    pub displayable_comment: Option<String>,
    pub per_unit_declared_value: Option<Money>,
    pub per_unit_price: Option<Money>,
    pub per_unit_tax: Option<Money>,
}

/// `FulfillmentOrderItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrderItem {
    pub seller_sku: String,
    pub fulfillment_network_sku: String,
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u64,
    /// Given up: by the seller, or by `FillAllAvailable`/`FillOrKill`.
    pub cancelled_quantity: u64,
    /// Not found: no stock at acceptance (`FillAll`) or short-picked.
    pub unfulfillable_quantity: u64,
    pub estimated_ship_date: Option<Millis>,
    pub estimated_arrival_date: Option<Millis>,
    pub gift_message: Option<String>,
    pub displayable_comment: Option<String>,
    pub per_unit_declared_value: Option<Money>,
    #[serde(default)]
    pub per_unit_price: Option<Money>,
    #[serde(default)]
    pub per_unit_tax: Option<Money>,
}

impl OrderItemUpdate {
    /// Line `item_id` to `quantity` units, nothing else changed.
    pub fn quantity(item_id: &str, quantity: i64) -> OrderItemUpdate {
        OrderItemUpdate {
            seller_fulfillment_order_item_id: item_id.to_owned(),
            seller_sku: None,
            fulfillment_network_sku: None,
            quantity,
            gift_message: None,
            displayable_comment: None,
            per_unit_declared_value: None,
            per_unit_price: None,
            per_unit_tax: None,
        }
    }
}

/// One line's units in one shipment, and how far the center got with them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentItem {
    pub seller_sku: String,
    pub fulfillment_network_sku: String,
    pub seller_fulfillment_order_item_id: String,
    /// Reserved at this shipment's center.
    pub quantity: u64,
    /// `None` until picked; then the units found.
    pub picked: Option<u64>,
    pub packed: u64,
    pub shipped: u64,
}

/// One line's units in a package.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageItem {
    pub seller_fulfillment_order_item_id: String,
    pub quantity: u64,
}

/// `TrackingEvent`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackingEvent {
    pub event_date: Millis,
    pub event_code: String,
    pub status: TrackingStatus,
    /// `TrackingAddress`: city, state, country.
    pub city: String,
    pub state: String,
    pub country: String,
}

/// `FulfillmentShipmentPackage` plus its tracking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Package {
    /// Unique per account, within i32 (the model's integer).
    pub package_number: i64,
    pub items: Vec<PackageItem>,
    pub weight_mg: i64,
    pub dimensions: Option<ItemDimensions>,
    /// Set when the label is bought.
    pub carrier_code: Option<String>,
    pub tracking_number: Option<String>,
    pub label_price_micro_usd: i64,
    pub ship_date: Option<Millis>,
    pub estimated_arrival_date: Option<Millis>,
    pub current_status: Option<TrackingStatus>,
    pub tracking_events: Vec<TrackingEvent>,
    /// When the simulated carrier scans it next.
    pub due: Option<Millis>,
    /// The operator's idempotency key it was packed under, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<RequestKey>,
}

/// An operator's idempotency key and the fingerprint of the request sent
/// under it ([`crate::order_ops::fingerprint`] of the request as received):
/// the same key with the same fingerprint is the same request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestKey {
    pub key: String,
    pub fingerprint: String,
}

impl Package {
    pub fn is_final(&self) -> bool {
        self.current_status.is_some_and(TrackingStatus::is_final)
    }
}

/// `FulfillmentShipment`: what one center sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub amazon_shipment_id: String,
    pub fulfillment_center_id: String,
    pub fulfillment_shipment_status: ShipmentStatus,
    /// Released to picking (units in `RESERVED_FC_PROCESSING`).
    pub waved: bool,
    pub shipping_date: Option<Millis>,
    pub estimated_arrival_date: Option<Millis>,
    pub items: Vec<ShipmentItem>,
    pub packages: Vec<Package>,
    /// When the simulated operator works on it next.
    pub due: Option<Millis>,
}

/// `ReturnItem`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnItem {
    pub seller_return_item_id: String,
    pub seller_fulfillment_order_item_id: String,
    pub amazon_shipment_id: String,
    pub seller_return_reason_code: String,
    pub return_comment: Option<String>,
    pub status: ReturnStatus,
    pub status_changed_date: Millis,
    pub return_received_condition: Option<ReturnCondition>,
    pub fulfillment_center_id: Option<String>,
}

/// `FulfillmentOrder` with its items, shipments and returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub seller_fulfillment_order_id: String,
    pub marketplace_id: String,
    pub displayable_order_id: String,
    pub displayable_order_date: Millis,
    pub displayable_order_comment: String,
    pub shipping_speed_category: Speed,
    pub delivery_window: Option<DeliveryWindow>,
    pub destination_address: Address,
    pub fulfillment_action: FulfillmentAction,
    pub fulfillment_policy: FulfillmentPolicy,
    pub received_date: Millis,
    pub fulfillment_order_status: OrderStatus,
    pub status_updated_date: Millis,
    pub notification_emails: Vec<String>,
    #[serde(default)]
    pub ship_from_country_code: Option<String>,
    #[serde(default)]
    pub feature_constraints: Vec<FeatureConstraint>,
    pub items: Vec<OrderItem>,
    pub shipments: Vec<Shipment>,
    pub return_items: Vec<ReturnItem>,
    /// The canonical hash of the create request: a repeat with another body
    /// is a conflict.
    pub request_hash: String,
    /// Fees metered (at the first shipment).
    pub fees_metered: bool,
    /// The earliest `due` of its shipments and packages: when the simulator
    /// next has work on it. Stored so a restart continues.
    pub due: Option<Millis>,
    pub updated_at: Millis,
    pub generation: i64,
}

impl Order {
    /// The package numbers of the order's shipments.
    pub fn package_numbers(&self) -> impl Iterator<Item = i64> + '_ {
        self.shipments
            .iter()
            .flat_map(|s| s.packages.iter().map(|p| p.package_number))
    }

    pub fn item(&self, item_id: &str) -> Option<&OrderItem> {
        self.items
            .iter()
            .find(|i| i.seller_fulfillment_order_item_id == item_id)
    }

    pub(crate) fn item_mut(&mut self, item_id: &str) -> Option<&mut OrderItem> {
        self.items
            .iter_mut()
            .find(|i| i.seller_fulfillment_order_item_id == item_id)
    }

    /// The package and its shipment's index.
    pub fn package(&self, number: i64) -> Option<(usize, &Package)> {
        self.shipments.iter().enumerate().find_map(|(i, s)| {
            s.packages
                .iter()
                .find(|p| p.package_number == number)
                .map(|p| (i, p))
        })
    }

    /// Recomputes [`Order::due`] from its shipments and packages.
    pub(crate) fn refresh_due(&mut self) {
        let shipments = self.shipments.iter().filter_map(|s| s.due);
        let packages = self
            .shipments
            .iter()
            .flat_map(|s| s.packages.iter().filter_map(|p| p.due));
        self.due = shipments.chain(packages).min();
    }
}

impl Record for Order {
    const KIND: &'static str = "order";
    fn id(&self) -> &str {
        &self.seller_fulfillment_order_id
    }
    /// Open while the center or the carrier still has work: not in a final
    /// status, a package not yet in a final tracking state, or a return
    /// not yet received.
    fn is_open(&self) -> bool {
        !self.fulfillment_order_status.is_final()
            || self
                .shipments
                .iter()
                .flat_map(|s| &s.packages)
                .any(|p| p.ship_date.is_some() && !p.is_final())
            || self
                .return_items
                .iter()
                .any(|r| r.status == ReturnStatus::New)
    }
    fn generation(&self) -> i64 {
        self.generation
    }
    fn set_generation(&mut self, generation: i64) {
        self.generation = generation;
    }
}

//! The inventory buckets and the per-bucket quantities of one position.

/// Why a unit cannot be sold. One variant per `unfulfillableQuantity` breakdown field of
/// FBA Inventory v1 (and the reference's `UNFULFILLABLE_*` buckets).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Damage {
    /// `customerDamagedQuantity`: returned damaged by the customer.
    CustomerDamaged,
    /// `warehouseDamagedQuantity`: damaged in the fulfillment center.
    WarehouseDamaged,
    /// `carrierDamagedQuantity`: damaged by the carrier (inbound or returning).
    CarrierDamaged,
    /// `distributorDamagedQuantity`: arrived damaged from the seller's supply chain.
    DistributorDamaged,
    /// `defectiveQuantity`: works incorrectly.
    Defective,
    /// `expiredQuantity`: past its expiry date.
    Expired,
}

impl Damage {
    pub const ALL: [Damage; 6] = [
        Damage::CustomerDamaged,
        Damage::WarehouseDamaged,
        Damage::CarrierDamaged,
        Damage::DistributorDamaged,
        Damage::Defective,
        Damage::Expired,
    ];
}

/// Where a unit is. A unit is in exactly one bucket while it is in the system; entering
/// and leaving the system are `None` on a [`crate::Movement`]'s side, not buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Bucket {
    /// `inboundWorkingQuantity`: on an inbound shipment the seller is still preparing.
    InboundWorking,
    /// `inboundShippedQuantity`: on an inbound shipment the seller marked shipped.
    InboundShipped,
    /// `inboundReceivingQuantity`: arrived, not yet received and graded.
    InboundReceiving,
    /// `fulfillableQuantity`: sellable and free to reserve.
    Fulfillable,
    /// `reservedQuantity.pendingCustomerOrderQuantity`: reserved for an accepted order.
    ReservedCustomerOrder,
    /// `reservedQuantity.fcProcessingQuantity`: being picked and packed.
    ReservedFcProcessing,
    /// `reservedQuantity.pendingTransshipmentQuantity`: moving to another center.
    ReservedTransfer,
    /// `researchingQuantity.totalResearchingQuantity`: misplaced, being looked for.
    Researching,
    /// `unfulfillableQuantity.<reason>Quantity`.
    Unfulfillable(Damage),
}

impl Bucket {
    /// Every bucket, in the order of the reference.
    pub const ALL: [Bucket; 14] = [
        Bucket::InboundWorking,
        Bucket::InboundShipped,
        Bucket::InboundReceiving,
        Bucket::Fulfillable,
        Bucket::ReservedCustomerOrder,
        Bucket::ReservedFcProcessing,
        Bucket::ReservedTransfer,
        Bucket::Researching,
        Bucket::Unfulfillable(Damage::CustomerDamaged),
        Bucket::Unfulfillable(Damage::WarehouseDamaged),
        Bucket::Unfulfillable(Damage::CarrierDamaged),
        Bucket::Unfulfillable(Damage::DistributorDamaged),
        Bucket::Unfulfillable(Damage::Defective),
        Bucket::Unfulfillable(Damage::Expired),
    ];

    /// The reference's name (`FULFILLABLE`, `UNFULFILLABLE_CUSTOMER_DAMAGED`, …), stable
    /// for storage and events.
    pub fn name(self) -> &'static str {
        match self {
            Bucket::InboundWorking => "INBOUND_WORKING",
            Bucket::InboundShipped => "INBOUND_SHIPPED",
            Bucket::InboundReceiving => "INBOUND_RECEIVING",
            Bucket::Fulfillable => "FULFILLABLE",
            Bucket::ReservedCustomerOrder => "RESERVED_CUSTOMER_ORDER",
            Bucket::ReservedFcProcessing => "RESERVED_FC_PROCESSING",
            Bucket::ReservedTransfer => "RESERVED_TRANSFER",
            Bucket::Researching => "RESEARCHING",
            Bucket::Unfulfillable(Damage::CustomerDamaged) => "UNFULFILLABLE_CUSTOMER_DAMAGED",
            Bucket::Unfulfillable(Damage::WarehouseDamaged) => "UNFULFILLABLE_WAREHOUSE_DAMAGED",
            Bucket::Unfulfillable(Damage::CarrierDamaged) => "UNFULFILLABLE_CARRIER_DAMAGED",
            Bucket::Unfulfillable(Damage::DistributorDamaged) => {
                "UNFULFILLABLE_DISTRIBUTOR_DAMAGED"
            }
            Bucket::Unfulfillable(Damage::Defective) => "UNFULFILLABLE_DEFECTIVE",
            Bucket::Unfulfillable(Damage::Expired) => "UNFULFILLABLE_EXPIRED",
        }
    }

    /// The inverse of [`Bucket::name`].
    pub fn from_name(name: &str) -> Option<Bucket> {
        Bucket::ALL.into_iter().find(|b| b.name() == name)
    }
}

/// Units per bucket of one position. Named fields rather than an array so that reading a
/// bucket is a `match`, never an index that could be out of range.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Quantities {
    inbound_working: u64,
    inbound_shipped: u64,
    inbound_receiving: u64,
    fulfillable: u64,
    reserved_customer_order: u64,
    reserved_fc_processing: u64,
    reserved_transfer: u64,
    researching: u64,
    customer_damaged: u64,
    warehouse_damaged: u64,
    carrier_damaged: u64,
    distributor_damaged: u64,
    defective: u64,
    expired: u64,
}

impl Quantities {
    /// Units in `bucket`.
    pub fn get(&self, bucket: Bucket) -> u64 {
        let mut copy = *self;
        *copy.slot(bucket)
    }

    pub(crate) fn slot(&mut self, bucket: Bucket) -> &mut u64 {
        match bucket {
            Bucket::InboundWorking => &mut self.inbound_working,
            Bucket::InboundShipped => &mut self.inbound_shipped,
            Bucket::InboundReceiving => &mut self.inbound_receiving,
            Bucket::Fulfillable => &mut self.fulfillable,
            Bucket::ReservedCustomerOrder => &mut self.reserved_customer_order,
            Bucket::ReservedFcProcessing => &mut self.reserved_fc_processing,
            Bucket::ReservedTransfer => &mut self.reserved_transfer,
            Bucket::Researching => &mut self.researching,
            Bucket::Unfulfillable(Damage::CustomerDamaged) => &mut self.customer_damaged,
            Bucket::Unfulfillable(Damage::WarehouseDamaged) => &mut self.warehouse_damaged,
            Bucket::Unfulfillable(Damage::CarrierDamaged) => &mut self.carrier_damaged,
            Bucket::Unfulfillable(Damage::DistributorDamaged) => &mut self.distributor_damaged,
            Bucket::Unfulfillable(Damage::Defective) => &mut self.defective,
            Bucket::Unfulfillable(Damage::Expired) => &mut self.expired,
        }
    }

    /// Units in every bucket together. Cannot overflow: the ledger refuses any entry
    /// that would make the units ever entered exceed `u64::MAX`, and this sum never
    /// exceeds them.
    pub fn total(&self) -> u64 {
        Bucket::ALL
            .iter()
            .fold(0u64, |sum, b| sum.saturating_add(self.get(*b)))
    }

    /// The FBA Inventory v1 `inventoryDetails` breakdown of these quantities, plus its
    /// `totalQuantity`.
    pub fn details(&self) -> InventoryDetails {
        let reserved = ReservedQuantity {
            pending_customer_order_quantity: self.reserved_customer_order,
            pending_transshipment_quantity: self.reserved_transfer,
            fc_processing_quantity: self.reserved_fc_processing,
            total_reserved_quantity: self
                .reserved_customer_order
                .saturating_add(self.reserved_transfer)
                .saturating_add(self.reserved_fc_processing),
        };
        let unfulfillable = UnfulfillableQuantity {
            customer_damaged_quantity: self.customer_damaged,
            warehouse_damaged_quantity: self.warehouse_damaged,
            distributor_damaged_quantity: self.distributor_damaged,
            carrier_damaged_quantity: self.carrier_damaged,
            defective_quantity: self.defective,
            expired_quantity: self.expired,
            total_unfulfillable_quantity: Damage::ALL.iter().fold(0u64, |sum, d| {
                sum.saturating_add(self.get(Bucket::Unfulfillable(*d)))
            }),
        };
        InventoryDetails {
            fulfillable_quantity: self.fulfillable,
            inbound_working_quantity: self.inbound_working,
            inbound_shipped_quantity: self.inbound_shipped,
            inbound_receiving_quantity: self.inbound_receiving,
            reserved_quantity: reserved,
            researching_quantity: self.researching,
            unfulfillable_quantity: unfulfillable,
            total_quantity: self.total(),
        }
    }
}

/// FBA Inventory v1 `InventoryDetails` (field for field, in snake case) plus the
/// summary's `totalQuantity`, so the API crate maps it 1:1.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InventoryDetails {
    pub fulfillable_quantity: u64,
    pub inbound_working_quantity: u64,
    pub inbound_shipped_quantity: u64,
    pub inbound_receiving_quantity: u64,
    pub reserved_quantity: ReservedQuantity,
    /// `researchingQuantity.totalResearchingQuantity`.
    pub researching_quantity: u64,
    pub unfulfillable_quantity: UnfulfillableQuantity,
    /// `totalQuantity`: every unit in an inbound shipment or in the center.
    pub total_quantity: u64,
}

/// FBA Inventory v1 `ReservedQuantity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReservedQuantity {
    pub total_reserved_quantity: u64,
    pub pending_customer_order_quantity: u64,
    pub pending_transshipment_quantity: u64,
    pub fc_processing_quantity: u64,
}

/// FBA Inventory v1 `UnfulfillableQuantity`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UnfulfillableQuantity {
    pub total_unfulfillable_quantity: u64,
    pub customer_damaged_quantity: u64,
    pub warehouse_damaged_quantity: u64,
    pub distributor_damaged_quantity: u64,
    pub carrier_damaged_quantity: u64,
    pub defective_quantity: u64,
    pub expired_quantity: u64,
}

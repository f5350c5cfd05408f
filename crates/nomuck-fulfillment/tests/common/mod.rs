//! Helpers shared by the integration tests of the fulfillment domain: a
//! service over a real SQLite store in a temp dir, and request builders.

// Each test binary uses a different subset.
#![allow(dead_code)]

use std::sync::Arc;

use nomuck_fulfillment::inbound::{
    BoxLine, Condition, InboundItemSpec, InboundShipmentSpec, ShipmentStatus,
};
use nomuck_fulfillment::inventory::InventoryQuery;
use nomuck_fulfillment::{Address, Fulfillment, FulfillmentConfig};
use nomuck_ledger::InventoryDetails;
use nomuck_meta::{MetaStore, SqliteMetaStore};

pub const A: &str = "000000000001";
pub const B: &str = "000000000002";

pub struct Env {
    pub f: Fulfillment,
    pub store: Arc<dyn MetaStore>,
    pub dir: tempfile::TempDir,
}

pub fn env(config: FulfillmentConfig) -> Env {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    Env {
        f: Fulfillment::new(Arc::clone(&store), config, None),
        store,
        dir,
    }
}

/// A shipment to SIM1 of `items` (seller SKU, units), still WORKING.
pub fn spec(items: &[(&str, u64)]) -> InboundShipmentSpec {
    InboundShipmentSpec {
        shipment_name: "first".into(),
        ship_from_address: Address {
            name: "Seller".into(),
            address_line1: "1 Main St".into(),
            state_or_region: "WA".into(),
            postal_code: "98101".into(),
            country_code: "US".into(),
            ..Address::default()
        },
        destination_fulfillment_center_id: "SIM1".into(),
        label_prep_type: "SELLER_LABEL".into(),
        are_cases_required: false,
        shipment_status: None,
        items: items
            .iter()
            .map(|(sku, q)| InboundItemSpec {
                seller_sku: (*sku).into(),
                quantity_shipped: *q,
                quantity_in_case: None,
            })
            .collect(),
    }
}

pub fn shipped(mut s: InboundShipmentSpec) -> InboundShipmentSpec {
    s.shipment_status = Some(ShipmentStatus::Shipped);
    s
}

pub fn line(sku: &str, quantity: u64, condition: Condition) -> BoxLine {
    BoxLine {
        seller_sku: sku.into(),
        quantity,
        condition,
    }
}

pub async fn all_summaries(f: &Fulfillment, account: &str) -> Vec<(String, InventoryDetails)> {
    f.inventory_summaries(
        account,
        InventoryQuery {
            details: true,
            limit: 1000,
            ..InventoryQuery::default()
        },
    )
    .await
    .unwrap()
    .summaries
    .into_iter()
    .map(|s| (s.seller_sku, s.details.unwrap()))
    .collect()
}

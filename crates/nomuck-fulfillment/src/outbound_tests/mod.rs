//! Outbound orders end to end over a real SQLite store: reservation,
//! idempotency, policies, cancel, hold, concurrency, the simulated operator,
//! fees, returns and reload. Unit tests (not `tests/`) because stock is
//! seeded the way inbound will put it there, with crate-internal calls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_meta::fulfillment::ItemRecord;
use nomuck_meta::{MetaStore, SqliteMetaStore, UsageQuery};

use crate::config::{Address, FulfillmentConfig};
use crate::error::FulfillmentError;
use crate::fees;
use crate::orders::{
    FulfillmentAction, FulfillmentPolicy, Order, OrderItemRequest, OrderRequest, OrderStatus,
    OrderUpdate, PackageItem, RequestKey, ReturnCondition, ReturnStatus, ShipmentStatus, Speed,
    TrackingStatus,
};
use crate::preview::{INVALID_SKU, PreviewItemRequest, PreviewRequest};
use crate::returns::CreateReturnItem;
use crate::warehouse::PackRequest;
use crate::{Fulfillment, events};

const A: &str = "000000000001";
const CENTER: &str = "SIM1";

/// A store in a temp dir and a config whose simulated center works an hour
/// in a millisecond (transit of 5 days is 120 ms).
fn setup(sim: bool) -> (Arc<dyn MetaStore>, FulfillmentConfig, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    let mut config = FulfillmentConfig::default();
    config.simulator.enabled = sim;
    config.simulator.speed = 3_600_000.0;
    (store, config, dir)
}

fn fn_sku(sku: &str) -> String {
    format!("X0{sku:0>8}")
}

/// Registers `sku` (200 g a unit) if new.
async fn register(f: &Fulfillment, sku: &str) {
    let sku = sku.to_owned();
    f.write(A, move |b, tx| {
        if !b.items.contains_key(&sku) {
            let rec = ItemRecord {
                account_id: A.into(),
                seller_sku: sku.clone(),
                fn_sku: fn_sku(&sku),
                dimensions: None,
                weight_mg: Some(200_000),
                tracks_lots: false,
                tracks_expiry: false,
                created_at: tx.now,
                generation: 1,
            };
            tx.save_item(rec.clone(), None);
            b.fn_skus.insert(rec.fn_sku.clone(), sku.clone());
            b.items.insert(sku, rec);
        }
        Ok(())
    })
    .await
    .unwrap();
}

/// Registers `sku` and receives `units` fulfillable at SIM1.
async fn seed(f: &Fulfillment, sku: &str, units: u64) {
    register(f, sku).await;
    seed_at(f, sku, CENTER, units).await;
}

fn address() -> Address {
    Address {
        name: "Ada".into(),
        address_line1: "1 Main St".into(),
        city: Some("Portland".into()),
        state_or_region: "OR".into(),
        postal_code: "97201".into(),
        country_code: "US".into(),
        ..Address::default()
    }
}

fn request(id: &str, sku: &str, quantity: i64, policy: FulfillmentPolicy) -> OrderRequest {
    OrderRequest {
        marketplace_id: None,
        seller_fulfillment_order_id: id.into(),
        displayable_order_id: id.into(),
        displayable_order_date: 1_700_000_000_000,
        displayable_order_comment: "thanks".into(),
        shipping_speed_category: Speed::Standard,
        delivery_window: None,
        destination_address: address(),
        fulfillment_action: None,
        fulfillment_policy: Some(policy),
        notification_emails: Vec::new(),
        ship_from_country_code: None,
        feature_constraints: Vec::new(),
        items: vec![OrderItemRequest {
            seller_sku: sku.into(),
            seller_fulfillment_order_item_id: "line-1".into(),
            quantity,
            gift_message: None,
            displayable_comment: None,
            per_unit_declared_value: None,
            per_unit_price: None,
            per_unit_tax: None,
            fulfillment_network_sku: None,
        }],
    }
}

async fn units(f: &Fulfillment, sku: &str, bucket: Bucket) -> u64 {
    let s = fn_sku(sku);
    f.read(A, move |b| b.units(&s, CENTER, bucket))
        .await
        .unwrap()
}

/// Runs the simulated operator until `done` holds for the order.
async fn drive(f: &Fulfillment, id: &str, done: impl Fn(&Order) -> bool) -> Order {
    let start = Instant::now();
    loop {
        f.sim_outbound_step(A).await.unwrap();
        let o = f.order(A, id).await.unwrap();
        if done(&o) {
            return o;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "order never got there: {o:#?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

fn delivered(o: &Order) -> bool {
    o.shipments
        .iter()
        .flat_map(|s| &s.packages)
        .any(|p| p.current_status == Some(TrackingStatus::Delivered))
}

/// Seeds `units` of `sku` at `center` (the item must exist).
async fn seed_at(f: &Fulfillment, sku: &str, center: &str, units: u64) {
    let (fnsku, center) = (fn_sku(sku), center.to_owned());
    f.write(A, move |b, tx| {
        let key = format!("seed:{fnsku}:{}", b.ledger.last_seq());
        b.move_units(
            tx,
            vec![Movement {
                sku: fnsku,
                center,
                from: None,
                to: Some(Bucket::Fulfillable),
                quantity: units,
                reason: Reason::Receipt,
                reference: "seed".into(),
                idempotency_key: key,
            }],
        )?;
        Ok(())
    })
    .await
    .unwrap();
}

mod orders;
mod sim;
mod warehouse;

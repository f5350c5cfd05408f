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
    OrderUpdate, PackageItem, ReturnCondition, ReturnStatus, ShipmentStatus, Speed, TrackingStatus,
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
        items: vec![OrderItemRequest {
            seller_sku: sku.into(),
            seller_fulfillment_order_item_id: "line-1".into(),
            quantity,
            gift_message: None,
            displayable_comment: None,
            per_unit_declared_value: None,
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reserves_and_repeats_idempotently() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    let req = request("o-1", "sku-a", 3, FulfillmentPolicy::FillOrKill);
    let o = f.create_order(A, req.clone()).await.unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Received);
    assert_eq!(o.shipments.len(), 1);
    assert_eq!(o.shipments[0].fulfillment_center_id, CENTER);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 3);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 7);

    let again = f.create_order(A, req.clone()).await.unwrap();
    assert_eq!(again, o, "the same body returns the stored order unchanged");
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 3);

    let mut other = req;
    other.items[0].quantity = 4;
    let err = f.create_order(A, other).await.unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)), "{err:?}");

    // The stream holds the order's status and the availability change.
    let evs = f
        .store()
        .fulfillment()
        .events_after(A, 0, 1000)
        .await
        .unwrap();
    let status: Vec<_> = evs
        .iter()
        .filter(|e| e.event_type == events::FULFILLMENT_ORDER_STATUS)
        .collect();
    assert_eq!(status.len(), 1);
    let p: serde_json::Value = serde_json::from_slice(&status[0].payload).unwrap();
    assert_eq!(
        p["FulfillmentOrderStatusNotification"]["FulfillmentOrderStatus"],
        "Received"
    );
    assert_eq!(
        evs.iter()
            .filter(|e| e.event_type == events::FBA_INVENTORY_AVAILABILITY_CHANGES)
            .count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    for (req, field) in [
        (
            request("o", "nope", 1, FulfillmentPolicy::FillAll),
            "items[0].sellerSku",
        ),
        (
            request("o", "sku-a", 0, FulfillmentPolicy::FillAll),
            "items[0].quantity",
        ),
        (
            request(
                "o",
                "sku-a",
                i64::from(i32::MAX) + 1,
                FulfillmentPolicy::FillAll,
            ),
            "items[0].quantity",
        ),
        (
            request(&"x".repeat(41), "sku-a", 1, FulfillmentPolicy::FillAll),
            "sellerFulfillmentOrderId",
        ),
    ] {
        match f.create_order(A, req).await {
            Err(FulfillmentError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 10);
    assert!(f.read(A, |b| b.orders.is_empty()).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn policies_decide_what_a_short_order_gets() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    let kill = f
        .create_order(
            A,
            request("kill", "sku-a", 11, FulfillmentPolicy::FillOrKill),
        )
        .await
        .unwrap();
    assert_eq!(kill.fulfillment_order_status, OrderStatus::Unfulfillable);
    assert_eq!(kill.items[0].unfulfillable_quantity, 11);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 0);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 10);

    let avail = f
        .create_order(
            A,
            request("avail", "sku-a", 15, FulfillmentPolicy::FillAllAvailable),
        )
        .await
        .unwrap();
    assert_eq!(avail.fulfillment_order_status, OrderStatus::Received);
    assert_eq!(avail.items[0].cancelled_quantity, 5);
    assert_eq!(avail.shipments[0].items[0].quantity, 10);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 10);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_releases_until_processing() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("c", "sku-a", 4, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = f.cancel_order(A, "c").await.unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Cancelled);
    assert_eq!(o.items[0].cancelled_quantity, 4);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 10);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 0);

    f.create_order(A, request("p", "sku-a", 2, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    f.plan_wave(CENTER, A, vec!["p".into()]).await.unwrap();
    assert_eq!(units(&f, "sku-a", Bucket::ReservedFcProcessing).await, 2);
    let err = f.cancel_order(A, "p").await.unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)), "{err:?}");
    assert_eq!(
        f.order(A, "p").await.unwrap().fulfillment_order_status,
        OrderStatus::Processing
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creates_never_oversell() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 50).await;
    let tasks: Vec<_> = (0..200)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move {
                f.create_order(
                    A,
                    request(&format!("c{i}"), "sku-a", 1, FulfillmentPolicy::FillOrKill),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    let mut received = 0;
    for t in tasks {
        if t.await.unwrap().fulfillment_order_status == OrderStatus::Received {
            received += 1;
        }
    }
    assert_eq!(received, 50);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 50);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 0);
    // The stored ledger replays to the same state.
    let (store2, config2) = (Arc::clone(f.store()), f.config().clone());
    drop(f);
    let g = Fulfillment::new(store2, config2);
    assert_eq!(units(&g, "sku-a", Bucket::ReservedCustomerOrder).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_prices_and_sources_the_order() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    let req = PreviewRequest {
        marketplace_id: None,
        address: address(),
        items: vec![PreviewItemRequest {
            seller_sku: "sku-a".into(),
            seller_fulfillment_order_item_id: "l1".into(),
            quantity: 3,
        }],
        shipping_speed_categories: Vec::new(),
    };
    let p = f.preview(A, req.clone()).await.unwrap();
    assert_eq!(p.len(), 3);
    let std = &p[0];
    assert!(std.is_fulfillable);
    assert_eq!(std.estimated_shipping_weight_mg, 600_000);
    let fee = |n| {
        std.estimated_fees
            .iter()
            .find(|f| f.name == n)
            .unwrap()
            .micro_usd
    };
    assert_eq!(fee(fees::PER_UNIT), 1_500_000);
    assert_eq!(fee(fees::PER_ORDER), 1_000_000);
    assert_eq!(
        fee(fees::TRANSPORTATION),
        800_000,
        "600 g is 2 pounds rounded up"
    );
    assert_eq!(std.shipments[0].fulfillment_center_id, CENTER);
    let e = std.shipments[0].estimate;
    assert!(e.earliest_ship <= e.latest_ship && e.earliest_arrival <= e.latest_arrival);

    let mut bad = req;
    bad.items[0].seller_sku = "nope".into();
    let p = f.preview(A, bad).await.unwrap();
    assert!(!p[0].is_fulfillable);
    assert_eq!(p[0].unfulfillable_items[0].reasons, vec![INVALID_SKU]);
    // A preview reserves nothing.
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 10);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_delivers_meters_once_and_takes_a_return() {
    let (store, mut config, _dir) = setup(true);
    config.simulator.scenarios.customer_return = 1.0;
    let f = Fulfillment::new(Arc::clone(&store), config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("s1", "sku-a", 2, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = drive(&f, "s1", |o| {
        o.return_items.len() == 2
            && o.return_items
                .iter()
                .all(|r| r.status == ReturnStatus::Processed)
    })
    .await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert!(delivered(&o));
    let p = &o.shipments[0].packages[0];
    assert!(p.tracking_number.as_deref().unwrap().starts_with("NM"));
    let statuses: Vec<_> = p.tracking_events.iter().map(|e| e.status).collect();
    assert_eq!(
        statuses,
        [
            TrackingStatus::InTransit,
            TrackingStatus::OutForDelivery,
            TrackingStatus::Delivered
        ]
    );
    // Shipped then returned sellable: back to where it started.
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 10);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedFcProcessing).await, 0);

    // More steps meter nothing more.
    for _ in 0..5 {
        f.sim_outbound_step(A).await.unwrap();
    }
    let usage = store
        .usage(&UsageQuery {
            account_id: Some(A.into()),
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let sum = |m: &str| -> i64 {
        usage
            .iter()
            .filter(|u| u.event.meter == m)
            .map(|u| u.event.quantity)
            .sum()
    };
    assert_eq!(sum(fees::PER_ORDER), 1_000_000);
    assert_eq!(sum(fees::PER_UNIT), 1_000_000);
    assert_eq!(sum(fees::WEIGHT_HANDLING), 400_000, "400 g is one pound");
    assert_eq!(usage.len(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hold_waits_for_release() {
    let (store, config, _dir) = setup(true);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    let mut req = request("h", "sku-a", 1, FulfillmentPolicy::FillOrKill);
    req.fulfillment_action = Some(FulfillmentAction::Hold);
    f.create_order(A, req).await.unwrap();
    for _ in 0..10 {
        f.sim_outbound_step(A).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let o = f.order(A, "h").await.unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Received);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedCustomerOrder).await, 1);
    let update = OrderUpdate {
        fulfillment_action: Some(FulfillmentAction::Ship),
        ..OrderUpdate::default()
    };
    f.update_order(A, "h", update).await.unwrap();
    let o = drive(&f, "h", delivered).await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn short_pick_completes_partialled() {
    let (store, mut config, _dir) = setup(true);
    config.simulator.scenarios.short_pick = 1.0;
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("sp", "sku-a", 3, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = drive(&f, "sp", |o| o.fulfillment_order_status.is_final()).await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::CompletePartialled);
    assert_eq!(o.items[0].unfulfillable_quantity, 1);
    assert_eq!(units(&f, "sku-a", Bucket::Researching).await, 1);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 7);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forced_status_runs_the_real_path() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("fs", "sku-a", 2, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = f
        .force_status(A, "fs", OrderStatus::Complete)
        .await
        .unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 8);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedFcProcessing).await, 0);
    let n = o.shipments[0].packages[0].package_number;
    let (p, _) = f.tracking(A, n).await.unwrap();
    assert_eq!(p.current_status, Some(TrackingStatus::InTransit));
    let err = f
        .force_status(A, "fs", OrderStatus::Cancelled)
        .await
        .unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)));

    f.create_order(A, request("inv", "sku-a", 3, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 5);
    let o = f
        .force_status(A, "inv", OrderStatus::Invalid)
        .await
        .unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::Invalid);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 8);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reloaded_book_continues() {
    let (store, config, _dir) = setup(true);
    {
        let f = Fulfillment::new(Arc::clone(&store), config.clone());
        seed(&f, "sku-a", 10).await;
        f.create_order(A, request("r", "sku-a", 1, FulfillmentPolicy::FillOrKill))
            .await
            .unwrap();
        f.sim_outbound_step(A).await.unwrap();
        let o = f.order(A, "r").await.unwrap();
        assert_eq!(o.fulfillment_order_status, OrderStatus::Processing);
        assert!(o.due.is_some(), "due work is stored on the order");
    }
    let f = Fulfillment::new(store, config);
    let o = drive(&f, "r", delivered).await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 9);
    let (list, token) = f.orders(A, None, None, 10).await.unwrap();
    assert_eq!((list.len(), token), (1, None));
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_split_across_centers_nearest_first() {
    let (store, mut config, _dir) = setup(false);
    let mut far = config.centers[0].clone();
    far.id = "FAR1".into();
    far.address.state_or_region = "NY".into();
    let mut near = config.centers[0].clone();
    near.id = "NEAR1".into();
    near.address.state_or_region = "OR".into();
    // Listed first but in another state: nearness, not listing, wins.
    config.centers = vec![far, near];
    let f = Fulfillment::new(store, config);
    register(&f, "sku-a").await;
    seed_at(&f, "sku-a", "FAR1", 5).await;
    seed_at(&f, "sku-a", "NEAR1", 3).await;
    let o = f
        .create_order(
            A,
            request("split", "sku-a", 6, FulfillmentPolicy::FillOrKill),
        )
        .await
        .unwrap();
    let got: Vec<_> = o
        .shipments
        .iter()
        .map(|s| (s.fulfillment_center_id.as_str(), s.items[0].quantity))
        .collect();
    assert_eq!(got, [("NEAR1", 3), ("FAR1", 3)]);
    let r = |c: &'static str| {
        let s = fn_sku("sku-a");
        f.read(A, move |b| b.units(&s, c, Bucket::ReservedCustomerOrder))
    };
    assert_eq!(
        (r("NEAR1").await.unwrap(), r("FAR1").await.unwrap()),
        (3, 3)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_drives_the_order_by_hand() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(Arc::clone(&store), config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("m", "sku-a", 3, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    assert_eq!(
        f.plan_wave(CENTER, A, vec!["m".into()]).await.unwrap(),
        ["m"]
    );
    assert!(f.plan_wave("NOPE", A, vec!["m".into()]).await.is_err());
    f.pick(CENTER, A, "m", "line-1", 2).await.unwrap();
    assert_eq!(units(&f, "sku-a", Bucket::Researching).await, 1);
    let too_many = PackRequest {
        items: vec![PackageItem {
            seller_fulfillment_order_item_id: "line-1".into(),
            quantity: 3,
        }],
        weight_mg: 500_000,
        dimensions: None,
    };
    assert!(matches!(
        f.pack(CENTER, A, "m", vec![too_many.clone()]).await,
        Err(FulfillmentError::Invalid { .. })
    ));
    let mut ok = too_many;
    ok.items[0].quantity = 2;
    let n = f.pack(CENTER, A, "m", vec![ok]).await.unwrap();
    assert_eq!(n.len(), 1);
    assert!(matches!(
        f.ship(CENTER, A, n[0]).await,
        Err(FulfillmentError::Conflict(_))
    ));
    let label = f.buy_label(CENTER, A, n[0]).await.unwrap();
    assert_eq!(label.carrier_code.as_deref(), Some("NOMUCK"));
    assert_eq!(f.buy_label(CENTER, A, n[0]).await.unwrap(), label);
    f.ship(CENTER, A, n[0]).await.unwrap();
    f.ship(CENTER, A, n[0]).await.unwrap();
    let o = f.order(A, "m").await.unwrap();
    assert_eq!(o.fulfillment_order_status, OrderStatus::CompletePartialled);
    assert_eq!(units(&f, "sku-a", Bucket::ReservedFcProcessing).await, 0);
    for s in [TrackingStatus::Delayed, TrackingStatus::Undeliverable] {
        f.carrier_event(CENTER, A, n[0], s, 1).await.unwrap();
    }
    assert!(
        f.carrier_event(CENTER, A, n[0], TrackingStatus::Delivered, 2)
            .await
            .is_err()
    );
    let (p, _) = f.tracking(A, n[0]).await.unwrap();
    assert_eq!(p.current_status, Some(TrackingStatus::Undeliverable));
    // Fees: shipped twice, metered once (two units, 500 g is two pounds).
    let usage = store
        .usage(&UsageQuery {
            account_id: Some(A.into()),
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let total: i64 = usage.iter().map(|u| u.event.quantity).sum();
    assert_eq!(total, 1_000_000 + 1_000_000 + 800_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_are_checked_and_graded() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("r", "sku-a", 2, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let ret = |id: &str, shipment: &str| CreateReturnItem {
        seller_return_item_id: id.into(),
        seller_fulfillment_order_item_id: "line-1".into(),
        amazon_shipment_id: shipment.into(),
        return_reason_code: "CR-DEFECTIVE".into(),
        return_comment: None,
    };
    let o = f.order(A, "r").await.unwrap();
    let sid = o.shipments[0].amazon_shipment_id.clone();
    let early = f.create_return(A, "r", vec![ret("x", &sid)]).await.unwrap();
    assert_eq!(
        early.invalid_return_items[0].invalid_item_reason,
        "NoCompletedShipItems"
    );
    f.force_status(A, "r", OrderStatus::Complete).await.unwrap();
    let r = f
        .create_return(A, "r", vec![ret("a", &sid), ret("b", &sid), ret("c", &sid)])
        .await
        .unwrap();
    assert_eq!(r.return_items.len(), 2);
    assert_eq!(
        r.invalid_return_items[0].invalid_item_reason,
        "NoReturnableQuantity"
    );
    let again = f.create_return(A, "r", vec![ret("a", &sid)]).await.unwrap();
    assert_eq!(again.return_items, r.return_items[..1]);
    f.receive_return(CENTER, A, "r", "a", ReturnCondition::Defective)
        .await
        .unwrap();
    f.receive_return(CENTER, A, "r", "b", ReturnCondition::Sellable)
        .await
        .unwrap();
    f.receive_return(CENTER, A, "r", "b", ReturnCondition::Sellable)
        .await
        .unwrap();
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 9);
    assert_eq!(
        units(
            &f,
            "sku-a",
            Bucket::Unfulfillable(nomuck_ledger::Damage::Defective)
        )
        .await,
        1
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_lost_packages() {
    let (store, mut config, _dir) = setup(true);
    config.simulator.scenarios.carrier_delay = 1.0;
    let f = Fulfillment::new(Arc::clone(&store), config.clone());
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("d", "sku-a", 1, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = drive(&f, "d", delivered).await;
    let p = &o.shipments[0].packages[0];
    assert!(
        p.tracking_events
            .iter()
            .any(|e| e.status == TrackingStatus::Delayed)
    );

    let (store, mut config, _dir2) = setup(true);
    config.simulator.scenarios.lost_package = 1.0;
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("l", "sku-a", 1, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let o = drive(&f, "l", |o| {
        o.shipments[0]
            .packages
            .first()
            .is_some_and(|p| p.current_status == Some(TrackingStatus::Undeliverable))
    })
    .await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert_eq!(o.due, None);
    assert!(!crate::record::Record::is_open(&o));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_by_a_lasting_token() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    for i in 0..5 {
        f.create_order(
            A,
            request(&format!("o{i}"), "sku-a", 1, FulfillmentPolicy::FillOrKill),
        )
        .await
        .unwrap();
    }
    let mut ids = Vec::new();
    let mut token = None;
    loop {
        let (page, next) = f.orders(A, None, token.as_deref(), 2).await.unwrap();
        ids.extend(page.into_iter().map(|o| o.seller_fulfillment_order_id));
        match next {
            Some(t) => token = Some(t),
            None => break,
        }
    }
    assert_eq!(ids, ["o0", "o1", "o2", "o3", "o4"]);
    assert!(f.orders(A, None, Some("zz"), 2).await.is_err());
    let later = f.orders(A, Some(i64::MAX), None, 2).await.unwrap();
    assert!(later.0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_simulator_finishes_what_an_operator_started() {
    let (store, config, _dir) = setup(true);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", 10).await;
    f.create_order(A, request("mix", "sku-a", 2, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    f.plan_wave(CENTER, A, vec!["mix".into()]).await.unwrap();
    f.pick(CENTER, A, "mix", "line-1", 2).await.unwrap();
    let o = drive(&f, "mix", delivered).await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert_eq!(o.shipments[0].packages.len(), 1);
    assert_eq!(o.shipments[0].packages[0].items[0].quantity, 2);
}

/// What the orders say the ledger must hold for `fn_sku`: (reserved for
/// orders, in processing, researching, shipped, returned sellable).
fn expected(b: &crate::Book, fn_sku: &str) -> [u64; 5] {
    let mut out = [0u64; 5];
    for o in b.orders.values() {
        for s in &o.shipments {
            for it in s
                .items
                .iter()
                .filter(|i| i.fulfillment_network_sku == fn_sku)
            {
                let pending = s.fulfillment_shipment_status == ShipmentStatus::Pending;
                if !s.waved && pending {
                    out[0] += it.quantity;
                }
                if s.waved {
                    out[1] += it.picked.unwrap_or(it.quantity) - it.shipped;
                    out[2] += it.quantity - it.picked.unwrap_or(it.quantity);
                }
                out[3] += it.shipped;
            }
        }
        let sellable = o.return_items.iter().filter(|r| {
            r.return_received_condition == Some(ReturnCondition::Sellable)
                && o.item(&r.seller_fulfillment_order_item_id)
                    .is_some_and(|i| i.fulfillment_network_sku == fn_sku)
        });
        out[4] += sellable.count() as u64;
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_operations_keep_the_books_consistent() {
    use rand::{Rng, SeedableRng};
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(Arc::clone(&store), config.clone());
    let skus = ["sku-a", "sku-b", "sku-c"];
    for s in skus {
        seed(&f, s, 30).await;
    }
    let tasks: Vec<_> = (0..8u64)
        .map(|t| {
            let f = f.clone();
            tokio::spawn(async move {
                let mut rng = rand::rngs::StdRng::seed_from_u64(t);
                for i in 0..40 {
                    let id = format!("t{t}-{}", rng.gen_range(0..=i));
                    match rng.gen_range(0..6) {
                        0 | 1 => {
                            let sku = skus[rng.gen_range(0..3)];
                            let policy = [
                                FulfillmentPolicy::FillOrKill,
                                FulfillmentPolicy::FillAll,
                                FulfillmentPolicy::FillAllAvailable,
                            ][rng.gen_range(0..3)];
                            let _ = f
                                .create_order(A, request(&id, sku, rng.gen_range(1..6), policy))
                                .await;
                        }
                        2 => {
                            let _ = f.cancel_order(A, &id).await;
                        }
                        3 => {
                            let _ = f.plan_wave(CENTER, A, vec![id]).await;
                        }
                        4 => {
                            let target = [OrderStatus::Complete, OrderStatus::CompletePartialled]
                                [rng.gen_range(0..2)];
                            let _ = f.force_status(A, &id, target).await;
                        }
                        _ => {
                            let Ok(o) = f.order(A, &id).await else {
                                continue;
                            };
                            let Some(s) = o.shipments.first() else {
                                continue;
                            };
                            let item = CreateReturnItem {
                                seller_return_item_id: format!("{id}-r{i}"),
                                seller_fulfillment_order_item_id: "line-1".into(),
                                amazon_shipment_id: s.amazon_shipment_id.clone(),
                                return_reason_code: "CR-UNWANTED_ITEM".into(),
                                return_comment: None,
                            };
                            if let Ok(r) = f.create_return(A, &id, vec![item]).await {
                                for r in r.return_items {
                                    let c = if i % 2 == 0 {
                                        ReturnCondition::Sellable
                                    } else {
                                        ReturnCondition::CustomerDamaged
                                    };
                                    let _ = f
                                        .receive_return(CENTER, A, &id, &r.seller_return_item_id, c)
                                        .await;
                                }
                            }
                        }
                    }
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    let check = |b: &crate::Book| {
        assert_eq!(
            nomuck_ledger::Ledger::replay(b.ledger.entries_after(0).to_vec()).unwrap(),
            b.ledger,
            "replaying the entries rebuilds the summaries"
        );
        for sku in skus {
            let fnsku = fn_sku(sku);
            let q = b.ledger.summary(&fnsku, CENTER).quantities;
            let [rco, rfp, research, shipped, sellable] = expected(b, &fnsku);
            assert_eq!(q.get(Bucket::ReservedCustomerOrder), rco, "{sku}");
            assert_eq!(q.get(Bucket::ReservedFcProcessing), rfp, "{sku}");
            assert_eq!(q.get(Bucket::Researching), research, "{sku}");
            assert_eq!(b.ledger.summary(&fnsku, CENTER).shipped, shipped, "{sku}");
            // Conservation: 30 in, shipped out, sellable returns back.
            assert_eq!(
                q.get(Bucket::Fulfillable) + rco + rfp + research,
                30 - shipped + sellable,
                "{sku}"
            );
        }
        b.orders.len()
    };
    let orders = f.read(A, check).await.unwrap();
    assert!(orders > 20, "the mix created orders ({orders})");
    // The mix reached every path: cancels, shipments, short picks, returns.
    let seen = f
        .read(A, |b| {
            let os = || b.orders.values();
            [
                os().filter(|o| o.fulfillment_order_status == OrderStatus::Cancelled)
                    .count(),
                os().filter(|o| o.fulfillment_order_status == OrderStatus::Complete)
                    .count(),
                os().filter(|o| o.fulfillment_order_status == OrderStatus::CompletePartialled)
                    .count(),
                os().map(|o| o.return_items.len()).sum(),
            ]
        })
        .await
        .unwrap();
    assert!(seen.iter().all(|n| *n > 0), "{seen:?}");
    let before = f.read(A, |b| b.orders.clone()).await.unwrap();
    drop(f);
    let g = Fulfillment::new(store, config);
    g.read(A, check).await.unwrap();
    assert_eq!(g.read(A, |b| b.orders.clone()).await.unwrap(), before);
}

/// Not a timed test: prints how fast the simulated operator takes accepted
/// orders to Delivered (`cargo test --release -p nomuck-fulfillment --lib
/// sim_throughput -- --ignored --nocapture`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn sim_throughput() {
    let n: usize = std::env::var("SIM_ORDERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5_000);
    let (store, config, _dir) = setup(true);
    let f = Fulfillment::new(store, config);
    seed(&f, "sku-a", n as u64).await;
    let t = Instant::now();
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move {
                f.create_order(
                    A,
                    request(&format!("t{i}"), "sku-a", 1, FulfillmentPolicy::FillOrKill),
                )
                .await
                .unwrap()
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let created = t.elapsed();
    let t = Instant::now();
    loop {
        f.sim_outbound_step(A).await.unwrap();
        let left = f
            .read(A, |b| b.orders.values().filter(|o| !delivered(o)).count())
            .await
            .unwrap();
        if left == 0 {
            break;
        }
    }
    let sim = t.elapsed();
    println!(
        "{n} orders: created in {created:?} ({:.0}/s); simulated to Delivered in {sim:?} ({:.0}/s)",
        n as f64 / created.as_secs_f64(),
        n as f64 / sim.as_secs_f64()
    );
}

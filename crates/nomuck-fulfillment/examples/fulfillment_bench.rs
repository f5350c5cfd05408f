//! The fulfillment service's benchmark (run by `dev/bench-fulfillment`):
//!
//! 1. **Order intake**: `concurrency` tasks create orders of `lines` lines each for
//!    `secs` seconds against one account with ample stock, every order durably
//!    committed (SQLite, `synchronous=FULL`) with its reservation, its events and
//!    its ledger entries before it is acknowledged. Reports order lines per second
//!    and the latency of a create (p50, p99).
//! 2. **Oversell**: 20,000 single-unit `FillOrKill` orders race for 10,000 units;
//!    exactly 10,000 must be accepted and the stock must end at zero, not below.
//! 3. **Summary reads**: `concurrency` tasks read one SKU's FBA summary with its
//!    details for `secs` seconds.
//! 4. **Simulator**: the simulated center takes `sim_orders` accepted orders to
//!    Delivered (its clock sped up so that no order waits); reports orders per
//!    second from the first step to the last delivery.
//!
//! Usage: `fulfillment_bench [secs] [concurrency] [lines] [sim_orders] [rate]`
//! (defaults 10 256 5 20000 20000). The store lives under `target/bench-fulfillment`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use nomuck_fulfillment::config::Address;
use nomuck_fulfillment::inventory::InventoryQuery;
use nomuck_fulfillment::items::ItemSpec;
use nomuck_fulfillment::orders::{
    FulfillmentPolicy, OrderItemRequest, OrderRequest, OrderStatus, Speed, TrackingStatus,
};
use nomuck_fulfillment::{Fulfillment, FulfillmentConfig};
use nomuck_ledger::{Bucket, Movement, Reason};
use nomuck_meta::{MetaStore, SqliteMetaStore};

// The allocator the server runs with (see `crates/nomuck/src/main.rs`).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CENTER: &str = "SIM1";

fn arg(n: usize, default: u64) -> u64 {
    std::env::args()
        .nth(n)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let secs = arg(1, 10);
    let concurrency = arg(2, 256);
    let lines = arg(3, 5);
    let sim_orders = arg(4, 20_000);
    let rate = arg(5, 20_000);
    let dir = std::path::Path::new("target/bench-fulfillment");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("bench directory");
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.join("meta.db")).expect("open the store"));
    let mut config = FulfillmentConfig::default();
    // The bench drives the simulator itself (no background task is started),
    // with a clock fast enough that every step is due at once.
    config.simulator.speed = 3.6e9;
    let f = Fulfillment::new(store, config.clone(), None);

    intake(&f, secs, concurrency, lines).await;
    intake_at_rate(&f, secs, lines, rate).await;
    oversell(&f).await;
    summary_reads(&f, secs, concurrency).await;
    // A store of its own, so the simulator's rounds visit only its orders.
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.join("sim.db")).expect("open the store"));
    simulator(&Fulfillment::new(store, config, None), sim_orders).await;
}

async fn stock(f: &Fulfillment, account: &str, sku: &str, units: u64) {
    let item = f
        .register_item(
            account,
            sku,
            ItemSpec {
                dimensions: None,
                weight_mg: Some(250_000),
                tracks_lots: false,
                tracks_expiry: false,
            },
        )
        .await
        .expect("register an item");
    let fn_sku = item.fn_sku.clone();
    f.write(account, move |b, tx| {
        b.move_units(
            tx,
            vec![Movement {
                sku: fn_sku.clone(),
                center: CENTER.into(),
                from: None,
                to: Some(Bucket::Fulfillable),
                quantity: units,
                reason: Reason::Receipt,
                reference: "bench".into(),
                idempotency_key: format!("bench-stock:{fn_sku}"),
            }],
        )?;
        Ok(())
    })
    .await
    .expect("stock");
}

fn order(id: String, skus: &[String], lines: u64, policy: FulfillmentPolicy) -> OrderRequest {
    OrderRequest {
        marketplace_id: None,
        displayable_order_id: id.clone(),
        displayable_order_date: 1_700_000_000_000,
        displayable_order_comment: "bench".into(),
        shipping_speed_category: Speed::Standard,
        delivery_window: None,
        destination_address: Address {
            name: "Ada".into(),
            address_line1: "1 Main St".into(),
            city: Some("Seattle".into()),
            state_or_region: "WA".into(),
            postal_code: "98101".into(),
            country_code: "US".into(),
            ..Address::default()
        },
        fulfillment_action: None,
        fulfillment_policy: Some(policy),
        notification_emails: Vec::new(),
        ship_from_country_code: None,
        feature_constraints: Vec::new(),
        items: (0..lines)
            .map(|l| OrderItemRequest {
                seller_sku: skus[l as usize % skus.len()].clone(),
                seller_fulfillment_order_item_id: format!("l{l}"),
                quantity: 1,
                gift_message: None,
                displayable_comment: None,
                per_unit_declared_value: None,
                per_unit_price: None,
                per_unit_tax: None,
                fulfillment_network_sku: None,
            })
            .collect(),
        seller_fulfillment_order_id: id,
    }
}

async fn intake(f: &Fulfillment, secs: u64, concurrency: u64, lines: u64) {
    let account = "000000000001";
    let skus: Vec<String> = (0..20).map(|i| format!("SKU-{i:02}")).collect();
    for sku in &skus {
        stock(f, account, sku, 1_000_000_000).await;
    }
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let (f, skus) = (f.clone(), skus.clone());
            tokio::spawn(async move {
                let mut h = Histogram::<u64>::new(3).expect("histogram");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let begun = Instant::now();
                    let o = f
                        .create_order(
                            account,
                            order(
                                format!("o{t}-{n}"),
                                &skus,
                                lines,
                                FulfillmentPolicy::FillOrKill,
                            ),
                        )
                        .await
                        .expect("create");
                    assert_eq!(o.fulfillment_order_status, OrderStatus::Received);
                    let _ = h.record(begun.elapsed().as_micros() as u64);
                    n += 1;
                }
                (n, h)
            })
        })
        .collect();
    let mut orders = 0;
    let mut all = Histogram::<u64>::new(3).expect("histogram");
    for t in tasks {
        let (n, h) = t.await.expect("task");
        orders += n;
        all.add(h).expect("merge");
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "intake: {orders} orders x {lines} lines in {elapsed:.1} s = {:.0} order lines/s ({:.0} orders/s); \
         create latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms (concurrency {concurrency})",
        (orders * lines) as f64 / elapsed,
        orders as f64 / elapsed,
        all.value_at_quantile(0.5) as f64 / 1000.0,
        all.value_at_quantile(0.99) as f64 / 1000.0,
        all.max() as f64 / 1000.0,
    );
}

async fn intake_at_rate(f: &Fulfillment, secs: u64, lines: u64, rate: u64) {
    // Same account and stock as `intake`.
    let account = "000000000001";
    let skus: Arc<Vec<String>> = Arc::new((0..20).map(|i| format!("SKU-{i:02}")).collect());
    let orders_per_sec = (rate / lines).max(1);
    let total = orders_per_sec * secs;
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(total as usize);
    let mut ticks = tokio::time::interval(Duration::from_millis(1));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    let mut sent = 0u64;
    while sent < total {
        ticks.tick().await;
        // Every order due by now, each stamped with when it was due.
        let due_by = ((started.elapsed().as_secs_f64() * orders_per_sec as f64) as u64).min(total);
        for i in sent..due_by {
            let due = started + Duration::from_secs_f64(i as f64 / orders_per_sec as f64);
            let (f, skus) = (f.clone(), Arc::clone(&skus));
            tasks.push(tokio::spawn(async move {
                let o = f
                    .create_order(
                        account,
                        order(format!("r{i}"), &skus, lines, FulfillmentPolicy::FillOrKill),
                    )
                    .await
                    .expect("create");
                assert_eq!(o.fulfillment_order_status, OrderStatus::Received);
                due.elapsed().as_micros() as u64
            }));
        }
        sent = due_by;
    }
    let mut h = Histogram::<u64>::new(3).expect("histogram");
    for t in tasks {
        let _ = h.record(t.await.expect("task"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "intake at {rate} lines/s offered: {total} orders x {lines} lines done in {elapsed:.1} s = {:.0} order lines/s; \
         create latency from due time p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        (total * lines) as f64 / elapsed,
        h.value_at_quantile(0.5) as f64 / 1000.0,
        h.value_at_quantile(0.99) as f64 / 1000.0,
        h.max() as f64 / 1000.0,
    );
}

async fn oversell(f: &Fulfillment) {
    let account = "000000000002";
    let sku = vec!["SCARCE".to_owned()];
    stock(f, account, &sku[0], 10_000).await;
    let accepted = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..20_000)
        .map(|i| {
            let (f, sku, accepted) = (f.clone(), sku.clone(), accepted.clone());
            tokio::spawn(async move {
                let o = f
                    .create_order(
                        account,
                        order(format!("s{i}"), &sku, 1, FulfillmentPolicy::FillOrKill),
                    )
                    .await
                    .expect("create");
                if o.fulfillment_order_status == OrderStatus::Received {
                    accepted.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let item = f.item(account, "SCARCE").await.expect("item");
    let (fulfillable, reserved) = f
        .read(account, move |b| {
            (
                b.units(&item.fn_sku, CENTER, Bucket::Fulfillable),
                b.units(&item.fn_sku, CENTER, Bucket::ReservedCustomerOrder),
            )
        })
        .await
        .expect("read");
    let accepted = accepted.load(Ordering::Relaxed);
    println!(
        "oversell: 20000 orders for 10000 units: {accepted} accepted, {reserved} reserved, {fulfillable} left"
    );
    assert_eq!(
        (accepted, reserved, fulfillable),
        (10_000, 10_000, 0),
        "oversold"
    );
}

async fn summary_reads(f: &Fulfillment, secs: u64, concurrency: u64) {
    let account = "000000000001";
    let deadline = Instant::now() + Duration::from_secs(secs);
    let started = Instant::now();
    let tasks: Vec<_> = (0..concurrency)
        .map(|t| {
            let f = f.clone();
            tokio::spawn(async move {
                let mut n = 0u64;
                let query = InventoryQuery {
                    seller_skus: vec![format!("SKU-{:02}", t % 20)],
                    start_date_time: None,
                    details: true,
                    after_token: None,
                    limit: 50,
                };
                while Instant::now() < deadline {
                    let page = f
                        .inventory_summaries(account, query.clone())
                        .await
                        .expect("summaries");
                    assert_eq!(page.summaries.len(), 1);
                    n += 1;
                }
                n
            })
        })
        .collect();
    let mut reads = 0;
    for t in tasks {
        reads += t.await.expect("task");
    }
    println!(
        "summary reads: {:.0}/s (concurrency {concurrency})",
        reads as f64 / started.elapsed().as_secs_f64()
    );
}

async fn simulator(f: &Fulfillment, n: u64) {
    let account = "000000000003";
    let skus = vec!["SIM-A".to_owned(), "SIM-B".to_owned()];
    for sku in &skus {
        stock(f, account, sku, n * 2).await;
    }
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let (f, skus) = (f.clone(), skus.clone());
            tokio::spawn(async move {
                f.create_order(
                    account,
                    order(format!("d{i}"), &skus, 2, FulfillmentPolicy::FillOrKill),
                )
                .await
                .expect("create")
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    let total = f.read(account, |b| b.orders.len()).await.expect("read");
    assert_eq!(total as u64, n, "every order was accepted");
    let started = Instant::now();
    let mut rounds = 0;
    loop {
        f.simulate_round().await;
        rounds += 1;
        let left = f
            .read(account, |b| {
                b.orders
                    .values()
                    .filter(|o| {
                        let mut packages = o.shipments.iter().flat_map(|s| &s.packages).peekable();
                        packages.peek().is_none()
                            || !packages
                                .all(|p| p.current_status == Some(TrackingStatus::Delivered))
                    })
                    .count()
            })
            .await
            .expect("read");
        if left == 0 {
            break;
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    println!(
        "simulator: {n} orders to Delivered in {elapsed:.1} s ({rounds} rounds) = {:.0} orders/s",
        n as f64 / elapsed
    );
}

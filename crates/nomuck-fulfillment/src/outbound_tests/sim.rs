//! The simulated operator: to Delivered, scenarios, hold, reload, throughput.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_delivers_meters_once_and_takes_a_return() {
    let (store, mut config, _dir) = setup(true);
    config.simulator.scenarios.customer_return = 1.0;
    let f = Fulfillment::new(Arc::clone(&store), config, None);
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
    let f = Fulfillment::new(store, config, None);
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
    let f = Fulfillment::new(store, config, None);
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
async fn a_reloaded_book_continues() {
    let (store, config, _dir) = setup(true);
    {
        let f = Fulfillment::new(Arc::clone(&store), config.clone(), None);
        seed(&f, "sku-a", 10).await;
        f.create_order(A, request("r", "sku-a", 1, FulfillmentPolicy::FillOrKill))
            .await
            .unwrap();
        f.sim_outbound_step(A).await.unwrap();
        let o = f.order(A, "r").await.unwrap();
        assert_eq!(o.fulfillment_order_status, OrderStatus::Processing);
        assert!(o.due.is_some(), "due work is stored on the order");
    }
    let f = Fulfillment::new(store, config, None);
    let o = drive(&f, "r", delivered).await;
    assert_eq!(o.fulfillment_order_status, OrderStatus::Complete);
    assert_eq!(units(&f, "sku-a", Bucket::Fulfillable).await, 9);
    let (list, token) = f.orders(A, None, None, 10).await.unwrap();
    assert_eq!((list.len(), token), (1, None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_and_lost_packages() {
    let (store, mut config, _dir) = setup(true);
    config.simulator.scenarios.carrier_delay = 1.0;
    let f = Fulfillment::new(Arc::clone(&store), config.clone(), None);
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
    let f = Fulfillment::new(store, config, None);
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
async fn the_simulator_finishes_what_an_operator_started() {
    let (store, config, _dir) = setup(true);
    let f = Fulfillment::new(store, config, None);
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
    let f = Fulfillment::new(store, config, None);
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

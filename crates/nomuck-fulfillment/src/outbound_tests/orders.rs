//! Outbound orders: create, idempotency, policies, cancel, concurrency, preview, listing.

use super::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_reserves_and_repeats_idempotently() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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
    // One availability change for the seeded receipt, one for the order
    // (its repeat and the refused body moved nothing), each with the stock
    // as it then stood.
    let fulfillable: Vec<_> = evs
        .iter()
        .filter(|e| e.event_type == events::FBA_INVENTORY_AVAILABILITY_CHANGES)
        .map(|e| {
            let p: serde_json::Value = serde_json::from_slice(&e.payload).unwrap();
            p["FulfillmentInventoryByMarketplace"][0]["FulfillmentInventory"]["Fulfillable"].clone()
        })
        .collect();
    assert_eq!(fulfillable, [10, 7]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_requests_are_refused_and_change_nothing() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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
    let f = Fulfillment::new(store, config, None);
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
    let f = Fulfillment::new(store, config, None);
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
    let f = Fulfillment::new(store, config, None);
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
    let g = Fulfillment::new(store2, config2, None);
    assert_eq!(units(&g, "sku-a", Bucket::ReservedCustomerOrder).await, 50);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_prices_and_sources_the_order() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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

/// Two centers worked by hand: FAR1 in NY, listed first, and NEAR1 in OR,
/// near the test address (nearness, not listing, decides).
fn near_and_far() -> (Fulfillment, tempfile::TempDir) {
    let (store, mut config, dir) = setup(false);
    let mut far = config.centers[0].clone();
    far.id = "FAR1".into();
    far.address.state_or_region = "NY".into();
    let mut near = config.centers[0].clone();
    near.id = "NEAR1".into();
    near.address.state_or_region = "OR".into();
    config.centers = vec![far, near];
    (Fulfillment::new(store, config, None), dir)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_split_across_centers_nearest_first() {
    let (f, _dir) = near_and_far();
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

fn quantity_update(q: i64) -> OrderUpdate {
    OrderUpdate {
        items: vec![crate::orders::OrderItemUpdate::quantity("line-1", q)],
        ..OrderUpdate::default()
    }
}

/// A line's new quantity is sourced like a new order (nearest first,
/// splitting onto a new shipment) and released farthest first (dropping a
/// shipment left empty); many updates at once never reserve more than
/// there is, and the books stay equal to the ledger.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn updated_quantities_are_sourced_nearest_first_and_never_oversell() {
    let (f, _dir) = near_and_far();
    register(&f, "sku-a").await;
    seed_at(&f, "sku-a", "FAR1", 5).await;
    seed_at(&f, "sku-a", "NEAR1", 3).await;
    f.create_order(A, request("u", "sku-a", 1, FulfillmentPolicy::FillOrKill))
        .await
        .unwrap();
    let split = |o: &Order| -> Vec<(String, u64)> {
        o.shipments
            .iter()
            .map(|s| (s.fulfillment_center_id.clone(), s.items[0].quantity))
            .collect()
    };
    let o = f.update_order(A, "u", quantity_update(6)).await.unwrap();
    assert_eq!(split(&o), [("NEAR1".into(), 3), ("FAR1".into(), 3)]);
    let o = f.update_order(A, "u", quantity_update(2)).await.unwrap();
    assert_eq!(split(&o), [("NEAR1".into(), 2)]);
    let o = f.update_order(A, "u", quantity_update(4)).await.unwrap();
    assert_eq!(split(&o), [("NEAR1".into(), 3), ("FAR1".into(), 1)]);
    assert_ne!(
        o.shipments[0].amazon_shipment_id,
        o.shipments[1].amazon_shipment_id
    );
    let both = |bucket: Bucket| {
        let s = fn_sku("sku-a");
        f.read(A, move |b| {
            b.units(&s, "NEAR1", bucket) + b.units(&s, "FAR1", bucket)
        })
    };
    assert_eq!(both(Bucket::ReservedCustomerOrder).await.unwrap(), 4);
    assert_eq!(both(Bucket::Fulfillable).await.unwrap(), 4);

    // Eight FillAllAvailable orders of one unit, then all grow to five at
    // once: the 2 units left are reserved, whoever wins, the rest cancelled.
    seed_at(&f, "sku-a", "NEAR1", 6).await;
    for i in 0..8 {
        f.create_order(
            A,
            request(
                &format!("c{i}"),
                "sku-a",
                1,
                FulfillmentPolicy::FillAllAvailable,
            ),
        )
        .await
        .unwrap();
    }
    let grow: Vec<_> = (0..8)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move {
                f.update_order(A, &format!("c{i}"), quantity_update(5))
                    .await
            })
        })
        .collect();
    for g in grow {
        g.await.unwrap().unwrap();
    }
    assert_eq!(both(Bucket::Fulfillable).await.unwrap(), 0);
    let b = f.read(A, |b| {
        let held: u64 = b
            .orders
            .values()
            .flat_map(|o| &o.shipments)
            .flat_map(|s| &s.items)
            .map(|i| i.quantity)
            .sum();
        let lines: Vec<(u64, u64)> = b
            .orders
            .values()
            .filter(|o| o.seller_fulfillment_order_id.starts_with('c'))
            .map(|o| (o.items[0].quantity, o.items[0].cancelled_quantity))
            .collect();
        (
            held,
            b.units(&fn_sku("sku-a"), "NEAR1", Bucket::ReservedCustomerOrder)
                + b.units(&fn_sku("sku-a"), "FAR1", Bucket::ReservedCustomerOrder),
            lines,
        )
    });
    let (held, reserved, lines) = b.await.unwrap();
    assert_eq!((held, reserved), (14, 14));
    assert!(lines.iter().all(|(q, _)| *q == 5), "{lines:?}");
    let cancelled: u64 = lines.iter().map(|(_, c)| c).sum();
    assert_eq!(cancelled, 8 * 5 - 10, "{lines:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listing_pages_by_a_lasting_token() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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
async fn forced_status_runs_the_real_path() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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

/// A commit that fails takes the batch queued behind it down too (it was
/// built on the failed one's changes), and the book comes back equal to the
/// store: no caller was told "done" for something the store does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_the_batches_built_on_it() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(Arc::clone(&store), config.clone(), None);
    seed(&f, "sku-a", 1_000).await;
    f.create_order(
        A,
        request("o-stale", "sku-a", 1, FulfillmentPolicy::FillAll),
    )
    .await
    .unwrap();
    // Someone else writes the order's record: the book's generation is stale
    // now, so the commit of any change to it is refused by the store.
    let doc = store
        .fulfillment()
        .doc(A, "order", "o-stale")
        .await
        .unwrap()
        .unwrap();
    let expect = Some(doc.generation);
    let bumped = nomuck_meta::fulfillment::DocRecord {
        generation: doc.generation + 1,
        ..doc
    };
    store
        .commit(vec![nomuck_meta::Mutation::Fulfillment(
            nomuck_meta::fulfillment::FulfillmentMutation::PutDoc {
                record: Box::new(bumped),
                expect_generation: expect,
            },
        )])
        .await
        .unwrap();

    // The doomed cancel races 64 creates, so batches queue behind its commit.
    let cancel = {
        let f = f.clone();
        tokio::spawn(async move { f.cancel_order(A, "o-stale").await })
    };
    let creates: Vec<_> = (0..64)
        .map(|i| {
            let f = f.clone();
            tokio::spawn(async move {
                let id = format!("o-{i}");
                let r = f
                    .create_order(A, request(&id, "sku-a", 2, FulfillmentPolicy::FillOrKill))
                    .await;
                (id, r.is_ok())
            })
        })
        .collect();
    assert!(cancel.await.unwrap().is_err(), "the stale write is refused");
    let mut acknowledged = Vec::new();
    for c in creates {
        let (id, ok) = c.await.unwrap();
        if ok {
            acknowledged.push(id);
        }
    }

    // What the callers were told is exactly what a fresh load of the store holds.
    let reloaded = Fulfillment::new(store, config, None);
    for id in &acknowledged {
        assert!(reloaded.order(A, id).await.is_ok(), "{id} was acknowledged");
    }
    let (book_orders, book_reserved) = f
        .read(A, |b| {
            (
                b.orders.len(),
                b.units(&fn_sku("sku-a"), CENTER, Bucket::ReservedCustomerOrder),
            )
        })
        .await
        .unwrap();
    let (store_orders, store_reserved) = reloaded
        .read(A, |b| {
            (
                b.orders.len(),
                b.units(&fn_sku("sku-a"), CENTER, Bucket::ReservedCustomerOrder),
            )
        })
        .await
        .unwrap();
    assert_eq!(store_orders, acknowledged.len() + 1);
    assert_eq!((book_orders, book_reserved), (store_orders, store_reserved));
    assert_eq!(store_reserved, 1 + 2 * acknowledged.len() as u64);
    assert_eq!(
        f.ledger_entries(A, 0, 10_000).await.unwrap(),
        reloaded.ledger_entries(A, 0, 10_000).await.unwrap()
    );
}

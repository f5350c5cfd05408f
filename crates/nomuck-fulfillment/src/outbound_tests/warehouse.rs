//! The center's operations by hand, returns, and a mixed-operations consistency check.

use super::*;

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
async fn an_operator_drives_the_order_by_hand() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(Arc::clone(&store), config, None);
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
        key: None,
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

/// Packing under a key from two scanners at once makes one package; the
/// key used for another order is a conflict.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_packing_key_makes_one_package_under_concurrency() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
    seed(&f, "sku-a", 10).await;
    for id in ["p", "q"] {
        f.create_order(A, request(id, "sku-a", 2, FulfillmentPolicy::FillOrKill))
            .await
            .unwrap();
    }
    f.plan_wave(CENTER, A, vec!["p".into(), "q".into()])
        .await
        .unwrap();
    for id in ["p", "q"] {
        f.pick(CENTER, A, id, "line-1", 2).await.unwrap();
    }
    let key = RequestKey {
        key: "carton-7".into(),
        fingerprint: "fp".into(),
    };
    let request = PackRequest {
        items: vec![PackageItem {
            seller_fulfillment_order_item_id: "line-1".into(),
            quantity: 2,
        }],
        weight_mg: 500_000,
        dimensions: None,
        key: Some(key.clone()),
    };
    let tries: Vec<_> = (0..8)
        .map(|_| {
            let (f, r) = (f.clone(), request.clone());
            tokio::spawn(async move { f.pack(CENTER, A, "p", vec![r]).await })
        })
        .collect();
    let mut numbers = Vec::new();
    for t in tries {
        numbers.push(t.await.unwrap().unwrap());
    }
    assert!(numbers.iter().all(|n| *n == numbers[0]), "{numbers:?}");
    let o = f.order(A, "p").await.unwrap();
    assert_eq!(o.shipments[0].packages.len(), 1);
    assert_eq!(o.shipments[0].items[0].packed, 2);
    assert_eq!(
        f.packed_under(CENTER, A, "p", &key).await.unwrap(),
        Some(numbers[0][0])
    );
    for (id, fingerprint) in [("q", "fp"), ("p", "other")] {
        let other = RequestKey {
            key: key.key.clone(),
            fingerprint: fingerprint.into(),
        };
        let mut r = request.clone();
        r.key = Some(other);
        assert!(
            matches!(f.pack(CENTER, A, id, vec![r]).await, Err(FulfillmentError::Conflict(m)) if m.contains("carton-7")),
            "{id}"
        );
    }
    assert!(
        f.order(A, "q").await.unwrap().shipments[0]
            .packages
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returns_are_checked_and_graded() {
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(store, config, None);
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
async fn mixed_operations_keep_the_books_consistent() {
    use rand::{Rng, SeedableRng};
    let (store, config, _dir) = setup(false);
    let f = Fulfillment::new(Arc::clone(&store), config.clone(), None);
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
            nomuck_ledger::Ledger::replay(b.ledger.entries_after(0).cloned().collect::<Vec<_>>())
                .unwrap(),
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
    let g = Fulfillment::new(store, config, None);
    g.read(A, check).await.unwrap();
    assert_eq!(g.read(A, |b| b.orders.clone()).await.unwrap(), before);
}

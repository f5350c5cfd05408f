//! Items, inbound shipments, receiving, inventory reads and storage fees on
//! a real SQLite store.

mod common;

use std::sync::Arc;

use common::{A, B, all_summaries, env, line, shipped, spec};
use nomuck_fulfillment::inbound::{Condition, InboundFilter, ShipmentStatus};
use nomuck_fulfillment::inbound_ops::sim_inbound;
use nomuck_fulfillment::inventory::{InventoryQuery, STORAGE_FEE_METER};
use nomuck_fulfillment::items::ItemSpec;
use nomuck_fulfillment::stock::{AdjustmentSpec, Location};
use nomuck_fulfillment::{Fulfillment, FulfillmentConfig, FulfillmentError};
use nomuck_ledger::{Bucket, Damage, InventoryDetails};
use nomuck_meta::UsageQuery;
use nomuck_meta::fulfillment::ItemDimensions;

/// A simulator that never runs by itself (these tests drive it) and never
/// damages anything unless told.
fn manual() -> FulfillmentConfig {
    let mut c = FulfillmentConfig::default();
    c.simulator.enabled = false;
    if let Some(center) = c.centers.first_mut() {
        center.simulated = false;
    }
    c
}

fn foot() -> ItemDimensions {
    ItemDimensions {
        length_um: 304_800,
        width_um: 304_800,
        height_um: 304_800,
    }
}

async fn details(f: &Fulfillment, account: &str, sku: &str) -> InventoryDetails {
    let page = f
        .inventory_summaries(
            account,
            InventoryQuery {
                seller_skus: vec![sku.into()],
                details: true,
                limit: 10,
                ..InventoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(page.summaries.len(), 1, "{sku}");
    page.summaries[0].details.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn items_register_update_and_list() {
    let e = env(manual());
    let item =
        e.f.register_item(
            A,
            "SKU-1",
            ItemSpec {
                dimensions: Some(foot()),
                weight_mg: Some(1_000),
                ..ItemSpec::default()
            },
        )
        .await
        .unwrap();
    assert!(item.fn_sku.starts_with("X00") && item.fn_sku.len() == 10);
    assert_eq!(item.generation, 1);
    // The same PUT again: nothing changes, same fnSku.
    let again =
        e.f.register_item(
            A,
            "SKU-1",
            ItemSpec {
                dimensions: Some(foot()),
                weight_mg: Some(1_000),
                ..ItemSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(again, item);
    // An update keeps the fnSku.
    let updated =
        e.f.register_item(
            A,
            "SKU-1",
            ItemSpec {
                tracks_expiry: true,
                ..ItemSpec::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        (
            updated.fn_sku.as_str(),
            updated.generation,
            updated.tracks_expiry
        ),
        (item.fn_sku.as_str(), 2, true)
    );
    // Another account's same SKU gets another fnSku and sees nothing of A.
    let other =
        e.f.register_item(B, "SKU-1", ItemSpec::default())
            .await
            .unwrap();
    assert_ne!(other.fn_sku, item.fn_sku);
    assert!(matches!(
        e.f.item(B, "SKU-2").await,
        Err(FulfillmentError::NotFound(_))
    ));
    e.f.register_item(A, "SKU-0", ItemSpec::default())
        .await
        .unwrap();
    let skus: Vec<String> =
        e.f.items(A, None, 10)
            .await
            .unwrap()
            .into_iter()
            .map(|i| i.seller_sku)
            .collect();
    assert_eq!(skus, ["SKU-0", "SKU-1"]);
    assert_eq!(e.f.items(A, Some("SKU-0"), 10).await.unwrap().len(), 1);
    // The store has them, with the fnSku index.
    let stored = e
        .store
        .fulfillment()
        .item_by_fn_sku(&item.fn_sku)
        .await
        .unwrap();
    assert_eq!(stored, Some(updated));

    // Bad input: refused, nothing stored.
    for (sku, spec) in [
        ("", ItemSpec::default()),
        (&*"a".repeat(41), ItemSpec::default()),
        (
            "SKU-9",
            ItemSpec {
                weight_mg: Some(0),
                ..ItemSpec::default()
            },
        ),
        (
            "SKU-9",
            ItemSpec {
                dimensions: Some(ItemDimensions {
                    length_um: 1,
                    width_um: -5,
                    height_um: 1,
                }),
                ..ItemSpec::default()
            },
        ),
    ] {
        let err = e.f.register_item(A, sku, spec).await.unwrap_err();
        assert!(matches!(err, FulfillmentError::Invalid { .. }), "{err:?}");
    }
    assert_eq!(e.f.items(A, None, 10).await.unwrap().len(), 2);
}

/// The whole inbound flow by hand: create (SKUs auto-registered), edit,
/// ship, arrive, check in, receive box by box with damage and over- and
/// short-receipts, close; summaries exact at every step; the same box twice
/// is one receipt; events name every status.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbound_flow_by_hand() {
    let e = env(manual());
    let f = &e.f;
    f.register_item(A, "A1", ItemSpec::default()).await.unwrap();
    let s = f
        .create_inbound_shipment(A, "FBA1", spec(&[("A1", 10), ("B2", 5)]))
        .await
        .unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Working);
    let b2 = f.item(A, "B2").await.unwrap();
    assert_eq!(b2.dimensions, None, "auto-registered bare");
    assert_eq!(details(f, A, "A1").await.inbound_working_quantity, 10);

    // Create again with other quantities: the difference moves; the same
    // request again moves nothing.
    f.create_inbound_shipment(A, "FBA1", spec(&[("A1", 12), ("B2", 3)]))
        .await
        .unwrap();
    let head = f.ledger_entries(A, 0, 1000).await.unwrap().len();
    let s = f
        .create_inbound_shipment(A, "FBA1", spec(&[("A1", 12), ("B2", 3)]))
        .await
        .unwrap();
    assert_eq!(f.ledger_entries(A, 0, 1000).await.unwrap().len(), head);
    assert_eq!(s.revision, 2);
    assert_eq!(details(f, A, "A1").await.inbound_working_quantity, 12);
    assert_eq!(details(f, A, "B2").await.inbound_working_quantity, 3);

    // Ship; the center's steps in order only.
    let s = f
        .update_inbound_shipment(A, "FBA1", shipped(spec(&[("A1", 12), ("B2", 3)])))
        .await
        .unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Shipped);
    assert_eq!(details(f, A, "A1").await.inbound_shipped_quantity, 12);
    // The create repeated as it was (a client's retry after a timeout) is
    // answered with the shipment as it is, changing nothing; a create that
    // differs can no longer replace it.
    let (entries, events) = (
        f.ledger_entries(A, 0, 1000).await.unwrap(),
        e.store.fulfillment().event_head(A).await.unwrap(),
    );
    let again = f
        .create_inbound_shipment(A, "FBA1", spec(&[("A1", 12), ("B2", 3)]))
        .await
        .unwrap();
    assert_eq!(again, s);
    let err = f
        .create_inbound_shipment(A, "FBA1", spec(&[("A1", 12), ("B2", 4)]))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, FulfillmentError::Conflict(m) if m.contains("can no longer be replaced")),
        "{err:?}"
    );
    assert_eq!(f.ledger_entries(A, 0, 1000).await.unwrap(), entries);
    assert_eq!(e.store.fulfillment().event_head(A).await.unwrap(), events);
    let err = f.check_in("SIM1", A, "FBA1").await.unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)), "{err:?}");
    let err = f.dock_arrive("OTHER", A, "FBA1").await.unwrap_err();
    assert!(matches!(err, FulfillmentError::NotFound(_)), "{err:?}");
    assert!(matches!(
        f.dock_arrive("SIM1", B, "FBA1").await,
        Err(FulfillmentError::NotFound(_))
    ));
    assert_eq!(
        f.dock_arrive("SIM1", A, "FBA1")
            .await
            .unwrap()
            .shipment_status,
        ShipmentStatus::Delivered
    );
    f.check_in("SIM1", A, "FBA1").await.unwrap();
    assert_eq!(details(f, A, "A1").await.inbound_receiving_quantity, 12);
    // The seller's "shipped" again (a retry) is answered, not refused.
    let retried = f
        .update_inbound_shipment(A, "FBA1", shipped(spec(&[("A1", 12), ("B2", 3)])))
        .await
        .unwrap();
    assert_eq!(retried.shipment_status, ShipmentStatus::CheckedIn);
    let created = f
        .create_inbound_shipment(A, "FBA1", spec(&[("A1", 12), ("B2", 3)]))
        .await
        .unwrap();
    assert_eq!(created, retried);
    // Items can no longer change, nor can it be cancelled.
    let err = f
        .update_inbound_shipment(A, "FBA1", spec(&[("A1", 13), ("B2", 3)]))
        .await
        .unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)), "{err:?}");

    // Box 1: 8 sellable A1 and 2 damaged. Box 2: 2 more A1 and 1 over (3
    // A1 where 2 were still expected), 1 B2. B2 is 2 short at close.
    f.receive_box(
        "SIM1",
        A,
        "FBA1",
        "BOX1",
        vec![
            line("A1", 8, Condition::Sellable),
            line("A1", 2, Condition::WarehouseDamaged),
        ],
    )
    .await
    .unwrap();
    let box2 = vec![
        line("A1", 3, Condition::Sellable),
        line("B2", 1, Condition::Sellable),
    ];
    let s = f
        .receive_box("SIM1", A, "FBA1", "BOX2", box2.clone())
        .await
        .unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Receiving);
    let before = f.ledger_entries(A, 0, 1000).await.unwrap();
    // The same box again: one receipt. Other contents under its id: refused.
    let again = f
        .receive_box("SIM1", A, "FBA1", "BOX2", box2)
        .await
        .unwrap();
    assert_eq!(again, s);
    let err = f
        .receive_box(
            "SIM1",
            A,
            "FBA1",
            "BOX2",
            vec![line("A1", 1, Condition::Sellable)],
        )
        .await
        .unwrap_err();
    assert!(matches!(err, FulfillmentError::Conflict(_)), "{err:?}");
    assert_eq!(f.ledger_entries(A, 0, 1000).await.unwrap(), before);

    let a1 = details(f, A, "A1").await;
    assert_eq!(a1.fulfillable_quantity, 11);
    assert_eq!(a1.unfulfillable_quantity.warehouse_damaged_quantity, 2);
    assert_eq!(a1.inbound_receiving_quantity, 0);
    assert_eq!(a1.total_quantity, 13);

    let s = f.close_shipment("SIM1", A, "FBA1").await.unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Closed);
    let a1_item = s.item("A1").unwrap();
    assert_eq!(
        (
            a1_item.quantity_received,
            a1_item.quantity_over,
            a1_item.quantity_short
        ),
        (13, 1, 0)
    );
    assert_eq!(a1_item.received_by_condition["WarehouseDamaged"], 2);
    let b2_item = s.item("B2").unwrap();
    assert_eq!((b2_item.quantity_received, b2_item.quantity_short), (1, 2));
    let b2 = details(f, A, "B2").await;
    assert_eq!((b2.fulfillable_quantity, b2.total_quantity), (1, 1));
    // Closing again is a no-op; receiving after close is refused.
    assert_eq!(f.close_shipment("SIM1", A, "FBA1").await.unwrap(), s);
    assert!(
        f.receive_box(
            "SIM1",
            A,
            "FBA1",
            "BOX3",
            vec![line("A1", 1, Condition::Sellable)]
        )
        .await
        .is_err()
    );

    // Reads.
    assert_eq!(f.inbound_items(A, "FBA1").await.unwrap().len(), 2);
    let closed = f
        .inbound_shipments(
            A,
            InboundFilter {
                statuses: vec![ShipmentStatus::Closed],
                ..InboundFilter::default()
            },
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(closed.len(), 1);
    assert!(
        f.inbound_shipments(B, InboundFilter::default(), None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    let updated = f.inbound_items_updated(A, 0, i64::MAX).await.unwrap();
    assert_eq!(updated.len(), 2);

    // The stream: every status once, in order.
    let events = e
        .store
        .fulfillment()
        .events_after(A, 0, 10_000)
        .await
        .unwrap();
    let statuses: Vec<String> = events
        .iter()
        .filter(|ev| ev.event_type == "INBOUND_SHIPMENT_STATUS")
        .map(|ev| {
            let v: serde_json::Value = serde_json::from_slice(&ev.payload).unwrap();
            v["shipmentStatus"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        statuses,
        [
            "WORKING",
            "SHIPPED",
            "IN_TRANSIT",
            "DELIVERED",
            "CHECKED_IN",
            "RECEIVING",
            "CLOSED"
        ]
    );
    // Every ledger entry is in exactly one INVENTORY_MOVEMENT event, in order.
    let moved: Vec<u64> = events
        .iter()
        .filter(|ev| ev.event_type == "INVENTORY_MOVEMENT")
        .flat_map(|ev| {
            let p: serde_json::Value = serde_json::from_slice(&ev.payload).unwrap();
            p["movements"]
                .as_array()
                .unwrap()
                .iter()
                .map(|m| m["ledgerSeq"].as_u64().unwrap())
                .collect::<Vec<_>>()
        })
        .collect();
    let entries = f.ledger_entries(A, 0, 1000).await.unwrap();
    assert_eq!(moved, entries.iter().map(|e| e.seq).collect::<Vec<_>>());

    // A fresh service on the same store rebuilds the same book.
    let summaries = all_summaries(f, A).await;
    let reloaded = Fulfillment::new(Arc::clone(&e.store), manual(), None);
    assert_eq!(all_summaries(&reloaded, A).await, summaries);
    assert_eq!(
        reloaded.inbound_shipment(A, "FBA1").await.unwrap(),
        f.inbound_shipment(A, "FBA1").await.unwrap()
    );
    assert_eq!(
        reloaded.ledger_entries(A, 0, 1000).await.unwrap(),
        f.ledger_entries(A, 0, 1000).await.unwrap()
    );

    // Labels: a PDF naming the shipment and its boxes.
    let pdf = f.labels(A, "FBA1", Some(2)).await.unwrap();
    let text = String::from_utf8_lossy(&pdf);
    assert!(text.starts_with("%PDF-1.4") && text.ends_with("%%EOF\n"));
    assert!(text.contains("(Shipment FBA1)") && text.contains("FBA1U000002"));
    assert!(f.labels(A, "FBA1", Some(0)).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancel_and_bad_input_change_nothing() {
    let e = env(manual());
    let f = &e.f;
    f.create_inbound_shipment(A, "FBA2", spec(&[("C1", 4)]))
        .await
        .unwrap();
    let head = f.ledger_entries(A, 0, 100).await.unwrap();
    let events = e.store.fulfillment().event_head(A).await.unwrap();
    let long_sku = "x".repeat(41);
    let long_id = "F".repeat(41);
    let mut bad = vec![
        ("", spec(&[("C1", 1)])),
        ("FBA2", spec(&[])),
        ("FBA2", spec(&[("C1", 0)])),
        ("FBA2", spec(&[("C1", u64::from(u32::MAX))])),
        ("FBA2", spec(&[("C1", 1), ("C1", 2)])),
        ("FBA2", spec(&[(&long_sku, 1)])),
        (&long_id, spec(&[("C1", 1)])),
    ];
    let mut cased = spec(&[("C1", 12), ("C3", 6)]);
    cased.items[0].quantity_in_case = Some(6);
    bad.push(("FBA2", cased.clone())); // cases for one item, not all
    cased.items[1].quantity_in_case = Some(4);
    bad.push(("FBA2", cased.clone())); // 6 is not a whole number of 4s
    let mut required = spec(&[("C1", 1)]);
    required.are_cases_required = true;
    bad.push(("FBA2", required));
    let mut nowhere = spec(&[("C1", 1)]);
    nowhere.destination_fulfillment_center_id = "NOPE".into();
    bad.push(("FBA2", nowhere));
    let mut closing = spec(&[("C1", 1)]);
    closing.shipment_status = Some(ShipmentStatus::Closed);
    bad.push(("FBA2", closing));
    for (id, s) in bad {
        let err = f.create_inbound_shipment(A, id, s).await.unwrap_err();
        assert!(
            matches!(err, FulfillmentError::Invalid { .. }),
            "{id}: {err:?}"
        );
    }
    let err = f
        .update_inbound_shipment(A, "NOPE", spec(&[("C1", 1)]))
        .await
        .unwrap_err();
    assert!(matches!(err, FulfillmentError::NotFound(_)), "{err:?}");
    assert_eq!(f.ledger_entries(A, 0, 100).await.unwrap(), head);
    assert_eq!(e.store.fulfillment().event_head(A).await.unwrap(), events);
    assert_eq!(details(f, A, "C1").await.inbound_working_quantity, 4);

    // Ship, then cancel: the units leave the ledger; cancelling again is a
    // no-op; nothing more can change.
    f.update_inbound_shipment(A, "FBA2", shipped(spec(&[("C1", 4)])))
        .await
        .unwrap();
    let mut cancel = spec(&[("C1", 4)]);
    cancel.shipment_status = Some(ShipmentStatus::Cancelled);
    let s = f
        .update_inbound_shipment(A, "FBA2", cancel.clone())
        .await
        .unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Cancelled);
    assert_eq!(details(f, A, "C1").await.total_quantity, 0);
    // Cancelled before it shipped: v0 calls that DELETED.
    let mut delete = spec(&[("C2", 2)]);
    f.create_inbound_shipment(A, "FBA2b", delete.clone())
        .await
        .unwrap();
    delete.shipment_status = Some(ShipmentStatus::Cancelled);
    let d = f
        .update_inbound_shipment(A, "FBA2b", delete.clone())
        .await
        .unwrap();
    assert_eq!(d.shipment_status, ShipmentStatus::Deleted);
    assert_eq!(details(f, A, "C2").await.total_quantity, 0);
    assert_eq!(
        f.update_inbound_shipment(A, "FBA2b", delete).await.unwrap(),
        d
    );
    assert_eq!(
        f.update_inbound_shipment(A, "FBA2", cancel).await.unwrap(),
        s
    );
    // The first create repeated is answered (the shipment is cancelled);
    // another body under the id is a conflict.
    assert_eq!(
        f.create_inbound_shipment(A, "FBA2", spec(&[("C1", 4)]))
            .await
            .unwrap(),
        s
    );
    assert!(matches!(
        f.create_inbound_shipment(A, "FBA2", spec(&[("C1", 5)]))
            .await,
        Err(FulfillmentError::Conflict(_))
    ));
}

/// Put-away, cycle counts (found and missing), adjustments (once per id),
/// inventory as of a past moment and the ledger cursor.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warehouse_ops_as_of_and_cursor() {
    let e = env(manual());
    let f = &e.f;
    f.create_inbound_shipment(A, "FBA3", shipped(spec(&[("D1", 20)])))
        .await
        .unwrap();
    f.dock_arrive("SIM1", A, "FBA3").await.unwrap();
    f.check_in("SIM1", A, "FBA3").await.unwrap();
    f.receive_box(
        "SIM1",
        A,
        "FBA3",
        "B",
        vec![line("D1", 20, Condition::Sellable)],
    )
    .await
    .unwrap();
    f.close_shipment("SIM1", A, "FBA3").await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t_received = nomuck_fulfillment::time::now_millis();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;

    let loc = Location {
        zone: "A".into(),
        aisle: "01".into(),
        bay: "02".into(),
        level: "3".into(),
        bin: "B4".into(),
    };
    let at = f
        .put_away("SIM1", A, "D1", 15, loc.clone(), None)
        .await
        .unwrap();
    assert_eq!(at[&loc.code()], 15);
    assert!(matches!(
        f.put_away("SIM1", A, "D1", 21, loc.clone(), None).await,
        Err(FulfillmentError::Conflict(_))
    ));
    let mut bad_loc = loc.clone();
    bad_loc.zone = "a b".into();
    assert!(f.put_away("SIM1", A, "D1", 1, bad_loc, None).await.is_err());
    assert_eq!(f.bins("SIM1", A).await.unwrap().locations.len(), 1);

    let count = f.cycle_count("SIM1", A, "D1", 18).await.unwrap();
    assert_eq!((count.expected, count.counted), (20, 18));
    assert_eq!(details(f, A, "D1").await.researching_quantity, 2);
    // The same count again: the shelf matches now, nothing moves.
    assert_eq!(
        f.cycle_count("SIM1", A, "D1", 18).await.unwrap().entry,
        None
    );
    let found = f.cycle_count("SIM1", A, "D1", 19).await.unwrap();
    assert_eq!(found.entry.unwrap().movement.from, None);

    let damage = AdjustmentSpec {
        seller_sku: "D1".into(),
        from: Bucket::Fulfillable,
        to: Bucket::Unfulfillable(Damage::WarehouseDamaged),
        quantity: 3,
        adjustment_id: "adj-1".into(),
        note: "forklift".into(),
    };
    let first = f.adjust("SIM1", A, damage.clone()).await.unwrap();
    assert_eq!(f.adjust("SIM1", A, damage.clone()).await.unwrap(), first);
    let d1 = details(f, A, "D1").await;
    assert_eq!(
        (
            d1.fulfillable_quantity,
            d1.unfulfillable_quantity.warehouse_damaged_quantity,
            d1.researching_quantity,
            d1.total_quantity
        ),
        (16, 3, 2, 21)
    );
    for bad in [
        AdjustmentSpec {
            adjustment_id: "adj-1".into(),
            quantity: 4,
            ..damage.clone()
        },
        AdjustmentSpec {
            adjustment_id: "adj-2".into(),
            quantity: 17,
            ..damage.clone()
        },
        AdjustmentSpec {
            adjustment_id: "adj-3".into(),
            from: Bucket::ReservedCustomerOrder,
            ..damage.clone()
        },
        AdjustmentSpec {
            adjustment_id: "adj-4".into(),
            quantity: 0,
            ..damage.clone()
        },
    ] {
        assert!(f.adjust("SIM1", A, bad).await.is_err());
    }
    assert_eq!(details(f, A, "D1").await, d1);

    // As of the moment after receiving: 20 fulfillable, nothing else.
    let then = f.inventory_as_of(A, t_received).await.unwrap();
    assert_eq!(then.positions.len(), 1);
    assert_eq!(then.positions[0].seller_sku, "D1");
    assert_eq!(then.positions[0].details.fulfillable_quantity, 20);
    assert_eq!(then.positions[0].details.total_quantity, 20);
    let now = f.inventory_as_of(A, i64::MAX).await.unwrap();
    assert_eq!(now.positions[0].details, d1);
    assert!(f.inventory_as_of(A, 0).await.unwrap().positions.is_empty());

    // The cursor: pages of 2 cover the ledger exactly once, in order.
    let all = f.ledger_entries(A, 0, usize::MAX).await.unwrap();
    let mut paged = Vec::new();
    let mut after = 0;
    loop {
        let page = f.ledger_entries(A, after, 2).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        paged.extend(page);
    }
    assert_eq!(paged, all);
    assert!(all.iter().all(|e| e.seller_sku == "D1"));
    assert_eq!(
        all.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=all.len() as u64).collect::<Vec<_>>()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn summaries_page_filter_and_start_time() {
    let e = env(manual());
    let f = &e.f;
    for sku in ["S1", "S2", "S3"] {
        f.register_item(A, sku, ItemSpec::default()).await.unwrap();
    }
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t = nomuck_fulfillment::time::now_millis();
    f.create_inbound_shipment(A, "FBA4", spec(&[("S2", 1)]))
        .await
        .unwrap();
    let mut seen = Vec::new();
    let mut token = None;
    loop {
        let page = f
            .inventory_summaries(
                A,
                InventoryQuery {
                    after_token: token.clone(),
                    limit: 2,
                    ..InventoryQuery::default()
                },
            )
            .await
            .unwrap();
        seen.extend(page.summaries.iter().map(|s| s.seller_sku.clone()));
        assert!(page.summaries.iter().all(|s| s.details.is_none()));
        match page.next_token {
            Some(n) => token = Some(n),
            None => break,
        }
    }
    assert_eq!(seen, ["S1", "S2", "S3"]);
    let changed = f
        .inventory_summaries(
            A,
            InventoryQuery {
                start_date_time: Some(t),
                limit: 10,
                ..InventoryQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(changed.summaries.len(), 1);
    assert_eq!(changed.summaries[0].seller_sku, "S2");
    assert_eq!(changed.summaries[0].total_quantity, 1);
    assert!(
        f.inventory_summaries(
            A,
            InventoryQuery {
                after_token: Some("not hex".into()),
                limit: 1,
                ..InventoryQuery::default()
            }
        )
        .await
        .is_err()
    );
}

/// The simulated operator takes a shipped shipment to CLOSED on a fast
/// clock, grading the scenario's damaged units; a fresh book (restart)
/// continues from the stored due times.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulator_receives_and_closes() {
    let mut config = FulfillmentConfig::default();
    config.simulator.enabled = false;
    config.simulator.speed = 3_600_000.0; // an hour per millisecond
    config.simulator.scenarios.damaged_on_receipt = 0.02;
    let e = env(config.clone());
    let f = &e.f;
    f.create_inbound_shipment(A, "FBA5", shipped(spec(&[("E1", 100), ("E2", 100)])))
        .await
        .unwrap();
    let step_of = |account: &'static str, f: Fulfillment, config: FulfillmentConfig| async move {
        f.write(account, move |b, tx| {
            let now = tx.now;
            Ok(sim_inbound(b, tx, now, &config))
        })
        .await
        .unwrap()
    };
    let step = |f: Fulfillment, config: FulfillmentConfig| step_of(A, f, config);
    // At real speed nothing is due for two days after it went in transit.
    let real_time = FulfillmentConfig::default();
    f.create_inbound_shipment(B, "FBA5", shipped(spec(&[("E1", 1)])))
        .await
        .unwrap();
    assert!(step_of(B, f.clone(), real_time.clone()).await);
    assert!(!step_of(B, f.clone(), real_time).await, "not due yet");
    assert_eq!(
        f.inbound_shipment(B, "FBA5").await.unwrap().shipment_status,
        ShipmentStatus::InTransit
    );
    assert!(step(f.clone(), config.clone()).await);
    assert_eq!(
        f.inbound_shipment(A, "FBA5").await.unwrap().shipment_status,
        ShipmentStatus::InTransit
    );
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    assert!(step(f.clone(), config.clone()).await);
    let s = f.inbound_shipment(A, "FBA5").await.unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Receiving);
    assert!(s.sim_due.is_some());
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // Restart: a new service on the same store finishes the job.
    let restarted = Fulfillment::new(Arc::clone(&e.store), config.clone(), None);
    assert!(step(restarted.clone(), config.clone()).await);
    let s = restarted.inbound_shipment(A, "FBA5").await.unwrap();
    assert_eq!(s.shipment_status, ShipmentStatus::Closed);
    assert!(
        !step(restarted.clone(), config.clone()).await,
        "nothing left"
    );
    let mut damaged_total = 0;
    for sku in ["E1", "E2"] {
        let d = details(&restarted, A, sku).await;
        let damaged = d.unfulfillable_quantity.distributor_damaged_quantity;
        assert_eq!(d.fulfillable_quantity + damaged, 100);
        assert_eq!(d.total_quantity, 100);
        damaged_total += damaged;
    }
    // Deterministic: about 2% of 200, the same on every run.
    assert!((1..=10).contains(&damaged_total), "{damaged_total}");
}

/// A day's storage fee: units held × cubic feet × $0.45 / days in month,
/// exactly, metered once however often it is charged.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn storage_fee_metered_exactly_once() {
    let e = env(manual());
    let f = &e.f;
    f.register_item(
        A,
        "F1",
        ItemSpec {
            dimensions: Some(foot()),
            ..ItemSpec::default()
        },
    )
    .await
    .unwrap();
    // Half a cubic foot.
    f.register_item(
        A,
        "F2",
        ItemSpec {
            dimensions: Some(ItemDimensions {
                length_um: 152_400,
                ..foot()
            }),
            ..ItemSpec::default()
        },
    )
    .await
    .unwrap();
    f.create_inbound_shipment(
        A,
        "FBA6",
        shipped(spec(&[("F1", 10), ("F2", 3), ("F3", 5)])),
    )
    .await
    .unwrap();
    // Still inbound: no storage.
    let today = time::OffsetDateTime::now_utc().date();
    assert!(f.charge_storage(A, today).await.unwrap().is_empty());
    f.dock_arrive("SIM1", A, "FBA6").await.unwrap();
    f.check_in("SIM1", A, "FBA6").await.unwrap();
    f.receive_box(
        "SIM1",
        A,
        "FBA6",
        "B",
        vec![
            line("F1", 9, Condition::Sellable),
            line("F1", 1, Condition::Defective),
            line("F2", 3, Condition::Sellable),
            line("F3", 5, Condition::Sellable),
        ],
    )
    .await
    .unwrap();
    let days = i64::from(today.month().length(today.year()));
    let half_up = |num: i64, den: i64| (2 * num + den) / (2 * den);
    let charges = f.charge_storage(A, today).await.unwrap();
    let got: Vec<(String, u64, i64)> = charges
        .iter()
        .map(|c| (c.seller_sku.clone(), c.units, c.micro_usd))
        .collect();
    assert_eq!(
        got,
        [
            ("F1".to_owned(), 10, half_up(10 * 450_000, days)),
            ("F2".to_owned(), 3, half_up(3 * 450_000, 2 * days)),
        ],
        "F3 has no dimensions"
    );
    f.charge_storage(A, today).await.unwrap();
    let usage = e
        .store
        .usage(&UsageQuery {
            account_id: Some(A.into()),
            limit: usize::MAX,
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let fees: Vec<i64> = usage
        .iter()
        .filter(|u| u.event.meter == STORAGE_FEE_METER)
        .map(|u| u.event.quantity)
        .collect();
    assert_eq!(fees, [got[0].2, got[1].2], "charged once each");
    let fn_sku = f.item(A, "F1").await.unwrap().fn_sku;
    let key = format!(
        "fba-storage:{A}:{fn_sku}:{:04}-{:02}-{:02}",
        today.year(),
        u8::from(today.month()),
        today.day()
    );
    assert!(usage.iter().any(|u| u.event.idempotency_key == key));

    // Days the server was down are charged when it is back: one forward pass
    // from the account's first day (today, here) through the day asked for,
    // and a cursor, in the same commit, so nothing is charged twice, also
    // after a restart.
    let day0 = time::OffsetDateTime::now_utc()
        .unix_timestamp()
        .div_euclid(86_400);
    assert_eq!(f.charge_storage_due(A, day0 + 3).await.unwrap(), 4);
    assert_eq!(f.charge_storage_due(A, day0 + 3).await.unwrap(), 0);
    let reloaded = Fulfillment::new(Arc::clone(&e.store), manual(), None);
    assert_eq!(reloaded.charge_storage_due(A, day0 + 5).await.unwrap(), 2);
    let usage = e
        .store
        .usage(&UsageQuery {
            account_id: Some(A.into()),
            limit: usize::MAX,
            ..UsageQuery::default()
        })
        .await
        .unwrap();
    let mut expected = Vec::new();
    for day in day0..=day0 + 5 {
        let date = time::OffsetDateTime::from_unix_timestamp(day * 86_400)
            .unwrap()
            .date();
        let days = i64::from(date.month().length(date.year()));
        expected.push(half_up(10 * 450_000, days));
        expected.push(half_up(3 * 450_000, 2 * days));
    }
    let fees: Vec<i64> = usage
        .iter()
        .filter(|u| u.event.meter == STORAGE_FEE_METER)
        .map(|u| u.event.quantity)
        .collect();
    assert_eq!(fees, expected, "each day charged once, in day order");
}

//! Behaviour of the ledger on hand-written flows and refusals.

use nomuck_ledger::{
    Bucket, Damage, Entry, FillPolicy, Ledger, LedgerError, Movement, OrderLine, Reason,
    reserve_key,
};

fn mv(
    key: &str,
    center: &str,
    from: Option<Bucket>,
    to: Option<Bucket>,
    quantity: u64,
    reason: Reason,
) -> Movement {
    Movement {
        sku: "X00FNSKU01".into(),
        center: center.into(),
        from,
        to,
        quantity,
        reason,
        reference: "ref-1".into(),
        idempotency_key: key.into(),
    }
}

/// `n` fulfillable units of the test SKU at `center`.
fn stock(ledger: &mut Ledger, center: &str, n: u64) {
    let key = format!("stock-{center}-{}", ledger.last_seq());
    ledger
        .apply(
            mv(
                &key,
                center,
                None,
                Some(Bucket::Fulfillable),
                n,
                Reason::Adjustment,
            ),
            0,
        )
        .unwrap();
}

fn conserved(ledger: &Ledger) {
    for (sku, center, s) in ledger.positions() {
        assert_eq!(
            s.quantities.total(),
            s.entered - s.shipped - s.removed,
            "{sku}@{center}"
        );
    }
}

#[test]
fn inbound_receipt_order_and_shipment_flow() {
    use Bucket::*;
    let mut l = Ledger::new();
    let steps = [
        ("plan", None, Some(InboundWorking), 10, Reason::InboundPlan),
        (
            "ship",
            Some(InboundWorking),
            Some(InboundShipped),
            10,
            Reason::InboundTransit,
        ),
        (
            "dock",
            Some(InboundShipped),
            Some(InboundReceiving),
            10,
            Reason::InboundTransit,
        ),
        (
            "good",
            Some(InboundReceiving),
            Some(Fulfillable),
            8,
            Reason::Receipt,
        ),
        (
            "bad",
            Some(InboundReceiving),
            Some(Unfulfillable(Damage::CarrierDamaged)),
            2,
            Reason::Receipt,
        ),
        (
            "res",
            Some(Fulfillable),
            Some(ReservedCustomerOrder),
            3,
            Reason::Reserve,
        ),
        (
            "pick",
            Some(ReservedCustomerOrder),
            Some(ReservedFcProcessing),
            3,
            Reason::Processing,
        ),
        ("out", Some(ReservedFcProcessing), None, 3, Reason::Shipment),
        (
            "dispose",
            Some(Unfulfillable(Damage::CarrierDamaged)),
            None,
            2,
            Reason::Removal,
        ),
        (
            "return",
            None,
            Some(Unfulfillable(Damage::CustomerDamaged)),
            1,
            Reason::CustomerReturn,
        ),
    ];
    for (i, (key, from, to, q, reason)) in steps.into_iter().enumerate() {
        let e = l
            .apply(mv(key, "SIM1", from, to, q, reason), 1_000 + i as i64)
            .unwrap();
        assert_eq!(e.seq, i as u64 + 1);
        conserved(&l);
    }
    let s = l.summary("X00FNSKU01", "SIM1");
    assert_eq!((s.entered, s.shipped, s.removed), (11, 3, 2));
    let d = s.quantities.details();
    assert_eq!(d.fulfillable_quantity, 5);
    assert_eq!(d.inbound_working_quantity + d.inbound_shipped_quantity, 0);
    assert_eq!(d.reserved_quantity.total_reserved_quantity, 0);
    assert_eq!(d.unfulfillable_quantity.customer_damaged_quantity, 1);
    assert_eq!(d.unfulfillable_quantity.carrier_damaged_quantity, 0);
    assert_eq!(d.unfulfillable_quantity.total_unfulfillable_quantity, 1);
    assert_eq!(d.total_quantity, 6);
    assert_eq!(l.total("X00FNSKU01"), s);
    assert_eq!(s.last_seq, 10);
}

#[test]
fn every_bucket_maps_to_its_own_fba_field_and_name() {
    for bucket in Bucket::ALL {
        let mut l = Ledger::new();
        l.apply(
            mv("k", "SIM1", None, Some(bucket), 7, Reason::Adjustment),
            0,
        )
        .unwrap();
        let d = l.summary("X00FNSKU01", "SIM1").quantities.details();
        let r = d.reserved_quantity;
        let u = d.unfulfillable_quantity;
        let fields = [
            (Bucket::InboundWorking, d.inbound_working_quantity),
            (Bucket::InboundShipped, d.inbound_shipped_quantity),
            (Bucket::InboundReceiving, d.inbound_receiving_quantity),
            (Bucket::Fulfillable, d.fulfillable_quantity),
            (
                Bucket::ReservedCustomerOrder,
                r.pending_customer_order_quantity,
            ),
            (Bucket::ReservedFcProcessing, r.fc_processing_quantity),
            (Bucket::ReservedTransfer, r.pending_transshipment_quantity),
            (Bucket::Researching, d.researching_quantity),
            (
                Bucket::Unfulfillable(Damage::CustomerDamaged),
                u.customer_damaged_quantity,
            ),
            (
                Bucket::Unfulfillable(Damage::WarehouseDamaged),
                u.warehouse_damaged_quantity,
            ),
            (
                Bucket::Unfulfillable(Damage::CarrierDamaged),
                u.carrier_damaged_quantity,
            ),
            (
                Bucket::Unfulfillable(Damage::DistributorDamaged),
                u.distributor_damaged_quantity,
            ),
            (
                Bucket::Unfulfillable(Damage::Defective),
                u.defective_quantity,
            ),
            (Bucket::Unfulfillable(Damage::Expired), u.expired_quantity),
        ];
        for (b, q) in fields {
            assert_eq!(q, if b == bucket { 7 } else { 0 }, "{bucket:?} -> {b:?}");
        }
        let reserved = matches!(
            bucket,
            Bucket::ReservedCustomerOrder | Bucket::ReservedFcProcessing | Bucket::ReservedTransfer
        );
        assert_eq!(r.total_reserved_quantity, if reserved { 7 } else { 0 });
        let damaged = matches!(bucket, Bucket::Unfulfillable(_));
        assert_eq!(u.total_unfulfillable_quantity, if damaged { 7 } else { 0 });
        assert_eq!(d.total_quantity, 7);
        assert_eq!(Bucket::from_name(bucket.name()), Some(bucket));
    }
    assert_eq!(Bucket::from_name("fulfillable"), None);
    assert_eq!(
        Reason::from_name(Reason::CustomerReturn.name()),
        Some(Reason::CustomerReturn)
    );
    assert_eq!(FillPolicy::from_name("FillAll"), Some(FillPolicy::FillAll));
}

#[test]
fn refusals_change_nothing() {
    let mut l = Ledger::new();
    stock(&mut l, "SIM1", 5);
    let before = l.clone();
    let take = |q| {
        mv(
            "t",
            "SIM1",
            Some(Bucket::Fulfillable),
            None,
            q,
            Reason::Removal,
        )
    };
    assert_eq!(
        l.apply(take(6), 1),
        Err(LedgerError::Insufficient {
            sku: "X00FNSKU01".into(),
            center: "SIM1".into(),
            bucket: Bucket::Fulfillable,
            available: 5,
            requested: 6,
        })
    );
    assert_eq!(l.apply(take(0), 1), Err(LedgerError::ZeroQuantity));
    let same = mv(
        "s",
        "SIM1",
        Some(Bucket::Fulfillable),
        Some(Bucket::Fulfillable),
        1,
        Reason::Adjustment,
    );
    assert_eq!(l.apply(same, 1), Err(LedgerError::SameBucket));
    assert_eq!(
        l.apply(mv("n", "SIM1", None, None, 1, Reason::Adjustment), 1),
        Err(LedgerError::SameBucket)
    );
    let mut empty = take(1);
    empty.idempotency_key.clear();
    assert_eq!(
        l.apply(empty, 1),
        Err(LedgerError::Empty {
            field: "idempotency_key"
        })
    );
    let mut empty = take(1);
    empty.sku.clear();
    assert_eq!(l.apply(empty, 1), Err(LedgerError::Empty { field: "sku" }));
    // Another center's stock is not this center's.
    assert!(matches!(
        l.apply(
            mv(
                "o",
                "SIM2",
                Some(Bucket::Fulfillable),
                None,
                1,
                Reason::Removal
            ),
            1
        ),
        Err(LedgerError::Insufficient { available: 0, .. })
    ));
    assert_eq!(l, before);
}

#[test]
fn repeated_key_is_one_effect_and_a_different_movement_under_it_is_refused() {
    let mut l = Ledger::new();
    let m = mv(
        "k1",
        "SIM1",
        None,
        Some(Bucket::Fulfillable),
        4,
        Reason::Adjustment,
    );
    let first = l.apply(m.clone(), 10).unwrap();
    let again = l.apply(m.clone(), 99).unwrap();
    assert_eq!(again, first, "the original entry, its time included");
    assert_eq!(l.len(), 1);
    assert_eq!(
        l.summary("X00FNSKU01", "SIM1")
            .quantities
            .get(Bucket::Fulfillable),
        4
    );
    let mut other = m.clone();
    other.quantity = 5;
    assert_eq!(
        l.apply(other, 11),
        Err(LedgerError::IdempotencyConflict {
            key: "k1".into(),
            original_seq: 1
        })
    );
    // Within one batch too.
    let mut batch = vec![mv(
        "k2",
        "SIM1",
        Some(Bucket::Fulfillable),
        None,
        1,
        Reason::Removal,
    )];
    batch.push(batch[0].clone());
    let entries = l.apply_all(batch.clone(), 12).unwrap();
    assert_eq!(entries[0], entries[1]);
    assert_eq!(l.len(), 2);
    batch[1].quantity = 2;
    batch[0].idempotency_key = "k3".into();
    batch[1].idempotency_key = "k3".into();
    assert!(matches!(
        l.apply_all(batch, 13),
        Err(LedgerError::IdempotencyConflict { .. })
    ));
    assert_eq!(l.len(), 2);
}

#[test]
fn a_batch_applies_in_order_and_atomically() {
    use Bucket::*;
    let mut l = Ledger::new();
    // The second movement uses units the first brought in.
    let ok = vec![
        mv(
            "a",
            "SIM1",
            None,
            Some(Fulfillable),
            3,
            Reason::CustomerReturn,
        ),
        mv(
            "b",
            "SIM1",
            Some(Fulfillable),
            Some(Researching),
            3,
            Reason::Adjustment,
        ),
    ];
    assert_eq!(l.apply_all(ok, 5).unwrap().len(), 2);
    let before = l.clone();
    let bad = vec![
        mv(
            "c",
            "SIM1",
            Some(Researching),
            Some(Fulfillable),
            2,
            Reason::Adjustment,
        ),
        mv("d", "SIM1", Some(Fulfillable), None, 3, Reason::Removal),
    ];
    assert!(matches!(
        l.apply_all(bad, 6),
        Err(LedgerError::Insufficient {
            available: 2,
            requested: 3,
            ..
        })
    ));
    assert_eq!(
        l, before,
        "the first movement of a refused batch is not applied"
    );
    assert_eq!(l.entry_by_key("c"), None);
    assert_eq!(l.apply_all(vec![], 7).unwrap(), Vec::<Entry>::new());
}

#[test]
fn overflow_is_refused_per_center_and_across_centers() {
    let mut l = Ledger::new();
    stock(&mut l, "SIM1", u64::MAX);
    let more = mv(
        "m",
        "SIM1",
        None,
        Some(Bucket::Fulfillable),
        1,
        Reason::Adjustment,
    );
    assert_eq!(l.apply(more, 1), Err(LedgerError::Overflow));
    let elsewhere = mv(
        "e",
        "SIM2",
        None,
        Some(Bucket::Fulfillable),
        1,
        Reason::Adjustment,
    );
    assert_eq!(
        l.apply(elsewhere, 1),
        Err(LedgerError::Overflow),
        "the SKU's total would overflow"
    );
    assert_eq!(l.len(), 1);
}

#[test]
fn cursors_time_and_past_inventory() {
    let mut l = Ledger::new();
    for (i, at) in [100, 200, 150, 300].into_iter().enumerate() {
        l.apply(
            mv(
                &format!("k{i}"),
                "SIM1",
                None,
                Some(Bucket::Fulfillable),
                1,
                Reason::Adjustment,
            ),
            at,
        )
        .unwrap();
    }
    let times: Vec<i64> = l.entries_after(0).map(|e| e.at).collect();
    assert_eq!(times, [100, 200, 200, 300], "time never runs backwards");
    assert_eq!(
        l.entries_after(2).map(|e| e.seq).collect::<Vec<_>>(),
        [3, 4]
    );
    assert_eq!(l.entries_after(4).len(), 0);
    assert_eq!(l.entries_after(u64::MAX).len(), 0);
    assert_eq!(l.seq_at(99), 0);
    assert_eq!(l.seq_at(200), 3);
    assert_eq!(l.seq_at(i64::MAX), 4);
    let past = l.as_of(l.seq_at(250)).unwrap();
    assert_eq!(
        past.summary("X00FNSKU01", "SIM1")
            .quantities
            .get(Bucket::Fulfillable),
        3
    );
    assert!(past.entries_after(0).eq(l.entries_after(0).take(3)));
    assert_eq!(l.as_of(0).unwrap(), Ledger::new());
    assert_eq!(l.as_of(u64::MAX).unwrap(), l);
    assert_eq!(l.entry(0), None);
    assert_eq!(l.entry(4).map(|e| e.seq), Some(4));
}

#[test]
fn replay_checks_what_it_loads() {
    let mut l = Ledger::new();
    stock(&mut l, "SIM1", 2);
    l.apply(
        mv(
            "out",
            "SIM1",
            Some(Bucket::Fulfillable),
            None,
            2,
            Reason::Shipment,
        ),
        5,
    )
    .unwrap();
    let entries: Vec<_> = l.entries_after(0).cloned().collect();
    assert_eq!(Ledger::replay(entries.clone()).unwrap(), l);

    let gap = vec![entries[1].clone()];
    assert_eq!(
        Ledger::replay(gap),
        Err(LedgerError::OutOfSequence {
            expected: 1,
            got: 2
        })
    );
    let mut dup = entries.clone();
    let mut repeated = entries[0].clone();
    repeated.seq = 3;
    dup.push(repeated);
    assert_eq!(
        Ledger::replay(dup),
        Err(LedgerError::OutOfSequence {
            expected: 3,
            got: 1
        })
    );
    let mut oversold = entries.clone();
    oversold[1].movement.quantity = 3;
    assert!(matches!(
        Ledger::replay(oversold),
        Err(LedgerError::Insufficient { .. })
    ));
}

fn line(item: &str, sku: &str, quantity: u64) -> OrderLine {
    OrderLine {
        item_id: item.into(),
        sku: sku.into(),
        quantity,
    }
}

fn centers() -> Vec<String> {
    vec!["NEAR".into(), "FAR".into()]
}

#[test]
fn reservations_split_across_centers_nearest_first() {
    let mut l = Ledger::new();
    stock(&mut l, "NEAR", 3);
    stock(&mut l, "FAR", 10);
    let r = l
        .reserve(
            "order-1",
            &centers(),
            &[line("a", "X00FNSKU01", 5), line("b", "X00FNSKU01", 4)],
            FillPolicy::FillOrKill,
            50,
        )
        .unwrap();
    assert!(r.is_complete());
    assert_eq!(
        r.lines[0].reserved,
        [("NEAR".to_string(), 3), ("FAR".to_string(), 2)]
    );
    assert_eq!(
        r.lines[1].reserved,
        [("FAR".to_string(), 4)],
        "line a's units are not offered to line b"
    );
    assert_eq!(r.entries.len(), 3);
    assert!(
        r.entries
            .iter()
            .all(|e| e.movement.reason == Reason::Reserve && e.movement.reference == "order-1")
    );
    assert_eq!(
        l.summary("X00FNSKU01", "FAR")
            .quantities
            .get(Bucket::ReservedCustomerOrder),
        6
    );
    assert_eq!(l.total("X00FNSKU01").quantities.get(Bucket::Fulfillable), 4);
    assert_eq!(
        l.entry_by_key(&reserve_key("order-1", "a", "NEAR"))
            .map(|e| e.movement.quantity),
        Some(3)
    );

    // The same order again: the same outcome, nothing more reserved.
    let before = l.clone();
    let again = l
        .reserve(
            "order-1",
            &centers(),
            &[line("a", "X00FNSKU01", 5), line("b", "X00FNSKU01", 4)],
            FillPolicy::FillOrKill,
            60,
        )
        .unwrap();
    assert_eq!(again, r);
    assert_eq!(l, before);
}

#[test]
fn policies_decide_what_happens_to_the_shortfall() {
    let order = [line("a", "X00FNSKU01", 2), line("b", "X00FNSKU01", 5)];
    let mut base = Ledger::new();
    stock(&mut base, "NEAR", 4);

    let mut l = base.clone();
    let r = l
        .reserve("o", &centers(), &order, FillPolicy::FillOrKill, 1)
        .unwrap();
    assert!(!r.is_complete() && r.entries.is_empty());
    assert!(
        r.lines
            .iter()
            .all(|x| x.reserved.is_empty() && x.cancelled == x.requested && x.backordered == 0)
    );
    assert_eq!(l, base, "a killed order reserves nothing");

    let mut l = base.clone();
    let r = l
        .reserve("o", &centers(), &order, FillPolicy::FillAll, 1)
        .unwrap();
    assert_eq!(
        (r.lines[0].reserved_total(), r.lines[0].backordered),
        (2, 0)
    );
    assert_eq!(
        (
            r.lines[1].reserved_total(),
            r.lines[1].backordered,
            r.lines[1].cancelled
        ),
        (2, 3, 0)
    );
    assert_eq!(l.total("X00FNSKU01").quantities.get(Bucket::Fulfillable), 0);

    let mut l = base.clone();
    let r = l
        .reserve("o", &centers(), &order, FillPolicy::FillAllAvailable, 1)
        .unwrap();
    assert_eq!(
        (
            r.lines[1].reserved_total(),
            r.lines[1].backordered,
            r.lines[1].cancelled
        ),
        (2, 0, 3)
    );
}

#[test]
fn bad_orders_are_refused_before_anything_is_reserved() {
    let mut l = Ledger::new();
    stock(&mut l, "NEAR", 4);
    let before = l.clone();
    let dup = [line("a", "X00FNSKU01", 1), line("a", "X00FNSKU01", 1)];
    assert_eq!(
        l.reserve("o", &centers(), &dup, FillPolicy::FillAll, 1),
        Err(LedgerError::DuplicateLine {
            item_id: "a".into()
        })
    );
    assert_eq!(
        l.reserve(
            "o",
            &centers(),
            &[line("a", "X00FNSKU01", 0)],
            FillPolicy::FillAll,
            1
        ),
        Err(LedgerError::ZeroQuantity)
    );
    assert_eq!(
        l.reserve(
            "",
            &centers(),
            &[line("a", "X00FNSKU01", 1)],
            FillPolicy::FillAll,
            1
        ),
        Err(LedgerError::Empty { field: "order" })
    );
    assert_eq!(l, before);
    // No center to take from: everything short.
    let r = l
        .reserve(
            "o",
            &[],
            &[line("a", "X00FNSKU01", 1)],
            FillPolicy::FillAll,
            1,
        )
        .unwrap();
    assert_eq!(r.lines[0].backordered, 1);
}

#[test]
fn an_order_reserved_again_for_a_different_request_is_a_conflict() {
    let mut l = Ledger::new();
    stock(&mut l, "NEAR", 10);
    l.reserve(
        "o",
        &centers(),
        &[line("a", "X00FNSKU01", 2)],
        FillPolicy::FillOrKill,
        1,
    )
    .unwrap();
    let before = l.clone();
    let conflict = Err(LedgerError::OrderConflict { order: "o".into() });
    // More units than were reserved: a FillOrKill never accepted a shortfall.
    assert_eq!(
        l.reserve(
            "o",
            &centers(),
            &[line("a", "X00FNSKU01", 3)],
            FillPolicy::FillOrKill,
            2
        ),
        conflict
    );
    // Fewer units than were reserved.
    assert_eq!(
        l.reserve(
            "o",
            &centers(),
            &[line("a", "X00FNSKU01", 1)],
            FillPolicy::FillAll,
            2
        ),
        conflict
    );
    // Another SKU on the same line.
    assert_eq!(
        l.reserve(
            "o",
            &centers(),
            &[line("a", "X00OTHER", 2)],
            FillPolicy::FillAll,
            2
        ),
        conflict
    );
    assert_eq!(l, before);
}

/// A ledger spanning several storage chunks reads the same across their edges
/// as a plain list of its entries would.
#[test]
fn a_long_ledger_reads_the_same_across_chunk_edges() {
    let mut l = Ledger::new();
    let n = 10_000u64;
    for i in 0..n {
        // Ten entries per millisecond, so times repeat and cross chunk edges.
        let key = format!("in-{i}");
        l.apply(
            mv(
                &key,
                "SIM1",
                None,
                Some(Bucket::Fulfillable),
                1,
                Reason::Adjustment,
            ),
            i64::try_from(i / 10).unwrap(),
        )
        .unwrap();
    }
    let all: Vec<Entry> = l.entries_after(0).cloned().collect();
    assert_eq!(all.len(), 10_000);
    assert!(all.iter().enumerate().all(|(i, e)| e.seq == i as u64 + 1));
    for after in [
        0,
        1,
        4095,
        4096,
        4097,
        8191,
        8192,
        8193,
        9999,
        10_000,
        10_001,
        u64::MAX,
    ] {
        let tail: Vec<u64> = l.entries_after(after).map(|e| e.seq).collect();
        let expected: Vec<u64> = (after.saturating_add(1)..=n).collect();
        assert_eq!(tail, expected, "after {after}");
        assert_eq!(l.entries_after(after).len(), expected.len());
    }
    for seq in [1, 4096, 4097, 8192, 8193, 10_000] {
        assert_eq!(l.entry(seq).map(|e| e.seq), Some(seq));
        assert_eq!(
            l.entry_by_key(&format!("in-{}", seq - 1)).map(|e| e.seq),
            Some(seq)
        );
    }
    assert_eq!(l.entry(10_001), None);
    for t in [-1i64, 0, 409, 410, 819, 999, 1_000, i64::MAX] {
        let expected = all.iter().filter(|e| e.at <= t).count() as u64;
        assert_eq!(l.seq_at(t), expected, "at {t}");
    }
    let past = l.as_of(5_000).unwrap();
    assert_eq!(past.last_seq(), 5_000);
    assert_eq!(
        past.summary("X00FNSKU01", "SIM1")
            .quantities
            .get(Bucket::Fulfillable),
        5_000
    );
    assert_eq!(Ledger::replay(all).unwrap(), l);
}

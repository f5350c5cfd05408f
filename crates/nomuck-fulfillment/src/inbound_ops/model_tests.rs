//! A model-based property test of inbound: random interleavings of the
//! seller's and the center's steps (many refused) on one book, checking
//! after every step that a refused step changed nothing, that the inbound
//! buckets hold exactly what the open shipments still expect, that every
//! closed shipment accounts for each unit shipped, and that replaying the
//! ledger rebuilds it.

use std::collections::BTreeMap;

use nomuck_ledger::{Bucket, Damage, Ledger};
use proptest::prelude::*;

use super::{check_in, close, dock_arrive, receive_box};
use crate::book::{Book, Tx};
use crate::config::Address;
use crate::inbound::{
    BoxLine, Condition, InboundItemSpec, InboundShipmentSpec, ShipmentStatus, put_shipment,
};
use crate::stock::{AdjustmentSpec, adjust, cycle_count};

const SKUS: [&str; 3] = ["K0", "K1", "K2"];
const IDS: [&str; 3] = ["S0", "S1", "S2"];

#[derive(Debug, Clone)]
enum Op {
    Put {
        id: usize,
        create: bool,
        items: Vec<(usize, u64)>,
        status: Option<ShipmentStatus>,
    },
    Arrive(usize),
    CheckIn(usize),
    Receive {
        id: usize,
        box_no: u8,
        lines: Vec<(usize, u64, usize)>,
    },
    Close(usize),
    Count(usize, u64),
    Damage(usize, u64, u8),
}

fn op() -> impl Strategy<Value = Op> {
    let items = proptest::collection::vec((0..3usize, 1..20u64), 1..3);
    // Cancels are rarer than the rest so that shipments reach the dock.
    let status = prop_oneof![
        3 => Just(None),
        3 => Just(Some(ShipmentStatus::Shipped)),
        1 => Just(Some(ShipmentStatus::Cancelled))
    ];
    prop_oneof![
        (0..3usize, any::<bool>(), items, status).prop_map(|(id, create, items, status)| Op::Put {
            id,
            create,
            items,
            status
        }),
        (0..3usize).prop_map(Op::Arrive),
        (0..3usize).prop_map(Op::CheckIn),
        (
            0..3usize,
            0..4u8,
            proptest::collection::vec((0..3usize, 1..15u64, 0..6usize), 1..3)
        )
            .prop_map(|(id, box_no, lines)| Op::Receive { id, box_no, lines }),
        (0..3usize).prop_map(Op::Close),
        (0..3usize, 0..40u64).prop_map(|(s, n)| Op::Count(s, n)),
        (0..3usize, 1..5u64, 0..3u8).prop_map(|(s, n, k)| Op::Damage(s, n, k)),
    ]
}

const CONDITIONS: [Condition; 6] = [
    Condition::Sellable,
    Condition::WarehouseDamaged,
    Condition::CarrierDamaged,
    Condition::DistributorDamaged,
    Condition::Defective,
    Condition::Expired,
];

fn book() -> Book {
    let mut b = Book::new("000000000001");
    let mut tx = Tx::new(1);
    let minted: BTreeMap<String, String> = SKUS
        .iter()
        .map(|s| (s.to_string(), format!("FN{s}")))
        .collect();
    for s in SKUS {
        crate::items::ensure_item(&mut b, &mut tx, s, &minted).unwrap();
    }
    b
}

fn run(b: &mut Book, tx: &mut Tx, op: &Op) -> crate::Result<()> {
    let c = "SIM1";
    match op {
        Op::Put {
            id,
            create,
            items,
            status,
        } => {
            let mut seen = std::collections::BTreeSet::new();
            let spec = InboundShipmentSpec {
                shipment_name: String::new(),
                ship_from_address: Address::default(),
                destination_fulfillment_center_id: c.into(),
                label_prep_type: String::new(),
                are_cases_required: false,
                shipment_status: *status,
                items: items
                    .iter()
                    .filter(|(k, _)| seen.insert(*k))
                    .map(|(k, q)| InboundItemSpec {
                        seller_sku: SKUS[*k].into(),
                        quantity_shipped: *q,
                        quantity_in_case: None,
                    })
                    .collect(),
            };
            put_shipment(b, tx, IDS[*id], spec, &BTreeMap::new(), *create).map(|_| ())
        }
        Op::Arrive(id) => dock_arrive(b, tx, c, IDS[*id]).map(|_| ()),
        Op::CheckIn(id) => check_in(b, tx, c, IDS[*id]).map(|_| ()),
        Op::Receive { id, box_no, lines } => {
            let lines = lines
                .iter()
                .map(|(k, q, cond)| BoxLine {
                    seller_sku: SKUS[*k].into(),
                    quantity: *q,
                    condition: CONDITIONS[*cond],
                })
                .collect();
            receive_box(b, tx, c, IDS[*id], &format!("BOX{box_no}"), lines).map(|_| ())
        }
        Op::Close(id) => close(b, tx, c, IDS[*id]).map(|_| ()),
        Op::Count(k, n) => cycle_count(b, tx, c, SKUS[*k], *n).map(|_| ()),
        Op::Damage(k, n, id) => adjust(
            b,
            tx,
            c,
            AdjustmentSpec {
                seller_sku: SKUS[*k].into(),
                from: Bucket::Fulfillable,
                to: Bucket::Unfulfillable(Damage::WarehouseDamaged),
                quantity: *n,
                adjustment_id: format!("adj{id}"),
                note: String::new(),
            },
        )
        .map(|_| ()),
    }
}

fn check(b: &Book) {
    // Inbound buckets hold exactly what the open shipments still expect.
    for sku in SKUS {
        let fn_sku = &b.items[sku].fn_sku;
        for bucket in [
            Bucket::InboundWorking,
            Bucket::InboundShipped,
            Bucket::InboundReceiving,
        ] {
            let expected: u64 = b
                .inbound
                .values()
                .filter(|s| s.shipment_status.bucket() == Some(bucket))
                .filter_map(|s| s.item(sku))
                .map(|i| i.outstanding())
                .sum();
            assert_eq!(
                b.units(fn_sku, "SIM1", bucket),
                expected,
                "{sku} {bucket:?}"
            );
        }
    }
    for s in b.inbound.values() {
        for i in &s.items {
            let accounted = i.quantity_received - i.quantity_over + i.quantity_short;
            if s.shipment_status == ShipmentStatus::Closed {
                assert_eq!(accounted, i.quantity_shipped, "{s:?}");
            }
            // Never more units counted against the plan than it had.
            assert!(accounted <= i.quantity_shipped, "{s:?}");
            assert_eq!(
                i.received_by_condition.values().sum::<u64>(),
                i.quantity_received
            );
        }
    }
    // Conservation per position and replay.
    for (_, _, s) in b.ledger.positions() {
        assert_eq!(s.quantities.total(), s.entered - s.left());
    }
    let replayed = Ledger::replay(b.ledger.entries_after(0).cloned().collect::<Vec<_>>()).unwrap();
    assert_eq!(replayed, b.ledger);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn inbound_keeps_its_invariants(ops in proptest::collection::vec(op(), 1..80)) {
        let mut b = book();
        for (n, op) in ops.iter().enumerate() {
            let before = (b.ledger.clone(), b.inbound.clone(), b.bins.clone());
            let mut tx = Tx::new(10 + n as i64);
            if run(&mut b, &mut tx, op).is_err() {
                prop_assert!(
                    before == (b.ledger.clone(), b.inbound.clone(), b.bins.clone()),
                    "refused {op:?} changed the book"
                );
                prop_assert!(tx.entries.is_empty() && tx.docs.is_empty());
            }
            check(&b);
        }
    }
}

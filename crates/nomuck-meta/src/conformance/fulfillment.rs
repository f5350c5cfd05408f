//! Cases for fulfillment's part of the seam (see [`crate::fulfillment`]): the
//! per-account ledger (gap-free seqs under concurrency, idempotency, account
//! isolation, commits shared with usage and deliveries) and the item registry.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::compute::commit_err;
use super::events::{delivery, topic};
use super::{account, all_usage, commit_ok, usage_event};
use crate::fulfillment::{
    FulfillmentMutation, ItemDimensions, ItemRecord, LedgerEntryRecord, LedgerMovement,
};
use crate::{CommitReceipt, MetaError, MetaStore, Mutation};

mod docs;
pub use docs::*;

/// Expands to one `#[tokio::test]` per fulfillment conformance case; the
/// factory is the one given to [`crate::metastore_conformance_tests!`].
#[macro_export]
macro_rules! fulfillment_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            fulfillment_ledger_round_trip,
            fulfillment_ledger_gap_free_under_concurrent_appends,
            fulfillment_ledger_idempotency,
            fulfillment_ledger_accounts_isolated,
            fulfillment_commit_is_atomic_with_usage_and_delivery,
            fulfillment_items,
            fulfillment_invalid_mutations_rejected,
            fulfillment_docs,
            fulfillment_events,
            fulfillment_accounts,
        );
    };
}

const A: &str = "000000000001";
const B: &str = "000000000002";

// ---------------------------------------------------------------- builders

/// `quantity` units received into `fulfillable` at `SIM1`, keyed `key`.
pub fn receipt_movement(key: &str, quantity: i64) -> LedgerMovement {
    LedgerMovement {
        fn_sku: "X00000000A".into(),
        center_id: "SIM1".into(),
        from_bucket: None,
        to_bucket: Some("fulfillable".into()),
        quantity,
        reason: "receipt".into(),
        reference: "FBA15DJCQ1ZM".into(),
        idempotency_key: key.into(),
    }
}

pub fn append_ledger(account_id: &str, at: i64, movements: Vec<LedgerMovement>) -> Mutation {
    Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
        account_id: account_id.into(),
        at,
        movements,
        expect_head: None,
    })
}

/// An item with dimensions and weight at generation 1.
pub fn item_record(account_id: &str, seller_sku: &str, fn_sku: &str) -> ItemRecord {
    ItemRecord {
        account_id: account_id.into(),
        seller_sku: seller_sku.into(),
        fn_sku: fn_sku.into(),
        dimensions: Some(ItemDimensions {
            length_um: 254_000,
            width_um: 152_400,
            height_um: 50_800,
        }),
        weight_mg: Some(453_592),
        tracks_lots: false,
        tracks_expiry: true,
        created_at: 7,
        generation: 1,
    }
}

pub fn put_item(r: &ItemRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Fulfillment(FulfillmentMutation::PutItem {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

async fn whole_ledger(s: &Arc<dyn MetaStore>, account_id: &str) -> Vec<LedgerEntryRecord> {
    s.fulfillment()
        .ledger_after(account_id, 0, usize::MAX)
        .await
        .unwrap()
}

fn receipt_with(seqs: &[i64], duplicates: usize) -> CommitReceipt {
    CommitReceipt {
        ledger_seqs: seqs.to_vec(),
        duplicate_ledger: duplicates,
        ..CommitReceipt::default()
    }
}

// ---------------------------------------------------------------- ledger

/// Every field survives; seqs start at 1; cursors, key lookups, the head,
/// `expect_head` and the monotonic `at`.
pub async fn fulfillment_ledger_round_trip(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    assert_eq!(f.ledger_head(A).await.unwrap(), 0);
    assert_eq!(whole_ledger(&s, A).await, vec![]);
    let received = receipt_movement("r1", 100);
    let damaged = LedgerMovement {
        from_bucket: Some("fulfillable".into()),
        to_bucket: Some("unfulfillable.warehouseDamaged".into()),
        quantity: 2,
        reason: "damaged-on-receipt".into(),
        idempotency_key: "r1/damaged".into(),
        ..received.clone()
    };
    let shipped = LedgerMovement {
        from_bucket: Some("reserved.pendingCustomerOrder".into()),
        to_bucket: None,
        quantity: 1,
        reason: "shipment".into(),
        reference: "order-ü/1".into(),
        idempotency_key: "o1/ship".into(),
        ..received.clone()
    };
    assert_eq!(
        commit_ok(
            &s,
            vec![append_ledger(
                A,
                1_000,
                vec![received.clone(), damaged.clone()]
            )]
        )
        .await,
        receipt_with(&[1, 2], 0)
    );
    // An earlier clock than the head's is stored at the head's time.
    assert_eq!(
        commit_ok(&s, vec![append_ledger(A, 900, vec![shipped.clone()])]).await,
        receipt_with(&[3], 0)
    );
    let entry = |seq, at, movement: &LedgerMovement| LedgerEntryRecord {
        account_id: A.into(),
        seq,
        at,
        movement: movement.clone(),
    };
    let all = vec![
        entry(1, 1_000, &received),
        entry(2, 1_000, &damaged),
        entry(3, 1_000, &shipped),
    ];
    assert_eq!(whole_ledger(&s, A).await, all);
    assert_eq!(f.ledger_head(A).await.unwrap(), 3);
    assert_eq!(f.ledger_after(A, 1, 1).await.unwrap(), all[1..2].to_vec());
    assert_eq!(f.ledger_after(A, 3, 10).await.unwrap(), vec![]);
    assert_eq!(f.ledger_after(A, 0, 0).await.unwrap(), vec![]);
    assert_eq!(
        f.ledger_entry_by_key(A, "r1/damaged").await.unwrap(),
        Some(all[1].clone())
    );
    assert_eq!(f.ledger_entry_by_key(A, "nope").await.unwrap(), None);

    // expect_head guards a writer that mirrors the ledger in memory.
    let guarded = |head, key: &str| {
        Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
            account_id: A.into(),
            at: 2_000,
            movements: vec![receipt_movement(key, 1)],
            expect_head: Some(head),
        })
    };
    let e = commit_err(&s, vec![guarded(2, "g1")]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(
        commit_ok(&s, vec![guarded(3, "g1")]).await,
        receipt_with(&[4], 0)
    );
    let empty_b = Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
        account_id: B.into(),
        at: 1,
        movements: vec![receipt_movement("b", 1)],
        expect_head: Some(0),
    });
    assert_eq!(commit_ok(&s, vec![empty_b]).await, receipt_with(&[1], 0));
    assert_eq!(f.ledger_head(A).await.unwrap(), 4);
}

/// Many tasks append to two accounts at once, some of them failing: each
/// account's ledger is 1..=N with no gap or duplicate, each receipt names the
/// seqs its movements got, and `at` never decreases along seq.
pub async fn fulfillment_ledger_gap_free_under_concurrent_appends(s: Arc<dyn MetaStore>) {
    // A key every failing task reuses for a different movement.
    commit_ok(
        &s,
        vec![append_ledger(A, 0, vec![receipt_movement("taken", 1)])],
    )
    .await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..120u32 {
        let s = Arc::clone(&s);
        tasks.spawn(async move {
            let account = if i % 3 == 0 { B } else { A };
            let mut movements: Vec<LedgerMovement> = (0..=i % 3)
                .map(|j| receipt_movement(&format!("t{i}/m{j}"), i64::from(j) + 1))
                .collect();
            let fails = i % 7 == 1 && account == A;
            if fails {
                movements.push(receipt_movement("taken", 99));
            }
            // Clocks race: later tasks may carry earlier times.
            let r = s
                .commit(vec![append_ledger(
                    account,
                    i64::from(i % 11),
                    movements.clone(),
                )])
                .await;
            (account, fails, movements, r)
        });
    }
    let mut expected: BTreeMap<&str, BTreeMap<i64, String>> = BTreeMap::new();
    expected.entry(A).or_default().insert(1, "taken".into());
    while let Some(j) = tasks.join_next().await {
        let (account, fails, movements, r) = j.unwrap();
        if fails {
            assert!(matches!(r, Err(MetaError::Conflict(_))), "{r:?}");
            continue;
        }
        let r = r.unwrap();
        assert_eq!(r.duplicate_ledger, 0);
        assert_eq!(r.ledger_seqs.len(), movements.len());
        for w in r.ledger_seqs.windows(2) {
            assert_eq!(w[1], w[0] + 1, "one append takes consecutive seqs");
        }
        for (seq, m) in r.ledger_seqs.iter().zip(movements) {
            let clash = expected
                .entry(account)
                .or_default()
                .insert(*seq, m.idempotency_key);
            assert_eq!(clash, None, "seq {seq} of {account} given twice");
        }
    }
    for account in [A, B] {
        let ledger = whole_ledger(&s, account).await;
        let seqs: Vec<i64> = ledger.iter().map(|e| e.seq).collect();
        let n = i64::try_from(ledger.len()).unwrap();
        assert_eq!(seqs, (1..=n).collect::<Vec<_>>(), "{account}");
        let stored: BTreeMap<i64, String> = ledger
            .iter()
            .map(|e| (e.seq, e.movement.idempotency_key.clone()))
            .collect();
        assert_eq!(stored, expected[account], "{account}");
        for w in ledger.windows(2) {
            assert!(w[0].at <= w[1].at, "time ran backwards: {w:?}");
        }
        assert_eq!(s.fulfillment().ledger_head(account).await.unwrap(), n);
    }
}

/// A repeated key with the same movement is a no-op (even with a later
/// clock); with a different movement it is `Conflict` and nothing of that
/// commit lands.
pub async fn fulfillment_ledger_idempotency(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    let first = receipt_movement("r1", 10);
    commit_ok(&s, vec![append_ledger(A, 100, vec![first.clone()])]).await;
    let before = whole_ledger(&s, A).await;

    // The same movement again, alone and beside a new one.
    assert_eq!(
        commit_ok(&s, vec![append_ledger(A, 500, vec![first.clone()])]).await,
        receipt_with(&[1], 1)
    );
    let second = receipt_movement("r2", 5);
    assert_eq!(
        commit_ok(
            &s,
            vec![append_ledger(
                A,
                600,
                vec![first.clone(), second.clone(), second.clone()]
            )]
        )
        .await,
        receipt_with(&[1, 2, 2], 2)
    );
    let ledger = whole_ledger(&s, A).await;
    assert_eq!(ledger.len(), 2);
    assert_eq!(
        ledger[0], before[0],
        "the repeat changed nothing, not even at"
    );

    // A different movement under a used key: Conflict, and the new movement
    // and the usage event of the same commit do not land either.
    let changes = [
        LedgerMovement {
            quantity: 11,
            ..first.clone()
        },
        LedgerMovement {
            to_bucket: Some("inbound.receiving".into()),
            ..first.clone()
        },
        LedgerMovement {
            reference: "other".into(),
            ..first.clone()
        },
    ];
    for changed in changes {
        let e = commit_err(
            &s,
            vec![
                Mutation::RecordUsage(usage_event(A, 1, "fee")),
                append_ledger(A, 700, vec![receipt_movement("r3", 1), changed.clone()]),
            ],
        )
        .await;
        assert!(matches!(e, MetaError::Conflict(_)), "{changed:?}: {e:?}");
        assert_eq!(whole_ledger(&s, A).await, ledger);
        assert_eq!(all_usage(&s).await, vec![]);
        assert_eq!(f.ledger_entry_by_key(A, "r3").await.unwrap(), None);
    }
    // Two different movements under one key in one append: Conflict too.
    let e = commit_err(
        &s,
        vec![append_ledger(
            A,
            800,
            vec![receipt_movement("r4", 1), receipt_movement("r4", 2)],
        )],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    assert_eq!(f.ledger_head(A).await.unwrap(), 2, "no seq was burnt");
    assert_eq!(
        commit_ok(
            &s,
            vec![append_ledger(A, 900, vec![receipt_movement("r4", 1)])]
        )
        .await,
        receipt_with(&[3], 0)
    );
}

/// One account never sees another's entries; seqs and keys are per account.
pub async fn fulfillment_ledger_accounts_isolated(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    let a_movement = receipt_movement("same-key", 3);
    let b_movement = LedgerMovement {
        quantity: 4,
        ..a_movement.clone()
    };
    commit_ok(
        &s,
        vec![
            append_ledger(A, 10, vec![a_movement.clone(), receipt_movement("a2", 1)]),
            append_ledger(B, 20, vec![b_movement.clone()]),
        ],
    )
    .await;
    commit_ok(
        &s,
        vec![append_ledger(B, 30, vec![receipt_movement("b2", 1)])],
    )
    .await;
    let a = whole_ledger(&s, A).await;
    let b = whole_ledger(&s, B).await;
    assert_eq!(a.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(b.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1, 2]);
    assert!(a.iter().all(|e| e.account_id == A));
    assert!(b.iter().all(|e| e.account_id == B));
    assert_eq!(a[0].movement, a_movement);
    assert_eq!(b[0].movement, b_movement);
    assert_eq!(f.ledger_after(A, 1, 10).await.unwrap(), a[1..].to_vec());
    assert_eq!(f.ledger_after(B, 1, 10).await.unwrap(), b[1..].to_vec());
    assert_eq!(f.ledger_entry_by_key(A, "b2").await.unwrap(), None);
    assert_eq!(
        f.ledger_entry_by_key(B, "same-key").await.unwrap(),
        Some(b[0].clone())
    );
    assert_eq!(whole_ledger(&s, "000000000003").await, vec![]);
    assert_eq!(f.ledger_head("000000000003").await.unwrap(), 0);
}

/// A movement, its fee and its event commit together or not at all.
pub async fn fulfillment_commit_is_atomic_with_usage_and_delivery(s: Arc<dyn MetaStore>) {
    commit_ok(
        &s,
        vec![
            Mutation::CreateAccount(account(1, "alice", 1)),
            Mutation::PutTopic(topic(A, "events", "http://127.0.0.1:9/hook")),
        ],
    )
    .await;
    commit_ok(
        &s,
        vec![append_ledger(A, 1, vec![receipt_movement("r1", 5)])],
    )
    .await;
    let shipped = LedgerMovement {
        from_bucket: Some("fulfillable".into()),
        to_bucket: None,
        quantity: 1,
        reason: "shipment".into(),
        reference: "o1".into(),
        idempotency_key: "o1/ship".into(),
        ..receipt_movement("", 1)
    };
    let ship = |append: Mutation| {
        vec![
            Mutation::RecordUsage(usage_event(A, 5_000, "o1/pick-pack")),
            delivery(A, "events", b"shipped", 5_000),
            append,
        ]
    };
    let failures = [
        Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
            account_id: A.into(),
            at: 5_000,
            movements: vec![shipped.clone()],
            expect_head: Some(7),
        }),
        append_ledger(
            A,
            5_000,
            vec![
                shipped.clone(),
                LedgerMovement {
                    quantity: 9,
                    ..receipt_movement("r1", 5)
                },
            ],
        ),
    ];
    for change in failures {
        for rotate in [false, true] {
            let mut muts = ship(change.clone());
            if rotate {
                muts.rotate_right(1);
            }
            let e = commit_err(&s, muts).await;
            assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
            assert_eq!(all_usage(&s).await, vec![]);
            assert_eq!(s.due_deliveries(i64::MAX, 10).await.unwrap(), vec![]);
            assert_eq!(s.fulfillment().ledger_head(A).await.unwrap(), 1);
        }
    }
    let r = commit_ok(&s, ship(append_ledger(A, 5_000, vec![shipped.clone()]))).await;
    assert_eq!(r, receipt_with(&[2], 0));
    assert_eq!(all_usage(&s).await.len(), 1);
    let due = s.due_deliveries(i64::MAX, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, b"shipped");
    assert_eq!(whole_ledger(&s, A).await[1].movement, shipped);

    // A retry after a crash: the movement and the fee are no-ops; only the
    // caller's delivery would repeat, so callers key events by the movement.
    let r = commit_ok(&s, ship(append_ledger(A, 6_000, vec![shipped]))).await;
    assert_eq!(r.duplicate_usage, 1);
    assert_eq!(r.duplicate_ledger, 1);
    assert_eq!(r.ledger_seqs, vec![2]);
    assert_eq!(s.fulfillment().ledger_head(A).await.unwrap(), 2);
}

// ---------------------------------------------------------------- items

/// Seller SKUs unique per account, fnSkus unique everywhere and fixed,
/// generations, lookups and paging.
pub async fn fulfillment_items(s: Arc<dyn MetaStore>) {
    let f = s.fulfillment();
    let bare = ItemRecord {
        dimensions: None,
        weight_mg: None,
        tracks_expiry: false,
        ..item_record(A, "sku-b", "X0000000B")
    };
    let full = item_record(A, "sku-a", "X0000000A");
    commit_ok(&s, vec![put_item(&bare, None), put_item(&full, None)]).await;
    assert_eq!(f.item(A, "sku-a").await.unwrap(), Some(full.clone()));
    assert_eq!(f.item(A, "sku-b").await.unwrap(), Some(bare.clone()));
    assert_eq!(f.item(B, "sku-a").await.unwrap(), None);
    assert_eq!(
        f.item_by_fn_sku("X0000000B").await.unwrap(),
        Some(bare.clone())
    );
    assert_eq!(f.item_by_fn_sku("X0000000Z").await.unwrap(), None);

    // Same seller SKU again in A: Conflict; in B with its own fnSku: fine;
    // B reusing A's fnSku: Conflict.
    let again = item_record(A, "sku-a", "X0000000C");
    let e = commit_err(&s, vec![put_item(&again, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_item(&item_record(B, "sku-z", "X0000000A"), None)],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let in_b = item_record(B, "sku-a", "X0000000D");
    commit_ok(&s, vec![put_item(&in_b, None)]).await;
    assert_eq!(f.item(B, "sku-a").await.unwrap(), Some(in_b));

    // Generations.
    let measured = ItemRecord {
        dimensions: full.dimensions,
        weight_mg: Some(1_000),
        generation: 2,
        ..bare.clone()
    };
    let e = commit_err(&s, vec![put_item(&measured, Some(5))]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_item(
            &ItemRecord {
                generation: 1,
                ..measured.clone()
            },
            Some(1),
        )],
    )
    .await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_item(
            &ItemRecord {
                fn_sku: "X0000000E".into(),
                ..measured.clone()
            },
            Some(1),
        )],
    )
    .await;
    assert!(
        matches!(e, MetaError::Conflict(_)),
        "the fnSku is fixed: {e:?}"
    );
    let e = commit_err(
        &s,
        vec![put_item(&item_record(A, "sku-x", "X0000000X"), Some(1))],
    )
    .await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    assert_eq!(f.item(A, "sku-b").await.unwrap(), Some(bare));
    commit_ok(&s, vec![put_item(&measured, Some(1))]).await;
    assert_eq!(f.item(A, "sku-b").await.unwrap(), Some(measured.clone()));
    assert_eq!(
        f.item_by_fn_sku("X0000000B").await.unwrap(),
        Some(measured.clone())
    );

    // Paging in byte order of seller SKU, one account only.
    let mut more = Vec::new();
    for sku in ["sku-c", "SKU-upper", "sku-ä"] {
        more.push(put_item(&item_record(A, sku, &format!("F-{sku}")), None));
    }
    commit_ok(&s, more).await;
    let skus = |v: Vec<ItemRecord>| v.into_iter().map(|i| i.seller_sku).collect::<Vec<_>>();
    assert_eq!(
        skus(f.items(A, None, usize::MAX).await.unwrap()),
        vec!["SKU-upper", "sku-a", "sku-b", "sku-c", "sku-ä"]
    );
    assert_eq!(
        skus(f.items(A, Some("sku-a"), 2).await.unwrap()),
        vec!["sku-b", "sku-c"]
    );
    assert_eq!(
        skus(f.items(A, Some("sku-ä"), 2).await.unwrap()),
        Vec::<String>::new()
    );
    assert_eq!(skus(f.items(B, None, 10).await.unwrap()), vec!["sku-a"]);
}

// ---------------------------------------------------------------- validation

/// Malformed movements and items are `Invalid` before any backend work, and
/// nothing else in the commit lands.
pub async fn fulfillment_invalid_mutations_rejected(s: Arc<dyn MetaStore>) {
    let good = receipt_movement("k", 1);
    let bad_movements = [
        LedgerMovement {
            quantity: 0,
            ..good.clone()
        },
        LedgerMovement {
            quantity: -3,
            ..good.clone()
        },
        LedgerMovement {
            to_bucket: None,
            ..good.clone()
        },
        LedgerMovement {
            from_bucket: Some("fulfillable".into()),
            to_bucket: Some("fulfillable".into()),
            ..good.clone()
        },
        LedgerMovement {
            to_bucket: Some(String::new()),
            ..good.clone()
        },
        LedgerMovement {
            fn_sku: String::new(),
            ..good.clone()
        },
        LedgerMovement {
            center_id: String::new(),
            ..good.clone()
        },
        LedgerMovement {
            reason: String::new(),
            ..good.clone()
        },
        LedgerMovement {
            idempotency_key: String::new(),
            ..good.clone()
        },
    ];
    let mut bad: Vec<Mutation> = bad_movements
        .into_iter()
        .map(|m| append_ledger(A, 1, vec![good.clone(), m]))
        .collect();
    bad.push(append_ledger(A, 1, vec![]));
    bad.push(append_ledger("alice", 1, vec![good.clone()]));
    bad.push(Mutation::Fulfillment(FulfillmentMutation::AppendLedger {
        account_id: A.into(),
        at: 1,
        movements: vec![good.clone()],
        expect_head: Some(-1),
    }));
    let item = item_record(A, "sku", "X1");
    for broken in [
        ItemRecord {
            seller_sku: String::new(),
            ..item.clone()
        },
        ItemRecord {
            fn_sku: String::new(),
            ..item.clone()
        },
        ItemRecord {
            account_id: "12".into(),
            ..item.clone()
        },
        ItemRecord {
            weight_mg: Some(0),
            ..item.clone()
        },
        ItemRecord {
            dimensions: Some(ItemDimensions {
                length_um: 1,
                width_um: -1,
                height_um: 1,
            }),
            ..item.clone()
        },
    ] {
        bad.push(put_item(&broken, None));
    }
    for m in bad {
        let e = commit_err(
            &s,
            vec![
                Mutation::RecordUsage(usage_event(A, 1, "u")),
                append_ledger(B, 1, vec![good.clone()]),
                m.clone(),
            ],
        )
        .await;
        assert!(matches!(e, MetaError::Invalid(_)), "{m:?}: {e:?}");
    }
    assert_eq!(all_usage(&s).await, vec![]);
    assert_eq!(whole_ledger(&s, A).await, vec![]);
    assert_eq!(whole_ledger(&s, B).await, vec![]);
    assert_eq!(s.fulfillment().items(A, None, 10).await.unwrap(), vec![]);
}

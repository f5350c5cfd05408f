//! Fulfillment's conformance cases on SQLite, plus durability across reopen.

use std::sync::Arc;

use nomuck_meta::conformance::{Fixture, append_ledger, item_record, put_item, receipt_movement};
use nomuck_meta::fulfillment::{FulfillmentMutation, ItemRecord};
use nomuck_meta::{MetaError, MetaStore, Mutation, SqliteMetaStore};

mod conformance {
    use super::*;

    nomuck_meta::fulfillment_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

const A: &str = "000000000001";
const B: &str = "000000000002";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fulfillment_records_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let item = item_record(A, "sku-1", "X00000001");
    let ledger = {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![
                put_item(&item, None),
                append_ledger(
                    A,
                    10,
                    vec![receipt_movement("r1", 4), receipt_movement("r2", 6)],
                ),
                append_ledger(B, 20, vec![receipt_movement("r1", 1)]),
            ])
            .await
            .unwrap();
        let ledger = store.fulfillment().ledger_after(A, 0, 10).await.unwrap();
        store.close().unwrap();
        ledger
    };
    let store = SqliteMetaStore::open(&path).unwrap();
    let f = store.fulfillment();
    assert_eq!(f.ledger_after(A, 0, 10).await.unwrap(), ledger);
    assert_eq!(ledger.len(), 2);
    assert_eq!(f.ledger_head(A).await.unwrap(), 2);
    assert_eq!(f.ledger_head(B).await.unwrap(), 1);
    assert_eq!(f.item(A, "sku-1").await.unwrap(), Some(item.clone()));

    // Seqs continue after reopen, time stays monotonic, keys stay used and
    // generations and the fnSku index carry on.
    let r = store
        .commit(vec![append_ledger(
            A,
            5,
            vec![receipt_movement("r2", 6), receipt_movement("r3", 1)],
        )])
        .await
        .unwrap();
    assert_eq!((r.ledger_seqs, r.duplicate_ledger), (vec![2, 3], 1));
    let third = f.ledger_entry_by_key(A, "r3").await.unwrap().unwrap();
    assert_eq!((third.seq, third.at), (3, 10));
    let e = store
        .commit(vec![append_ledger(A, 5, vec![receipt_movement("r1", 5)])])
        .await;
    assert!(matches!(e, Err(MetaError::Conflict(_))), "{e:?}");
    let e = store
        .commit(vec![put_item(&item_record(B, "other", "X00000001"), None)])
        .await;
    assert!(matches!(e, Err(MetaError::Conflict(_))), "{e:?}");
    let next = ItemRecord {
        tracks_lots: true,
        generation: 2,
        ..item
    };
    store
        .commit(vec![Mutation::Fulfillment(FulfillmentMutation::PutItem {
            record: Box::new(next.clone()),
            expect_generation: Some(1),
        })])
        .await
        .unwrap();
    assert_eq!(f.item_by_fn_sku("X00000001").await.unwrap(), Some(next));
}

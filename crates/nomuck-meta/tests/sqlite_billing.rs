//! Billing's conformance cases on SQLite, plus durability across reopen.

use std::sync::Arc;

use nomuck_meta::billing::BillingState;
use nomuck_meta::conformance::{Fixture, day_usage, rate};
use nomuck_meta::{MetaStore, SqliteMetaStore};

mod conformance {
    use super::*;

    nomuck_meta::billing_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn billing_sums_and_cursor_survive_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![rate(
                BillingState::default(),
                7,
                vec![day_usage("000000000001", 9, "m", 3, -4)],
                vec![],
            )])
            .await
            .unwrap();
        store.close().unwrap();
    }
    let store = SqliteMetaStore::open(&path).unwrap();
    let b = store.billing();
    assert_eq!(b.billing_state().await.unwrap().cursor, 7);
    assert_eq!(
        b.day_usage(None, 0, 10).await.unwrap(),
        vec![day_usage("000000000001", 9, "m", 3, -4)]
    );
}

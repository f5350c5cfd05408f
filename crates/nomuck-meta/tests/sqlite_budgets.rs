//! Budgets' conformance cases on SQLite, plus durability across reopen.

use std::sync::Arc;

use nomuck_meta::conformance::{Fixture, budget_alert, budget_record, put_budget};
use nomuck_meta::{MetaError, MetaStore, SqliteMetaStore};

mod conformance {
    use super::*;

    nomuck_meta::budgets_conformance_tests!(async || {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteMetaStore::open(dir.path().join("meta.db")).unwrap();
        Fixture::with_guard(Arc::new(store), dir)
    });
}

const A: &str = "000000000001";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn budgets_and_sent_alerts_survive_close_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let record = budget_record(A, "monthly", 1);
    {
        let store = SqliteMetaStore::open(&path).unwrap();
        store
            .commit(vec![
                put_budget(&record, None),
                budget_alert(A, "monthly", "ACTUAL:GREATER_THAN:50:PERCENTAGE", "2026-12"),
            ])
            .await
            .unwrap();
        store.close().unwrap();
    }
    let store = SqliteMetaStore::open(&path).unwrap();
    assert_eq!(
        store.budgets().budget(A, "monthly").await.unwrap(),
        Some(record)
    );
    // The alert stays sent: after a restart it is not sent again.
    let again = store
        .commit(vec![budget_alert(
            A,
            "monthly",
            "ACTUAL:GREATER_THAN:50:PERCENTAGE",
            "2026-12",
        )])
        .await;
    assert!(matches!(again, Err(MetaError::Conflict(_))), "{again:?}");
}

use std::sync::Arc;

use nomuck_meta::{Account, MetaStore, Mutation, SqliteMetaStore};
use nomuck_meter::{Meter, MeterError, Recorded, UsageEvent, unit, usage_mutation};

async fn store_with_account() -> (tempfile::TempDir, Arc<dyn MetaStore>) {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    store
        .commit(vec![Mutation::CreateAccount(Account {
            id: "111122223333".into(),
            name: "alice".into(),
            is_admin: false,
            created_at: 0,
        })])
        .await
        .unwrap();
    (dir, store)
}

fn event(key: &str, meter: &str, quantity: i64, at: i64) -> UsageEvent {
    UsageEvent {
        account_id: "111122223333".into(),
        service: "s3".into(),
        meter: meter.into(),
        quantity,
        unit: unit::REQUESTS.into(),
        at,
        idempotency_key: key.into(),
    }
}

#[tokio::test]
async fn retried_usage_is_metered_once_and_totals_sum_by_meter() {
    let (_dir, store) = store_with_account().await;
    let meter = Meter::new(store);
    let first = meter
        .record([event("a", "put", 1, 10), event("b", "get", 5, 20)])
        .await
        .unwrap();
    assert_eq!(
        first,
        Recorded {
            appended: 2,
            duplicates: 0
        }
    );
    let retry = meter
        .record([event("a", "put", 1, 10), event("c", "put", 2, 30)])
        .await
        .unwrap();
    assert_eq!(
        retry,
        Recorded {
            appended: 1,
            duplicates: 1
        }
    );

    let totals = meter.totals("111122223333", 0, 100).await.unwrap();
    let summary: Vec<_> = totals
        .iter()
        .map(|t| (t.meter.as_str(), t.quantity))
        .collect();
    assert_eq!(summary, [("get", 5), ("put", 3)]);
    // The period is half-open: an event at `to` belongs to the next period.
    let early = meter.totals("111122223333", 0, 30).await.unwrap();
    assert_eq!(early.iter().map(|t| t.quantity).sum::<i64>(), 6);
}

#[tokio::test]
async fn invalid_events_are_refused_before_anything_is_written() {
    let (_dir, store) = store_with_account().await;
    let meter = Meter::new(store);
    let err = meter
        .record([event("ok", "put", 1, 1), event("neg", "put", -1, 1)])
        .await
        .unwrap_err();
    assert!(matches!(err, MeterError::Invalid(_)), "{err}");
    assert!(
        meter
            .events("111122223333", 0, 100)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(usage_mutation(event("", "put", 1, 1)).is_err());
    assert!(usage_mutation(event(&"k".repeat(513), "put", 1, 1)).is_err());
}

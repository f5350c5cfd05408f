//! Cases for budgets' part of the seam (see [`crate::budgets`]): budget
//! round trips with generations, account isolation, and alerts recorded once,
//! in the same commit as their delivery.

use std::sync::Arc;

use super::compute::commit_err;
use super::events::{delivery, topic};
use super::{account, commit_ok};
use crate::budgets::{BudgetAlertRecord, BudgetMutation, BudgetRecord};
use crate::{MetaError, MetaStore, Mutation};

/// Expands to one `#[tokio::test]` per budgets conformance case; the factory
/// is the one given to [`crate::metastore_conformance_tests!`].
#[macro_export]
macro_rules! budgets_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            budgets_round_trip,
            budgets_accounts_isolated,
            budget_alerts_once_and_atomic_with_delivery,
            budgets_invalid_mutations_rejected,
        );
    };
}

const A: &str = "000000000001";
const B: &str = "000000000002";

/// A budget record at `generation` with a recognisable body.
pub fn budget_record(account_id: &str, name: &str, generation: i64) -> BudgetRecord {
    BudgetRecord {
        account_id: account_id.into(),
        name: name.into(),
        created_at: 10,
        updated_at: 10 + generation,
        generation,
        body: format!("{{\"BudgetName\":\"{name}\",\"g\":{generation}}}").into_bytes(),
    }
}

pub fn put_budget(r: &BudgetRecord, expect_generation: Option<i64>) -> Mutation {
    Mutation::Budgets(BudgetMutation::Put {
        record: Box::new(r.clone()),
        expect_generation,
    })
}

pub fn budget_alert(account_id: &str, budget: &str, notification: &str, period: &str) -> Mutation {
    Mutation::Budgets(BudgetMutation::RecordAlert(BudgetAlertRecord {
        account_id: account_id.into(),
        budget_name: budget.into(),
        notification: notification.into(),
        period: period.into(),
        at: 99,
    }))
}

fn delete(account_id: &str, name: &str) -> Mutation {
    Mutation::Budgets(BudgetMutation::Delete {
        account_id: account_id.into(),
        name: name.into(),
    })
}

/// Every field survives; names list in byte order with a cursor; a new name
/// must be new, a replacement names the generation it replaces.
pub async fn budgets_round_trip(s: Arc<dyn MetaStore>) {
    let b = s.budgets();
    assert_eq!(b.budget(A, "monthly").await.unwrap(), None);
    let monthly = budget_record(A, "monthly", 1);
    commit_ok(
        &s,
        vec![
            put_budget(&monthly, None),
            put_budget(&budget_record(A, "Ärger", 1), None),
            put_budget(&budget_record(A, "alpha", 1), None),
        ],
    )
    .await;
    assert_eq!(b.budget(A, "monthly").await.unwrap(), Some(monthly.clone()));
    let names = |v: Vec<BudgetRecord>| v.into_iter().map(|r| r.name).collect::<Vec<_>>();
    assert_eq!(
        names(b.budgets(A, None, 10).await.unwrap()),
        ["alpha", "monthly", "Ärger"]
    );
    assert_eq!(names(b.budgets(A, None, 1).await.unwrap()), ["alpha"]);
    assert_eq!(
        names(b.budgets(A, Some("alpha"), 10).await.unwrap()),
        ["monthly", "Ärger"]
    );

    let e = commit_err(&s, vec![put_budget(&monthly, None)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_budget(&budget_record(A, "monthly", 3), Some(2))],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let e = commit_err(&s, vec![put_budget(&budget_record(A, "nope", 2), Some(1))]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    let e = commit_err(
        &s,
        vec![put_budget(&budget_record(A, "monthly", 1), Some(1))],
    )
    .await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    let next = budget_record(A, "monthly", 2);
    commit_ok(&s, vec![put_budget(&next, Some(1))]).await;
    assert_eq!(b.budget(A, "monthly").await.unwrap(), Some(next));

    commit_ok(&s, vec![delete(A, "monthly")]).await;
    assert_eq!(b.budget(A, "monthly").await.unwrap(), None);
    let e = commit_err(&s, vec![delete(A, "monthly")]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
}

/// One account's budgets are invisible to another's reads and deletes; the
/// evaluator's walk sees all, in `(account, name)` order.
pub async fn budgets_accounts_isolated(s: Arc<dyn MetaStore>) {
    commit_ok(
        &s,
        vec![
            put_budget(&budget_record(B, "shared", 1), None),
            put_budget(&budget_record(A, "shared", 1), None),
            put_budget(&budget_record(A, "z", 1), None),
        ],
    )
    .await;
    let b = s.budgets();
    assert_eq!(b.budgets(B, None, 10).await.unwrap().len(), 1);
    assert_eq!(b.budget(B, "z").await.unwrap(), None);
    let e = commit_err(&s, vec![delete(B, "z")]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    let walk = |v: Vec<BudgetRecord>| {
        v.into_iter()
            .map(|r| (r.account_id, r.name))
            .collect::<Vec<_>>()
    };
    let all = walk(b.all_budgets(None, 10).await.unwrap());
    assert_eq!(
        all,
        [
            (A.to_owned(), "shared".to_owned()),
            (A.to_owned(), "z".to_owned()),
            (B.to_owned(), "shared".to_owned())
        ]
    );
    assert_eq!(
        walk(b.all_budgets(Some((A, "shared")), 1).await.unwrap()),
        [(A.to_owned(), "z".to_owned())]
    );
    assert_eq!(
        walk(b.all_budgets(Some((A, "z")), 10).await.unwrap()),
        [(B.to_owned(), "shared".to_owned())]
    );
    // The same alert key in another account is another alert.
    commit_ok(&s, vec![budget_alert(A, "shared", "n", "2026-12")]).await;
    commit_ok(&s, vec![budget_alert(B, "shared", "n", "2026-12")]).await;
    assert_eq!(b.budget_alerts(B, "shared").await.unwrap().len(), 1);
}

/// An alert is recorded once per notification and period; a repeat fails
/// the whole commit, so the delivery queued beside it is not queued again.
/// Deleting the budget forgets its alerts.
pub async fn budget_alerts_once_and_atomic_with_delivery(s: Arc<dyn MetaStore>) {
    let owner = account(1, "alice", 1);
    assert_eq!(owner.id, A);
    commit_ok(&s, vec![Mutation::CreateAccount(owner)]).await;
    commit_ok(
        &s,
        vec![
            Mutation::PutTopic(topic(A, "alerts", "http://127.0.0.1:9/")),
            put_budget(&budget_record(A, "monthly", 1), None),
        ],
    )
    .await;
    let alert = budget_alert(A, "monthly", "ACTUAL:GREATER_THAN:80:PERCENTAGE", "2026-12");
    commit_ok(
        &s,
        vec![alert.clone(), delivery(A, "alerts", b"crossed", 100)],
    )
    .await;
    let e = commit_err(&s, vec![alert, delivery(A, "alerts", b"again", 101)]).await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let due = s.due_deliveries(i64::MAX, 10).await.unwrap();
    assert_eq!(
        due.iter().map(|d| d.payload.as_slice()).collect::<Vec<_>>(),
        [b"crossed".as_slice()]
    );
    // Another period, or another notification, is another crossing.
    commit_ok(
        &s,
        vec![
            budget_alert(A, "monthly", "ACTUAL:GREATER_THAN:80:PERCENTAGE", "2027-01"),
            budget_alert(
                A,
                "monthly",
                "FORECASTED:GREATER_THAN:100:PERCENTAGE",
                "2026-12",
            ),
        ],
    )
    .await;
    let alerts = s.budgets().budget_alerts(A, "monthly").await.unwrap();
    assert_eq!(
        alerts
            .iter()
            .map(|a| (a.notification.as_str(), a.period.as_str(), a.at))
            .collect::<Vec<_>>(),
        [
            ("ACTUAL:GREATER_THAN:80:PERCENTAGE", "2026-12", 99),
            ("ACTUAL:GREATER_THAN:80:PERCENTAGE", "2027-01", 99),
            ("FORECASTED:GREATER_THAN:100:PERCENTAGE", "2026-12", 99),
        ]
    );
    // No alert for a budget that is not there.
    let e = commit_err(&s, vec![budget_alert(A, "gone", "n", "2026-12")]).await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    commit_ok(&s, vec![delete(A, "monthly")]).await;
    commit_ok(&s, vec![put_budget(&budget_record(A, "monthly", 1), None)]).await;
    assert_eq!(
        s.budgets().budget_alerts(A, "monthly").await.unwrap(),
        vec![]
    );
}

pub async fn budgets_invalid_mutations_rejected(s: Arc<dyn MetaStore>) {
    for bad in [
        put_budget(&budget_record("nope", "b", 1), None),
        put_budget(&budget_record(A, "", 1), None),
        delete(A, ""),
        budget_alert(A, "b", "", "2026-12"),
        budget_alert(A, "b", "n", ""),
    ] {
        let e = commit_err(&s, vec![bad]).await;
        assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    }
}

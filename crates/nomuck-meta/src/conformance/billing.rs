//! Cases for billing's part of the seam (see [`crate::billing`]): sums and
//! cursor move together or not at all, accounts are apart, months close in
//! order and once, report buckets.

use std::sync::Arc;

use super::commit_ok;
use super::compute::commit_err;
use crate::billing::{
    BillingMutation, BillingState, ClosedBill, DayUsageRecord, KeepWhole, RunRecord,
};
use crate::{MetaError, MetaStore, Mutation};

/// Expands to one `#[tokio::test]` per billing conformance case; the factory
/// is the one given to [`crate::metastore_conformance_tests!`].
#[macro_export]
macro_rules! billing_conformance_tests {
    ($factory:expr $(,)?) => {
        $crate::__metastore_conformance_cases!(($factory);
            billing_rate_adds_sums_and_moves_cursor,
            billing_rate_from_a_stale_state_applies_nothing,
            billing_accounts_isolated,
            billing_months_close_in_order_once,
            billing_report_buckets,
            billing_usage_days_sums_by_day_and_keeps_what_is_asked,
        );
    };
}

const A: &str = "000000000001";
const B: &str = "000000000002";

pub fn day_usage(
    account: &str,
    day: i64,
    meter: &str,
    quantity: i64,
    partial: i128,
) -> DayUsageRecord {
    DayUsageRecord {
        account_id: account.into(),
        day,
        service: "s3".into(),
        meter: meter.into(),
        unit: "bytes".into(),
        quantity,
        partial,
    }
}

pub fn rate(
    expect: BillingState,
    cursor: i64,
    days: Vec<DayUsageRecord>,
    runs: Vec<RunRecord>,
) -> Mutation {
    Mutation::Billing(BillingMutation::Rate {
        expect,
        cursor,
        days,
        runs,
    })
}

fn at(cursor: i64, closed: Option<&str>) -> BillingState {
    BillingState {
        cursor,
        closed_through: closed.map(str::to_owned),
    }
}

pub async fn billing_rate_adds_sums_and_moves_cursor(store: Arc<dyn MetaStore>) {
    let b = store.billing();
    assert_eq!(b.billing_state().await.unwrap(), at(0, None));
    // Partials beyond 64 bits survive exactly.
    let big = i128::from(i64::MAX) * 1000;
    let run = RunRecord {
        run_key: "i-1/5".into(),
        account_id: A.into(),
        started_at: 5,
        seconds: 60,
    };
    commit_ok(
        &store,
        vec![rate(
            at(0, None),
            10,
            vec![day_usage(A, 3, "m", 5, big), day_usage(A, 4, "m", 1, 1)],
            vec![run.clone()],
        )],
    )
    .await;
    commit_ok(
        &store,
        vec![rate(
            at(10, None),
            12,
            vec![day_usage(A, 3, "m", 2, big)],
            vec![RunRecord {
                seconds: 90,
                ..run.clone()
            }],
        )],
    )
    .await;
    assert_eq!(b.billing_state().await.unwrap(), at(12, None));
    let days = b.day_usage(Some(A), 0, 100).await.unwrap();
    assert_eq!(
        days,
        vec![day_usage(A, 3, "m", 7, big * 2), day_usage(A, 4, "m", 1, 1)]
    );
    assert_eq!(b.day_usage(Some(A), 4, 5).await.unwrap().len(), 1);
    let before = b.quantity_before(Some(A), 5).await.unwrap();
    assert_eq!(before, vec![day_usage(A, 0, "m", 8, 0)]);
    assert!(b.quantity_before(Some(A), 3).await.unwrap().is_empty());
    assert_eq!(b.run("i-1/5").await.unwrap().unwrap().seconds, 90);
    assert_eq!(b.run("nope").await.unwrap(), None);
    // The cursor never moves back.
    let e = commit_err(&store, vec![rate(at(12, None), 11, vec![], vec![])]).await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
}

pub async fn billing_rate_from_a_stale_state_applies_nothing(store: Arc<dyn MetaStore>) {
    commit_ok(
        &store,
        vec![rate(
            at(0, None),
            10,
            vec![day_usage(A, 3, "m", 5, 0)],
            vec![],
        )],
    )
    .await;
    // A second rater that read the state before the first committed.
    let e = commit_err(
        &store,
        vec![rate(
            at(0, None),
            10,
            vec![day_usage(A, 3, "m", 5, 0)],
            vec![],
        )],
    )
    .await;
    assert!(matches!(e, MetaError::Conflict(_)), "{e:?}");
    let b = store.billing();
    assert_eq!(
        b.day_usage(None, 0, 100).await.unwrap(),
        vec![day_usage(A, 3, "m", 5, 0)]
    );
    assert_eq!(b.billing_state().await.unwrap(), at(10, None));
}

pub async fn billing_accounts_isolated(store: Arc<dyn MetaStore>) {
    commit_ok(
        &store,
        vec![rate(
            at(0, None),
            2,
            vec![day_usage(A, 1, "m", 5, 0), day_usage(B, 1, "m", 7, 0)],
            vec![],
        )],
    )
    .await;
    let b = store.billing();
    assert_eq!(
        b.day_usage(Some(A), 0, 10).await.unwrap(),
        vec![day_usage(A, 1, "m", 5, 0)]
    );
    assert_eq!(
        b.day_usage(Some(B), 0, 10).await.unwrap(),
        vec![day_usage(B, 1, "m", 7, 0)]
    );
    assert_eq!(b.day_usage(None, 0, 10).await.unwrap().len(), 2);
    assert_eq!(
        b.quantity_before(Some(B), 2).await.unwrap(),
        vec![day_usage(B, 0, "m", 7, 0)]
    );
}

fn bill(account: &str, month: &str, body: &[u8]) -> ClosedBill {
    ClosedBill {
        account_id: account.into(),
        month: month.into(),
        body: body.to_vec(),
    }
}

fn close(expect: BillingState, month: &str, bills: Vec<ClosedBill>) -> Mutation {
    Mutation::Billing(BillingMutation::CloseMonth {
        expect,
        month: month.into(),
        bills,
    })
}

pub async fn billing_months_close_in_order_once(store: Arc<dyn MetaStore>) {
    let b = store.billing();
    commit_ok(
        &store,
        vec![close(
            at(0, None),
            "2026-11",
            vec![bill(A, "2026-11", b"a"), bill(B, "2026-11", b"b")],
        )],
    )
    .await;
    assert_eq!(b.billing_state().await.unwrap(), at(0, Some("2026-11")));
    // Not the next month, a stale state, a month twice: refused, nothing stored.
    for (expect, month) in [
        (at(0, Some("2026-11")), "2027-01"),
        (at(0, None), "2026-12"),
        (at(0, Some("2026-11")), "2026-11"),
    ] {
        let e = commit_err(
            &store,
            vec![close(expect, month, vec![bill(A, month, b"x")])],
        )
        .await;
        assert!(matches!(e, MetaError::Conflict(_)), "{month}: {e:?}");
    }
    let e = commit_err(
        &store,
        vec![close(at(0, Some("2026-11")), "2026-13", vec![])],
    )
    .await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    commit_ok(
        &store,
        vec![close(at(0, Some("2026-11")), "2026-12", vec![])],
    )
    .await;
    commit_ok(
        &store,
        vec![close(
            at(0, Some("2026-12")),
            "2027-01",
            vec![bill(A, "2027-01", b"c")],
        )],
    )
    .await;
    assert_eq!(
        b.closed_bill(A, "2026-11").await.unwrap().unwrap().body,
        b"a"
    );
    assert_eq!(
        b.closed_bill(B, "2026-11").await.unwrap().unwrap().body,
        b"b"
    );
    assert_eq!(b.closed_bill(B, "2027-01").await.unwrap(), None);
    assert_eq!(b.closed_bills("2026-11").await.unwrap().len(), 2);
    assert_eq!(b.billing_state().await.unwrap(), at(0, Some("2027-01")));
}

pub async fn billing_report_buckets(store: Arc<dyn MetaStore>) {
    let b = store.billing();
    let set = |bucket: Option<&str>| {
        Mutation::Billing(BillingMutation::SetReportBucket {
            account_id: A.into(),
            target: bucket.map(crate::billing::ReportTarget::plain),
        })
    };
    let e = commit_err(
        &store,
        vec![Mutation::Billing(BillingMutation::ReportWritten {
            account_id: A.into(),
            day: 3,
        })],
    )
    .await;
    assert!(matches!(e, MetaError::NotFound(_)), "{e:?}");
    commit_ok(&store, vec![set(Some("reports"))]).await;
    commit_ok(
        &store,
        vec![Mutation::Billing(BillingMutation::ReportWritten {
            account_id: A.into(),
            day: 3,
        })],
    )
    .await;
    let r = b.report_bucket(A).await.unwrap().unwrap();
    assert_eq!(
        (r.target.bucket.as_str(), r.written_day),
        ("reports", Some(3))
    );
    assert_eq!(r.target, crate::billing::ReportTarget::plain("reports"));
    assert_eq!(b.report_bucket(B).await.unwrap(), None);
    // A new bucket starts over.
    commit_ok(&store, vec![set(Some("other"))]).await;
    assert_eq!(b.report_bucket(A).await.unwrap().unwrap().written_day, None);
    assert_eq!(b.report_buckets().await.unwrap().len(), 1);
    // A definition from the Cost and Usage Report API: every field kept.
    let defined = crate::billing::ReportTarget {
        bucket: "cur".into(),
        report_name: "monthly".into(),
        s3_prefix: "costs/reports".into(),
        s3_region: "us-east-1".into(),
        gzip: true,
    };
    commit_ok(
        &store,
        vec![Mutation::Billing(BillingMutation::SetReportBucket {
            account_id: A.into(),
            target: Some(defined.clone()),
        })],
    )
    .await;
    assert_eq!(b.report_bucket(A).await.unwrap().unwrap().target, defined);
    let e = commit_err(
        &store,
        vec![Mutation::Billing(BillingMutation::SetReportBucket {
            account_id: A.into(),
            target: Some(crate::billing::ReportTarget {
                report_name: String::new(),
                ..defined
            }),
        })],
    )
    .await;
    assert!(matches!(e, MetaError::Invalid(_)), "{e:?}");
    commit_ok(&store, vec![set(None)]).await;
    assert!(b.report_buckets().await.unwrap().is_empty());
}

pub async fn billing_usage_days_sums_by_day_and_keeps_what_is_asked(store: Arc<dyn MetaStore>) {
    const DAY: i64 = 86_400_000;
    let ev = |n: i64, account: &str, service: &str, meter: &str, q: i64, at: i64| {
        Mutation::RecordUsage(crate::UsageEvent {
            account_id: account.into(),
            service: service.into(),
            meter: meter.into(),
            quantity: q,
            unit: "bytes".into(),
            at,
            idempotency_key: format!("k{n}"),
        })
    };
    commit_ok(
        &store,
        vec![
            ev(1, A, "s3", "m", 5, 2 * DAY + 1000),
            ev(2, A, "s3", "m", 7, 2 * DAY + 2000),
            ev(3, A, "ec2", "BoxUsage:x", 60, 2 * DAY),
            ev(4, B, "s3", "m", 1, 3 * DAY - 1),
            ev(5, A, "s3", "m", 2, 3 * DAY),
        ],
    )
    .await;
    let keep = [KeepWhole {
        service: "ec2".into(),
        meter_prefix: "BoxUsage:".into(),
    }];
    let b = store.billing();
    let first = b.usage_days(0, 4, &keep).await.unwrap();
    assert_eq!(first.events, 4);
    let last = first.last_seq.unwrap();
    let mut days = first.days.clone();
    days.sort_by(|x, y| (&x.account_id, x.day).cmp(&(&y.account_id, y.day)));
    assert_eq!(
        days,
        vec![
            day_usage(
                A,
                2,
                "m",
                12,
                5 * i128::from(DAY - 1000) + 7 * i128::from(DAY - 2000)
            ),
            day_usage(B, 2, "m", 1, 1),
        ]
    );
    assert_eq!(first.kept.len(), 1);
    assert_eq!(first.kept[0].event.idempotency_key, "k3");
    let rest = b.usage_days(last, 100, &keep).await.unwrap();
    assert_eq!((rest.events, rest.days.len(), rest.kept.len()), (1, 1, 0));
    assert_eq!(rest.days[0], day_usage(A, 3, "m", 2, 2 * i128::from(DAY)));
    let none = b
        .usage_days(rest.last_seq.unwrap(), 100, &keep)
        .await
        .unwrap();
    assert_eq!((none.last_seq, none.events), (None, 0));
}

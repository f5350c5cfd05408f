//! Rating and query benchmark over a real SQLite store on disk:
//! `billing_bench [EVENTS [ACCOUNTS]]` (defaults 1,000,000 and 100).
//!
//! Writes EVENTS usage events spread over April 2026 (stored bytes, requests,
//! bytes out, compute intervals, fulfillment fees, round-robin over ACCOUNTS),
//! then times rating them all from the store, then one account's month of
//! `daily_costs` and its bill (median of 20 calls each).

// A benchmark: a failure is a panic by design.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use nomuck_billing::{Billing, BillingOptions, Month, PriceBook};
use nomuck_meta::{MetaStore, Mutation, SqliteMetaStore, UsageEvent};

const APRIL_1: i64 = 1_775_001_600_000; // 2026-04-01T00:00:00Z

fn event(i: u64, accounts: u64) -> UsageEvent {
    let account_id = format!("{:012}", i / 8 % accounts + 1);
    // Spread over the 30 days of April.
    let at = APRIL_1 + i64::try_from(i * 2_591_999_999 / 1_000_000 % 2_592_000_000).unwrap();
    let (service, meter, unit, quantity, key) = match i % 8 {
        0 => ("s3", "storage.bytes-added", "bytes", 4096, format!("b/{i}")),
        1 => (
            "s3",
            "storage.bytes-removed",
            "bytes",
            1024,
            format!("b/{i}"),
        ),
        2 | 3 => ("s3", "requests.get-other", "requests", 17, format!("r/{i}")),
        4 => (
            "s3",
            "requests.put-copy-post-list",
            "requests",
            3,
            format!("r/{i}"),
        ),
        5 => (
            "s3",
            "transfer.bytes-out",
            "bytes",
            65_536,
            format!("o/{i}"),
        ),
        6 => {
            // A few long runs per account, metered in 5-minute intervals.
            let run = i / 8 / accounts % 4;
            (
                "ec2",
                "BoxUsage:m1.small",
                "instance-seconds",
                300,
                format!("ec2/i-{account_id}-{run}/running/{at}/run/{APRIL_1}"),
            )
        }
        _ => (
            "fulfillment",
            "FBAPerOrderFulfillmentFee",
            "USD-micro",
            1_000_000,
            format!("f/{i}"),
        ),
    };
    UsageEvent {
        account_id,
        service: service.into(),
        meter: meter.into(),
        quantity,
        unit: unit.into(),
        at,
        idempotency_key: key,
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let events: u64 = args
        .next()
        .map_or(1_000_000, |a| a.parse().expect("EVENTS"));
    let accounts: u64 = args.next().map_or(100, |a| a.parse().expect("ACCOUNTS"));
    let dir = std::path::Path::new("target/bench-billing");
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    let store = Arc::new(SqliteMetaStore::open(dir.join("meta.db")).unwrap());

    let t = Instant::now();
    let mut i = 0;
    while i < events {
        let n = (events - i).min(20_000);
        let batch = (i..i + n)
            .map(|j| Mutation::RecordUsage(event(j, accounts)))
            .collect();
        store.commit(batch).await.unwrap();
        i += n;
    }
    println!(
        "metered {events} events over {accounts} accounts in {:.1?}",
        t.elapsed()
    );

    let billing = Billing::new(
        store.clone(),
        PriceBook::default(),
        BillingOptions {
            batch: 250_000,
            ..BillingOptions::default()
        },
    )
    .with_clock(Arc::new(|| APRIL_1 + 30 * 86_400_000));
    let t = Instant::now();
    let rated = billing.rate_pending().await.unwrap();
    let rating = t.elapsed();
    assert_eq!(u64::try_from(rated).unwrap(), events);
    println!(
        "rated {rated} events in {:.1?} ({:.0} events/s)",
        rating,
        rated as f64 / rating.as_secs_f64()
    );

    // How much of rating is reading the meter.
    let t = Instant::now();
    let mut after = 0;
    loop {
        let page = store
            .usage(&nomuck_meta::UsageQuery {
                after_seq: Some(after),
                limit: 250_000,
                ..Default::default()
            })
            .await
            .unwrap();
        match page.last() {
            Some(e) => after = e.seq,
            None => break,
        }
    }
    println!("reading them back alone: {:.1?}", t.elapsed());
    let t = Instant::now();
    let keep = [nomuck_meta::billing::KeepWhole {
        service: "ec2".into(),
        meter_prefix: "BoxUsage:".into(),
    }];
    let days = store
        .billing()
        .usage_days(0, 1_000_000, &keep)
        .await
        .unwrap();
    println!(
        "of which the store's read summed by day: {:.1?} ({} sums, {} kept whole)",
        t.elapsed(),
        days.days.len(),
        days.kept.len()
    );

    let april = Month::parse("2026-04").unwrap();
    let (start, end) = (
        time::macros::date!(2026 - 04 - 01),
        time::macros::date!(2026 - 05 - 01),
    );
    let mut daily = Vec::new();
    let mut lines = 0;
    for _ in 0..20 {
        let t = Instant::now();
        lines = billing
            .daily_costs("000000000001", start, end)
            .await
            .unwrap()
            .len();
        daily.push(t.elapsed());
    }
    let mut bills = Vec::new();
    let mut total = Default::default();
    for _ in 0..20 {
        let t = Instant::now();
        total = billing.bill("000000000001", april).await.unwrap().total_usd;
        bills.push(t.elapsed());
    }
    println!(
        "daily_costs, one account's month ({lines} lines): median {:.2?}; bill (total {total} USD): median {:.2?}",
        median(daily),
        median(bills)
    );
    let t = Instant::now();
    let all = billing.bills(None, april).await.unwrap().len();
    println!("every account's bill ({all} bills): {:.2?}", t.elapsed());
}

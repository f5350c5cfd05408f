//! Rating and query benchmark over a real SQLite store on disk:
//! `billing_bench [EVENTS [ACCOUNTS]]` (defaults 1,000,000 and 100).
//!
//! Writes EVENTS usage events spread over April 2026 (stored bytes, requests,
//! bytes out, compute intervals, fulfillment fees, round-robin over ACCOUNTS),
//! then times rating them all from the store, then one account's month of
//! `daily_costs` and its bill (median of 20 calls each), and Cost Explorer's
//! GetCostAndUsage over that month (grouped by service and usage type, daily
//! and monthly) answered from the rated store through the API crate, as the
//! server answers it.

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
    get_cost_and_usage(billing).await;
}

/// The server's adapter (`RatedCosts` in `crates/nomuck/src/serve.rs`).
struct Rated(Billing);

#[async_trait::async_trait]
impl nomuck_costapi::CostSource for Rated {
    async fn daily_costs(
        &self,
        account_id: &str,
        start: time::Date,
        end_exclusive: time::Date,
    ) -> Result<Vec<nomuck_costapi::DailyCost>, nomuck_costapi::CostSourceError> {
        let rows = self
            .0
            .daily_costs(account_id, start, end_exclusive)
            .await
            .map_err(|e| nomuck_costapi::CostSourceError::Unavailable(e.to_string()))?;
        Ok(rows
            .into_iter()
            .map(|r| nomuck_costapi::DailyCost {
                day: r.day,
                service: r.service,
                usage_type: r.usage_type,
                operation: r.operation,
                unit: r.unit,
                quantity: r.quantity,
                cost: r.cost,
            })
            .collect())
    }
}

async fn get_cost_and_usage(billing: Billing) {
    use http_body_util::BodyExt;
    use nomuck_http::ServiceApi;

    let api = nomuck_costapi::ce::CostExplorerApi::new(Arc::new(Rated(billing)));
    for granularity in ["MONTHLY", "DAILY"] {
        let body = serde_json::json!({
            "TimePeriod": {"Start": "2026-04-01", "End": "2026-05-01"},
            "Granularity": granularity,
            "Metrics": ["UnblendedCost", "UsageQuantity"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        })
        .to_string();
        let mut times = Vec::new();
        let mut groups = 0;
        for _ in 0..20 {
            let ctx = nomuck_http::RequestContext {
                request_id: "bench".into(),
                principal: Some(nomuck_http::Principal {
                    account_id: "000000000001".into(),
                    account_name: "bench".into(),
                    access_key_id: "AKIDBENCH".into(),
                    is_admin: false,
                }),
                signed_region: Some("us-east-1".into()),
                server_region: "us-east-1".into(),
                remote_addr: "127.0.0.1:1".parse().unwrap(),
                received_at: Instant::now(),
                path: "/".into(),
                tls: None,
            };
            let request = http::Request::post("/")
                .header("x-amz-target", "AWSInsightsIndexService.GetCostAndUsage")
                .header("content-type", "application/x-amz-json-1.1")
                .body(nomuck_http::full_body(body.clone()))
                .unwrap();
            let t = Instant::now();
            let response = api.handle(ctx, request).await;
            assert_eq!(response.status(), 200);
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            times.push(t.elapsed());
            let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            groups = v["ResultsByTime"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["Groups"].as_array().unwrap().len())
                .sum::<usize>();
        }
        println!(
            "GetCostAndUsage {granularity} by service and usage type, one account's month ({groups} groups): median {:.2?}",
            median(times)
        );
    }
}

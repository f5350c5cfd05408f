//! How long GetCostAndUsage takes over a month of rated rows. Ignored by
//! default (timing is for release builds):
//! `cargo test --release -p nomuck-costapi --test perf -- --ignored --nocapture`.
//!
//! Rating folds usage events into one row per day, service, usage type and
//! operation, so a month of 1,000,000 events is a few thousand rows; the
//! second case hands over a million distinct rows to bound the worst case.

mod common;

use std::sync::Arc;
use std::time::Instant;

use common::*;
use nomuck_costapi::ce::CostExplorerApi;
use serde_json::json;
use time::macros::{date, datetime};

async fn measure(rows: i64, usage_types: i64) {
    let costs = Arc::new(FixedCosts::default());
    let services = [S3, EC2, "Fulfillment"];
    for i in 0..rows {
        let day = date!(2026 - 11 - 01) + time::Duration::days(i % 30);
        let usage = format!("Usage-{}", i % usage_types);
        costs.add(
            A,
            row(day, services[(i % 3) as usize], &usage, "Units", 1, 1),
        );
    }
    let started = Instant::now();
    let fetched = nomuck_costapi::CostSource::daily_costs(
        costs.as_ref(),
        A,
        date!(2026 - 11 - 01),
        date!(2026 - 12 - 01),
    )
    .await
    .unwrap();
    let source_ms = started.elapsed().as_secs_f64() * 1000.0;
    let (clock, _) = clock(datetime!(2026-12-10 12:00 UTC));
    let api = CostExplorerApi::new(costs).with_clock(clock);
    for granularity in ["MONTHLY", "DAILY"] {
        let body = json!({
            "TimePeriod": {"Start": "2026-11-01", "End": "2026-12-01"},
            "Granularity": granularity,
            "Metrics": ["UnblendedCost", "UsageQuantity"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
        });
        let mut best = f64::MAX;
        for _ in 0..5 {
            let started = Instant::now();
            let (status, v) = call(
                &api,
                A,
                "AWSInsightsIndexService.GetCostAndUsage",
                body.clone(),
            )
            .await;
            best = best.min(started.elapsed().as_secs_f64() * 1000.0);
            assert_eq!(status, 200);
            assert!(!v["ResultsByTime"].as_array().unwrap().is_empty());
        }
        println!(
            "GetCostAndUsage {granularity}, {} rows, 2 group-bys: best of 5 {best:.2} ms \
             (the test source alone copies the rows in {source_ms:.2} ms)",
            fetched.len()
        );
    }
}

#[tokio::test]
#[ignore = "timing; run in release"]
async fn get_cost_and_usage_over_a_month() {
    // A month of 1,000,000 events over 40 usage types of 3 services, rated.
    measure(30 * 40 * 3, 40).await;
    measure(1_000_000, 1_000_000).await;
}

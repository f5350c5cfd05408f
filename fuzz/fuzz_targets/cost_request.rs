//! Cost Explorer and Budgets requests from untrusted bytes: the first byte picks
//! the operation, the rest is the JSON body. Every Cost Explorer operation runs
//! whole (over a few fixed cost rows) and must answer JSON or a JSON 1.1 error
//! with a code, never panic; Budgets' bodies must parse and check the same way.
#![no_main]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use libfuzzer_sys::fuzz_target;
use nomuck_costapi::ce::CostExplorerApi;
use nomuck_costapi::{CostSource, CostSourceError, DailyCost};
use nomuck_http::json::JsonOperations;
use nomuck_http::{Principal, RequestContext};

struct Rows;

#[async_trait::async_trait]
impl CostSource for Rows {
    async fn daily_costs(
        &self,
        _account_id: &str,
        start: time::Date,
        end: time::Date,
    ) -> Result<Vec<DailyCost>, CostSourceError> {
        let row = |day: time::Date, service: &str, cents| DailyCost {
            day,
            service: service.into(),
            usage_type: "TimedStorage-ByteHrs".into(),
            operation: "PutObject".into(),
            unit: "GB-Mo".into(),
            quantity: rust_decimal::Decimal::ONE,
            cost: rust_decimal::Decimal::new(cents, 2),
        };
        Ok([
            row(start, "Amazon Simple Storage Service", 150),
            row(
                end.previous_day().unwrap_or(end),
                "Amazon Elastic Compute Cloud - Compute",
                7,
            ),
        ]
        .into_iter()
        .filter(|r| r.day >= start && r.day < end)
        .collect())
    }
}

const OPS: [&str; 4] = [
    "GetCostAndUsage",
    "GetCostForecast",
    "GetDimensionValues",
    "Nope",
];

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let _ = nomuck_costapi::budgets::check_request(body);
    let api = CostExplorerApi::new(Arc::new(Rows));
    let ctx = RequestContext {
        request_id: "R".into(),
        principal: None,
        signed_region: None,
        server_region: "us-east-1".into(),
        remote_addr: "127.0.0.1:1".parse().unwrap(),
        received_at: std::time::Instant::now(),
        path: "/".into(),
        tls: None,
    };
    let caller = Principal {
        account_id: "111111111111".into(),
        account_name: "a".into(),
        access_key_id: "AK".into(),
        is_admin: false,
    };
    let op = OPS[usize::from(pick) % OPS.len()];
    let mut call = std::pin::pin!(api.call(&ctx, &caller, op, body));
    // Nothing here waits: the source answers at once.
    let Poll::Ready(outcome) = call.as_mut().poll(&mut Context::from_waker(Waker::noop())) else {
        panic!("an operation over an immediate source must finish in one poll");
    };
    match outcome {
        None => assert_eq!(op, "Nope"),
        Some(Ok(reply)) => {
            serde_json::from_slice::<serde_json::Value>(&reply.body).expect("reply JSON");
        }
        Some(Err(e)) => {
            assert!(!e.code.is_empty() && e.status.is_client_error(), "{e:?}");
        }
    }
});

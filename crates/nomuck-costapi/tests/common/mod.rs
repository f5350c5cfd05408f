//! The harness the cost API tests share: a CostSource with fixed rows, a
//! fixed clock, and one JSON 1.1 request through `ServiceApi::handle` as an
//! authenticated account.
#![allow(dead_code)]

use std::sync::{Arc, Mutex};
use std::time::Instant;

use http_body_util::BodyExt;
use nomuck_costapi::{Clock, CostSource, CostSourceError, DailyCost};
use nomuck_http::{Principal, RequestContext, ServiceApi, full_body};
use rust_decimal::Decimal;
use serde_json::Value;
use time::{Date, OffsetDateTime};

pub const A: &str = "111111111111";
pub const B: &str = "222222222222";
pub const S3: &str = "Amazon Simple Storage Service";
pub const EC2: &str = "Amazon Elastic Compute Cloud - Compute";

/// Rows per account; records which accounts and ranges were asked for.
#[derive(Default)]
pub struct FixedCosts {
    pub rows: Mutex<Vec<(String, DailyCost)>>,
    pub asked: Mutex<Vec<(String, Date, Date)>>,
}

impl FixedCosts {
    pub fn add(&self, account: &str, row: DailyCost) {
        self.rows.lock().unwrap().push((account.to_owned(), row));
    }
}

#[async_trait::async_trait]
impl CostSource for FixedCosts {
    async fn daily_costs(
        &self,
        account_id: &str,
        start: Date,
        end_exclusive: Date,
    ) -> Result<Vec<DailyCost>, CostSourceError> {
        self.asked
            .lock()
            .unwrap()
            .push((account_id.to_owned(), start, end_exclusive));
        Ok(self
            .rows
            .lock()
            .unwrap()
            .iter()
            .filter(|(a, r)| a == account_id && r.day >= start && r.day < end_exclusive)
            .map(|(_, r)| r.clone())
            .collect())
    }
}

/// A row of `cost` cents for `quantity` `unit`s.
pub fn row(
    day: Date,
    service: &str,
    usage_type: &str,
    unit: &str,
    quantity: i64,
    cents: i64,
) -> DailyCost {
    DailyCost {
        day,
        service: service.into(),
        usage_type: usage_type.into(),
        operation: "Op".into(),
        unit: unit.into(),
        quantity: Decimal::from(quantity),
        cost: Decimal::new(cents, 2),
    }
}

/// A clock stopped at `at` (a test may move it).
pub fn clock(at: OffsetDateTime) -> (Clock, Arc<Mutex<OffsetDateTime>>) {
    let now = Arc::new(Mutex::new(at));
    let read = now.clone();
    (Arc::new(move || *read.lock().unwrap()), now)
}

/// `Prefix.Operation` with `body` as `account`: the status and JSON reply.
pub async fn call(api: &dyn ServiceApi, account: &str, target: &str, body: Value) -> (u16, Value) {
    let ctx = RequestContext {
        request_id: "REQ-1".into(),
        principal: Some(Principal {
            account_id: account.into(),
            account_name: format!("acct-{account}"),
            access_key_id: "AKIDTEST".into(),
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
        .header("x-amz-target", target)
        .header("content-type", "application/x-amz-json-1.1")
        .body(full_body(body.to_string()))
        .unwrap();
    let response = api.handle(ctx, request).await;
    let status = response.status().as_u16();
    assert_eq!(response.headers()["x-amzn-requestid"], "REQ-1");
    assert_eq!(
        response.headers()["content-type"],
        "application/x-amz-json-1.1"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{target}: {status}: not JSON ({e}): {bytes:?}"));
    (status, json)
}

/// The `__type` of an error reply, with its status.
pub fn error_of(reply: &(u16, Value)) -> (u16, &str) {
    (reply.0, reply.1["__type"].as_str().unwrap_or("<none>"))
}

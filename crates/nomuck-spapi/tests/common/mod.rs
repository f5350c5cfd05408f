//! The harness the service tests share: a real `Fulfillment` over SQLite in a
//! temp dir behind `SpApi`, and one request through `ServiceApi::handle` as an
//! authenticated account.

use std::sync::Arc;
use std::time::Instant;

use http::{Method, StatusCode};
use http_body_util::BodyExt;
use nomuck_fulfillment::{Fulfillment, FulfillmentConfig};
use nomuck_http::{Principal, RequestContext, ServiceApi, full_body};
use nomuck_meta::{MetaStore, SqliteMetaStore};
use nomuck_spapi::SpApi;
use serde_json::Value;

pub const REQUEST_ID: &str = "REQ-1";

/// The API and its service over a fresh store; the simulator is off, so
/// orders and shipments move only when a test moves them.
pub fn service(config: FulfillmentConfig) -> (SpApi, Fulfillment, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let (api, f) = reopen(config, dir.path());
    (api, f, dir)
}

/// The API and its service over the store in `dir` as it is: what a
/// restart finds (drop the old service first).
#[allow(dead_code)] // not every test binary restarts
pub fn reopen(mut config: FulfillmentConfig, dir: &std::path::Path) -> (SpApi, Fulfillment) {
    let store: Arc<dyn MetaStore> = Arc::new(SqliteMetaStore::open(dir.join("meta.db")).unwrap());
    config.simulator.enabled = false;
    let f = Fulfillment::new(store, config, None);
    (SpApi::new(f.clone()), f)
}

/// `method uri` with a JSON `body` as `account`: the status and the JSON
/// reply (every reply must carry the request id and be JSON).
pub async fn call(
    api: &SpApi,
    account: &str,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, Value) {
    call_as(api, account, false, method, uri, body).await
}

/// [`call`] as an admin account (`is_admin`) or not.
pub async fn call_as(
    api: &SpApi,
    account: &str,
    is_admin: bool,
    method: Method,
    uri: &str,
    body: &str,
) -> (StatusCode, Value) {
    let ctx = RequestContext {
        request_id: REQUEST_ID.into(),
        principal: Some(Principal {
            account_id: account.into(),
            account_name: format!("acct-{account}"),
            access_key_id: "AKIDTEST".into(),
            is_admin,
        }),
        signed_region: Some("us-east-1".into()),
        server_region: "us-east-1".into(),
        remote_addr: "127.0.0.1:1".parse().unwrap(),
        received_at: Instant::now(),
        path: uri.split('?').next().unwrap_or(uri).into(),
        tls: None,
    };
    let request = http::Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json")
        .body(full_body(body.to_owned()))
        .unwrap();
    let response = api.handle(ctx, request).await;
    let status = response.status();
    assert_eq!(
        response.headers()["x-amzn-requestid"],
        REQUEST_ID,
        "{uri}: every reply carries the request id"
    );
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("{uri}: {status}: not JSON ({e}): {bytes:?}"));
    (status, json)
}

//! A budget alert end to end: the API stores the budget, the evaluator sees
//! the threshold crossed, and the webhook dispatcher POSTs the alert, signed,
//! to a receiver on 127.0.0.1 — once, however often the evaluator runs.

mod common;

use std::sync::{Arc, Mutex};

use common::*;
use nomuck_costapi::alerts::BudgetAlerts;
use nomuck_costapi::budgets::BudgetsApi;
use nomuck_iam::{Iam, SecretSealer};
use nomuck_meta::{MetaStore, SqliteMetaStore};
use nomuck_webhook::{DispatchOptions, Dispatcher, Topics};
use serde_json::{Value, json};
use time::macros::{date, datetime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A loopback receiver that answers 200 and keeps each request's head and body.
async fn receiver() -> (String, Arc<Mutex<Vec<(String, Vec<u8>)>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/budget-hook", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let (head, body) = loop {
                let mut chunk = [0u8; 4096];
                let n = sock.read(&mut chunk).await.unwrap();
                assert!(n > 0, "the sender closed mid-request");
                buf.extend_from_slice(&chunk[..n]);
                let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") else {
                    continue;
                };
                let head = String::from_utf8_lossy(&buf[..end]).to_lowercase();
                let len: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: "))
                    .map_or(0, |v| v.trim().parse().unwrap());
                if buf.len() >= end + 4 + len {
                    break (head, buf[end + 4..end + 4 + len].to_vec());
                }
            };
            log.lock().unwrap().push((head, body));
            sock.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n")
                .await
                .unwrap();
        }
    });
    (url, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crossed_threshold_reaches_the_webhook_receiver_once() {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    let iam = Arc::new(Iam::new(meta.clone(), &SecretSealer::generate_master_key()));
    let account = iam.create_account("dev", false).await.unwrap().id;
    let topics = Arc::new(Topics::new(meta.clone(), iam, "us-east-1"));
    let (url, seen) = receiver().await;
    let topic = topics
        .create(
            &account,
            "budget-alerts",
            vec![("push-endpoint".into(), url)],
        )
        .await
        .unwrap();

    let costs = Arc::new(FixedCosts::default());
    let (clock, _) = clock(datetime!(2026-12-10 12:00 UTC));
    let api = BudgetsApi::new(meta.clone(), costs.clone()).with_clock(clock.clone());
    let created = call(
        &api,
        &account,
        "AWSBudgetServiceGateway.CreateBudget",
        json!({
            "AccountId": account,
            "Budget": {"BudgetName": "monthly", "BudgetLimit": {"Amount": "20", "Unit": "USD"},
                       "TimeUnit": "MONTHLY", "BudgetType": "COST"},
            "NotificationsWithSubscribers": [{
                "Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                                 "Threshold": 50, "ThresholdType": "PERCENTAGE"},
                "Subscribers": [{"SubscriptionType": "SNS", "Address": topic.arn}],
            }],
        }),
    )
    .await;
    assert_eq!(created.0, 200, "{created:?}");

    let alerts = BudgetAlerts::new(meta.clone(), costs.clone(), clock);
    let dispatcher = Dispatcher::new(meta.clone(), topics, DispatchOptions::default());
    // $10.00 is not over half of $20.
    costs.add(
        &account,
        row(
            date!(2026 - 12 - 03),
            EC2,
            "BoxUsage:m1.small",
            "Hrs",
            100,
            1000,
        ),
    );
    alerts.evaluate_now().await.unwrap();
    assert_eq!(dispatcher.deliver_due_now().await.unwrap().delivered, 0);
    // $10.10 is.
    costs.add(
        &account,
        row(
            date!(2026 - 12 - 09),
            EC2,
            "BoxUsage:m1.small",
            "Hrs",
            1,
            10,
        ),
    );
    for _ in 0..3 {
        alerts.evaluate_now().await.unwrap();
        dispatcher.deliver_due_now().await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 1, "one crossing, one delivery");
    let (head, body) = &seen[0];
    assert!(head.starts_with("post /budget-hook "), "{head}");
    assert!(head.contains(&format!("x-nomuck-topic-arn: {}", topic.arn.to_lowercase())));
    let signature = head
        .lines()
        .find_map(|l| l.strip_prefix("x-nomuck-signature: "))
        .unwrap();
    assert!(nomuck_webhook::verify(
        &topic.signing_secret,
        signature,
        body
    ));
    let m: Value = serde_json::from_slice(body).unwrap();
    assert_eq!(
        (&m["BudgetName"], &m["NotificationType"], &m["ActualSpend"]),
        (
            &json!("monthly"),
            &json!("ACTUAL"),
            &json!({"Amount": "10.1", "Unit": "USD"})
        )
    );
}

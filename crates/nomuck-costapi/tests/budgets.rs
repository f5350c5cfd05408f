//! Budgets through their ServiceApi over a real SQLite store: CRUD and its
//! persistence, AWS's refusals, isolation between accounts, notifications,
//! and alerts queued in the webhook outbox once per crossing.

mod common;

use std::sync::Arc;

use common::*;
use nomuck_costapi::alerts::{AlertReport, BudgetAlerts};
use nomuck_costapi::budgets::BudgetsApi;
use nomuck_meta::events::Topic;
use nomuck_meta::{Account, MetaStore, Mutation, SqliteMetaStore};
use serde_json::{Value, json};
use time::macros::{date, datetime};

struct World {
    meta: Arc<dyn MetaStore>,
    costs: Arc<FixedCosts>,
    clock: nomuck_costapi::Clock,
    now: Arc<std::sync::Mutex<time::OffsetDateTime>>,
    api: BudgetsApi,
    _dir: tempfile::TempDir,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    let costs = Arc::new(FixedCosts::default());
    let (clock, now) = clock(datetime!(2026-12-10 12:00 UTC));
    let api = BudgetsApi::new(meta.clone(), costs.clone()).with_clock(clock.clone());
    World {
        meta,
        costs,
        clock,
        now,
        api,
        _dir: dir,
    }
}

async fn budgets(w: &World, account: &str, op: &str, body: Value) -> (u16, Value) {
    call(
        &w.api,
        account,
        &format!("AWSBudgetServiceGateway.{op}"),
        body,
    )
    .await
}

fn topic_arn(account: &str, name: &str) -> String {
    format!("arn:aws:sns:us-east-1:{account}:{name}")
}

fn monthly(name: &str, limit: &str) -> Value {
    json!({
        "BudgetName": name,
        "BudgetLimit": {"Amount": limit, "Unit": "USD"},
        "TimeUnit": "MONTHLY",
        "BudgetType": "COST",
    })
}

fn alert(kind: &str, threshold: f64, topic: &str) -> Value {
    json!({
        "Notification": {"NotificationType": kind, "ComparisonOperator": "GREATER_THAN",
                         "Threshold": threshold, "ThresholdType": "PERCENTAGE"},
        "Subscribers": [{"SubscriptionType": "SNS", "Address": topic}],
    })
}

#[tokio::test]
async fn budgets_are_created_described_updated_and_deleted() {
    let w = world();
    w.costs.add(
        A,
        row(
            date!(2026 - 12 - 01),
            S3,
            "TimedStorage-ByteHrs",
            "GB-Mo",
            1,
            250,
        ),
    );
    w.costs.add(
        A,
        row(
            date!(2026 - 12 - 10),
            S3,
            "Requests-Tier1",
            "Requests",
            1,
            250,
        ),
    );
    w.costs.add(
        A,
        row(
            date!(2026 - 11 - 30),
            S3,
            "Requests-Tier1",
            "Requests",
            1,
            9999,
        ),
    );
    let created = budgets(
        &w,
        A,
        "CreateBudget",
        json!({"AccountId": A, "Budget": monthly("monthly", "100")}),
    )
    .await;
    assert_eq!(created, (200, json!({})));

    let (status, v) = budgets(
        &w,
        A,
        "DescribeBudget",
        json!({"AccountId": A, "BudgetName": "monthly"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let b = &v["Budget"];
    assert_eq!(b["BudgetName"], "monthly");
    assert_eq!(b["BudgetLimit"], json!({"Amount": "100", "Unit": "USD"}));
    assert_eq!(
        (b["TimeUnit"].as_str(), b["BudgetType"].as_str()),
        (Some("MONTHLY"), Some("COST"))
    );
    // December so far: $5 in 10 days of 31.
    assert_eq!(
        b["CalculatedSpend"],
        json!({"ActualSpend": {"Amount": "5", "Unit": "USD"},
               "ForecastedSpend": {"Amount": "15.5", "Unit": "USD"}})
    );
    let start = datetime!(2026-12-01 00:00 UTC).unix_timestamp() as f64;
    assert_eq!(
        b["TimePeriod"],
        json!({"Start": start, "End": 3_706_473_600.0})
    );
    assert_eq!(b["CostTypes"]["IncludeTax"], true);
    assert!(b["LastUpdatedTime"].as_f64().unwrap() > 1.7e9);
    assert_eq!(b["CostFilters"], json!({}));

    let again = budgets(
        &w,
        A,
        "CreateBudget",
        json!({"AccountId": A, "Budget": monthly("monthly", "1")}),
    )
    .await;
    assert_eq!(error_of(&again), (400, "DuplicateRecordException"));

    let updated = budgets(
        &w,
        A,
        "UpdateBudget",
        json!({"AccountId": A, "NewBudget": monthly("monthly", "250.5")}),
    )
    .await;
    assert_eq!(updated, (200, json!({})));
    for name in ["b", "c"] {
        budgets(
            &w,
            A,
            "CreateBudget",
            json!({"AccountId": A, "Budget": monthly(name, "1")}),
        )
        .await;
    }
    let mut names = Vec::new();
    let mut req = json!({"AccountId": A, "MaxResults": 2});
    loop {
        let (status, page) = budgets(&w, A, "DescribeBudgets", req.clone()).await;
        assert_eq!(status, 200, "{page}");
        for b in page["Budgets"].as_array().unwrap() {
            names.push(b["BudgetName"].as_str().unwrap().to_owned());
            if b["BudgetName"] == "monthly" {
                assert_eq!(b["BudgetLimit"]["Amount"], "250.5");
                assert_eq!(b["TimePeriod"]["Start"], json!(start));
            }
        }
        match page.get("NextToken") {
            Some(t) => req["NextToken"] = t.clone(),
            None => break,
        }
    }
    assert_eq!(names, ["b", "c", "monthly"]);

    assert_eq!(
        budgets(
            &w,
            A,
            "DeleteBudget",
            json!({"AccountId": A, "BudgetName": "monthly"})
        )
        .await,
        (200, json!({}))
    );
    let gone = budgets(
        &w,
        A,
        "DescribeBudget",
        json!({"AccountId": A, "BudgetName": "monthly"}),
    )
    .await;
    assert_eq!(error_of(&gone), (400, "NotFoundException"));
    let gone = budgets(
        &w,
        A,
        "DeleteBudget",
        json!({"AccountId": A, "BudgetName": "monthly"}),
    )
    .await;
    assert_eq!(error_of(&gone), (400, "NotFoundException"));
    let gone = budgets(
        &w,
        A,
        "UpdateBudget",
        json!({"AccountId": A, "NewBudget": monthly("monthly", "1")}),
    )
    .await;
    assert_eq!(error_of(&gone), (400, "NotFoundException"));
}

#[tokio::test]
async fn budgets_survive_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("meta.db");
    let costs = Arc::new(FixedCosts::default());
    {
        let store = Arc::new(SqliteMetaStore::open(&path).unwrap());
        let api = BudgetsApi::new(store.clone(), costs.clone());
        let mut body = json!({"AccountId": A, "Budget": monthly("kept", "42.10")});
        body["NotificationsWithSubscribers"] =
            json!([alert("ACTUAL", 80.0, &topic_arn(A, "alerts"))]);
        assert_eq!(
            call(&api, A, "AWSBudgetServiceGateway.CreateBudget", body)
                .await
                .0,
            200
        );
        drop(api);
        Arc::try_unwrap(store).ok().unwrap().close().unwrap();
    }
    let store = Arc::new(SqliteMetaStore::open(&path).unwrap());
    let api = BudgetsApi::new(store, costs);
    let (status, v) = call(
        &api,
        A,
        "AWSBudgetServiceGateway.DescribeBudgets",
        json!({"AccountId": A}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["Budgets"][0]["BudgetLimit"]["Amount"], "42.10");
    let (_, v) = call(
        &api,
        A,
        "AWSBudgetServiceGateway.DescribeNotificationsForBudget",
        json!({"AccountId": A, "BudgetName": "kept"}),
    )
    .await;
    assert_eq!(v["Notifications"][0]["Threshold"], 80.0);
}

#[tokio::test]
async fn what_aws_refuses_is_refused_with_its_errors() {
    let w = world();
    let create = |budget: Value| json!({"AccountId": A, "Budget": budget});
    let with = |k: &str, v: Value| {
        let mut b = monthly("x", "10");
        b[k] = v;
        b
    };
    for (body, code) in [
        (
            json!({"AccountId": B, "Budget": monthly("x", "10")}),
            "AccessDeniedException",
        ),
        (
            json!({"Budget": monthly("x", "10")}),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetType", json!("USAGE"))),
            "InvalidParameterException",
        ),
        (
            create(with("TimeUnit", json!("DAILY"))),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetLimit", json!({"Amount": "10", "Unit": "EUR"}))),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetLimit", json!({"Amount": "-1", "Unit": "USD"}))),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetLimit", Value::Null)),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetName", json!("a:b"))),
            "InvalidParameterException",
        ),
        (
            create(with("CostFilters", json!({"Region": ["us-east-1"]}))),
            "InvalidParameterException",
        ),
        (
            create(with("BudgetLimit", json!("ten"))),
            "SerializationException",
        ),
        (
            create(with(
                "PlannedBudgetLimits",
                json!({"1798761600": {"Amount": "5", "Unit": "USD"}}),
            )),
            "InvalidParameterException",
        ),
        (
            create(with(
                "AutoAdjustData",
                json!({"AutoAdjustType": "HISTORICAL"}),
            )),
            "InvalidParameterException",
        ),
    ] {
        let reply = budgets(&w, A, "CreateBudget", body.clone()).await;
        assert_eq!(error_of(&reply), (400, code), "{body}");
    }
    let notify = |n: Value| json!({"AccountId": A, "Budget": monthly("x", "10"), "NotificationsWithSubscribers": [n]});
    let mut email = alert("ACTUAL", 80.0, "me@example.com");
    email["Subscribers"][0]["SubscriptionType"] = json!("EMAIL");
    let mut less = alert("ACTUAL", 80.0, &topic_arn(A, "t"));
    less["Notification"]["ComparisonOperator"] = json!("LESS_THAN");
    for n in [
        email,
        less,
        alert("ACTUAL", 80.0, &topic_arn(B, "theirs")),
        alert("ACTUAL", 80.0, "arn:aws:sqs:us-east-1:111111111111:q"),
        alert("SOMETIMES", 80.0, &topic_arn(A, "t")),
        alert("ACTUAL", -1.0, &topic_arn(A, "t")),
    ] {
        let reply = budgets(&w, A, "CreateBudget", notify(n.clone())).await;
        assert_eq!(error_of(&reply), (400, "InvalidParameterException"), "{n}");
    }
    // Nothing refused was stored.
    let (_, v) = budgets(&w, A, "DescribeBudgets", json!({"AccountId": A})).await;
    assert_eq!(v["Budgets"], json!([]));
    let reply = budgets(
        &w,
        A,
        "DescribeBudgets",
        json!({"AccountId": A, "NextToken": "%%%"}),
    )
    .await;
    assert_eq!(error_of(&reply), (400, "InvalidNextTokenException"));
}

#[tokio::test]
async fn another_account_can_neither_see_nor_touch_a_budget() {
    let w = world();
    budgets(
        &w,
        A,
        "CreateBudget",
        json!({"AccountId": A, "Budget": monthly("mine", "10")}),
    )
    .await;
    // Naming A's account is refused outright.
    for op in [
        "DescribeBudget",
        "DeleteBudget",
        "DescribeNotificationsForBudget",
    ] {
        let reply = budgets(&w, B, op, json!({"AccountId": A, "BudgetName": "mine"})).await;
        assert_eq!(error_of(&reply), (400, "AccessDeniedException"), "{op}");
    }
    let reply = budgets(&w, B, "DescribeBudgets", json!({"AccountId": A})).await;
    assert_eq!(error_of(&reply), (400, "AccessDeniedException"));
    // In its own account, B has no such budget, and may make its own.
    let reply = budgets(
        &w,
        B,
        "DeleteBudget",
        json!({"AccountId": B, "BudgetName": "mine"}),
    )
    .await;
    assert_eq!(error_of(&reply), (400, "NotFoundException"));
    let (_, v) = budgets(&w, B, "DescribeBudgets", json!({"AccountId": B})).await;
    assert_eq!(v["Budgets"], json!([]));
    let reply = budgets(
        &w,
        B,
        "CreateBudget",
        json!({"AccountId": B, "Budget": monthly("mine", "3")}),
    )
    .await;
    assert_eq!(reply.0, 200);
    let (_, v) = budgets(
        &w,
        A,
        "DescribeBudget",
        json!({"AccountId": A, "BudgetName": "mine"}),
    )
    .await;
    assert_eq!(v["Budget"]["BudgetLimit"]["Amount"], "10");
}

#[tokio::test]
async fn notifications_are_listed_added_and_removed() {
    let w = world();
    let topic = topic_arn(A, "alerts");
    let mut body = json!({"AccountId": A, "Budget": monthly("b", "10")});
    body["NotificationsWithSubscribers"] = json!([alert("ACTUAL", 80.0, &topic)]);
    assert_eq!(budgets(&w, A, "CreateBudget", body).await.0, 200);
    let list = || {
        budgets(
            &w,
            A,
            "DescribeNotificationsForBudget",
            json!({"AccountId": A, "BudgetName": "b"}),
        )
    };
    let (status, v) = list().await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({"Notifications": [{"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
            "Threshold": 80.0, "ThresholdType": "PERCENTAGE", "NotificationState": "OK"}]})
    );
    let mut add = alert("FORECASTED", 100.0, &topic);
    add["AccountId"] = json!(A);
    add["BudgetName"] = json!("b");
    assert_eq!(
        budgets(&w, A, "CreateNotification", add.clone()).await,
        (200, json!({}))
    );
    let again = budgets(&w, A, "CreateNotification", add).await;
    assert_eq!(error_of(&again), (400, "DuplicateRecordException"));
    assert_eq!(list().await.1["Notifications"].as_array().unwrap().len(), 2);
    let remove = json!({"AccountId": A, "BudgetName": "b", "Notification":
        {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
         "ThresholdType": "PERCENTAGE"}});
    assert_eq!(
        budgets(&w, A, "DeleteNotification", remove.clone()).await,
        (200, json!({}))
    );
    let again = budgets(&w, A, "DeleteNotification", remove).await;
    assert_eq!(error_of(&again), (400, "NotFoundException"));
    assert_eq!(
        list().await.1["Notifications"][0]["NotificationType"],
        "FORECASTED"
    );
}

/// A's account and a topic with an endpoint, so deliveries to it are queued.
async fn account_with_topic(meta: &Arc<dyn MetaStore>) {
    meta.commit(vec![
        Mutation::CreateAccount(Account {
            id: A.into(),
            name: "alice".into(),
            is_admin: false,
            created_at: 1,
        }),
        Mutation::PutTopic(Topic {
            account_id: A.into(),
            name: "alerts".into(),
            push_endpoint: "http://127.0.0.1:9/hook".into(),
            secret_sealed: vec![1],
            attributes: vec![],
            created_at: 1,
        }),
    ])
    .await
    .unwrap();
}

#[tokio::test]
async fn a_crossing_is_queued_in_the_outbox_once() {
    let w = world();
    account_with_topic(&w.meta).await;
    let topic = topic_arn(A, "alerts");
    let mut body = json!({"AccountId": A, "Budget": monthly("monthly", "10")});
    body["NotificationsWithSubscribers"] = json!([
        alert("ACTUAL", 80.0, &topic),
        alert("FORECASTED", 100.0, &topic)
    ]);
    assert_eq!(budgets(&w, A, "CreateBudget", body).await.0, 200);
    let evaluator = BudgetAlerts::new(w.meta.clone(), w.costs.clone(), w.clock.clone());
    let outbox = || async { w.meta.due_deliveries(i64::MAX, 100).await.unwrap() };

    // Nothing spent: nothing sent.
    assert_eq!(
        evaluator.evaluate_now().await.unwrap(),
        AlertReport {
            budgets: 1,
            sent: 0
        }
    );
    assert!(outbox().await.is_empty());

    // $5 by the 10th: actual $5 is under $8, but $15.50 forecast is over $10.
    w.costs.add(
        A,
        row(
            date!(2026 - 12 - 05),
            S3,
            "TimedStorage-ByteHrs",
            "GB-Mo",
            10,
            500,
        ),
    );
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 1);
    let sent = outbox().await;
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].account_id.as_str(), sent[0].topic.as_str()),
        (A, "alerts")
    );
    let m: Value = serde_json::from_slice(&sent[0].payload).unwrap();
    assert_eq!(m["Type"], "BudgetNotification");
    assert_eq!(m["BudgetName"], "monthly");
    assert_eq!(m["NotificationType"], "FORECASTED");
    assert_eq!(m["Period"], "2026-12");
    assert_eq!(m["ThresholdAmount"], json!({"Amount": "10", "Unit": "USD"}));
    assert_eq!(
        m["ForecastedSpend"],
        json!({"Amount": "15.5", "Unit": "USD"})
    );
    assert!(
        m["Message"]
            .as_str()
            .unwrap()
            .contains("Alert Threshold: > $10.00"),
        "{m}"
    );

    // Still over: not sent again, in this pass or after a restart of the evaluator.
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 0);
    let restarted = BudgetAlerts::new(w.meta.clone(), w.costs.clone(), w.clock.clone());
    assert_eq!(restarted.evaluate_now().await.unwrap().sent, 0);
    assert_eq!(outbox().await.len(), 1);

    // Over $8 actual: the ACTUAL alert goes, once; the state shows it.
    w.costs.add(
        A,
        row(
            date!(2026 - 12 - 10),
            S3,
            "Requests-Tier1",
            "Requests",
            1,
            301,
        ),
    );
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 1);
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 0);
    let sent = outbox().await;
    assert_eq!(sent.len(), 2);
    let m: Value = serde_json::from_slice(&sent[1].payload).unwrap();
    assert_eq!(
        (m["NotificationType"].as_str(), &m["ActualSpend"]),
        (Some("ACTUAL"), &json!({"Amount": "8.01", "Unit": "USD"}))
    );
    let (_, v) = budgets(
        &w,
        A,
        "DescribeNotificationsForBudget",
        json!({"AccountId": A, "BudgetName": "monthly"}),
    )
    .await;
    let states: Vec<&str> = v["Notifications"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["NotificationState"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["ALARM", "ALARM"]);

    // A new month is a new period: spending over again alerts again.
    *w.now.lock().unwrap() = datetime!(2027-01-02 08:00 UTC);
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 0);
    w.costs.add(
        A,
        row(
            date!(2027 - 01 - 01),
            S3,
            "Requests-Tier1",
            "Requests",
            1,
            900,
        ),
    );
    assert_eq!(evaluator.evaluate_now().await.unwrap().sent, 2);
    assert_eq!(outbox().await.len(), 4);
}

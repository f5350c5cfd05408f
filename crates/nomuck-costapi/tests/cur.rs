//! The Cost and Usage Report API through its ServiceApi over a real SQLite
//! store: the definition lands in billing's seam (what the worker writes
//! from), AWS's shapes, refusals of what the report is not, one definition
//! per account, and isolation between accounts.

mod common;

use std::sync::Arc;

use common::*;
use nomuck_costapi::cur::CurApi;
use nomuck_meta::billing::ReportTarget;
use nomuck_meta::{Account, Bucket, MetaStore, Mutation, SqliteMetaStore, Versioning};
use serde_json::{Value, json};

struct World {
    meta: Arc<dyn MetaStore>,
    api: CurApi,
    _dir: tempfile::TempDir,
}

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let meta: Arc<dyn MetaStore> =
        Arc::new(SqliteMetaStore::open(dir.path().join("meta.db")).unwrap());
    let mut m = Vec::new();
    for (id, name, bucket) in [(A, "alice", "alice-costs"), (B, "bob", "bob-costs")] {
        m.push(Mutation::CreateAccount(Account {
            id: id.into(),
            name: name.into(),
            is_admin: false,
            created_at: 1,
        }));
        m.push(Mutation::CreateBucket(Bucket {
            name: bucket.into(),
            owner: id.into(),
            region: "us-east-1".into(),
            created_at: 1,
            versioning: Versioning::Unversioned,
        }));
    }
    meta.commit(m).await.unwrap();
    World {
        api: CurApi::new(meta.clone()),
        meta,
        _dir: dir,
    }
}

async fn cur(w: &World, account: &str, op: &str, body: Value) -> (u16, Value) {
    call(
        &w.api,
        account,
        &format!("AWSOrigamiServiceGatewayService.{op}"),
        body,
    )
    .await
}

fn definition(name: &str, bucket: &str) -> Value {
    json!({
        "ReportName": name,
        "TimeUnit": "DAILY",
        "Format": "textORcsv",
        "Compression": "GZIP",
        "AdditionalSchemaElements": [],
        "S3Bucket": bucket,
        "S3Prefix": "costs",
        "S3Region": "us-east-1",
    })
}

async fn put(w: &World, account: &str, d: Value) -> (u16, Value) {
    cur(
        w,
        account,
        "PutReportDefinition",
        json!({"ReportDefinition": d}),
    )
    .await
}

#[tokio::test]
async fn a_definition_is_stored_for_the_worker_and_described_as_aws_does() {
    let w = world().await;
    let r = put(&w, A, definition("monthly", "alice-costs")).await;
    assert_eq!(r, (200, json!({})));
    let stored = w.meta.billing().report_bucket(A).await.unwrap().unwrap();
    assert_eq!(
        stored.target,
        ReportTarget {
            bucket: "alice-costs".into(),
            report_name: "monthly".into(),
            s3_prefix: "costs".into(),
            s3_region: "us-east-1".into(),
            gzip: true,
        }
    );
    let (status, body) = cur(&w, A, "DescribeReportDefinitions", json!({})).await;
    assert_eq!(status, 200);
    let mut expected = definition("monthly", "alice-costs");
    expected["AdditionalArtifacts"] = json!([]);
    expected["RefreshClosedReports"] = json!(false);
    expected["ReportVersioning"] = json!("OVERWRITE_REPORT");
    assert_eq!(body, json!({"ReportDefinitions": [expected]}));

    // Modify: a new prefix, same name; the written day starts over.
    let mut d = definition("monthly", "alice-costs");
    d["S3Prefix"] = json!("billing/cur");
    let r = cur(
        &w,
        A,
        "ModifyReportDefinition",
        json!({"ReportName": "monthly", "ReportDefinition": d}),
    )
    .await;
    assert_eq!(r.0, 200, "{r:?}");
    let stored = w.meta.billing().report_bucket(A).await.unwrap().unwrap();
    assert_eq!(stored.target.s3_prefix, "billing/cur");

    let r = cur(
        &w,
        A,
        "DeleteReportDefinition",
        json!({"ReportName": "monthly"}),
    )
    .await;
    assert_eq!(
        r,
        (200, json!({"ResponseMessage": "Report monthly deleted"}))
    );
    assert_eq!(w.meta.billing().report_bucket(A).await.unwrap(), None);
    let (_, body) = cur(&w, A, "DescribeReportDefinitions", json!({})).await;
    assert_eq!(body, json!({"ReportDefinitions": []}));
}

#[tokio::test]
async fn one_definition_per_account() {
    let w = world().await;
    assert_eq!(put(&w, A, definition("r1", "alice-costs")).await.0, 200);
    let r = put(&w, A, definition("r1", "alice-costs")).await;
    assert_eq!(error_of(&r), (400, "DuplicateReportNameException"));
    let r = put(&w, A, definition("r2", "alice-costs")).await;
    assert_eq!(error_of(&r), (400, "ReportLimitReachedException"));
    // What the operator set counts as the account's one definition too.
    let w = world().await;
    w.meta
        .commit(vec![Mutation::Billing(
            nomuck_meta::billing::BillingMutation::SetReportBucket {
                account_id: A.into(),
                target: Some(ReportTarget::plain("alice-costs")),
            },
        )])
        .await
        .unwrap();
    let r = put(&w, A, definition("r1", "alice-costs")).await;
    assert_eq!(error_of(&r), (400, "ReportLimitReachedException"));
    let (_, body) = cur(&w, A, "DescribeReportDefinitions", json!({})).await;
    let d = &body["ReportDefinitions"][0];
    assert_eq!(d["ReportName"], "nomuck-cost-reports");
    // Plain CSV: no Compression value names it, so there is none.
    assert!(d.get("Compression").is_none(), "{d}");
}

/// Puts racing for one account: exactly one definition wins, whatever the
/// interleaving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_puts_leave_one_definition() {
    let w = Arc::new(world().await);
    let racers: Vec<_> = (0..8)
        .map(|i| {
            let w = Arc::clone(&w);
            tokio::spawn(async move {
                put(&w, A, definition(&format!("r{i}"), "alice-costs"))
                    .await
                    .0
            })
        })
        .collect();
    let mut ok = 0;
    for r in racers {
        if r.await.unwrap() == 200 {
            ok += 1;
        }
    }
    assert_eq!(ok, 1, "one put wins");
    let (_, body) = cur(&w, A, "DescribeReportDefinitions", json!({})).await;
    assert_eq!(body["ReportDefinitions"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn what_the_report_is_not_is_refused_never_ignored() {
    let w = world().await;
    let cases: Vec<(&str, Value)> = vec![
        ("TimeUnit", json!("HOURLY")),
        ("TimeUnit", json!("MONTHLY")),
        ("Format", json!("Parquet")),
        ("Compression", json!("ZIP")),
        ("Compression", json!("Parquet")),
        ("AdditionalSchemaElements", json!(["RESOURCES"])),
        ("AdditionalArtifacts", json!(["ATHENA"])),
        ("RefreshClosedReports", json!(true)),
        ("ReportVersioning", json!("CREATE_NEW_REPORT")),
        (
            "BillingViewArn",
            json!("arn:aws:billing::111111111111:billingview/x"),
        ),
        ("S3Region", json!("eu-west-1")),
        ("ReportName", json!("no spaces")),
        ("ReportName", json!("")),
        ("S3Prefix", json!("a b")),
        // Not a bucket; and another account's bucket is the same answer.
        ("S3Bucket", json!("nobody-has-this")),
        ("S3Bucket", json!("bob-costs")),
    ];
    for (field, value) in cases {
        let mut d = definition("r", "alice-costs");
        d[field] = value.clone();
        let r = put(&w, A, d).await;
        assert_eq!(
            error_of(&r),
            (400, "ValidationException"),
            "{field}={value}"
        );
    }
    for field in [
        "ReportName",
        "TimeUnit",
        "Format",
        "Compression",
        "S3Bucket",
    ] {
        let mut d = definition("r", "alice-costs");
        d.as_object_mut().unwrap().remove(field);
        let r = put(&w, A, d).await;
        assert_eq!(error_of(&r), (400, "ValidationException"), "no {field}");
    }
    let r = cur(
        &w,
        A,
        "PutReportDefinition",
        json!({"ReportDefinition": definition("r", "alice-costs"),
               "Tags": [{"Key": "k", "Value": "v"}]}),
    )
    .await;
    assert_eq!(error_of(&r), (400, "ValidationException"));
    // Nothing of the refused ones was stored.
    assert_eq!(w.meta.billing().report_bucket(A).await.unwrap(), None);
    // What is accepted that AWS also allows: the values the report is.
    let mut d = definition("r", "alice-costs");
    d["ReportVersioning"] = json!("OVERWRITE_REPORT");
    d["RefreshClosedReports"] = json!(false);
    d["S3Prefix"] = json!("");
    assert_eq!(put(&w, A, d).await.0, 200);
}

#[tokio::test]
async fn an_account_sees_and_changes_only_its_own_definition() {
    let w = world().await;
    assert_eq!(
        put(&w, A, definition("shared-name", "alice-costs")).await.0,
        200
    );
    let (_, body) = cur(&w, B, "DescribeReportDefinitions", json!({})).await;
    assert_eq!(body, json!({"ReportDefinitions": []}));
    let r = cur(
        &w,
        B,
        "DeleteReportDefinition",
        json!({"ReportName": "shared-name"}),
    )
    .await;
    assert_eq!(error_of(&r), (400, "ValidationException"));
    let r = cur(
        &w,
        B,
        "ModifyReportDefinition",
        json!({"ReportName": "shared-name",
               "ReportDefinition": definition("shared-name", "bob-costs")}),
    )
    .await;
    assert_eq!(error_of(&r), (400, "ValidationException"));
    // B may use the same name for its own report.
    assert_eq!(
        put(&w, B, definition("shared-name", "bob-costs")).await.0,
        200
    );
    let a = w.meta.billing().report_bucket(A).await.unwrap().unwrap();
    let b = w.meta.billing().report_bucket(B).await.unwrap().unwrap();
    assert_eq!(
        (a.target.bucket.as_str(), b.target.bucket.as_str()),
        ("alice-costs", "bob-costs")
    );
    let r = cur(&w, A, "GetReportDefinitions", json!({})).await;
    assert_eq!(error_of(&r), (400, "UnknownOperationException"));
}

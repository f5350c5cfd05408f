//! Cost Explorer through its ServiceApi: shapes, grouping, filters, paging,
//! forecasts, dimension values, errors and isolation between accounts.

mod common;

use std::sync::Arc;

use common::*;
use nomuck_costapi::ce::CostExplorerApi;
use serde_json::{Value, json};
use time::macros::{date, datetime};

/// Two services over November and December 2026 for A; one row for B.
fn fixture() -> (CostExplorerApi, Arc<FixedCosts>) {
    let costs = Arc::new(FixedCosts::default());
    costs.add(
        A,
        row(
            date!(2026 - 11 - 20),
            S3,
            "TimedStorage-ByteHrs",
            "GB-Mo",
            10,
            150,
        ),
    );
    costs.add(
        A,
        row(
            date!(2026 - 11 - 20),
            S3,
            "Requests-Tier1",
            "Requests",
            1000,
            1,
        ),
    );
    costs.add(
        A,
        row(
            date!(2026 - 12 - 02),
            S3,
            "TimedStorage-ByteHrs",
            "GB-Mo",
            20,
            300,
        ),
    );
    costs.add(
        A,
        row(
            date!(2026 - 12 - 02),
            EC2,
            "BoxUsage:m1.small",
            "Hrs",
            4,
            40,
        ),
    );
    costs.add(
        A,
        row(
            date!(2026 - 12 - 03),
            EC2,
            "BoxUsage:m1.small",
            "Hrs",
            24,
            240,
        ),
    );
    costs.add(
        B,
        row(
            date!(2026 - 12 - 02),
            S3,
            "TimedStorage-ByteHrs",
            "GB-Mo",
            1,
            7,
        ),
    );
    let (clock, _) = clock(datetime!(2026-12-10 12:00 UTC));
    (CostExplorerApi::new(costs.clone()).with_clock(clock), costs)
}

async fn ce(api: &CostExplorerApi, account: &str, op: &str, body: Value) -> (u16, Value) {
    call(api, account, &format!("AWSInsightsIndexService.{op}"), body).await
}

fn money(amount: &str) -> Value {
    json!({"Amount": amount, "Unit": "USD"})
}

#[tokio::test]
async fn monthly_costs_grouped_by_service_answer_in_aws_shape() {
    let (api, _) = fixture();
    let (status, v) = ce(
        &api,
        A,
        "GetCostAndUsage",
        json!({
            "TimePeriod": {"Start": "2026-11-15", "End": "2027-01-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}],
        }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({
            "GroupDefinitions": [{"Type": "DIMENSION", "Key": "SERVICE"}],
            "ResultsByTime": [
                {
                    "TimePeriod": {"Start": "2026-11-15", "End": "2026-12-01"},
                    "Total": {},
                    "Groups": [{"Keys": [S3], "Metrics": {"UnblendedCost": money("1.51")}}],
                    "Estimated": false,
                },
                {
                    "TimePeriod": {"Start": "2026-12-01", "End": "2027-01-01"},
                    "Total": {},
                    "Groups": [
                        {"Keys": [EC2], "Metrics": {"UnblendedCost": money("2.8")}},
                        {"Keys": [S3], "Metrics": {"UnblendedCost": money("3")}},
                    ],
                    "Estimated": true,
                },
            ],
            "DimensionValueAttributes": [],
        })
    );
}

#[tokio::test]
async fn daily_totals_carry_both_metrics_and_empty_days() {
    let (api, _) = fixture();
    let (status, v) = ce(
        &api,
        A,
        "GetCostAndUsage",
        json!({
            "TimePeriod": {"Start": "2026-12-01", "End": "2026-12-04"},
            "Granularity": "DAILY",
            "Metrics": ["UnblendedCost", "UsageQuantity"],
            "SomethingNewer": {"x": 1},
        }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    let days = v["ResultsByTime"].as_array().unwrap();
    assert_eq!(days.len(), 3);
    assert!(v.get("GroupDefinitions").is_none());
    assert_eq!(
        days[0]["Total"],
        json!({"UnblendedCost": money("0"), "UsageQuantity": {"Amount": "0", "Unit": "N/A"}})
    );
    // GB-Mo and Hrs do not add up to one unit.
    assert_eq!(days[1]["Total"]["UnblendedCost"], money("3.4"));
    assert_eq!(
        days[1]["Total"]["UsageQuantity"],
        json!({"Amount": "24", "Unit": "N/A"})
    );
    assert_eq!(
        days[2]["Total"]["UsageQuantity"],
        json!({"Amount": "24", "Unit": "Hrs"})
    );
    assert_eq!(days[2]["Groups"], json!([]));
    assert_eq!(
        days[2]["TimePeriod"],
        json!({"Start": "2026-12-03", "End": "2026-12-04"})
    );
}

async fn december_total(api: &CostExplorerApi, filter: Value) -> (u16, Value) {
    let (status, v) = ce(
        api,
        A,
        "GetCostAndUsage",
        json!({
            "TimePeriod": {"Start": "2026-11-01", "End": "2027-01-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
            "Filter": filter,
        }),
    )
    .await;
    if status != 200 {
        return (status, v);
    }
    (
        status,
        v["ResultsByTime"][1]["Total"]["UnblendedCost"]["Amount"].clone(),
    )
}

#[tokio::test]
async fn filters_nest_as_aws_allows() {
    let (api, _) = fixture();
    let service = |v: &str| json!({"Dimensions": {"Key": "SERVICE", "Values": [v]}});
    assert_eq!(december_total(&api, service(S3)).await, (200, json!("3")));
    assert_eq!(
        december_total(&api, json!({"Not": service(S3)})).await,
        (200, json!("2.8"))
    );
    assert_eq!(
        december_total(&api, json!({"Or": [service(S3), service(EC2)]})).await,
        (200, json!("5.8"))
    );
    let usage = json!({"Dimensions": {"Key": "USAGE_TYPE", "Values": ["boxusage"],
        "MatchOptions": ["STARTS_WITH", "CASE_INSENSITIVE"]}});
    assert_eq!(
        december_total(&api, usage.clone()).await,
        (200, json!("2.8"))
    );
    assert_eq!(
        december_total(&api, json!({"And": [usage, service(S3)]})).await,
        (200, json!("0"))
    );
    for bad in [
        json!({"And": [service(S3)]}),
        json!({"Dimensions": {"Key": "SERVICE", "Values": [S3]}, "Not": service(EC2)}),
        json!({"Tags": {"Key": "team", "Values": ["a"]}}),
        json!({"Dimensions": {"Key": "RECORD_TYPE", "Values": ["Usage"]}}),
        json!({"Dimensions": {"Key": "SERVICE", "Values": [S3], "MatchOptions": ["ABSENT"]}}),
        json!({}),
    ] {
        let (status, v) = december_total(&api, bad.clone()).await;
        assert_eq!(
            (status, v["__type"].as_str()),
            (400, Some("ValidationException")),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn requests_aws_refuses_are_refused_the_same_way() {
    let (api, _) = fixture();
    let base = json!({
        "TimePeriod": {"Start": "2026-12-01", "End": "2027-01-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost"],
    });
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for bad in [
        with(
            "TimePeriod",
            json!({"Start": "2027-01-01", "End": "2026-12-01"}),
        ),
        with(
            "TimePeriod",
            json!({"Start": "2026-12-01", "End": "2026-12-01"}),
        ),
        with(
            "TimePeriod",
            json!({"Start": "12/01/2026", "End": "2027-01-01"}),
        ),
        with(
            "TimePeriod",
            json!({"Start": "1900-01-01", "End": "9999-01-01"}),
        ),
        with("Granularity", json!("HOURLY")),
        with("Granularity", json!("WEEKLY")),
        with("Metrics", json!([])),
        with("Metrics", json!(["BlendedCost"])),
        with("Metrics", json!(["Dollars"])),
        with("GroupBy", json!([{"Type": "TAG", "Key": "team"}])),
        with(
            "GroupBy",
            json!([{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "SERVICE"}]),
        ),
        with(
            "GroupBy",
            json!([
            {"Type": "DIMENSION", "Key": "SERVICE"},
            {"Type": "DIMENSION", "Key": "USAGE_TYPE"},
            {"Type": "DIMENSION", "Key": "OPERATION"}]),
        ),
        json!({"Granularity": "MONTHLY", "Metrics": ["UnblendedCost"]}),
    ] {
        let reply = ce(&api, A, "GetCostAndUsage", bad.clone()).await;
        assert_eq!(error_of(&reply), (400, "ValidationException"), "{bad}");
    }
    let reply = ce(
        &api,
        A,
        "GetCostAndUsage",
        with("Metrics", json!("UnblendedCost")),
    )
    .await;
    assert_eq!(error_of(&reply), (400, "SerializationException"));
    let reply = ce(&api, A, "GetReservationCoverage", base.clone()).await;
    assert_eq!(error_of(&reply), (400, "UnknownOperationException"));
    let reply = call(&api, A, "AWSBudgetServiceGateway.GetCostAndUsage", base).await;
    assert_eq!(error_of(&reply), (400, "UnknownOperationException"));
}

#[tokio::test]
async fn pages_of_groups_join_up_to_the_whole_answer() {
    let (api, costs) = fixture();
    let request = json!({
        "TimePeriod": {"Start": "2026-11-01", "End": "2027-01-01"},
        "Granularity": "MONTHLY",
        "Metrics": ["UnblendedCost", "UsageQuantity"],
        "GroupBy": [{"Type": "DIMENSION", "Key": "SERVICE"}, {"Type": "DIMENSION", "Key": "USAGE_TYPE"}],
    });
    let (_, whole) = ce(&api, A, "GetCostAndUsage", request.clone()).await;
    let all_groups = |v: &Value| -> Vec<(String, Value)> {
        v["ResultsByTime"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|r| {
                let start = r["TimePeriod"]["Start"].as_str().unwrap().to_owned();
                r["Groups"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(move |g| (start.clone(), g.clone()))
            })
            .collect()
    };
    assert_eq!(all_groups(&whole).len(), 4);
    assert!(whole.get("NextPageToken").is_none());
    assert_eq!(
        whole["ResultsByTime"][1]["Groups"][0],
        json!({"Keys": [EC2, "BoxUsage:m1.small"], "Metrics": {
            "UnblendedCost": money("2.8"), "UsageQuantity": {"Amount": "28", "Unit": "Hrs"}}})
    );

    let paged = CostExplorerApi::new(costs).with_page_size(3);
    let (clock, _) = clock(datetime!(2026-12-10 12:00 UTC));
    let paged = paged.with_clock(clock);
    let mut groups = Vec::new();
    let mut req = request.clone();
    let mut pages = 0;
    loop {
        let (status, page) = ce(&paged, A, "GetCostAndUsage", req.clone()).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        groups.extend(all_groups(&page));
        match page.get("NextPageToken") {
            Some(t) => req["NextPageToken"] = t.clone(),
            None => break,
        }
    }
    assert_eq!((pages, groups), (2, all_groups(&whole)));

    // A token is good only for the query (and the account) that made it.
    let (_, first) = ce(&paged, A, "GetCostAndUsage", request.clone()).await;
    let token = first["NextPageToken"].clone();
    let mut other = request.clone();
    other["Granularity"] = json!("DAILY");
    other["NextPageToken"] = token.clone();
    let reply = ce(&paged, A, "GetCostAndUsage", other).await;
    assert_eq!(error_of(&reply), (400, "InvalidNextTokenException"));
    let mut theirs = request.clone();
    theirs["NextPageToken"] = token;
    let reply = ce(&paged, B, "GetCostAndUsage", theirs).await;
    assert_eq!(error_of(&reply), (400, "InvalidNextTokenException"));
    let mut garbage = request;
    garbage["NextPageToken"] = json!("not-a-token!");
    let reply = ce(&paged, A, "GetCostAndUsage", garbage).await;
    assert_eq!(error_of(&reply), (400, "InvalidNextTokenException"));
}

#[tokio::test]
async fn an_account_sees_only_its_own_costs() {
    let (api, costs) = fixture();
    let (_, v) = ce(
        &api,
        B,
        "GetCostAndUsage",
        json!({
            "TimePeriod": {"Start": "2026-11-01", "End": "2027-01-01"},
            "Granularity": "MONTHLY",
            "Metrics": ["UnblendedCost"],
        }),
    )
    .await;
    assert_eq!(v["ResultsByTime"][0]["Total"]["UnblendedCost"], money("0"));
    assert_eq!(
        v["ResultsByTime"][1]["Total"]["UnblendedCost"],
        money("0.07")
    );
    let asked = costs.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        [(B.to_owned(), date!(2026 - 11 - 01), date!(2027 - 01 - 01))]
    );
}

#[tokio::test]
async fn forecasts_extend_the_month_so_far_to_its_end() {
    let (api, _) = fixture();
    // December so far (1st to 10th): $5.80, $0.58 a day.
    let (status, v) = ce(
        &api,
        A,
        "GetCostForecast",
        json!({
            "TimePeriod": {"Start": "2026-12-10", "End": "2027-01-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "MONTHLY",
            "PredictionIntervalLevel": 80,
        }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({
            "Total": money("12.76"),
            "ForecastResultsByTime": [{
                "TimePeriod": {"Start": "2026-12-10", "End": "2027-01-01"},
                "MeanValue": "12.76",
                "PredictionIntervalLowerBound": "0",
                "PredictionIntervalUpperBound": "74.8",
            }],
        })
    );
    let (status, v) = ce(
        &api,
        A,
        "GetCostForecast",
        json!({
            "TimePeriod": {"Start": "2026-12-30", "End": "2027-01-01"},
            "Metric": "UNBLENDED_COST",
            "Granularity": "DAILY",
        }),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["ForecastResultsByTime"].as_array().unwrap().len(), 2);
    assert_eq!(v["Total"], money("1.16"));

    let forecast = |start: &str, metric: &str, level: i64| {
        json!({"TimePeriod": {"Start": start, "End": "2027-01-01"}, "Metric": metric,
               "Granularity": "MONTHLY", "PredictionIntervalLevel": level})
    };
    for bad in [
        forecast("2026-12-01", "UNBLENDED_COST", 80),
        forecast("2026-12-10", "BLENDED_COST", 80),
        forecast("2026-12-10", "UnblendedCost", 80),
        forecast("2026-12-10", "UNBLENDED_COST", 50),
    ] {
        let reply = ce(&api, A, "GetCostForecast", bad.clone()).await;
        assert_eq!(error_of(&reply), (400, "ValidationException"), "{bad}");
    }
    // B has no costs this month (nor last month, on the 1st).
    let (clock, _) = clock(datetime!(2026-12-10 12:00 UTC));
    let empty = CostExplorerApi::new(Arc::new(FixedCosts::default())).with_clock(clock);
    let nothing = call(
        &empty,
        A,
        "AWSInsightsIndexService.GetCostForecast",
        forecast("2026-12-10", "UNBLENDED_COST", 80),
    )
    .await;
    assert_eq!(error_of(&nothing), (400, "DataUnavailableException"));

    // On the first of a month, last month is the history: $5.80 over the
    // 32 days from December 1st to January 1st, spread over January.
    let (_, costs) = fixture();
    let (clock, _) = common::clock(datetime!(2027-01-01 00:00 UTC));
    let api = CostExplorerApi::new(costs).with_clock(clock);
    let (status, v) = ce(
        &api,
        A,
        "GetCostForecast",
        json!({
        "TimePeriod": {"Start": "2027-01-01", "End": "2027-02-01"},
        "Metric": "UNBLENDED_COST", "Granularity": "MONTHLY"}),
    )
    .await;
    assert_eq!((status, &v["Total"]), (200, &money("5.61875")));
}

#[tokio::test]
async fn dimension_values_are_listed_searched_and_paged() {
    let (api, _) = fixture();
    let period = json!({"Start": "2026-11-01", "End": "2027-01-01"});
    let (status, v) = ce(
        &api,
        A,
        "GetDimensionValues",
        json!({"TimePeriod": period, "Dimension": "SERVICE", "Context": "COST_AND_USAGE"}),
    )
    .await;
    assert_eq!(status, 200, "{v}");
    assert_eq!(
        v,
        json!({
            "DimensionValues": [{"Value": EC2, "Attributes": {}}, {"Value": S3, "Attributes": {}}],
            "ReturnSize": 2,
            "TotalSize": 2,
        })
    );
    let (_, v) = ce(
        &api,
        A,
        "GetDimensionValues",
        json!({"TimePeriod": period, "Dimension": "USAGE_TYPE", "SearchString": "storage"}),
    )
    .await;
    assert_eq!(
        v["DimensionValues"],
        json!([{"Value": "TimedStorage-ByteHrs", "Attributes": {}}])
    );

    let mut req = json!({"TimePeriod": period, "Dimension": "USAGE_TYPE", "MaxResults": 2});
    let (_, first) = ce(&api, A, "GetDimensionValues", req.clone()).await;
    assert_eq!(
        (first["ReturnSize"].as_i64(), first["TotalSize"].as_i64()),
        (Some(2), Some(3))
    );
    req["NextPageToken"] = first["NextPageToken"].clone();
    let (_, second) = ce(&api, A, "GetDimensionValues", req).await;
    assert_eq!(
        second["DimensionValues"],
        json!([{"Value": "TimedStorage-ByteHrs", "Attributes": {}}])
    );
    assert!(second.get("NextPageToken").is_none());

    let reply = ce(
        &api,
        A,
        "GetDimensionValues",
        json!({"TimePeriod": period, "Dimension": "REGION"}),
    )
    .await;
    assert_eq!(error_of(&reply), (400, "ValidationException"));
    let reply = ce(&api, A, "GetDimensionValues", json!({"TimePeriod": period})).await;
    assert_eq!(error_of(&reply), (400, "ValidationException"));
}

"""Cost Explorer and Budgets through real clients (boto3 and aws-cli) against
the real server: the JSON 1.1 wire shapes botocore expects, budget CRUD,
isolation between accounts, and real S3 usage rated by billing showing up in
Cost Explorer as it does in the bill and crossing a budget's threshold once."""

import datetime
import json

import pytest
from botocore.exceptions import ClientError

from conftest import error_code, new_account


def account_of(srv, key_id=None, secret=None):
    return srv.client("sts", key_id, secret).get_caller_identity()["Account"]


def month_bounds():
    today = datetime.datetime.now(datetime.timezone.utc).date()
    start = today.replace(day=1)
    end = (start + datetime.timedelta(days=32)).replace(day=1)
    return start.isoformat(), end.isoformat()


def test_get_cost_and_usage_is_well_formed(server):
    ce = server.client("ce")
    start, end = month_bounds()
    out = ce.get_cost_and_usage(
        TimePeriod={"Start": start, "End": end},
        Granularity="MONTHLY",
        Metrics=["UnblendedCost", "UsageQuantity"],
    )
    [period] = out["ResultsByTime"]
    assert period["TimePeriod"] == {"Start": start, "End": end}
    assert period["Total"]["UnblendedCost"] == {"Amount": "0", "Unit": "USD"}
    assert period["Estimated"] is True
    assert out["DimensionValueAttributes"] == []

    grouped = ce.get_cost_and_usage(
        TimePeriod={"Start": start, "End": end},
        Granularity="DAILY",
        Metrics=["UnblendedCost"],
        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}],
        Filter={"Not": {"Dimensions": {"Key": "SERVICE", "Values": ["Amazon Simple Storage Service"]}}},
    )
    assert grouped["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]
    assert len(grouped["ResultsByTime"]) >= 28
    assert all(r["Groups"] == [] for r in grouped["ResultsByTime"])

    values = ce.get_dimension_values(TimePeriod={"Start": start, "End": end}, Dimension="SERVICE")
    assert (values["DimensionValues"], values["ReturnSize"], values["TotalSize"]) == ([], 0, 0)

    with pytest.raises(ClientError) as e:
        ce.get_cost_and_usage(TimePeriod={"Start": end, "End": start}, Granularity="MONTHLY",
                              Metrics=["UnblendedCost"])
    assert error_code(e) == "ValidationException"
    with pytest.raises(ClientError) as e:
        ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end}, Granularity="MONTHLY",
                              Metrics=["BlendedCost"])
    assert error_code(e) == "ValidationException"
    # No usage rated yet: nothing to forecast from.
    today = datetime.datetime.now(datetime.timezone.utc).date().isoformat()
    with pytest.raises(ClientError) as e:
        ce.get_cost_forecast(TimePeriod={"Start": today, "End": end}, Metric="UNBLENDED_COST",
                             Granularity="MONTHLY")
    assert error_code(e) == "DataUnavailableException"


def test_aws_cli_get_cost_and_usage_grouped_by_service(server):
    start, end = month_bounds()
    proc = server.aws("ce", "get-cost-and-usage", "--time-period", f"Start={start},End={end}",
                      "--granularity", "MONTHLY", "--metrics", "UnblendedCost",
                      "--group-by", "Type=DIMENSION,Key=SERVICE", "--output", "json")
    out = json.loads(proc.stdout)
    assert out["GroupDefinitions"] == [{"Type": "DIMENSION", "Key": "SERVICE"}]
    assert out["ResultsByTime"][0]["TimePeriod"] == {"Start": start, "End": end}
    assert out["ResultsByTime"][0]["Groups"] == []


def budget(name, amount):
    return {"BudgetName": name, "BudgetLimit": {"Amount": amount, "Unit": "USD"},
            "TimeUnit": "MONTHLY", "BudgetType": "COST"}


def test_budgets_crud_with_boto3(server):
    budgets = server.client("budgets")
    me = account_of(server)
    topic = server.client("sns").create_topic(Name="budget-alerts")["TopicArn"]
    budgets.create_budget(
        AccountId=me,
        Budget=budget("monthly", "100"),
        NotificationsWithSubscribers=[{
            "Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                             "Threshold": 80, "ThresholdType": "PERCENTAGE"},
            "Subscribers": [{"SubscriptionType": "SNS", "Address": topic}],
        }],
    )
    got = budgets.describe_budget(AccountId=me, BudgetName="monthly")["Budget"]
    assert got["BudgetLimit"] == {"Amount": "100", "Unit": "USD"}
    assert got["CalculatedSpend"]["ActualSpend"] == {"Amount": "0", "Unit": "USD"}
    assert got["TimePeriod"]["Start"].day == 1
    assert isinstance(got["LastUpdatedTime"], datetime.datetime)
    with pytest.raises(ClientError) as e:
        budgets.create_budget(AccountId=me, Budget=budget("monthly", "5"))
    assert error_code(e) == "DuplicateRecordException"

    budgets.update_budget(AccountId=me, NewBudget=budget("monthly", "250"))
    budgets.create_budget(AccountId=me, Budget=budget("second", "1"))
    pages = budgets.get_paginator("describe_budgets").paginate(AccountId=me, MaxResults=1)
    listed = [(b["BudgetName"], b["BudgetLimit"]["Amount"]) for p in pages for b in p["Budgets"]]
    assert listed == [("monthly", "250"), ("second", "1")]

    notes = budgets.describe_notifications_for_budget(AccountId=me, BudgetName="monthly")["Notifications"]
    assert notes == [{"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN", "Threshold": 80.0,
                      "ThresholdType": "PERCENTAGE", "NotificationState": "OK"}]

    with pytest.raises(ClientError) as e:
        budgets.create_budget(AccountId=me, Budget=dict(budget("usage", "5"), BudgetType="USAGE"))
    assert error_code(e) == "InvalidParameterException"

    budgets.delete_budget(AccountId=me, BudgetName="monthly")
    with pytest.raises(ClientError) as e:
        budgets.describe_budget(AccountId=me, BudgetName="monthly")
    assert error_code(e) == "NotFoundException"


def test_budgets_of_another_account_are_out_of_reach(server):
    budgets = server.client("budgets")
    me = account_of(server)
    budgets.create_budget(AccountId=me, Budget=budget("private", "10"))
    other_id, key, secret = new_account(server, "other")
    theirs = server.client("budgets", key, secret)
    with pytest.raises(ClientError) as e:
        theirs.describe_budgets(AccountId=me)
    assert error_code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        theirs.delete_budget(AccountId=me, BudgetName="private")
    assert error_code(e) == "AccessDeniedException"
    assert theirs.describe_budgets(AccountId=other_id).get("Budgets", []) == []
    assert budgets.describe_budget(AccountId=me, BudgetName="private")["Budget"]["BudgetName"] == "private"


def test_aws_cli_create_and_describe_budgets(server):
    me = account_of(server)
    server.aws("budgets", "create-budget", "--account-id", me, "--budget", json.dumps(budget("cli", "42.5")))
    out = json.loads(server.aws("budgets", "describe-budgets", "--account-id", me, "--output", "json").stdout)
    [b] = out["Budgets"]
    assert (b["BudgetName"], b["BudgetLimit"], b["BudgetType"], b["TimeUnit"]) == (
        "cli", {"Amount": "42.5", "Unit": "USD"}, "COST", "MONTHLY")


def test_real_usage_reaches_cost_explorer_and_crosses_a_budget_once(tmp_path):
    import time
    from decimal import Decimal

    from conftest import Server
    from test_billing import bill, wait_for
    from test_s3_access import Receiver

    config = tmp_path / "nomuck.toml"
    config.write_text("[billing]\nbudget_alert_interval_secs = 1\n")
    srv = Server(tmp_path / "data", ["--config", str(config)]).start()
    receiver = Receiver()
    try:
        account, key, secret = new_account(srv, "payer")
        arn = srv.client("sns", key, secret).create_topic(
            Name="budget-alerts", Attributes={"push-endpoint": receiver.url})["TopicArn"]
        budgets = srv.client("budgets", key, secret)
        # $0.002 is crossed by 200 PUTs at $0.01 per 1,000.
        budgets.create_budget(
            AccountId=account,
            Budget={"BudgetName": "tiny", "BudgetLimit": {"Amount": "0.01", "Unit": "USD"},
                    "TimeUnit": "MONTHLY", "BudgetType": "COST"},
            NotificationsWithSubscribers=[{
                "Notification": {"NotificationType": "ACTUAL", "ComparisonOperator": "GREATER_THAN",
                                 "Threshold": 20, "ThresholdType": "PERCENTAGE"},
                "Subscribers": [{"SubscriptionType": "SNS", "Address": arn}]}])
        s3 = srv.client("s3", key, secret)
        s3.create_bucket(Bucket="spendy")
        for i in range(250):
            s3.put_object(Bucket="spendy", Key=f"k{i}", Body=b"x")
        wait_for(srv, account, "Requests-Tier1", 251)

        # Cost Explorer says what the bill says, per service (read between two
        # equal bills, so no rating round lands in between).
        start, end = month_bounds()
        ce = srv.client("ce", key, secret)
        while True:
            before = bill(srv, account)
            out = ce.get_cost_and_usage(TimePeriod={"Start": start, "End": end}, Granularity="MONTHLY",
                                        Metrics=["UnblendedCost"],
                                        GroupBy=[{"Type": "DIMENSION", "Key": "SERVICE"}])
            if bill(srv, account) == before:
                break
        s3_lines = [l for l in before["lines"] if l["service"] == "Amazon Simple Storage Service"]
        groups = {g["Keys"][0]: g["Metrics"]["UnblendedCost"] for g in out["ResultsByTime"][0]["Groups"]}
        assert Decimal(groups["Amazon Simple Storage Service"]["Amount"]) == \
            sum(Decimal(l["cost"]) for l in s3_lines), (groups, before)
        assert groups["Amazon Simple Storage Service"]["Unit"] == "USD"
        spend = budgets.describe_budget(AccountId=account, BudgetName="tiny")["Budget"]["CalculatedSpend"]
        assert Decimal(spend["ActualSpend"]["Amount"]) >= Decimal("0.0025")

        # The crossing reaches the topic's webhook once, however often budgets are checked.
        received = receiver.wait_for(1, timeout=30)
        assert len(received) == 1, srv.log()
        time.sleep(3)
        assert len(receiver.received) == 1
        assert b"tiny" in receiver.received[0][1]
    finally:
        receiver.close()
        srv.stop()

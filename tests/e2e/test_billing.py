"""Billing end to end: S3 work with boto3 on the real server, then `nomuck bill`
must show exactly what the 2006 price book makes of it; kill -9 counts nothing twice."""

import csv
import io
import json
import time
from decimal import Decimal

from conftest import Server, new_account, nomuck

MIB = 1 << 20
GIB = 1 << 30


def bill(srv, account, check=True):
    out = nomuck(srv.data_dir, "bill", "show", "--account", account, "--json", check=check)
    return json.loads(out.stdout)


def lines(b):
    return {l["usage_type"]: l for l in b["lines"]}


def wait_for(srv, account, usage_type, quantity, timeout=20):
    """Polls the bill until `usage_type` reaches `quantity` (request sums are
    flushed to the meter every second and rated a second later)."""
    deadline = time.monotonic() + timeout
    while True:
        b = bill(srv, account)
        got = lines(b).get(usage_type, {}).get("quantity")
        if got is not None and Decimal(got) >= quantity:
            return b
        assert time.monotonic() < deadline, (usage_type, quantity, b)
        time.sleep(0.2)


def s3_work(s3, bucket, objects, reads):
    """One bucket, `objects` objects of 1 MiB, each read `reads` times, one listing.
    Returns (PUT/COPY/POST/LIST requests, GET requests, bytes out)."""
    s3.create_bucket(Bucket=bucket)
    body = b"x" * MIB
    for i in range(objects):
        s3.put_object(Bucket=bucket, Key=f"k{i}", Body=body)
    for i in range(objects):
        for _ in range(reads):
            assert s3.get_object(Bucket=bucket, Key=f"k{i}")["Body"].read() == body
    s3.list_objects_v2(Bucket=bucket)
    return 1 + objects + 1, objects * reads, objects * reads * MIB


def test_bill_show_is_the_hand_computed_amount(server):
    account, key, secret = new_account(server, "payer")
    other, okey, osecret = new_account(server, "neighbour")
    stored_from = time.time()
    tier1, tier2, out = s3_work(server.client("s3", key, secret), "payer-bucket", 3, 2)
    stored_until = time.time()
    # Another account's use never shows on this bill.
    server.client("s3", okey, osecret).create_bucket(Bucket="neighbour-bucket")

    b = wait_for(server, account, "Requests-Tier2", tier2)
    assert b["account_id"] == account and not b["closed"]
    got = lines(b)
    assert set(got) == {
        "Requests-Tier1", "Requests-Tier2", "DataTransfer-Out-Bytes", "TimedStorage-ByteHrs"
    }, got
    # $0.01 per 1,000 PUT/COPY/POST/LIST, per 10,000 GET; $0.20 per GB out.
    assert Decimal(got["Requests-Tier1"]["quantity"]) == tier1
    assert Decimal(got["Requests-Tier1"]["cost"]) == tier1 * Decimal("0.00001")
    assert Decimal(got["Requests-Tier2"]["cost"]) == tier2 * Decimal("0.000001")
    transfer = got["DataTransfer-Out-Bytes"]
    assert (transfer["unit"], transfer["rate"]) == ("GB", "0.2")
    assert Decimal(transfer["quantity"]) == Decimal(out) / GIB
    assert Decimal(transfer["cost"]) == (Decimal(out) * Decimal("0.20") / GIB).quantize(Decimal("1e-10"))
    # 3 MiB stored since the PUTs, until the bill was made: $0.15 per GB-month.
    storage = got["TimedStorage-ByteHrs"]
    assert storage["service"] == "Amazon Simple Storage Service"
    month_ms = 86_400_000 * days_in_this_month()
    least = 3 * MIB * (time.time() - stored_until - 30) * 1000 / (GIB * month_ms)
    most = 3 * MIB * (time.time() - stored_from + 1) * 1000 / (GIB * month_ms)
    assert Decimal(max(least, 0)) <= Decimal(storage["quantity"]) <= Decimal(most), storage
    total = sum(Decimal(l["cost"]) for l in b["lines"])
    assert Decimal(b["total"]) == total
    assert b["total_usd"] == "0.00"

    # The other account's bill has its one request only.
    theirs = wait_for(server, other, "Requests-Tier1", 1)
    assert set(lines(theirs)) == {"Requests-Tier1"}, theirs

    # The table and the CSV report say the same.
    table = nomuck(server.data_dir, "bill", "show", "--account", account).stdout
    assert "Requests-Tier1" in table and "TOTAL 0.00 USD" in table, table
    month = b["month"]
    report = server.data_dir.parent / "report.csv"
    nomuck(server.data_dir, "bill", "report", "--account", account, "--month", month, "--out", str(report))
    rows = list(csv.DictReader(io.StringIO(report.read_text())))
    assert rows and all(r["account"] == account for r in rows), rows
    assert sum(Decimal(r["quantity"]) for r in rows if r["usage type"] == "Requests-Tier2") == tier2


def days_in_this_month():
    import calendar

    now = time.gmtime()
    return calendar.monthrange(now.tm_year, now.tm_mon)[1]


def test_kill_9_while_rating_counts_nothing_twice(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        account, key, secret = new_account(srv, "payer")
        s3 = srv.client("s3", key, secret)
        tier1, tier2, out = s3_work(s3, "crashy", 40, 1)
        # Request sums are flushed every second: wait for them to be metered
        # (rated or not), then kill the server without warning, possibly mid-rating.
        time.sleep(2.5)
        srv.kill9()
        # Rating resumes from its cursor at the next start.
        srv.start()
        b = wait_for(srv, account, "Requests-Tier2", tier2)
        time.sleep(2.5)
        b = bill(srv, account)
        got = lines(b)
        assert Decimal(got["Requests-Tier1"]["quantity"]) == tier1, got
        assert Decimal(got["Requests-Tier2"]["quantity"]) == tier2, got
        assert Decimal(got["DataTransfer-Out-Bytes"]["quantity"]) == Decimal(out) / GIB, got
        srv.kill9()
        # Offline, the CLI rates whatever is left and agrees.
        after = bill(srv, account)
        assert lines(after)["Requests-Tier1"]["quantity"] == got["Requests-Tier1"]["quantity"]
        assert lines(after)["Requests-Tier2"]["quantity"] == got["Requests-Tier2"]["quantity"]
    finally:
        srv.stop()


def test_the_cost_report_is_put_into_the_accounts_bucket(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        account, key, secret = new_account(srv, "payer")
        s3 = srv.client("s3", key, secret)
        s3.create_bucket(Bucket="payer-costs")
        # A write to the billing records: refused while the server holds the directory.
        busy = nomuck(srv.data_dir, "bill", "report-bucket", "--account", "payer",
                      "--bucket", "payer-costs", check=False)
        assert busy.returncode != 0 and "stop it" in busy.stderr, busy.stderr
        srv.stop()
        nomuck(srv.data_dir, "bill", "report-bucket", "--account", "payer", "--bucket", "payer-costs")
        srv.start()
        s3 = srv.client("s3", key, secret)  # the new server's port
        month = time.strftime("%Y-%m", time.gmtime())
        deadline = time.monotonic() + 20
        while True:
            try:
                body = s3.get_object(Bucket="payer-costs", Key=f"nomuck-cost-reports/{month}.csv")["Body"].read()
                break
            except s3.exceptions.NoSuchKey:
                assert time.monotonic() < deadline, srv.log()
                time.sleep(0.2)
        rows = list(csv.DictReader(io.StringIO(body.decode())))
        assert rows and all(r["account"] == account for r in rows), rows
        assert any(r["usage type"] == "Requests-Tier1" for r in rows), rows
    finally:
        srv.stop()


def test_an_account_defines_its_cost_report_with_the_cur_api(server):
    """boto3's cur client sets the definition on a running server; the billing
    worker puts the gzipped CSV at {prefix}/{name}/YYYY-MM.csv.gz; aws-cli
    describes it; another account neither sees it nor can point at the bucket."""
    import gzip

    from conftest import REGION

    srv = server
    account, key, secret = new_account(srv, "curpayer")
    s3 = srv.client("s3", key, secret)
    s3.create_bucket(Bucket="curpayer-costs")
    s3.put_object(Bucket="curpayer-costs", Key="usage", Body=b"x")
    # Rated before the definition, so the first report already holds it.
    wait_for(srv, account, "Requests-Tier1", 2)
    cur = srv.client("cur", key, secret)
    definition = {
        "ReportName": "monthly-costs",
        "TimeUnit": "DAILY",
        "Format": "textORcsv",
        "Compression": "GZIP",
        "AdditionalSchemaElements": [],
        "S3Bucket": "curpayer-costs",
        "S3Prefix": "billing",
        "S3Region": REGION,
        "ReportVersioning": "OVERWRITE_REPORT",
    }
    cur.put_report_definition(ReportDefinition=definition)
    month = time.strftime("%Y-%m", time.gmtime())
    deadline = time.monotonic() + 20
    while True:
        try:
            obj = s3.get_object(Bucket="curpayer-costs", Key=f"billing/monthly-costs/{month}.csv.gz")
            body = gzip.decompress(obj["Body"].read())
            break
        except s3.exceptions.NoSuchKey:
            assert time.monotonic() < deadline, srv.log()
            time.sleep(0.2)
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert rows and all(r["account"] == account for r in rows), rows
    assert any(r["usage type"] == "Requests-Tier1" for r in rows), rows
    described = json.loads(srv.aws("cur", "describe-report-definitions", "--output", "json",
                                   key_id=key, secret=secret).stdout)
    [d] = described["ReportDefinitions"]
    assert {k: d[k] for k in definition} == definition, d
    # What the report is not is refused, not ignored.
    try:
        cur.modify_report_definition(ReportName="monthly-costs",
                                     ReportDefinition={**definition, "TimeUnit": "HOURLY"})
        raise AssertionError("HOURLY was accepted")
    except cur.exceptions.ValidationException:
        pass
    # Another account: sees nothing, cannot delete it, cannot use the bucket.
    _, key2, secret2 = new_account(srv, "curother")
    other = srv.client("cur", key2, secret2)
    assert other.describe_report_definitions()["ReportDefinitions"] == []
    try:
        other.put_report_definition(ReportDefinition={**definition, "ReportName": "theirs"})
        raise AssertionError("another account's bucket was accepted")
    except other.exceptions.ValidationException:
        pass
    try:
        other.delete_report_definition(ReportName="monthly-costs")
        raise AssertionError("another account deleted the definition")
    except other.exceptions.ValidationException:
        pass
    assert len(cur.describe_report_definitions()["ReportDefinitions"]) == 1
    cur.delete_report_definition(ReportName="monthly-costs")
    assert cur.describe_report_definitions()["ReportDefinitions"] == []


def test_an_instance_bills_every_started_hour_of_each_run(tmp_path):
    """A real (TCG) guest run twice for under an hour: two started hours."""
    import subprocess

    from test_ec2_restart import qemus_of

    data = tmp_path / "data"
    srv = Server(data, default_image=True).start()
    try:
        ec2 = srv.client("ec2")

        def image():
            found = ec2.describe_images(Owners=["self"], Filters=[
                {"Name": "name", "Values": ["nomuck-default-*"]}])["Images"]
            return next((i["ImageId"] for i in found if i["ImageType"] == "machine"
                         and i["State"] == "available"), None)

        deadline = time.monotonic() + 300
        while not (image_id := image()):
            assert time.monotonic() < deadline, srv.log()
            time.sleep(2)
        iid = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                                InstanceType="t2.nano")["Instances"][0]["InstanceId"]
        waiter = {"Delay": 1, "MaxAttempts": 180}
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=waiter)
        ec2.stop_instances(InstanceIds=[iid], Force=True)
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=waiter)
        ec2.start_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=waiter)
        ec2.terminate_instances(InstanceIds=[iid])
        ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=waiter)
        account = "admin"  # bill accepts an account's name
        deadline = time.monotonic() + 20
        while True:
            got = lines(bill(srv, account)).get("BoxUsage:t2.nano")
            if got and Decimal(got["quantity"]) >= 2:
                break
            assert time.monotonic() < deadline, bill(srv, account)
            time.sleep(0.5)
        # t2.nano is a quarter of an m1.small: $0.025 an hour; each run under an
        # hour is one started hour.
        assert got["service"] == "Amazon Elastic Compute Cloud - Compute"
        assert (Decimal(got["quantity"]), got["unit"], Decimal(got["rate"]), Decimal(got["cost"])) == \
            (2, "Hrs", Decimal("0.025"), Decimal("0.05")), got
    finally:
        srv.stop()
        for pid in qemus_of(data):  # never leave a guest running, even on failure
            subprocess.run(["kill", "-9", str(pid)])

"""Server access logging: Put/GetBucketLogging, records in S3's documented
format delivered as objects into the target bucket, and no acknowledged
request's record lost to `kill -9`."""

import concurrent.futures
import json
import re
import threading
import time

import botocore.exceptions
import pytest

from conftest import Server, error_code, new_account

# S3's server access log record: its 26 fields.
QUOTED = r'"((?:[^"\\]|\\.)*)"'
RECORD = re.compile(
    r"^(\S+) (\S+) \[(\d\d/\w{3}/\d{4}:\d\d:\d\d:\d\d \+0000)\] (\S+) (\S+) (\S+) (\S+) (\S+) "
    + QUOTED
    + r" (\d{3}) (\S+) (\S+) (\S+) (\S+) (\S+) "
    + QUOTED
    + " "
    + QUOTED
    + r" (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+) (\S+)$"
)
FIELDS = (
    "owner bucket time remote_ip requester request_id operation key request_uri status "
    "error_code bytes_sent object_size total_time turn_around referer user_agent version_id "
    "host_id signature_version cipher_suite auth_type host tls_version access_point acl_required"
).split()


def parse(line):
    m = RECORD.match(line)
    assert m, f"not an S3 access log record: {line!r}"
    return dict(zip(FIELDS, m.groups()))


def delivered(s3, bucket, prefix, want, timeout=30):
    """Records under `prefix` in `bucket`, by request id, once every id in `want` is there."""
    deadline = time.monotonic() + timeout
    while True:
        records, keys = {}, []
        for obj in s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", []):
            keys.append(obj["Key"])
            text = s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read().decode()
            for line in text.splitlines():
                r = parse(line)
                records.setdefault(r["request_id"], []).append(r)
        if set(want) <= set(records) or time.monotonic() > deadline:
            return records, keys
        time.sleep(0.5)


def request_id(response):
    return response["ResponseMetadata"]["RequestId"]


def test_logging_configuration_is_kept_and_bad_targets_are_refused(make_server):
    srv = make_server("cfg", extra_args=("--access-log-flush-secs", "2"))
    s3 = srv.client("s3")
    for b in ("src", "logs"):
        s3.create_bucket(Bucket=b)
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="src")

    srv.aws("s3api", "put-bucket-logging", "--bucket", "src", "--bucket-logging-status",
            json.dumps({"LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "src/"}}))
    got = json.loads(srv.aws("s3api", "get-bucket-logging", "--bucket", "src").stdout)
    # The default key format is answered, as S3 does.
    assert got["LoggingEnabled"] == {"TargetBucket": "logs", "TargetPrefix": "src/",
                                     "TargetObjectKeyFormat": {"SimplePrefix": {}}}

    simple = {"TargetBucket": "logs", "TargetPrefix": "", "TargetObjectKeyFormat": {"SimplePrefix": {}}}
    s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={"LoggingEnabled": simple})
    assert s3.get_bucket_logging(Bucket="src")["LoggingEnabled"] == simple
    partitioned = {"TargetBucket": "logs", "TargetPrefix": "p/", "TargetObjectKeyFormat": {
        "PartitionedPrefix": {"PartitionDateSource": "DeliveryTime"}}}
    s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={"LoggingEnabled": partitioned})
    assert s3.get_bucket_logging(Bucket="src")["LoggingEnabled"] == partitioned

    # The target must exist and belong to the same account.
    for target in ("no-such-bucket",):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={
                "LoggingEnabled": {"TargetBucket": target, "TargetPrefix": ""}})
        assert error_code(e) == "InvalidTargetBucketForLogging"
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    _, key, secret = new_account(srv, "mallory")
    theirs = srv.client("s3", key, secret)
    theirs.create_bucket(Bucket="their-logs")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "their-logs", "TargetPrefix": ""}})
    assert error_code(e) == "InvalidTargetBucketForLogging"
    # Only who may s3:PutBucketLogging on the source sets it, or reads it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        theirs.put_bucket_logging(Bucket="src", BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "their-logs", "TargetPrefix": ""}})
    assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        theirs.get_bucket_logging(Bucket="src")
    assert error_code(e) == "AccessDenied"
    assert s3.get_bucket_logging(Bucket="src")["LoggingEnabled"] == partitioned

    # An empty status turns logging off.
    srv.aws("s3api", "put-bucket-logging", "--bucket", "src", "--bucket-logging-status", "{}")
    assert "LoggingEnabled" not in s3.get_bucket_logging(Bucket="src")


def test_target_grants_are_given_on_the_log_objects(make_server):
    srv = make_server("grants", extra_args=("--access-log-flush-secs", "2"))
    s3 = srv.client("s3")
    for b in ("src", "logs"):
        s3.create_bucket(Bucket=b)
    reader_id, key_id, secret = new_account(srv, "auditor")
    auditor = srv.client("s3", key_id, secret)
    grants = [{"Grantee": {"Type": "CanonicalUser", "ID": reader_id}, "Permission": "READ"}]
    s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "g/", "TargetGrants": grants}})
    assert s3.get_bucket_logging(Bucket="src")["LoggingEnabled"]["TargetGrants"] == grants
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={"LoggingEnabled": {
            "TargetBucket": "logs", "TargetPrefix": "g/",
            "TargetGrants": [{"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "a@example.com"},
                              "Permission": "READ"}]}})
    assert error_code(e) == "UnresolvableGrantByEmailAddress"

    rid = request_id(s3.put_object(Bucket="src", Key="k", Body=b"x"))
    records, keys = delivered(s3, "logs", "g/", [rid])
    assert rid in records and keys
    # The grantee reads the log object; its ACL names owner and grantee.
    assert rid.encode() in auditor.get_object(Bucket="logs", Key=keys[0])["Body"].read()
    acl = s3.get_object_acl(Bucket="logs", Key=keys[0])
    assert {(g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]} >= {
        (acl["Owner"]["ID"], "FULL_CONTROL"), (reader_id, "READ")}


def test_requests_are_delivered_as_parseable_records(make_server):
    srv = make_server("logs", extra_args=("--access-log-flush-secs", "2"))
    s3 = srv.client("s3")
    owner = json.loads(srv.aws("sts", "get-caller-identity").stdout)["Account"]
    for b in ("src", "logs"):
        s3.create_bucket(Bucket=b)
    s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "access/"}})
    # The log bucket logs itself: deliveries into it must not be logged again.
    s3.put_bucket_logging(Bucket="logs", BucketLoggingStatus={
        "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "self/"}})

    body = b"hello access log"
    key = "dir/my file.txt"
    ids = {}
    ids["put"] = request_id(s3.put_object(Bucket="src", Key=key, Body=body))
    got = s3.get_object(Bucket="src", Key=key)
    assert got["Body"].read() == body
    ids["get"] = request_id(got)
    ids["head"] = request_id(s3.head_object(Bucket="src", Key=key))
    ids["list"] = request_id(s3.list_objects_v2(Bucket="src"))
    s3.put_object(Bucket="src", Key="a", Body=b"a")
    ids["multi"] = request_id(s3.delete_objects(Bucket="src", Delete={"Objects": [{"Key": "a"}, {"Key": "b"}]}))
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="src", Key="missing")
    ids["404"] = request_id(e.value.response)
    other_id, key_id, secret = new_account(srv, "other")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        srv.client("s3", key_id, secret).get_object(Bucket="src", Key=key)
    assert error_code(e) == "AccessDenied"
    ids["403"] = request_id(e.value.response)

    records, keys = delivered(s3, "logs", "access/", ids.values())
    assert all(re.fullmatch(r"access/\d{4}-\d\d-\d\d-\d\d-\d\d-\d\d-[0-9A-F]{16}", k) for k in keys), keys
    # A multi-object delete: its own record and one BATCH.DELETE.OBJECT per key.
    multi = sorted(records.get(ids["multi"], []), key=lambda r: (r["operation"], r["key"]))
    assert [(r["operation"], r["key"], r["status"]) for r in multi] == [
        ("BATCH.DELETE.OBJECT", "a", "204"), ("BATCH.DELETE.OBJECT", "b", "204"),
        ("REST.POST.MULTI_OBJECT_DELETE", "-", "200")], multi
    del ids["multi"]
    by = {name: records[rid] for name, rid in ids.items() if rid in records}
    assert set(by) == set(ids), f"missing records: {set(ids) - set(by)}"
    for name, rs in by.items():
        assert len(rs) == 1, f"{name} logged {len(rs)} times"
        by[name] = rs[0]
        assert by[name]["bucket"] == "src" and by[name]["owner"] == owner
        assert by[name]["remote_ip"] == "127.0.0.1"
        assert by[name]["host_id"] != "-"

    put, get, head, lst = by["put"], by["get"], by["head"], by["list"]
    assert (put["operation"], put["status"], put["key"]) == ("REST.PUT.OBJECT", "200", "dir/my%20file.txt")
    assert put["requester"] == owner
    assert put["object_size"] == str(len(body))
    assert put["request_uri"].startswith("PUT /src/dir/my%20file.txt") and put["request_uri"].endswith(" HTTP/1.1")
    assert put["signature_version"] == "SigV4" and put["auth_type"] == "AuthHeader"
    assert "Boto3" in put["user_agent"] or "botocore" in put["user_agent"]
    assert (get["operation"], get["status"], get["bytes_sent"], get["object_size"]) == (
        "REST.GET.OBJECT", "200", str(len(body)), str(len(body)))
    assert (head["operation"], head["status"], head["bytes_sent"]) == ("REST.HEAD.OBJECT", "200", "-")
    assert (lst["operation"], lst["key"]) == ("REST.GET.BUCKET", "-")
    assert int(lst["bytes_sent"]) > 0
    assert lst["request_uri"].startswith("GET /src?list-type=2") or lst["request_uri"].startswith("GET /src/?list-type=2")
    missing = by["404"]
    assert (missing["status"], missing["error_code"], missing["key"]) == ("404", "NoSuchKey", "missing")
    assert int(missing["bytes_sent"]) > 0, "the error document was sent"
    denied = by["403"]
    assert (denied["status"], denied["error_code"], denied["requester"]) == ("403", "AccessDenied", other_id)

    # The log bucket's own records are the test's reads of it, never the deliveries.
    time.sleep(3)
    self_records, _ = delivered(s3, "logs", "self/", [], timeout=0)
    ops = [r["operation"] for rs in self_records.values() for r in rs]
    assert "REST.PUT.OBJECT" not in ops, ops
    assert all(r["bucket"] == "logs" for rs in self_records.values() for r in rs)


def test_records_of_answered_requests_survive_kill9(tmp_path):
    # A delivery interval far longer than the test: only the journal can keep them.
    srv = Server(tmp_path / "data", ["--access-log-flush-secs", "3600"]).start()
    try:
        s3 = srv.client("s3")
        for b in ("src", "logs"):
            s3.create_bucket(Bucket=b)
        s3.put_bucket_logging(Bucket="src", BucketLoggingStatus={
            "LoggingEnabled": {"TargetBucket": "logs", "TargetPrefix": "k9/",
                               "TargetObjectKeyFormat": {"PartitionedPrefix": {"PartitionDateSource": "EventTime"}}}})
        ids = [request_id(s3.put_object(Bucket="src", Key=f"k{i}", Body=b"x" * i)) for i in range(20)]
        for i in range(1, 20, 3):
            got = s3.get_object(Bucket="src", Key=f"k{i}")
            # Answered means the whole reply arrived: its last byte waits for the journal.
            assert got["Body"].read() == b"x" * i
            ids.append(request_id(got))
        ids += [request_id(s3.head_object(Bucket="src", Key=f"k{i}")) for i in range(1, 20, 4)]
        # Then killed in the middle of concurrent requests: every one answered
        # before the kill keeps its record (the others may or may not).
        stop = threading.Event()

        def hammer(n):
            acked = []
            i = 0
            while not stop.is_set():
                try:
                    acked.append(request_id(s3.put_object(Bucket="src", Key=f"c{n}-{i}", Body=b"c")))
                except Exception:  # the server died under this request
                    break
                i += 1
            return acked

        with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
            running = [pool.submit(hammer, n) for n in range(8)]
            time.sleep(1.5)
            srv.kill9()
            stop.set()
            concurrent_ids = [rid for f in running for rid in f.result()]
        assert len(concurrent_ids) > 20, "too few requests answered before the kill to prove anything"
        ids += concurrent_ids
        srv.extra_args = ["--access-log-flush-secs", "1"]
        srv.start()
        s3 = srv.client("s3")
        records, keys = delivered(s3, "logs", "k9/", ids)
        missing = [i for i in ids if i not in records]
        assert not missing, f"{len(missing)} of {len(ids)} answered requests lost their record"
        assert all(len(records[i]) == 1 for i in ids)
        account = json.loads(srv.aws("sts", "get-caller-identity").stdout)["Account"]
        day = time.strftime("%Y/%m/%d", time.gmtime())
        assert all(k.startswith(f"k9/{account}/us-east-1/src/{day}/") for k in keys), keys
    finally:
        srv.stop()

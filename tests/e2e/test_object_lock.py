"""Object lock (issue 13): WORM retention, legal holds and the governance bypass,
with real boto3 and aws-cli against the real binary, and a kill -9 right after
acknowledged locked writes."""

import concurrent.futures
import datetime
import json
import time

import botocore.exceptions
import pytest

from conftest import Server, error_code, new_account, policy

UTC = datetime.timezone.utc
FAR = datetime.datetime(2100, 1, 1, tzinfo=UTC)
LOCKED_MESSAGE = "Access Denied because object protected by object lock."


def lock_bucket(s3, name, default=None):
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    if default:
        s3.put_object_lock_configuration(
            Bucket=name,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": default}},
        )


def denied_by_lock(call, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    assert error_code(e) == "AccessDenied"
    assert e.value.response["Error"]["Message"] == LOCKED_MESSAGE
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_bucket_configuration_and_versioning(s3):
    lock_bucket(s3, "cfg")
    assert s3.get_bucket_versioning(Bucket="cfg")["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket="cfg")["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled"
    }
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_versioning(Bucket="cfg", VersioningConfiguration={"Status": "Suspended"})
    assert error_code(e) == "InvalidBucketState"
    conf = {"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": {"Mode": "COMPLIANCE", "Years": 1}}}
    s3.put_object_lock_configuration(Bucket="cfg", ObjectLockConfiguration=conf)
    assert s3.get_object_lock_configuration(Bucket="cfg")["ObjectLockConfiguration"] == conf
    for bad, code in [
        ({"Mode": "GOVERNANCE", "Days": 1, "Years": 1}, "MalformedXML"),
        ({"Mode": "GOVERNANCE", "Days": 0}, "InvalidRetentionPeriod"),
        ({"Mode": "governance", "Days": 1}, "MalformedXML"),
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_lock_configuration(
                Bucket="cfg", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": bad}}
            )
        assert error_code(e) == code, bad

    # A plain bucket: no configuration, and lock requests are refused.
    s3.create_bucket(Bucket="plain")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object_lock_configuration(Bucket="plain")
    assert error_code(e) == "ObjectLockConfigurationNotFoundError"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="plain", Key="k", Body=b"x", ObjectLockLegalHoldStatus="ON")
    assert error_code(e) == "InvalidRequest"
    assert "missing Object Lock Configuration" in e.value.response["Error"]["Message"]
    s3.put_object(Bucket="plain", Key="k", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_retention(Bucket="plain", Key="k", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    assert error_code(e) == "InvalidRequest"
    # Enabling it later needs versioning Enabled first, as AWS allows now.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_lock_configuration(Bucket="plain", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    assert error_code(e) == "InvalidBucketState"
    s3.put_bucket_versioning(Bucket="plain", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object_lock_configuration(Bucket="plain", ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    v = s3.put_object(Bucket="plain", Key="k", Body=b"y", ObjectLockLegalHoldStatus="ON")["VersionId"]
    denied_by_lock(s3.delete_object, Bucket="plain", Key="k", VersionId=v)


def test_compliance_is_extend_only_for_everyone(s3):
    lock_bucket(s3, "comp")
    soon = datetime.datetime.now(UTC).replace(microsecond=0) + datetime.timedelta(days=2)
    v = s3.put_object(
        Bucket="comp", Key="k", Body=b"data", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=soon
    )["VersionId"]
    head = s3.head_object(Bucket="comp", Key="k", VersionId=v)
    assert head["ObjectLockMode"] == "COMPLIANCE"
    assert head["ObjectLockRetainUntilDate"] == soon
    got = s3.get_object(Bucket="comp", Key="k")
    assert got["ObjectLockMode"] == "COMPLIANCE" and got["Body"].read() == b"data"
    # Not deleted by anyone, bypass or not (the caller is the admin account).
    denied_by_lock(s3.delete_object, Bucket="comp", Key="k", VersionId=v)
    denied_by_lock(s3.delete_object, Bucket="comp", Key="k", VersionId=v, BypassGovernanceRetention=True)
    # Shortening, removing or relaxing to GOVERNANCE: refused even with bypass.
    for retention in [
        {"Mode": "COMPLIANCE", "RetainUntilDate": soon - datetime.timedelta(days=1)},
        {"Mode": "GOVERNANCE", "RetainUntilDate": FAR},
    ]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_retention(
                Bucket="comp", Key="k", VersionId=v, Retention=retention, BypassGovernanceRetention=True
            )
        assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_retention(Bucket="comp", Key="k", VersionId=v, Retention={}, BypassGovernanceRetention=True)
    assert error_code(e) == "AccessDenied"
    # Extending is allowed.
    later = soon + datetime.timedelta(days=30)
    s3.put_object_retention(Bucket="comp", Key="k", VersionId=v, Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    assert s3.get_object_retention(Bucket="comp", Key="k", VersionId=v)["Retention"] == {
        "Mode": "COMPLIANCE",
        "RetainUntilDate": later,
    }
    # A delete without a version only adds a marker; the version stays.
    marker = s3.delete_object(Bucket="comp", Key="k")
    assert marker["DeleteMarker"] is True
    assert s3.get_object(Bucket="comp", Key="k", VersionId=v)["Body"].read() == b"data"
    # And the bucket cannot go away with it.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket="comp")
    assert error_code(e) == "BucketNotEmpty"


def test_governance_bypass_needs_header_and_permission(server, s3):
    lock_bucket(s3, "gov")
    account, key_id, secret = new_account(server, "writer")
    other = server.client("s3", key_id, secret)
    v = s3.put_object(
        Bucket="gov", Key="k", Body=b"g", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR
    )["VersionId"]
    # The other account may delete versions but has no bypass permission.
    statement = {
        "Effect": "Allow",
        "Principal": {"AWS": account},
        "Action": ["s3:DeleteObjectVersion", "s3:PutObjectRetention", "s3:GetObjectRetention"],
        "Resource": "arn:aws:s3:::gov/*",
    }
    s3.put_bucket_policy(Bucket="gov", Policy=policy(statement))
    denied_by_lock(other.delete_object, Bucket="gov", Key="k", VersionId=v, BypassGovernanceRetention=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.put_object_retention(
            Bucket="gov", Key="k", VersionId=v,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR - datetime.timedelta(days=1)},
            BypassGovernanceRetention=True,
        )
    assert error_code(e) == "AccessDenied"
    # The owner without the header cannot either; nor with it when its own policy denies the bypass.
    denied_by_lock(s3.delete_object, Bucket="gov", Key="k", VersionId=v)
    deny = {
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:BypassGovernanceRetention",
        "Resource": "arn:aws:s3:::gov/*",
    }
    s3.put_bucket_policy(Bucket="gov", Policy=policy(statement, deny))
    denied_by_lock(s3.delete_object, Bucket="gov", Key="k", VersionId=v, BypassGovernanceRetention=True)
    # Granting the bypass to the other account lets it through.
    grant = dict(statement, Action=["s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"])
    s3.put_bucket_policy(Bucket="gov", Policy=policy(grant))
    other.delete_object(Bucket="gov", Key="k", VersionId=v, BypassGovernanceRetention=True)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="gov", Key="k", VersionId=v)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # Governance changes: extending is free, shortening or changing mode needs the bypass.
    v = s3.put_object(
        Bucket="gov", Key="m", Body=b"m", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=FAR
    )["VersionId"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object_retention(Bucket="gov", Key="m", Retention={"Mode": "COMPLIANCE", "RetainUntilDate": FAR})
    assert error_code(e) == "AccessDenied"
    short = {"Mode": "GOVERNANCE", "RetainUntilDate": datetime.datetime(2090, 1, 1, tzinfo=UTC)}
    s3.put_object_retention(Bucket="gov", Key="m", Retention=short, BypassGovernanceRetention=True)
    assert s3.get_object_retention(Bucket="gov", Key="m")["Retention"] == short


def test_default_retention_and_legal_hold(server, s3, tmp_path):
    lock_bucket(s3, "dflt", {"Mode": "GOVERNANCE", "Days": 1})
    before = datetime.datetime.now(UTC)
    v = s3.put_object(Bucket="dflt", Key="k", Body=b"d")["VersionId"]
    r = s3.get_object_retention(Bucket="dflt", Key="k")["Retention"]
    assert r["Mode"] == "GOVERNANCE"
    assert before + datetime.timedelta(days=1) - datetime.timedelta(seconds=5) <= r["RetainUntilDate"]
    assert r["RetainUntilDate"] <= datetime.datetime.now(UTC) + datetime.timedelta(days=1, seconds=5)
    denied_by_lock(s3.delete_object, Bucket="dflt", Key="k", VersionId=v)

    # Multipart uploads and copies get the default (or their own headers) too.
    up = s3.create_multipart_upload(Bucket="dflt", Key="mp", ObjectLockLegalHoldStatus="ON")["UploadId"]
    etag = s3.upload_part(Bucket="dflt", Key="mp", UploadId=up, PartNumber=1, Body=b"part")["ETag"]
    mp = s3.complete_multipart_upload(
        Bucket="dflt", Key="mp", UploadId=up, MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]}
    )["VersionId"]
    head = s3.head_object(Bucket="dflt", Key="mp")
    assert head["ObjectLockLegalHoldStatus"] == "ON" and head["ObjectLockMode"] == "GOVERNANCE"
    cp = s3.copy_object(Bucket="dflt", Key="cp", CopySource={"Bucket": "dflt", "Key": "k"})["VersionId"]
    assert s3.head_object(Bucket="dflt", Key="cp")["ObjectLockMode"] == "GOVERNANCE"

    # A legal hold blocks deletion even with the bypass, until it is released.
    s3.put_object_legal_hold(Bucket="dflt", Key="cp", LegalHold={"Status": "ON"})
    assert s3.get_object_legal_hold(Bucket="dflt", Key="cp")["LegalHold"] == {"Status": "ON"}
    denied_by_lock(s3.delete_object, Bucket="dflt", Key="cp", VersionId=cp, BypassGovernanceRetention=True)
    denied_by_lock(s3.delete_object, Bucket="dflt", Key="mp", VersionId=mp, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket="dflt", Key="cp", LegalHold={"Status": "OFF"})
    assert s3.get_object_legal_hold(Bucket="dflt", Key="cp")["LegalHold"] == {"Status": "OFF"}
    s3.delete_object(Bucket="dflt", Key="cp", VersionId=cp, BypassGovernanceRetention=True)

    # aws-cli: the same operations by their CLI names.
    body = tmp_path / "cli.txt"
    body.write_text("from the cli")
    out = json.loads(server.aws(
        "s3api", "put-object", "--bucket", "dflt", "--key", "cli", "--body", str(body),
        "--object-lock-mode", "COMPLIANCE", "--object-lock-retain-until-date", "2099-01-01T00:00:00Z",
        "--object-lock-legal-hold-status", "ON",
    ).stdout)
    cli_version = out["VersionId"]
    got = json.loads(server.aws("s3api", "get-object-retention", "--bucket", "dflt", "--key", "cli").stdout)
    assert got["Retention"]["Mode"] == "COMPLIANCE"
    assert got["Retention"]["RetainUntilDate"].startswith("2099-01-01T00:00:00")
    hold = json.loads(server.aws("s3api", "get-object-legal-hold", "--bucket", "dflt", "--key", "cli").stdout)
    assert hold["LegalHold"]["Status"] == "ON"
    server.aws("s3api", "put-object-legal-hold", "--bucket", "dflt", "--key", "cli", "--legal-hold", "Status=OFF")
    failed = server.aws(
        "s3api", "delete-object", "--bucket", "dflt", "--key", "cli", "--version-id", cli_version,
        "--bypass-governance-retention", check=False,
    )
    assert failed.returncode != 0 and "AccessDenied" in failed.stderr
    conf = json.loads(server.aws("s3api", "get-object-lock-configuration", "--bucket", "dflt").stdout)
    assert conf["ObjectLockConfiguration"]["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}


def test_delete_objects_reports_locked_versions_alone(s3):
    lock_bucket(s3, "multi")
    v1 = s3.put_object(Bucket="multi", Key="locked", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket="multi", Key="free", Body=b"2")["VersionId"]
    v3 = s3.put_object(Bucket="multi", Key="held", Body=b"3", ObjectLockLegalHoldStatus="ON")["VersionId"]
    s3.put_object_retention(Bucket="multi", Key="locked", Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
    out = s3.delete_objects(
        Bucket="multi",
        Delete={"Objects": [{"Key": "locked", "VersionId": v1}, {"Key": "free", "VersionId": v2},
                            {"Key": "held", "VersionId": v3}]},
    )
    assert [(d["Key"], d["VersionId"]) for d in out["Deleted"]] == [("free", v2)]
    errors = sorted((e["Key"], e["VersionId"], e["Code"]) for e in out["Errors"])
    assert errors == [("held", v3, "AccessDenied"), ("locked", v1, "AccessDenied")]
    # With the bypass the governance version goes; the held one still stays.
    out = s3.delete_objects(
        Bucket="multi",
        Delete={"Objects": [{"Key": "locked", "VersionId": v1}, {"Key": "held", "VersionId": v3}]},
        BypassGovernanceRetention=True,
    )
    assert [d["Key"] for d in out["Deleted"]] == ["locked"]
    assert [e["Key"] for e in out["Errors"]] == ["held"]
    # Without versions, DeleteObjects only adds markers, which a lock allows.
    out = s3.delete_objects(Bucket="multi", Delete={"Objects": [{"Key": "held"}]})
    assert out["Deleted"][0]["DeleteMarker"] is True


def test_retention_expires_on_the_server_clock(s3):
    lock_bucket(s3, "expiry")
    until = datetime.datetime.now(UTC) + datetime.timedelta(seconds=3)
    v = s3.put_object(
        Bucket="expiry", Key="k", Body=b"e", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until
    )["VersionId"]
    denied_by_lock(s3.delete_object, Bucket="expiry", Key="k", VersionId=v)
    time.sleep(max(0.0, (until - datetime.datetime.now(UTC)).total_seconds()) + 1.0)
    s3.delete_object(Bucket="expiry", Key="k", VersionId=v)
    assert "Versions" not in s3.list_object_versions(Bucket="expiry")


def test_put_with_lock_headers_needs_a_digest(server, s3):
    lock_bucket(s3, "digest")
    # A client that sends neither Content-MD5 nor a checksum (raw request, signed by botocore).
    import botocore.auth
    import botocore.awsrequest
    import botocore.credentials
    import requests

    key_id, secret = server.admin_keys()
    url = f"{server.endpoint}/digest/raw"
    req = botocore.awsrequest.AWSRequest(
        method="PUT", url=url, data=b"raw",
        headers={"x-amz-object-lock-legal-hold": "ON", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
    )
    botocore.auth.S3SigV4Auth(botocore.credentials.Credentials(key_id, secret), "s3", "us-east-1").add_auth(req)
    r = requests.put(url, data=b"raw", headers=dict(req.headers))
    assert r.status_code == 400 and "<Code>InvalidRequest</Code>" in r.text
    assert "Content-MD5" in r.text


def test_kill9_after_locked_writes_keeps_every_lock(tmp_path):
    srv = Server(tmp_path / "data").start()
    s3 = srv.client("s3")
    lock_bucket(s3, "crash")
    acknowledged = {}

    def write(i):
        key = f"obj-{i}"
        try:
            if i % 3 == 0:
                v = s3.put_object(Bucket="crash", Key=key, Body=b"x" * (i * 997 % 70_000),
                                  ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=FAR)["VersionId"]
                acknowledged[(key, v)] = ("COMPLIANCE", False)
            elif i % 3 == 1:
                v = s3.put_object(Bucket="crash", Key=key, Body=b"y", ObjectLockLegalHoldStatus="ON")["VersionId"]
                acknowledged[(key, v)] = (None, True)
            else:
                v = s3.put_object(Bucket="crash", Key=key, Body=b"z")["VersionId"]
                s3.put_object_retention(Bucket="crash", Key=key, VersionId=v,
                                        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": FAR})
                acknowledged[(key, v)] = ("GOVERNANCE", False)
        except Exception:  # the server died under this request
            pass

    with concurrent.futures.ThreadPoolExecutor(max_workers=20) as pool:
        futures = [pool.submit(write, i) for i in range(300)]
        time.sleep(1.0)
        srv.kill9()
        concurrent.futures.wait(futures)
    srv.start()
    try:
        s3 = srv.client("s3")
        assert acknowledged, "nothing was acknowledged before the kill; the test proves nothing"
        for (key, v), (mode, hold) in acknowledged.items():
            head = s3.head_object(Bucket="crash", Key=key, VersionId=v)
            assert head.get("ObjectLockMode") == mode, key
            if mode:
                assert head["ObjectLockRetainUntilDate"] == FAR
            assert (head.get("ObjectLockLegalHoldStatus") == "ON") == hold, key
            denied_by_lock(s3.delete_object, Bucket="crash", Key=key, VersionId=v)
    finally:
        srv.stop()


def test_browser_post_upload_takes_lock_fields(s3):
    import requests

    lock_bucket(s3, "posted")
    post = s3.generate_presigned_post(
        "posted", "form", Fields={"x-amz-object-lock-legal-hold": "ON"},
        Conditions=[{"x-amz-object-lock-legal-hold": "ON"}],
    )
    r = requests.post(post["url"], data=post["fields"], files={"file": b"posted"}, timeout=10)
    assert r.status_code == 204, r.text
    head = s3.head_object(Bucket="posted", Key="form")
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    denied_by_lock(s3.delete_object, Bucket="posted", Key="form", VersionId=head["VersionId"])


def test_policy_conditions_on_lock_headers(s3):
    lock_bucket(s3, "cond")
    # Writes must ask for at least 30 days of retention, and never GOVERNANCE.
    s3.put_bucket_policy(Bucket="cond", Policy=policy(
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::cond/*",
         "Condition": {"NumericLessThan": {"s3:object-lock-remaining-retention-days": "30"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:PutObject", "Resource": "arn:aws:s3:::cond/*",
         "Condition": {"StringEquals": {"s3:object-lock-mode": "GOVERNANCE"}}},
    ))
    now = datetime.datetime.now(UTC)
    for mode, days in [("COMPLIANCE", 1), ("GOVERNANCE", 60)]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object(Bucket="cond", Key="k", Body=b"x", ObjectLockMode=mode,
                          ObjectLockRetainUntilDate=now + datetime.timedelta(days=days))
        assert error_code(e) == "AccessDenied", (mode, days)
    s3.put_object(Bucket="cond", Key="k", Body=b"x", ObjectLockMode="COMPLIANCE",
                  ObjectLockRetainUntilDate=now + datetime.timedelta(days=60))
    assert s3.head_object(Bucket="cond", Key="k")["ObjectLockMode"] == "COMPLIANCE"

"""Regression tests for the outside review of storage (issue 9, items 1, 4 and 5):
version actions on reads, AWS limits, and requests for features that are not built,
driven with boto3 and raw SigV4-signed requests against the real binary."""

import base64
import hashlib
import zlib

import botocore.exceptions
import pytest
import requests
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import REGION, error_code, policy




def raw(server, method, path, headers=None, body=b"", keys=None):
    """A request signed with SigV4 as botocore signs it, sent as given, so headers
    boto3 would not send (or would validate first) reach the server."""
    key_id, secret = keys or server.admin_keys()
    url = f"{server.endpoint}{path}"
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    S3SigV4Auth(Credentials(key_id, secret), "s3", REGION).add_auth(req)
    prepared = req.prepare()
    return requests.request(method, prepared.url, headers=dict(prepared.headers), data=body, timeout=10)


def xml_code(response):
    text = response.text
    return text.split("<Code>", 1)[1].split("</Code>", 1)[0] if "<Code>" in text else None




# ---- 1. A request naming a version is authorized as the version action ----


def test_version_reads_need_the_version_action(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="hist")
    s3.put_bucket_versioning(Bucket="hist", VersioningConfiguration={"Status": "Enabled"})
    old = s3.put_object(Bucket="hist", Key="k", Body=b"old secret", Tagging="v=old")["VersionId"]
    s3.put_object(Bucket="hist", Key="k", Body=b"current", Tagging="v=new")
    who = {"AWS": f"arn:aws:iam::{other_id}:root"}
    s3.put_bucket_policy(Bucket="hist", Policy=policy(
        {"Effect": "Allow", "Principal": who,
         "Action": ["s3:GetObject", "s3:GetObjectTagging", "s3:GetObjectAttributes", "s3:ListBucket"],
         "Resource": ["arn:aws:s3:::hist", "arn:aws:s3:::hist/*"]},
        {"Effect": "Deny", "Principal": who,
         "Action": ["s3:GetObjectVersion", "s3:GetObjectVersionTagging",
                    "s3:GetObjectVersionAttributes"],
         "Resource": "arn:aws:s3:::hist/*"}))

    # The current object: allowed.
    assert client.get_object(Bucket="hist", Key="k")["Body"].read() == b"current"
    client.head_object(Bucket="hist", Key="k")
    assert client.get_object_tagging(Bucket="hist", Key="k")["TagSet"] == [{"Key": "v", "Value": "new"}]
    client.get_object_attributes(Bucket="hist", Key="k", ObjectAttributes=["ETag"])
    client.create_bucket(Bucket="theirs")
    client.copy_object(Bucket="theirs", Key="c", CopySource={"Bucket": "hist", "Key": "k"})

    # The old version by id: denied, however it is asked for.
    for call in (
        lambda: client.get_object(Bucket="hist", Key="k", VersionId=old),
        lambda: client.get_object_tagging(Bucket="hist", Key="k", VersionId=old),
        lambda: client.get_object_attributes(Bucket="hist", Key="k", VersionId=old, ObjectAttributes=["ETag"]),
        lambda: client.copy_object(Bucket="theirs", Key="c2",
                                   CopySource={"Bucket": "hist", "Key": "k", "VersionId": old}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.head_object(Bucket="hist", Key="k", VersionId=old)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    upload = client.create_multipart_upload(Bucket="theirs", Key="m")["UploadId"]
    client.upload_part_copy(Bucket="theirs", Key="m", UploadId=upload, PartNumber=1,
                            CopySource={"Bucket": "hist", "Key": "k"})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.upload_part_copy(Bucket="theirs", Key="m", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": "hist", "Key": "k", "VersionId": old})
    assert error_code(e) == "AccessDenied"
    assert s3.get_object(Bucket="hist", Key="k", VersionId=old)["Body"].read() == b"old secret"


def test_source_expected_bucket_owner_is_checked_on_the_source(server, s3, other):
    client, other_id = other
    owner_id = s3.list_buckets()["Owner"]["ID"]
    client.create_bucket(Bucket="src-theirs")
    client.put_object(Bucket="src-theirs", Key="k", Body=b"x")
    client.put_bucket_policy(Bucket="src-theirs", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::src-theirs/*"}))
    s3.create_bucket(Bucket="dst-mine")
    # The destination's expected owner says nothing about the source's.
    s3.copy_object(Bucket="dst-mine", Key="a", CopySource={"Bucket": "src-theirs", "Key": "k"},
                   ExpectedBucketOwner=owner_id, ExpectedSourceBucketOwner=other_id)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="dst-mine", Key="b", CopySource={"Bucket": "src-theirs", "Key": "k"},
                       ExpectedSourceBucketOwner=owner_id)
    assert error_code(e) == "AccessDenied"


# ---- 4. AWS limits ----


def test_user_metadata_over_2_kib_is_refused_on_every_write(server, s3):
    s3.create_bucket(Bucket="meta")
    fits = {"a": "x" * 2047}  # name + value = 2048 bytes
    over = {"a": "x" * 2048}
    s3.put_object(Bucket="meta", Key="ok", Body=b"x", Metadata=fits)
    assert s3.head_object(Bucket="meta", Key="ok")["Metadata"] == fits
    calls = [
        lambda: s3.put_object(Bucket="meta", Key="k", Body=b"x", Metadata=over),
        lambda: s3.copy_object(Bucket="meta", Key="k", CopySource={"Bucket": "meta", "Key": "ok"},
                               MetadataDirective="REPLACE", Metadata=over),
        lambda: s3.create_multipart_upload(Bucket="meta", Key="k", Metadata=over),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "MetadataTooLarge"
    # A copy that keeps the source's metadata is fine.
    s3.copy_object(Bucket="meta", Key="copy", CopySource={"Bucket": "meta", "Key": "ok"})
    # Browser POST uploads: the form's x-amz-meta-* fields count the same.
    big = "x" * 2100
    post = s3.generate_presigned_post("meta", "posted", Fields={"x-amz-meta-big": big},
                                      Conditions=[{"x-amz-meta-big": big}])
    r = requests.post(post["url"], data=post["fields"], files={"file": b"data"}, timeout=10)
    assert r.status_code == 400 and xml_code(r) == "MetadataTooLarge", r.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="meta")["Contents"]] == ["copy", "ok"]


def test_a_repeated_part_number_is_invalid_part_order(server, s3):
    s3.create_bucket(Bucket="mpu")
    upload = s3.create_multipart_upload(Bucket="mpu", Key="k")["UploadId"]
    etag = s3.upload_part(Bucket="mpu", Key="k", UploadId=upload, PartNumber=1, Body=b"a")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpu", Key="k", UploadId=upload, MultipartUpload={
            "Parts": [{"PartNumber": 1, "ETag": etag}, {"PartNumber": 1, "ETag": etag}]})
    assert error_code(e) == "InvalidPartOrder"
    # Nothing was written and the upload is still there to complete correctly.
    s3.complete_multipart_upload(Bucket="mpu", Key="k", UploadId=upload,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert s3.get_object(Bucket="mpu", Key="k")["Body"].read() == b"a"


def test_delete_objects_requires_and_verifies_a_digest(server, s3):
    s3.create_bucket(Bucket="batch")
    for key in ("a", "b"):
        s3.put_object(Bucket="batch", Key=key, Body=b"x")
    body = b"<Delete><Object><Key>a</Key></Object></Delete>"
    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    crc = base64.b64encode(zlib.crc32(body).to_bytes(4, "big")).decode()
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    wrong_crc = base64.b64encode((zlib.crc32(body) ^ 1).to_bytes(4, "big")).decode()

    r = raw(server, "POST", "/batch?delete", body=body)
    assert r.status_code == 400 and xml_code(r) == "InvalidRequest", r.text
    assert "Missing required header for this request: Content-MD5" in r.text
    for headers, code in (
        ({"Content-MD5": wrong_md5}, "BadDigest"),
        ({"Content-MD5": "not base64"}, "InvalidDigest"),
        ({"x-amz-checksum-crc32": wrong_crc}, "BadDigest"),
    ):
        r = raw(server, "POST", "/batch?delete", headers=headers, body=body)
        assert r.status_code == 400 and xml_code(r) == code, (headers, r.text)
    assert len(s3.list_objects_v2(Bucket="batch")["Contents"]) == 2, "nothing deleted"

    r = raw(server, "POST", "/batch?delete", headers={"Content-MD5": md5}, body=body)
    assert r.status_code == 200 and "<Deleted><Key>a</Key>" in r.text, r.text
    body_b = body.replace(b">a<", b">b<")
    crc_b = base64.b64encode(zlib.crc32(body_b).to_bytes(4, "big")).decode()
    assert crc_b != crc
    r = raw(server, "POST", "/batch?delete", headers={"x-amz-checksum-crc32": crc_b}, body=body_b)
    assert r.status_code == 200, r.text
    assert "Contents" not in s3.list_objects_v2(Bucket="batch")
    # And boto3, which sends one of them itself.
    s3.put_object(Bucket="batch", Key="c", Body=b"x")
    s3.delete_objects(Bucket="batch", Delete={"Objects": [{"Key": "c"}]})


def test_every_request_document_is_checked_against_its_digest(server, s3):
    s3.create_bucket(Bucket="docs")
    s3.put_object(Bucket="docs", Key="o", Body=b"x")
    tagging = b"<Tagging><TagSet><Tag><Key>a</Key><Value>b</Value></Tag></TagSet></Tagging>"
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    r = raw(server, "PUT", "/docs/o?tagging", headers={"Content-MD5": wrong}, body=tagging)
    assert r.status_code == 400 and xml_code(r) == "BadDigest", r.text
    wrong_crc = base64.b64encode((zlib.crc32(tagging) ^ 1).to_bytes(4, "big")).decode()
    r = raw(server, "PUT", "/docs/o?tagging", headers={"x-amz-checksum-crc32": wrong_crc}, body=tagging)
    assert r.status_code == 400 and xml_code(r) == "BadDigest", r.text
    assert s3.get_object_tagging(Bucket="docs", Key="o")["TagSet"] == []
    right = base64.b64encode(hashlib.md5(tagging).digest()).decode()
    r = raw(server, "PUT", "/docs/o?tagging", headers={"Content-MD5": right}, body=tagging)
    assert r.status_code == 200, r.text
    assert s3.get_object_tagging(Bucket="docs", Key="o")["TagSet"] == [{"Key": "a", "Value": "b"}]


def test_bucket_configuration_limits(server, s3):
    s3.create_bucket(Bucket="conf")
    rule = {"AllowedOrigins": ["https://a.example"], "AllowedMethods": ["GET"]}
    s3.put_bucket_cors(Bucket="conf", CORSConfiguration={"CORSRules": [rule] * 100})
    refusals = [
        ("MalformedXML", lambda: s3.put_bucket_cors(
            Bucket="conf", CORSConfiguration={"CORSRules": [rule] * 101})),
        # Within 100 rules but beyond the 64 KiB document.
        ("MalformedXML", lambda: s3.put_bucket_cors(Bucket="conf", CORSConfiguration={"CORSRules": [
            {"AllowedOrigins": ["https://a.example"], "AllowedMethods": ["GET"],
             "AllowedHeaders": ["h" * 1000]}] * 70})),
        ("InvalidArgument", lambda: s3.put_bucket_website(Bucket="conf", WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "RoutingRules": [{"Condition": {"KeyPrefixEquals": f"p{i}/"},
                              "Redirect": {"ReplaceKeyPrefixWith": "q/"}} for i in range(51)]})),
        ("InvalidArgument", lambda: s3.put_bucket_lifecycle_configuration(
            Bucket="conf", LifecycleConfiguration={"Rules": [
                {"ID": f"r{i}", "Filter": {"Prefix": f"p{i}/"}, "Status": "Enabled",
                 "Expiration": {"Days": 1}} for i in range(1001)]})),
        ("InvalidTag", lambda: s3.put_bucket_tagging(Bucket="conf", Tagging={"TagSet": [
            {"Key": f"k{i}", "Value": "v"} for i in range(51)]})),
        ("InvalidTag", lambda: s3.put_bucket_tagging(Bucket="conf", Tagging={"TagSet": [
            {"Key": "k" * 129, "Value": "v"}]})),
        ("InvalidArgument", lambda: s3.put_bucket_notification_configuration(
            Bucket="conf", NotificationConfiguration={"TopicConfigurations": [
                {"TopicArn": "arn:aws:sns:us-east-1:111111111111:t", "Events": ["s3:ObjectCreated:*"]}
            ] * 101})),
        ("MalformedPolicy", lambda: s3.put_bucket_policy(Bucket="conf", Policy=policy(*[
            {"Sid": f"S{i}", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": f"arn:aws:s3:::conf/{'p' * 100}{i}/*"} for i in range(200)]))),
    ]
    for code, call in refusals:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == code
    s3.put_bucket_website(Bucket="conf", WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": f"p{i}/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "q/"}} for i in range(50)]})
    s3.put_object(Bucket="conf", Key="o", Body=b"x")
    for tags in ([{"Key": f"k{i}", "Value": "v"} for i in range(11)],
                 [{"Key": "k", "Value": "v" * 257}]):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_object_tagging(Bucket="conf", Key="o", Tagging={"TagSet": tags})
        assert error_code(e) == "InvalidTag"


def test_a_double_slash_path_is_no_bucket_and_never_list_buckets(server, s3):
    s3.create_bucket(Bucket="bkt")
    s3.put_object(Bucket="bkt", Key="key", Body=b"x")
    for path in ("//bkt/key", "//bkt"):
        r = raw(server, "GET", path)
        assert r.status_code == 400 and xml_code(r) == "InvalidBucketName", (path, r.text)
        assert "ListAllMyBucketsResult" not in r.text
    assert "ListAllMyBucketsResult" in raw(server, "GET", "/").text


def test_edge_refusals_name_the_request_path(server, s3):
    r = raw(server, "GET", "/some-bucket/a%20key", keys=("AKIDUNKNOWN0000000000", "secret"))
    assert r.status_code == 403 and xml_code(r) == "InvalidAccessKeyId", r.text
    assert "<Resource>/some-bucket/a key</Resource>" in r.text, r.text


# ---- 5. Requests for features that are not built are refused, never dropped ----


def test_object_lock_on_a_plain_bucket_is_refused_everywhere_it_can_be_asked_for(server, s3):
    # Object lock is built (test_object_lock.py); a bucket without it refuses lock
    # requests, as S3 does, rather than storing an unprotected object.
    s3.create_bucket(Bucket="plain", ObjectLockEnabledForBucket=False)
    s3.put_object(Bucket="plain", Key="src", Body=b"x")
    lock = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z",
            "ObjectLockLegalHoldStatus": "ON"}
    for args in ({"ObjectLockMode": "COMPLIANCE",
                  "ObjectLockRetainUntilDate": "2099-01-01T00:00:00Z"},
                 {"ObjectLockLegalHoldStatus": "ON"}, lock):
        for call in (
            lambda: s3.put_object(Bucket="plain", Key="k", Body=b"x", **args),
            lambda: s3.copy_object(Bucket="plain", Key="k", CopySource="plain/src", **args),
            lambda: s3.create_multipart_upload(Bucket="plain", Key="k", **args),
        ):
            with pytest.raises(botocore.exceptions.ClientError) as e:
                call()
            assert error_code(e) == "InvalidRequest"
    # Browser POST uploads carry the same request as form fields.
    post = s3.generate_presigned_post("plain", "k", Fields={"x-amz-object-lock-legal-hold": "ON"},
                                      Conditions=[{"x-amz-object-lock-legal-hold": "ON"}])
    r = requests.post(post["url"], data=post["fields"], files={"file": b"x"}, timeout=10)
    assert r.status_code == 400 and xml_code(r) == "InvalidRequest", r.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="plain")["Contents"]] == ["src"]
    assert s3.list_multipart_uploads(Bucket="plain").get("Uploads", []) == []


def test_encryption_requests_are_validated_as_s3_does(server, s3):
    """SSE is built (tests/e2e/test_sse.py); what is malformed, or asks for what this
    server cannot do, is refused with S3's answers and stores nothing."""
    s3.create_bucket(Bucket="enc")
    s3.put_object(Bucket="enc", Key="k", Body=b"x")
    upload = s3.create_multipart_upload(Bucket="enc", Key="m")["UploadId"]
    key = base64.b64encode(b"k" * 32).decode()
    key_md5 = base64.b64encode(hashlib.md5(b"k" * 32).digest()).decode()
    full_c = {"x-amz-server-side-encryption-customer-algorithm": "AES256",
              "x-amz-server-side-encryption-customer-key": key,
              "x-amz-server-side-encryption-customer-key-MD5": key_md5}
    invalid = [
        # SSE-C needs all three headers, and a key matching its MD5.
        {"x-amz-server-side-encryption-customer-key": key},
        {"x-amz-server-side-encryption-customer-key-MD5": key_md5},
        {"x-amz-server-side-encryption-customer-algorithm": "AES256"},
        {**full_c, "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(b"x" * 16).decode()},
        # KMS settings without aws:kms, an unknown algorithm, SSE-C with SSE-S3.
        {"x-amz-server-side-encryption-aws-kms-key-id": "arn:aws:kms:us-east-1:1:key/x"},
        {"x-amz-server-side-encryption-context": "e30="},
        {"x-amz-server-side-encryption": "AES512"},
        {**full_c, "x-amz-server-side-encryption": "AES256"},
    ]
    copy = {"x-amz-copy-source": "/enc/k"}
    for headers in invalid:
        for method, path, extra in (("PUT", "/enc/new", {}), ("PUT", "/enc/new", copy),
                                    ("POST", "/enc/new?uploads", {})):
            r = raw(server, method, path, headers={**headers, **extra}, body=b"x" if method == "PUT" and not extra else b"")
            assert r.status_code == 400 and xml_code(r) == "InvalidArgument", (method, path, headers, r.text)
    # A whole SSE-C key over plain HTTP is refused unless the operator allows it, as AWS.
    for method, path in (("PUT", "/enc/new"), ("GET", "/enc/k"), ("PUT", f"/enc/m?partNumber=1&uploadId={upload}")):
        r = raw(server, method, path, headers=full_c, body=b"x" if method == "PUT" else b"")
        assert r.status_code == 400, (method, path, r.status_code, r.text)
    for name in ("algorithm", "key", "key-MD5"):
        r = raw(server, "PUT", "/enc/new", body=b"",
                headers={**copy, f"x-amz-copy-source-server-side-encryption-customer-{name}": "x"})
        assert r.status_code == 400 and xml_code(r) == "InvalidArgument", r.text
    # Reads take no SSE headers but SSE-C's: S3 answers InvalidArgument.
    for headers in ({"x-amz-server-side-encryption": "AES256"},
                    {"x-amz-server-side-encryption-aws-kms-key-id": "k"},
                    {"x-amz-server-side-encryption-context": "e30="},
                    {"x-amz-server-side-encryption-bucket-key-enabled": "true"}):
        for method in ("GET", "HEAD"):
            r = raw(server, method, "/enc/k", headers=headers)
            assert r.status_code == 400, (method, headers, r.status_code)
            if method == "GET":
                assert xml_code(r) == "InvalidArgument"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="enc")["Contents"]] == ["k"]
    assert "Parts" not in s3.list_parts(Bucket="enc", Key="m", UploadId=upload)


def test_other_unbuilt_object_features_are_refused(server, s3):
    s3.create_bucket(Bucket="feat")
    s3.put_object(Bucket="feat", Key="src", Body=b"x", StorageClass="STANDARD")
    for call, code in (
        (lambda: s3.put_object(Bucket="feat", Key="k", Body=b"x", StorageClass="GLACIER"), "InvalidStorageClass"),
        (lambda: s3.copy_object(Bucket="feat", Key="k", CopySource="feat/src",
                                StorageClass="REDUCED_REDUNDANCY"), "InvalidStorageClass"),
        (lambda: s3.create_multipart_upload(Bucket="feat", Key="k", StorageClass="DEEP_ARCHIVE"),
         "InvalidStorageClass"),
        (lambda: s3.put_object(Bucket="feat", Key="k", Body=b"x", WebsiteRedirectLocation="/other"),
         "NotImplemented"),
        (lambda: s3.delete_object(Bucket="feat", Key="src", MFA="arn:aws:iam::1:mfa/root 123456"),
         "NotImplemented"),
        (lambda: s3.put_bucket_versioning(Bucket="feat", MFA="arn:aws:iam::1:mfa/root 123456",
                                          VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}),
         "NotImplemented"),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == code
    for headers in ({"x-amz-if-match-size": "1"},
                    {"x-amz-if-match-last-modified-time": "Wed, 01 Jan 2025 00:00:00 GMT"}):
        r = raw(server, "DELETE", "/feat/src", headers=headers)
        assert r.status_code == 501 and xml_code(r) == "NotImplemented", r.text
    r = raw(server, "PUT", "/feat/k", headers={"x-amz-write-offset-bytes": "0"}, body=b"x")
    assert r.status_code == 501, r.text
    r = raw(server, "PUT", "/feat/k", headers={"x-amz-checksum-sha512": "AAAA"}, body=b"x")
    assert r.status_code == 501, r.text
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="feat")["Contents"]] == ["src"]


def test_unbuilt_subresources_answer_not_implemented(server, s3):
    s3.create_bucket(Bucket="subs")
    s3.put_object(Bucket="subs", Key="k", Body=b"x")
    calls = [
        lambda: s3.get_bucket_replication(Bucket="subs"),
        lambda: s3.get_bucket_accelerate_configuration(Bucket="subs"),
        lambda: s3.get_bucket_request_payment(Bucket="subs"),
        lambda: s3.list_bucket_intelligent_tiering_configurations(Bucket="subs"),
        lambda: s3.list_bucket_inventory_configurations(Bucket="subs"),
        lambda: s3.list_bucket_metrics_configurations(Bucket="subs"),
        lambda: s3.list_bucket_analytics_configurations(Bucket="subs"),
        lambda: s3.get_object_torrent(Bucket="subs", Key="k"),
        lambda: s3.restore_object(Bucket="subs", Key="k", RestoreRequest={"Days": 1}),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert error_code(e) == "NotImplemented"
    r = raw(server, "POST", "/subs/k?select&select-type=2", body=b"<SelectObjectContentRequest/>")
    assert r.status_code == 501, r.text


def test_complete_must_name_the_uploads_own_checksum_type(server, s3):
    s3.create_bucket(Bucket="ctype")
    upload = s3.create_multipart_upload(Bucket="ctype", Key="k", ChecksumAlgorithm="CRC32",
                                        ChecksumType="COMPOSITE")["UploadId"]
    part = s3.upload_part(Bucket="ctype", Key="k", UploadId=upload, PartNumber=1, Body=b"a",
                          ChecksumAlgorithm="CRC32")
    parts = {"Parts": [{"PartNumber": 1, "ETag": part["ETag"], "ChecksumCRC32": part["ChecksumCRC32"]}]}
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="ctype", Key="k", UploadId=upload, MultipartUpload=parts,
                                     ChecksumType="FULL_OBJECT")
    assert error_code(e) == "InvalidRequest"
    s3.complete_multipart_upload(Bucket="ctype", Key="k", UploadId=upload, MultipartUpload=parts,
                                 ChecksumType="COMPOSITE")


def test_create_bucket_refuses_what_it_would_drop(server, s3):
    for headers, body in (
        ({}, b"<CreateBucketConfiguration><Tags><Tag><Key>a</Key><Value>b</Value></Tag></Tags>"
             b"</CreateBucketConfiguration>"),
        ({}, b"<CreateBucketConfiguration><Location><Type>AvailabilityZone</Type><Name>use1-az4</Name>"
             b"</Location></CreateBucketConfiguration>"),
        ({"x-amz-bucket-namespace": "account-regional"}, b""),
    ):
        r = raw(server, "PUT", "/newb", headers=headers, body=body)
        assert r.status_code == 501 and xml_code(r) == "NotImplemented", (headers, body, r.text)
        assert raw(server, "HEAD", "/newb").status_code == 404
    r = raw(server, "PUT", "/newb", headers={"x-amz-bucket-namespace": "global"},
            body=b"<CreateBucketConfiguration><LocationConstraint>us-east-1</LocationConstraint>"
                 b"</CreateBucketConfiguration>")
    assert r.status_code == 200, r.text


def test_delete_objects_honours_or_refuses_per_object_conditions(server, s3):
    s3.create_bucket(Bucket="conds")
    etag = s3.put_object(Bucket="conds", Key="k", Body=b"x")["ETag"]
    s3.put_object(Bucket="conds", Key="other", Body=b"y")
    r = s3.delete_objects(Bucket="conds", Delete={"Objects": [
        {"Key": "k", "ETag": '"00000000000000000000000000000000"'}, {"Key": "other"}]})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("k", "PreconditionFailed")]
    assert [d["Key"] for d in r["Deleted"]] == ["other"]
    assert s3.get_object(Bucket="conds", Key="k")["Body"].read() == b"x"
    r = s3.delete_objects(Bucket="conds", Delete={"Objects": [{"Key": "k", "ETag": etag}]})
    assert [d["Key"] for d in r["Deleted"]] == ["k"] and "Errors" not in r
    # A missing key has nothing to match: deleting it succeeds, as DeleteObject does.
    r = s3.delete_objects(Bucket="conds", Delete={"Objects": [{"Key": "k", "ETag": etag}]})
    assert "Errors" not in r
    s3.put_object(Bucket="conds", Key="k", Body=b"x")
    for condition in ({"Size": 1}, {"LastModifiedTime": "2025-01-01T00:00:00Z"}):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.delete_objects(Bucket="conds", Delete={"Objects": [{"Key": "k", **condition}]})
        assert error_code(e) == "NotImplemented"
    assert s3.get_object(Bucket="conds", Key="k")["Body"].read() == b"x"


def test_recreating_ones_own_bucket_resets_its_acl_as_us_east_1_does(server, s3):
    all_users = "http://acs.amazonaws.com/groups/global/AllUsers"

    def public(bucket):
        grants = s3.get_bucket_acl(Bucket=bucket)["Grants"]
        return any(g["Grantee"].get("URI") == all_users for g in grants)

    s3.create_bucket(Bucket="again", ACL="public-read")
    assert public("again")
    # A repeated CreateBucket succeeds and the bucket gets the ACL it asks for...
    s3.create_bucket(Bucket="again")
    assert not public("again")
    s3.create_bucket(Bucket="again", ACL="public-read")
    assert public("again")
    # ...while its contents stay.
    s3.put_object(Bucket="again", Key="k", Body=b"v")
    s3.create_bucket(Bucket="again")
    assert s3.get_object(Bucket="again", Key="k")["Body"].read() == b"v"

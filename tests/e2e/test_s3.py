"""Storage core (issue 3): real aws-cli and boto3, default settings, against nomuck."""

import concurrent.futures
import datetime
import hashlib
import json
import os
import random
import time
import urllib.parse

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.credentials
import botocore.exceptions
import pytest
import requests

from conftest import REGION, Server, error_code, new_account




def test_aws_cli_high_level_commands(server, tmp_path):
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha")
    (src / "sub" / "b.bin").write_bytes(os.urandom(300_000))
    server.aws("s3", "mb", "s3://cli-bucket")
    assert "cli-bucket" in server.aws("s3", "ls").stdout

    server.aws("s3", "cp", str(src / "a.txt"), "s3://cli-bucket/a.txt")
    synced = server.aws("s3", "sync", str(src), "s3://cli-bucket/tree")
    assert "upload:" in synced.stdout
    # A second sync has nothing to do: sizes and times match.
    assert "upload:" not in server.aws("s3", "sync", str(src), "s3://cli-bucket/tree").stdout
    listing = server.aws("s3", "ls", "--recursive", "s3://cli-bucket").stdout
    assert "tree/sub/b.bin" in listing and "a.txt" in listing

    out = tmp_path / "out"
    server.aws("s3", "sync", "s3://cli-bucket/tree", str(out))
    assert (out / "sub" / "b.bin").read_bytes() == (src / "sub" / "b.bin").read_bytes()

    rb = server.aws("s3", "rb", "s3://cli-bucket", check=False)
    assert rb.returncode != 0 and "BucketNotEmpty" in rb.stderr
    server.aws("s3", "rm", "--recursive", "s3://cli-bucket")
    server.aws("s3", "rb", "s3://cli-bucket")
    assert "cli-bucket" not in server.aws("s3", "ls").stdout


def test_aws_cli_presign_is_fetchable_by_plain_http(server, tmp_path):
    server.aws("s3", "mb", "s3://presign")
    f = tmp_path / "p.txt"
    f.write_text("presigned body")
    server.aws("s3", "cp", str(f), "s3://presign/p.txt")
    url = server.aws("s3", "presign", "s3://presign/p.txt", "--expires-in", "60").stdout.strip()
    reply = requests.get(url, timeout=10)
    assert reply.status_code == 200, reply.text
    assert reply.text == "presigned body"


def test_s3api_commands(server):
    server.aws("s3api", "create-bucket", "--bucket", "api-bucket")
    put = json.loads(server.aws("s3api", "put-object", "--bucket", "api-bucket", "--key", "k", "--body", __file__,
                                "--content-type", "text/x-python", "--metadata", "color=blue").stdout)
    head = json.loads(server.aws("s3api", "head-object", "--bucket", "api-bucket", "--key", "k").stdout)
    assert head["ETag"] == put["ETag"]
    assert head["ContentType"] == "text/x-python"
    assert head["Metadata"] == {"color": "blue"}
    assert head["ContentLength"] == os.path.getsize(__file__)
    loc = json.loads(server.aws("s3api", "get-bucket-location", "--bucket", "api-bucket").stdout)
    assert loc["LocationConstraint"] in (None, "")
    missing = server.aws("s3api", "head-bucket", "--bucket", "no-such-bucket-here", check=False)
    assert missing.returncode != 0 and "404" in missing.stderr


def test_boto3_multipart_upload_file_and_download(server, s3, tmp_path):
    s3.create_bucket(Bucket="mpbig")
    data = os.urandom(20 * 1024 * 1024 + 12345)
    path = tmp_path / "big"
    path.write_bytes(data)
    s3.upload_file(str(path), "mpbig", "big")  # boto3 default: 8 MiB parts
    head = s3.head_object(Bucket="mpbig", Key="big")
    assert head["ContentLength"] == len(data)
    parts = [data[i:i + 8 * 1024 * 1024] for i in range(0, len(data), 8 * 1024 * 1024)]
    digest = hashlib.md5(b"".join(hashlib.md5(p).digest() for p in parts)).hexdigest()
    assert head["ETag"] == f'"{digest}-{len(parts)}"'
    out = tmp_path / "back"
    s3.download_file("mpbig", "big", str(out))
    assert out.read_bytes() == data
    # partNumber GET returns one part.
    part2 = s3.get_object(Bucket="mpbig", Key="big", PartNumber=2)
    assert part2["Body"].read() == parts[1]
    assert part2["PartsCount"] == len(parts)


def test_multipart_api_errors_and_listing(server, s3):
    s3.create_bucket(Bucket="mpapi")
    upload = s3.create_multipart_upload(Bucket="mpapi", Key="obj")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket="mpapi")["Uploads"]
    assert [u["UploadId"] for u in listed] == [upload]
    p1 = s3.upload_part(Bucket="mpapi", Key="obj", UploadId=upload, PartNumber=1, Body=b"a" * 1024)
    p2 = s3.upload_part(Bucket="mpapi", Key="obj", UploadId=upload, PartNumber=2, Body=b"b" * 1024)
    parts = s3.list_parts(Bucket="mpapi", Key="obj", UploadId=upload)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpapi", Key="obj", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": p1["ETag"]}, {"PartNumber": 2, "ETag": p2["ETag"]}]})
    assert error_code(e) == "EntityTooSmall"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpapi", Key="obj", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 2, "ETag": p2["ETag"]}, {"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert error_code(e) == "InvalidPartOrder"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpapi", Key="obj", UploadId=upload, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": '"00000000000000000000000000000000"'}]})
    assert error_code(e) == "InvalidPart"
    # The last part alone may be small.
    done = s3.complete_multipart_upload(Bucket="mpapi", Key="obj", UploadId=upload,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]}]})
    assert done["ETag"].endswith('-1"')
    assert s3.get_object(Bucket="mpapi", Key="obj")["Body"].read() == b"a" * 1024
    aborted = s3.create_multipart_upload(Bucket="mpapi", Key="gone")["UploadId"]
    s3.abort_multipart_upload(Bucket="mpapi", Key="gone", UploadId=aborted)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.list_parts(Bucket="mpapi", Key="gone", UploadId=aborted)
    assert error_code(e) == "NoSuchUpload"


def test_multipart_checksums_retries_and_conditions(server, s3):
    s3.create_bucket(Bucket="mpck")
    mib5 = 5 * 1024 * 1024
    bodies = [os.urandom(mib5), os.urandom(1000)]
    # FULL_OBJECT CRC32: the server derives the whole-object CRC from the parts.
    up = s3.create_multipart_upload(
        Bucket="mpck", Key="full", ChecksumAlgorithm="CRC32", ChecksumType="FULL_OBJECT"
    )
    parts = []
    for n, body in enumerate(bodies, 1):
        r = s3.upload_part(
            Bucket="mpck", Key="full", UploadId=up["UploadId"], PartNumber=n, Body=body,
            ChecksumAlgorithm="CRC32",
        )
        parts.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    whole = s3.put_object(Bucket="mpck", Key="single", Body=b"".join(bodies),
                          ChecksumAlgorithm="CRC32")["ChecksumCRC32"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.complete_multipart_upload(Bucket="mpck", Key="full", UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": parts}, ChecksumCRC32="AAAAAA==")
    assert error_code(e) == "BadDigest"
    done = s3.complete_multipart_upload(Bucket="mpck", Key="full", UploadId=up["UploadId"],
                                        MultipartUpload={"Parts": parts}, ChecksumCRC32=whole)
    assert done["ChecksumCRC32"] == whole and done["ChecksumType"] == "FULL_OBJECT"
    # A retried completion gets the same answer.
    again = s3.complete_multipart_upload(Bucket="mpck", Key="full", UploadId=up["UploadId"],
                                         MultipartUpload={"Parts": parts})
    assert again["ETag"] == done["ETag"] and again["ChecksumCRC32"] == whole
    # A part read carries the part's checksum.
    part2 = s3.get_object(Bucket="mpck", Key="full", PartNumber=2, ChecksumMode="ENABLED")
    assert part2["Body"].read() == bodies[1]
    assert part2["ChecksumCRC32"] == parts[1]["ChecksumCRC32"]
    assert part2["ChecksumType"] == "FULL_OBJECT"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="mpck", Key="full", PartNumber=3)
    assert error_code(e) == "InvalidPart"

    # Conditional writes: If-None-Match with an ETag, If-Match: *.
    etag = s3.put_object(Bucket="mpck", Key="c", Body=b"one")["ETag"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="mpck", Key="c", Body=b"two", IfNoneMatch=etag)
    assert error_code(e) == "PreconditionFailed"
    s3.put_object(Bucket="mpck", Key="c", Body=b"two", IfNoneMatch='"0123"')
    s3.put_object(Bucket="mpck", Key="c", Body=b"three", IfMatch="*")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="mpck", Key="absent", Body=b"x", IfMatch="*")
    assert error_code(e) == "NoSuchKey"

    # Metadata outside ASCII (set past botocore's validator, which refuses it,
    # as ceph/s3-tests does) reads back as the same text.
    def add_header(params, **_):
        params["headers"]["x-amz-meta-city"] = "Z\u00fcrich"

    s3.meta.events.register("before-call.s3.PutObject", add_header)
    s3.put_object(Bucket="mpck", Key="m", Body=b"")
    s3.meta.events.unregister("before-call.s3.PutObject", add_header)
    assert s3.head_object(Bucket="mpck", Key="m")["Metadata"]["city"] == "Z\u00fcrich"

    # x-amz-expected-bucket-owner is checked; encryption is done, not ignored.
    owner = s3.list_buckets()["Owner"]["ID"]
    s3.head_object(Bucket="mpck", Key="m", ExpectedBucketOwner=owner)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="mpck", Key="m", ExpectedBucketOwner="999999999999")
    assert error_code(e) == "AccessDenied"
    put = s3.put_object(Bucket="mpck", Key="enc", Body=b"x", ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"


def test_upload_part_copy_with_range(server, s3):
    s3.create_bucket(Bucket="upc")
    source = os.urandom(6 * 1024 * 1024)
    s3.put_object(Bucket="upc", Key="src", Body=source)
    upload = s3.create_multipart_upload(Bucket="upc", Key="dst")["UploadId"]
    first = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=upload, PartNumber=1,
                                CopySource={"Bucket": "upc", "Key": "src"},
                                CopySourceRange=f"bytes=0-{5 * 1024 * 1024 - 1}")
    second = s3.upload_part_copy(Bucket="upc", Key="dst", UploadId=upload, PartNumber=2,
                                 CopySource={"Bucket": "upc", "Key": "src"}, CopySourceRange="bytes=100-199")
    s3.complete_multipart_upload(Bucket="upc", Key="dst", UploadId=upload, MultipartUpload={"Parts": [
        {"PartNumber": 1, "ETag": first["CopyPartResult"]["ETag"]},
        {"PartNumber": 2, "ETag": second["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket="upc", Key="dst")["Body"].read() == source[:5 * 1024 * 1024] + source[100:200]


def test_presigned_get_and_put_by_plain_http(server, s3):
    s3.create_bucket(Bucket="presigned")
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": "presigned", "Key": "up load+x"}, ExpiresIn=60)
    assert requests.put(put_url, data=b"via presigned put", timeout=10).status_code == 200
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "up load+x"}, ExpiresIn=60)
    reply = requests.get(get_url, timeout=10)
    assert reply.status_code == 200 and reply.content == b"via presigned put"
    # Tampering with the URL breaks the signature.
    bad = requests.get(get_url.replace("up%20load", "up%20lOad"), timeout=10)
    assert bad.status_code == 403 and "<Code>SignatureDoesNotMatch</Code>" in bad.text
    expired = s3.generate_presigned_url("get_object", Params={"Bucket": "presigned", "Key": "up load+x"}, ExpiresIn=1)
    time.sleep(2)
    reply = requests.get(expired, timeout=10)
    assert reply.status_code == 403 and "Request has expired" in reply.text


def test_listing_delimiters_unicode_and_pagination(server, s3):
    s3.create_bucket(Bucket="listing")
    keys = ["a/1", "a/2", "a/b/3", "b", "c d/e+f", "ü/ñ", "z%25", "日本/語", "\u00e9", "e\u0301"]
    for k in keys:
        s3.put_object(Bucket="listing", Key=k, Body=k.encode())
    everything = [o["Key"] for o in s3.list_objects_v2(Bucket="listing")["Contents"]]
    assert everything == sorted(keys, key=lambda k: k.encode())  # UTF-8 byte order

    top = s3.list_objects_v2(Bucket="listing", Delimiter="/")
    assert [p["Prefix"] for p in top["CommonPrefixes"]] == ["a/", "c d/", "ü/", "日本/"]
    assert [o["Key"] for o in top["Contents"]] == sorted(["b", "z%25", "\u00e9", "e\u0301"], key=lambda k: k.encode())
    nested = s3.list_objects(Bucket="listing", Prefix="a/", Delimiter="/")
    assert [o["Key"] for o in nested["Contents"]] == ["a/1", "a/2"]
    assert [p["Prefix"] for p in nested["CommonPrefixes"]] == ["a/b/"]

    seen, token = [], None
    while True:
        kwargs = {"Bucket": "listing", "MaxKeys": 3}
        if token:
            kwargs["ContinuationToken"] = token
        page = s3.list_objects_v2(**kwargs)
        seen += [o["Key"] for o in page.get("Contents", [])]
        if not page["IsTruncated"]:
            break
        token = page["NextContinuationToken"]
    assert seen == everything
    v1 = [o["Key"] for p in s3.get_paginator("list_objects").paginate(Bucket="listing", PaginationConfig={"PageSize": 4})
          for o in p.get("Contents", [])]
    assert v1 == everything
    after = s3.list_objects_v2(Bucket="listing", StartAfter="b")
    assert [o["Key"] for o in after["Contents"]] == [k for k in everything if k.encode() > b"b"]
    # Asked for explicitly, encoding-type=url reaches the caller encoded.
    encoded = s3.list_objects_v2(Bucket="listing", EncodingType="url")
    assert [urllib.parse.unquote(o["Key"]) for o in encoded["Contents"]] == everything
    assert "c%20d/e%2Bf" in [o["Key"] for o in encoded["Contents"]]
    # Keys made of or ending in spaces survive DeleteObjects' XML exactly.
    for k in (" ", "trail ", "\ttab"):
        s3.put_object(Bucket="listing", Key=k, Body=b"w")
    deleted = s3.delete_objects(Bucket="listing", Delete={"Objects": [{"Key": k} for k in (" ", "trail ", "\ttab")]})
    assert sorted(d["Key"] for d in deleted["Deleted"]) == sorted([" ", "trail ", "\ttab"])
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="listing")["Contents"]] == everything


def test_copy_ranges_and_conditional_requests(server, s3):
    s3.create_bucket(Bucket="cond")
    body = bytes(range(256)) * 40
    etag = s3.put_object(Bucket="cond", Key="obj", Body=body, ContentType="application/x-test",
                         Metadata={"k": "v"})["ETag"]
    assert etag == f'"{hashlib.md5(body).hexdigest()}"'

    r = s3.get_object(Bucket="cond", Key="obj", Range="bytes=10-19")
    assert r["Body"].read() == body[10:20] and r["ContentRange"] == f"bytes 10-19/{len(body)}"
    assert s3.get_object(Bucket="cond", Key="obj", Range="bytes=-5")["Body"].read() == body[-5:]
    assert s3.get_object(Bucket="cond", Key="obj", Range=f"bytes={len(body) - 3}-")["Body"].read() == body[-3:]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cond", Key="obj", Range=f"bytes={len(body)}-")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 416 and error_code(e) == "InvalidRange"

    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cond", Key="obj", IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cond", Key="obj", IfMatch='"nope"')
    assert error_code(e) == "PreconditionFailed"
    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=1)
    past = datetime.datetime(2000, 1, 1, tzinfo=datetime.timezone.utc)
    assert s3.get_object(Bucket="cond", Key="obj", IfModifiedSince=past)["ETag"] == etag
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="cond", Key="obj", IfModifiedSince=future)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="cond", Key="obj", IfUnmodifiedSince=past)
    assert error_code(e) == "PreconditionFailed"

    # Compare-and-swap writes.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="cond", Key="obj", Body=b"x", IfNoneMatch="*")
    assert error_code(e) == "PreconditionFailed"
    s3.put_object(Bucket="cond", Key="fresh", Body=b"x", IfNoneMatch="*")
    swapped = s3.put_object(Bucket="cond", Key="fresh", Body=b"y", IfMatch=s3.head_object(Bucket="cond", Key="fresh")["ETag"])
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="cond", Key="fresh", Body=b"z", IfMatch='"0123"')
    assert error_code(e) == "PreconditionFailed"
    assert s3.get_object(Bucket="cond", Key="fresh")["ETag"] == swapped["ETag"]

    copied = s3.copy_object(Bucket="cond", Key="copy", CopySource={"Bucket": "cond", "Key": "obj"})
    assert copied["CopyObjectResult"]["ETag"] == etag
    head = s3.head_object(Bucket="cond", Key="copy")
    assert head["Metadata"] == {"k": "v"} and head["ContentType"] == "application/x-test"
    s3.copy_object(Bucket="cond", Key="replaced", CopySource={"Bucket": "cond", "Key": "obj"},
                   MetadataDirective="REPLACE", Metadata={"new": "1"}, ContentType="text/plain")
    head = s3.head_object(Bucket="cond", Key="replaced")
    assert head["Metadata"] == {"new": "1"} and head["ContentType"] == "text/plain"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.copy_object(Bucket="cond", Key="copy2", CopySource={"Bucket": "cond", "Key": "obj"}, CopySourceIfMatch='"no"')
    assert error_code(e) == "PreconditionFailed"


def test_content_headers_tagging_attributes_and_checksums(server, s3):
    s3.create_bucket(Bucket="hdrs")
    s3.put_object(Bucket="hdrs", Key="h", Body=b"hello", ContentType="text/plain", ContentEncoding="identity",
                  ContentDisposition="attachment", ContentLanguage="en", CacheControl="max-age=60",
                  Expires=datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc), Tagging="a=1&b=2",
                  ChecksumAlgorithm="SHA256")
    got = s3.get_object(Bucket="hdrs", Key="h", ChecksumMode="ENABLED")
    assert (got["ContentType"], got["ContentEncoding"], got["ContentDisposition"], got["ContentLanguage"],
            got["CacheControl"]) == ("text/plain", "identity", "attachment", "en", "max-age=60")
    assert got["ChecksumSHA256"] == "LPJNul+wow4m6DsqxbninhsWHlwfp0JecwQzYpOLmCQ="
    assert got["TagCount"] == 2
    tags = s3.get_object_tagging(Bucket="hdrs", Key="h")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("a", "1"), ("b", "2")]
    s3.put_object_tagging(Bucket="hdrs", Key="h", Tagging={"TagSet": [{"Key": "x", "Value": "y"}]})
    assert s3.get_object_tagging(Bucket="hdrs", Key="h")["TagSet"] == [{"Key": "x", "Value": "y"}]
    s3.delete_object_tagging(Bucket="hdrs", Key="h")
    assert s3.get_object_tagging(Bucket="hdrs", Key="h")["TagSet"] == []
    attrs = s3.get_object_attributes(Bucket="hdrs", Key="h", ObjectAttributes=["ETag", "ObjectSize", "Checksum"])
    assert attrs["ObjectSize"] == 5 and attrs["Checksum"]["ChecksumSHA256"] == got["ChecksumSHA256"]
    # A wrong declared checksum is refused and nothing is stored.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="hdrs", Key="bad", Body=b"hello", ChecksumCRC32="AAAAAA==")
    assert error_code(e) in ("BadDigest", "InvalidRequest")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.head_object(Bucket="hdrs", Key="bad")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    # Content-MD5 is verified.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="hdrs", Key="bad", Body=b"hello", ContentMD5="1B2M2Y8AsgTpgAmY7PhCfg==")
    assert error_code(e) == "BadDigest"
    assert s3.put_object(Bucket="hdrs", Key="empty", Body=b"")["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'


def test_list_buckets_pages_and_prefix(server, s3):
    names = ["page-a", "page-b", "page-c", "other-x"]
    for n in names:
        s3.create_bucket(Bucket=n)
    first = s3.list_buckets(MaxBuckets=2, Prefix="page-")
    assert [b["Name"] for b in first["Buckets"]] == ["page-a", "page-b"]
    second = s3.list_buckets(MaxBuckets=2, Prefix="page-", ContinuationToken=first["ContinuationToken"])
    assert [b["Name"] for b in second["Buckets"]] == ["page-c"] and "ContinuationToken" not in second
    paged = [b["Name"] for p in s3.get_paginator("list_buckets").paginate(PaginationConfig={"PageSize": 1})
             for b in p["Buckets"]]
    assert paged == sorted(names)


def test_delete_objects_and_bucket_errors(server, s3):
    s3.create_bucket(Bucket="del")
    s3.put_object(Bucket="del", Key="kept", Body=b"x")
    # us-east-1 answers the owner's repeated CreateBucket with success and keeps the contents.
    s3.create_bucket(Bucket="del")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="del")["Contents"]] == ["kept"]
    s3.delete_object(Bucket="del", Key="kept")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.create_bucket(Bucket="Bad_Name")
    assert error_code(e) == "InvalidBucketName"
    for i in range(5):
        s3.put_object(Bucket="del", Key=f"k{i}", Body=b"x")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.delete_bucket(Bucket="del")
    assert error_code(e) == "BucketNotEmpty"
    result = s3.delete_objects(Bucket="del", Delete={"Objects": [{"Key": f"k{i}"} for i in range(5)] + [{"Key": "never"}]})
    assert sorted(d["Key"] for d in result["Deleted"]) == ["k0", "k1", "k2", "k3", "k4", "never"]
    s3.delete_bucket(Bucket="del")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="del", Key="k0")
    assert error_code(e) == "NoSuchBucket"


def test_one_account_never_touches_anothers_data(server, s3):
    s3.create_bucket(Bucket="private")
    s3.put_object(Bucket="private", Key="secret", Body=b"mine")
    _, key_id, secret = new_account(server, "mallory")
    other = server.client("s3", key_id, secret)
    for call in (
        lambda: other.get_object(Bucket="private", Key="secret"),
        lambda: other.head_object(Bucket="private", Key="secret"),
        lambda: other.put_object(Bucket="private", Key="x", Body=b"y"),
        lambda: other.delete_object(Bucket="private", Key="secret"),
        lambda: other.list_objects_v2(Bucket="private"),
        lambda: other.delete_bucket(Bucket="private"),
        lambda: other.create_multipart_upload(Bucket="private", Key="m"),
        lambda: other.copy_object(Bucket="mallory-b", Key="c", CopySource={"Bucket": "private", "Key": "secret"}),
    ):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call()
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] in (403, 404)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        other.create_bucket(Bucket="private")
    assert error_code(e) == "BucketAlreadyExists"
    assert "private" not in [b["Name"] for b in other.list_buckets()["Buckets"]]
    # Nothing changed for the owner.
    assert s3.get_object(Bucket="private", Key="secret")["Body"].read() == b"mine"
    assert [o["Key"] for o in s3.list_objects_v2(Bucket="private")["Contents"]] == ["secret"]
    # Anonymous requests see nothing either.
    anon = requests.get(f"{server.endpoint}/private/secret", timeout=10)
    assert anon.status_code == 403 and "<Code>AccessDenied</Code>" in anon.text


def test_virtual_hosted_style_and_wrong_region(server, s3):
    s3.create_bucket(Bucket="vhost")
    s3.put_object(Bucket="vhost", Key="k", Body=b"v")
    port = server.endpoint.rsplit(":", 1)[1]
    key_id, secret = server.admin_keys()
    creds = botocore.credentials.Credentials(key_id, secret)

    # Signed for vhost.localhost, sent to 127.0.0.1 (no DNS for *.localhost here).
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"http://vhost.localhost:{port}/k")
    botocore.auth.S3SigV4Auth(creds, "s3", REGION).add_auth(request)
    vhost_headers = {**dict(request.headers), "Host": f"vhost.localhost:{port}"}
    reply = requests.get(f"{server.endpoint}/k", headers=vhost_headers, timeout=10)
    assert reply.status_code == 200 and reply.content == b"v"
    listing = requests.get(f"{server.endpoint}/", headers=vhost_headers, timeout=10)
    assert listing.status_code == 403  # the signature was for /k, not /

    # Signed for another region: refused, naming ours, as AWS does.
    request = botocore.awsrequest.AWSRequest(method="GET", url=f"{server.endpoint}/vhost/k")
    botocore.auth.S3SigV4Auth(creds, "s3", "eu-west-1").add_auth(request)
    reply = requests.get(request.url, headers=dict(request.headers), timeout=10)
    assert reply.status_code == 400
    assert "<Code>AuthorizationHeaderMalformed</Code>" in reply.text and "<Region>us-east-1</Region>" in reply.text
    # boto3 configured for the wrong region follows that hint and succeeds.
    wrong = boto3.client("s3", endpoint_url=server.endpoint, region_name="eu-west-1",
                         aws_access_key_id=key_id, aws_secret_access_key=secret)
    assert wrong.get_object(Bucket="vhost", Key="k")["Body"].read() == b"v"


def test_kill9_during_concurrent_puts_keeps_every_acknowledged_object(tmp_path):
    srv = Server(tmp_path / "data").start()
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="crash")
    acknowledged = {}
    payloads = {f"obj-{i}": os.urandom(random.choice([100, 5000, 70_000, 300_000])) for i in range(400)}

    def put(key):
        try:
            s3.put_object(Bucket="crash", Key=key, Body=payloads[key])
            acknowledged[key] = hashlib.md5(payloads[key]).hexdigest()
        except Exception:  # the server died under this request
            pass

    def multipart(n):
        key = f"mp-{n}"
        try:
            up = s3.create_multipart_upload(Bucket="crash", Key=key)["UploadId"]
            parts = []
            for i in (1, 2):
                body = payloads.setdefault(f"{key}-{i}", os.urandom(5 * 1024 * 1024 if i == 1 else 1000))
                parts.append({"PartNumber": i, "ETag": s3.upload_part(Bucket="crash", Key=key, UploadId=up,
                                                                       PartNumber=i, Body=body)["ETag"]})
            s3.complete_multipart_upload(Bucket="crash", Key=key, UploadId=up, MultipartUpload={"Parts": parts})
            acknowledged[key] = hashlib.md5(payloads[f"{key}-1"] + payloads[f"{key}-2"]).hexdigest()
        except Exception:
            pass

    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as pool:
        futures = [pool.submit(put, k) for k in payloads if k.startswith("obj-")]
        futures += [pool.submit(multipart, n) for n in range(10)]
        time.sleep(1.5)
        srv.kill9()
        concurrent.futures.wait(futures)
    srv.start()
    try:
        s3 = srv.client("s3")
        assert acknowledged, "nothing was acknowledged before the kill; the test proves nothing"
        for key, md5 in acknowledged.items():
            body = s3.get_object(Bucket="crash", Key=key)["Body"].read()
            assert hashlib.md5(body).hexdigest() == md5, key
        # Whatever is visible is whole: every listed object reads back at its listed size.
        for obj in s3.list_objects_v2(Bucket="crash").get("Contents", []):
            body = s3.get_object(Bucket="crash", Key=obj["Key"])["Body"].read()
            assert len(body) == obj["Size"]
            expected = payloads.get(obj["Key"])
            if expected is not None:
                assert body == expected
    finally:
        srv.stop()

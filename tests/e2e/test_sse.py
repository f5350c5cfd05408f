"""Server-side encryption end to end with boto3 and aws-cli: SSE-S3 and SSE-C
round trips (single, multipart, copied), ranged reads across 64 KiB segment
edges, bucket default encryption, the classic "deny unless AES256" policy, a
data directory that never holds the plaintext, and kill -9 during an encrypted
multipart upload; SSE-KMS with keys made by `aws kms create-key`: round trips, the
account's aws/s3 key, bucket default, a disabled key making reads fail until it is
enabled again, and another account's key refused."""

import base64
import hashlib
import json
import os

import botocore.exceptions
import pytest
from conftest import new_account

SEG = 64 << 10
MIB = 1 << 20
# SSE-C is refused over plain HTTP unless the operator allows it; tests run over HTTP.
ARGS = ["--allow-sse-c-over-http=true"]


def pattern(n, seed=1):
    return bytes(((i * 2654435761) >> 7 ^ seed) & 0xFF for i in range(n))


def marked(n, marker):
    """n bytes with `marker` written every 4 KiB, so any stored plaintext shows."""
    data = bytearray(pattern(n, 5))
    for at in range(0, max(0, n - len(marker)), 4096):
        data[at : at + len(marker)] = marker
    return bytes(data)


def ssec(key=b"k" * 32):
    # boto3 base64-encodes the key and adds its MD5 itself.
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": key.decode()}


def error_of(call):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call()
    return e.value.response


@pytest.fixture
def s3srv(make_server):
    srv = make_server(extra_args=ARGS)
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="enc")
    return srv, s3


def test_sse_s3_round_trip_ranges_and_head(s3srv):
    _, s3 = s3srv
    data = pattern(3 * SEG + 5)
    put = s3.put_object(Bucket="enc", Key="o", Body=data, ServerSideEncryption="AES256")
    assert put["ServerSideEncryption"] == "AES256"
    # SSE-S3 keeps the MD5 ETag.
    assert put["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    head = s3.head_object(Bucket="enc", Key="o")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["ContentLength"] == len(data)
    assert s3.get_object(Bucket="enc", Key="o")["Body"].read() == data
    for a, b in [(0, 0), (SEG - 1, SEG), (SEG - 10, 2 * SEG + 10), (3 * SEG, 3 * SEG + 4), (5, 3 * SEG + 4)]:
        got = s3.get_object(Bucket="enc", Key="o", Range=f"bytes={a}-{b}")
        assert got["Body"].read() == data[a : b + 1], (a, b)
        assert got["ServerSideEncryption"] == "AES256"
    # An unencrypted object says nothing about encryption.
    s3.put_object(Bucket="enc", Key="plain", Body=b"x")
    assert "ServerSideEncryption" not in s3.head_object(Bucket="enc", Key="plain")


def test_sse_c_needs_its_key(s3srv):
    _, s3 = s3srv
    data = pattern(SEG + 100, 2)
    put = s3.put_object(Bucket="enc", Key="c", Body=data, **ssec())
    assert put["SSECustomerAlgorithm"] == "AES256"
    assert put["ETag"] != f'"{hashlib.md5(data).hexdigest()}"'
    got = s3.get_object(Bucket="enc", Key="c", **ssec())
    assert got["Body"].read() == data
    assert got["SSECustomerKeyMD5"] == base64.b64encode(hashlib.md5(b"k" * 32).digest()).decode()
    r = s3.get_object(Bucket="enc", Key="c", Range="bytes=65530-65545", **ssec())
    assert r["Body"].read() == data[65530:65546]
    err = error_of(lambda: s3.get_object(Bucket="enc", Key="c"))
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("InvalidRequest", 400)
    assert "Server Side Encryption" in err["Error"]["Message"]
    err = error_of(lambda: s3.get_object(Bucket="enc", Key="c", **ssec(b"w" * 32)))
    assert (err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]) == ("AccessDenied", 403)
    assert error_of(lambda: s3.head_object(Bucket="enc", Key="c"))["ResponseMetadata"]["HTTPStatusCode"] == 400
    # Copies: SSE-C -> SSE-S3 needs the source key; SSE-S3 -> SSE-C with a new key.
    s3.copy_object(
        Bucket="enc",
        Key="c2s3",
        CopySource={"Bucket": "enc", "Key": "c"},
        ServerSideEncryption="AES256",
        CopySourceSSECustomerAlgorithm="AES256",
        CopySourceSSECustomerKey=(b"k" * 32).decode(),
    )
    assert s3.get_object(Bucket="enc", Key="c2s3")["Body"].read() == data
    s3.copy_object(Bucket="enc", Key="s3toc", CopySource={"Bucket": "enc", "Key": "c2s3"}, **ssec(b"n" * 32))
    assert s3.get_object(Bucket="enc", Key="s3toc", **ssec(b"n" * 32))["Body"].read() == data
    err = error_of(lambda: s3.copy_object(Bucket="enc", Key="x", CopySource={"Bucket": "enc", "Key": "c"}))
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400


@pytest.mark.parametrize("mode", ["sse-s3", "sse-c"])
def test_encrypted_multipart_upload(s3srv, mode):
    _, s3 = s3srv
    extra = {"ServerSideEncryption": "AES256"} if mode == "sse-s3" else ssec()
    part_extra = {} if mode == "sse-s3" else ssec()
    mpu = s3.create_multipart_upload(Bucket="enc", Key="m", **extra)
    parts = [pattern(5 * MIB + 7, 1), pattern(SEG * 2 + 1, 2)]
    done = []
    for n, body in enumerate(parts, 1):
        if mode == "sse-c":
            # The upload's key must come with every part.
            err = error_of(lambda: s3.upload_part(Bucket="enc", Key="m", UploadId=mpu["UploadId"], PartNumber=n, Body=body))
            assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
        r = s3.upload_part(Bucket="enc", Key="m", UploadId=mpu["UploadId"], PartNumber=n, Body=body, **part_extra)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket="enc", Key="m", UploadId=mpu["UploadId"], MultipartUpload={"Parts": done})
    whole = b"".join(parts)
    assert s3.get_object(Bucket="enc", Key="m", **part_extra)["Body"].read() == whole
    assert s3.get_object(Bucket="enc", Key="m", PartNumber=2, **part_extra)["Body"].read() == parts[1]
    a = 5 * MIB - 3
    got = s3.get_object(Bucket="enc", Key="m", Range=f"bytes={a}-{a + 20}", **part_extra)
    assert got["Body"].read() == whole[a : a + 21]
    # UploadPartCopy from an SSE-S3 object into this kind of upload.
    s3.put_object(Bucket="enc", Key="src", Body=pattern(6 * MIB, 3), ServerSideEncryption="AES256")
    mpu = s3.create_multipart_upload(Bucket="enc", Key="pc", **extra)
    r = s3.upload_part_copy(
        Bucket="enc", Key="pc", UploadId=mpu["UploadId"], PartNumber=1, CopySource={"Bucket": "enc", "Key": "src"}, CopySourceRange="bytes=0-5242880", **part_extra
    )
    s3.complete_multipart_upload(
        Bucket="enc", Key="pc", UploadId=mpu["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["CopyPartResult"]["ETag"]}]}
    )
    assert s3.get_object(Bucket="enc", Key="pc", **part_extra)["Body"].read() == pattern(6 * MIB, 3)[: 5 * MIB + 1]


def test_bucket_default_encryption_with_aws_cli(s3srv):
    srv, s3 = s3srv
    p = srv.aws("s3api", "get-bucket-encryption", "--bucket", "enc", check=False)
    assert p.returncode != 0 and "ServerSideEncryptionConfigurationNotFoundError" in p.stderr
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]}
    srv.aws("s3api", "put-bucket-encryption", "--bucket", "enc", "--server-side-encryption-configuration", json.dumps(cfg))
    got = json.loads(srv.aws("s3api", "get-bucket-encryption", "--bucket", "enc").stdout)
    rule = got["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
    assert rule["BucketKeyEnabled"] is True
    # An upload that names no encryption gets the default.
    s3.put_object(Bucket="enc", Key="d", Body=b"defaulted")
    head = s3.head_object(Bucket="enc", Key="d")
    assert head["ServerSideEncryption"] == "AES256"
    assert head["BucketKeyEnabled"] is True
    srv.aws("s3api", "delete-bucket-encryption", "--bucket", "enc")
    s3.put_object(Bucket="enc", Key="e", Body=b"plain")
    assert "ServerSideEncryption" not in s3.head_object(Bucket="enc", Key="e")


def test_aws_cli_sse_and_sse_c_copies(s3srv, tmp_path):
    srv, s3 = s3srv
    src = tmp_path / "f"
    data = pattern(3 * SEG + 11, 4)
    src.write_bytes(data)
    srv.aws("s3", "cp", str(src), "s3://enc/cli-s3", "--sse", "AES256")
    assert s3.head_object(Bucket="enc", Key="cli-s3")["ServerSideEncryption"] == "AES256"
    key = "0123456789abcdef0123456789abcdef"
    srv.aws("s3", "cp", str(src), "s3://enc/cli-c", "--sse-c", "AES256", "--sse-c-key", key)
    out = tmp_path / "back"
    srv.aws("s3", "cp", "s3://enc/cli-c", str(out), "--sse-c", "AES256", "--sse-c-key", key)
    assert out.read_bytes() == data
    # Server-side copy of the SSE-C object to SSE-S3.
    srv.aws(
        "s3", "cp", "s3://enc/cli-c", "s3://enc/cli-copy", "--sse-c-copy-source", "AES256", "--sse-c-copy-source-key", key, "--sse", "AES256"
    )
    assert s3.get_object(Bucket="enc", Key="cli-copy")["Body"].read() == data


def test_policy_can_require_aes256(s3srv):
    _, s3 = s3srv
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": "arn:aws:s3:::enc/*",
                "Condition": {"StringNotEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket="enc", Policy=json.dumps(policy))
    err = error_of(lambda: s3.put_object(Bucket="enc", Key="p", Body=b"x"))
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 403
    s3.put_object(Bucket="enc", Key="p", Body=b"x", ServerSideEncryption="AES256")


def test_data_dir_never_holds_plaintext(make_server):
    srv = make_server(extra_args=ARGS)
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="enc")
    marker = b"SECRET-PLAINTEXT-MARKER-93f1"
    control = b"PUBLIC-CONTROL-MARKER-11aa"
    s3.put_object(Bucket="enc", Key="inline", Body=marked(2000, marker), ServerSideEncryption="AES256")
    s3.put_object(Bucket="enc", Key="blob", Body=marked(300_000, marker), ServerSideEncryption="AES256")
    s3.put_object(Bucket="enc", Key="c", Body=marked(300_000, marker), **ssec())
    s3.put_object(Bucket="enc", Key="kms", Body=marked(300_000, marker), ServerSideEncryption="aws:kms")
    s3.put_object(Bucket="enc", Key="kms-bk", Body=marked(300_000, marker), ServerSideEncryption="aws:kms", BucketKeyEnabled=True)
    mpu = s3.create_multipart_upload(Bucket="enc", Key="m", ServerSideEncryption="AES256")
    r = s3.upload_part(Bucket="enc", Key="m", UploadId=mpu["UploadId"], PartNumber=1, Body=marked(100_000, marker))
    s3.complete_multipart_upload(Bucket="enc", Key="m", UploadId=mpu["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]})
    # The control shows the search sees what is stored in plaintext.
    s3.put_object(Bucket="enc", Key="plain", Body=marked(2000, control))
    srv.stop()
    found_marker, found_control = [], []
    for root, _, files in os.walk(srv.data_dir):
        for name in files:
            path = os.path.join(root, name)
            if not os.path.isfile(path):
                continue  # a socket the server left (compute's network)
            blob = open(path, "rb").read()
            if marker in blob:
                found_marker.append(path)
            if control in blob:
                found_control.append(path)
    assert found_control, "the control marker should be found in the metadata file"
    assert found_marker == []


def test_kill9_during_encrypted_multipart_keeps_acknowledged_parts(make_server):
    srv = make_server(extra_args=ARGS)
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="enc")
    mpu = s3.create_multipart_upload(Bucket="enc", Key="k", ServerSideEncryption="AES256")
    p1 = pattern(5 * MIB, 7)
    r1 = s3.upload_part(Bucket="enc", Key="k", UploadId=mpu["UploadId"], PartNumber=1, Body=p1)
    srv.kill9()
    srv.start()
    s3 = srv.client("s3")
    listed = s3.list_parts(Bucket="enc", Key="k", UploadId=mpu["UploadId"])
    assert [(p["PartNumber"], p["ETag"]) for p in listed["Parts"]] == [(1, r1["ETag"])]
    p2 = pattern(1000, 8)
    r2 = s3.upload_part(Bucket="enc", Key="k", UploadId=mpu["UploadId"], PartNumber=2, Body=p2)
    s3.complete_multipart_upload(
        Bucket="enc",
        Key="k",
        UploadId=mpu["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r1["ETag"]}, {"PartNumber": 2, "ETag": r2["ETag"]}]},
    )
    got = s3.get_object(Bucket="enc", Key="k")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == p1 + p2


def test_sse_c_is_refused_over_http_by_default(server):
    s3 = server.client("s3")
    s3.create_bucket(Bucket="enc")
    err = error_of(lambda: s3.put_object(Bucket="enc", Key="c", Body=b"x", **ssec()))
    assert err["Error"]["Code"] == "InvalidRequest"
    assert "secure connection" in err["Error"]["Message"]


def test_browser_post_upload_with_sse_fields(s3srv):
    import requests

    srv, s3 = s3srv
    v4 = srv.client("s3", signature_version="s3v4")
    post = v4.generate_presigned_post(
        "enc",
        "posted",
        Fields={"x-amz-server-side-encryption": "AES256"},
        Conditions=[{"x-amz-server-side-encryption": "AES256"}],
        ExpiresIn=600,
    )
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("f.txt", b"form body")}, timeout=10)
    assert sent.status_code == 204, sent.text
    assert sent.headers["x-amz-server-side-encryption"] == "AES256"
    got = s3.get_object(Bucket="enc", Key="posted")
    assert got["ServerSideEncryption"] == "AES256"
    assert got["Body"].read() == b"form body"


def kms_key(srv):
    """A new KMS key of the admin account, made with aws-cli: (key id, ARN)."""
    meta = json.loads(srv.aws("kms", "create-key", "--description", "sse test").stdout)["KeyMetadata"]
    return meta["KeyId"], meta["Arn"]


def test_sse_kms_round_trips_single_multipart_and_copied(s3srv):
    srv, s3 = s3srv
    key_id, arn = kms_key(srv)
    data = pattern(2 * SEG + 99, 9)
    put = s3.put_object(Bucket="enc", Key="k", Body=data, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == arn
    head = s3.head_object(Bucket="enc", Key="k")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", arn)
    assert s3.get_object(Bucket="enc", Key="k")["Body"].read() == data
    got = s3.get_object(Bucket="enc", Key="k", Range=f"bytes={SEG - 3}-{SEG + 3}")
    assert got["Body"].read() == data[SEG - 3 : SEG + 4]
    assert got["SSEKMSKeyId"] == arn

    # No key id: the account's AWS-managed aws/s3 key, made on first use.
    s3.put_object(Bucket="enc", Key="managed", Body=b"m", ServerSideEncryption="aws:kms")
    managed = s3.head_object(Bucket="enc", Key="managed")["SSEKMSKeyId"]
    aliases = json.loads(srv.aws("kms", "list-aliases").stdout)["Aliases"]
    target = [a["TargetKeyId"] for a in aliases if a["AliasName"] == "alias/aws/s3"]
    assert target and managed.endswith(target[0])
    assert s3.get_object(Bucket="enc", Key="managed")["Body"].read() == b"m"

    # Multipart: the upload's key covers every part.
    mpu = s3.create_multipart_upload(Bucket="enc", Key="mk", ServerSideEncryption="aws:kms", SSEKMSKeyId=arn)
    assert mpu["SSEKMSKeyId"] == arn
    parts = [pattern(5 * MIB, 10), pattern(SEG + 1, 11)]
    done = []
    for n, body in enumerate(parts, 1):
        r = s3.upload_part(Bucket="enc", Key="mk", UploadId=mpu["UploadId"], PartNumber=n, Body=body)
        done.append({"PartNumber": n, "ETag": r["ETag"]})
    s3.complete_multipart_upload(Bucket="enc", Key="mk", UploadId=mpu["UploadId"], MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket="enc", Key="mk")["Body"].read() == b"".join(parts)
    assert s3.head_object(Bucket="enc", Key="mk")["SSEKMSKeyId"] == arn

    # Copies across kinds: KMS to plaintext, SSE-S3 to KMS.
    s3.copy_object(Bucket="enc", Key="plain-copy", CopySource={"Bucket": "enc", "Key": "k"})
    assert "ServerSideEncryption" not in s3.head_object(Bucket="enc", Key="plain-copy")
    assert s3.get_object(Bucket="enc", Key="plain-copy")["Body"].read() == data
    s3.put_object(Bucket="enc", Key="s3", Body=data, ServerSideEncryption="AES256")
    s3.copy_object(
        Bucket="enc", Key="kms-copy", CopySource={"Bucket": "enc", "Key": "s3"}, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id
    )
    assert s3.head_object(Bucket="enc", Key="kms-copy")["SSEKMSKeyId"] == arn
    assert s3.get_object(Bucket="enc", Key="kms-copy")["Body"].read() == data

    # A bucket default naming the key applies to an upload that names nothing.
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}}]}
    s3.put_bucket_encryption(Bucket="enc", ServerSideEncryptionConfiguration=cfg)
    s3.put_object(Bucket="enc", Key="defaulted", Body=b"d")
    assert s3.head_object(Bucket="enc", Key="defaulted")["SSEKMSKeyId"] == arn

    # An unknown key is KMS's error, and nothing is stored.
    err = error_of(lambda: s3.put_object(Bucket="enc", Key="nokey", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="alias/missing"))
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "KMS.NotFoundException"
    assert error_of(lambda: s3.head_object(Bucket="enc", Key="nokey"))["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_sse_kms_with_a_bucket_key(s3srv):
    """BucketKeyEnabled: objects sealed under one bucket-level key the KMS made, each
    with a data key of its own; reads, ranges, multipart and a bucket default work."""
    srv, s3 = s3srv
    key_id, arn = kms_key(srv)
    bodies = {f"bk{i}": pattern(SEG + 7 * i, 20 + i) for i in range(3)}
    for name, body in bodies.items():
        put = s3.put_object(
            Bucket="enc", Key=name, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id, BucketKeyEnabled=True
        )
        assert (put["SSEKMSKeyId"], put["BucketKeyEnabled"]) == (arn, True)
    for name, body in bodies.items():
        got = s3.get_object(Bucket="enc", Key=name)
        assert got["Body"].read() == body
        assert (got["SSEKMSKeyId"], got["BucketKeyEnabled"]) == (arn, True)
        part = s3.get_object(Bucket="enc", Key=name, Range=f"bytes={SEG - 2}-{SEG + 2}")["Body"].read()
        assert part == body[SEG - 2 : SEG + 3]
    mpu = s3.create_multipart_upload(Bucket="enc", Key="bkm", ServerSideEncryption="aws:kms", SSEKMSKeyId=arn, BucketKeyEnabled=True)
    r = s3.upload_part(Bucket="enc", Key="bkm", UploadId=mpu["UploadId"], PartNumber=1, Body=b"part one")
    s3.complete_multipart_upload(
        Bucket="enc", Key="bkm", UploadId=mpu["UploadId"], MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]}]}
    )
    assert s3.get_object(Bucket="enc", Key="bkm")["Body"].read() == b"part one"
    cfg = {"Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn}, "BucketKeyEnabled": True}]}
    s3.put_bucket_encryption(Bucket="enc", ServerSideEncryptionConfiguration=cfg)
    s3.put_object(Bucket="enc", Key="bkd", Body=b"defaulted")
    head = s3.head_object(Bucket="enc", Key="bkd")
    assert (head["SSEKMSKeyId"], head["BucketKeyEnabled"]) == (arn, True)
    assert s3.get_object(Bucket="enc", Key="bkd")["Body"].read() == b"defaulted"


def test_a_disabled_key_makes_reads_fail_until_enabled(s3srv):
    srv, s3 = s3srv
    key_id, _ = kms_key(srv)
    s3.put_object(Bucket="enc", Key="d", Body=b"guarded", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    srv.aws("kms", "disable-key", "--key-id", key_id)
    err = error_of(lambda: s3.get_object(Bucket="enc", Key="d"))
    assert err["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert err["Error"]["Code"] == "KMS.DisabledException"
    assert b"guarded" not in json.dumps(err, default=str).encode()
    err = error_of(lambda: s3.put_object(Bucket="enc", Key="d2", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id))
    assert err["Error"]["Code"] == "KMS.DisabledException"
    srv.aws("kms", "enable-key", "--key-id", key_id)
    assert s3.get_object(Bucket="enc", Key="d")["Body"].read() == b"guarded"


def test_another_accounts_key_is_not_usable(s3srv):
    srv, s3 = s3srv
    _, arn = kms_key(srv)
    _, key, secret = new_account(srv, "other")
    other = srv.client("s3", key, secret)
    other.create_bucket(Bucket="others")
    err = error_of(lambda: other.put_object(Bucket="others", Key="o", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=arn))
    assert err["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)
    assert err["Error"]["Code"] in ("KMS.NotFoundException", "AccessDenied")

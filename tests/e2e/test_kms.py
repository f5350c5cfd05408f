"""The built-in KMS through real clients (aws-cli and boto3's kms client) on the
real server: keys, aliases, encryption with context, data keys, re-encryption,
key states, deletion, rotation, key policies, account isolation, JSON errors,
durability across kill -9, and metering of every cryptographic request."""

import base64
import json
import time
from decimal import Decimal

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import REGION, Server, error_code, new_account, nomuck


def kms_of(srv, key=None, secret=None):
    return srv.client("kms", key, secret)


def raw(srv, target, body, key=None, secret=None):
    """A SigV4-signed JSON 1.1 request to the kms scope, as any SDK sends it."""
    if key is None:
        key, secret = srv.admin_keys()
    req = botocore.awsrequest.AWSRequest(
        method="POST",
        url=srv.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-amz-json-1.1", "X-Amz-Target": target},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key, secret), "kms", REGION).add_auth(req)
    return requests.post(srv.endpoint + "/", data=body, headers=dict(req.headers), timeout=10)


def test_aws_cli_create_key_encrypt_decrypt_with_context(server, tmp_path):
    out = json.loads(server.aws("kms", "create-key", "--description", "app data", "--output", "json").stdout)
    meta = out["KeyMetadata"]
    key_id = meta["KeyId"]
    assert meta["Arn"].startswith("arn:aws:kms:us-east-1:") and meta["Arn"].endswith(f":key/{key_id}")
    assert (meta["KeyState"], meta["Enabled"], meta["KeyManager"]) == ("Enabled", True, "CUSTOMER")
    assert (meta["KeySpec"], meta["KeyUsage"], meta["Description"]) == ("SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT", "app data")

    (tmp_path / "plain").write_bytes(b"top secret\n")
    ct = server.aws("kms", "encrypt", "--key-id", key_id, "--plaintext", f"fileb://{tmp_path / 'plain'}",
                    "--encryption-context", "purpose=test", "--query", "CiphertextBlob", "--output", "text").stdout.strip()
    (tmp_path / "ct").write_bytes(base64.b64decode(ct))
    # No --key-id: the ciphertext names its key.
    plain = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct'}",
                       "--encryption-context", "purpose=test", "--query", "Plaintext", "--output", "text").stdout.strip()
    assert base64.b64decode(plain) == b"top secret\n"
    wrong = server.aws("kms", "decrypt", "--ciphertext-blob", f"fileb://{tmp_path / 'ct'}",
                       "--encryption-context", "purpose=other", check=False)
    assert wrong.returncode != 0 and "InvalidCiphertextException" in wrong.stderr


def test_aliases_data_keys_and_re_encrypt(server):
    kms = kms_of(server)
    a = kms.create_key()["KeyMetadata"]
    b = kms.create_key(Description="second")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=a["KeyId"])
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/app", TargetKeyId=b["KeyId"])
    assert error_code(e) == "AlreadyExistsException"
    with pytest.raises(ClientError) as e:
        kms.create_alias(AliasName="alias/aws/mine", TargetKeyId=b["KeyId"])
    assert error_code(e) == "InvalidAliasNameException"
    aliases = kms.list_aliases()["Aliases"]
    assert [(x["AliasName"], x["TargetKeyId"]) for x in aliases] == [("alias/app", a["KeyId"])]
    assert aliases[0]["AliasArn"] == a["Arn"].rsplit(":", 1)[0] + ":alias/app"
    assert kms.describe_key(KeyId="alias/app")["KeyMetadata"]["KeyId"] == a["KeyId"]
    assert {k["KeyId"] for k in kms.list_keys()["Keys"]} == {a["KeyId"], b["KeyId"]}

    ctx = {"bucket": "b1", "key": "k"}
    dk = kms.generate_data_key(KeyId="alias/app", KeySpec="AES_256", EncryptionContext=ctx)
    assert len(dk["Plaintext"]) == 32 and dk["KeyId"] == a["Arn"]
    assert kms.decrypt(CiphertextBlob=dk["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"] == dk["Plaintext"]
    assert len(kms.generate_data_key(KeyId=a["KeyId"], KeySpec="AES_128")["Plaintext"]) == 16
    assert len(kms.generate_data_key(KeyId=a["KeyId"], NumberOfBytes=64)["Plaintext"]) == 64
    wo = kms.generate_data_key_without_plaintext(KeyId=a["KeyId"], KeySpec="AES_256", EncryptionContext=ctx)
    assert "Plaintext" not in wo
    assert len(kms.decrypt(CiphertextBlob=wo["CiphertextBlob"], EncryptionContext=ctx)["Plaintext"]) == 32

    re = kms.re_encrypt(CiphertextBlob=dk["CiphertextBlob"], SourceEncryptionContext=ctx,
                        DestinationKeyId=b["KeyId"], DestinationEncryptionContext={"moved": "yes"})
    assert (re["SourceKeyId"], re["KeyId"]) == (a["Arn"], b["Arn"])
    out = kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"moved": "yes"})
    assert (out["Plaintext"], out["KeyId"]) == (dk["Plaintext"], b["Arn"])
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=re["CiphertextBlob"], EncryptionContext={"moved": "yes"}, KeyId=a["KeyId"])
    assert error_code(e) == "IncorrectKeyException"

    kms.update_alias(AliasName="alias/app", TargetKeyId=b["KeyId"])
    assert kms.encrypt(KeyId="alias/app", Plaintext=b"x")["KeyId"] == b["Arn"]
    kms.delete_alias(AliasName="alias/app")
    with pytest.raises(ClientError) as e:
        kms.describe_key(KeyId="alias/app")
    assert error_code(e) == "NotFoundException"

    kms.tag_resource(KeyId=a["KeyId"], Tags=[{"TagKey": "team", "TagValue": "x"}])
    assert kms.list_resource_tags(KeyId=a["KeyId"])["Tags"] == [{"TagKey": "team", "TagValue": "x"}]
    kms.untag_resource(KeyId=a["KeyId"], TagKeys=["team"])
    assert kms.list_resource_tags(KeyId=a["KeyId"])["Tags"] == []


def test_disable_enable_schedule_and_cancel_deletion(server):
    kms = kms_of(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    ct = kms.encrypt(KeyId=key, Plaintext=b"data")["CiphertextBlob"]
    kms.disable_key(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"
    for call in (lambda: kms.encrypt(KeyId=key, Plaintext=b"x"), lambda: kms.decrypt(CiphertextBlob=ct)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "DisabledException"
    kms.enable_key(KeyId=key)
    assert kms.decrypt(CiphertextBlob=ct)["Plaintext"] == b"data"

    with pytest.raises(ClientError) as e:
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=5)
    assert error_code(e) == "ValidationException"
    out = kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
    assert out["KeyState"] == "PendingDeletion" and out["PendingWindowInDays"] == 7
    assert out["DeletionDate"].timestamp() > time.time() + 6 * 86400
    with pytest.raises(ClientError) as e:
        kms.decrypt(CiphertextBlob=ct)
    assert error_code(e) == "KMSInvalidStateException"
    kms.cancel_key_deletion(KeyId=key)
    assert kms.describe_key(KeyId=key)["KeyMetadata"]["KeyState"] == "Disabled"


def test_rotation_keeps_old_material(server):
    kms = kms_of(server)
    key = kms.create_key()["KeyMetadata"]["KeyId"]
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False
    old = kms.encrypt(KeyId=key, Plaintext=b"before")["CiphertextBlob"]
    kms.enable_key_rotation(KeyId=key)
    status = kms.get_key_rotation_status(KeyId=key)
    assert status["KeyRotationEnabled"] is True and status["RotationPeriodInDays"] == 365
    kms.rotate_key_on_demand(KeyId=key)
    new = kms.encrypt(KeyId=key, Plaintext=b"after")["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=old)["Plaintext"] == b"before"
    assert kms.decrypt(CiphertextBlob=new)["Plaintext"] == b"after"
    kms.disable_key_rotation(KeyId=key)
    assert kms.get_key_rotation_status(KeyId=key)["KeyRotationEnabled"] is False


def test_key_policy_can_deny_and_grant_another_account_by_arn(server):
    kms = kms_of(server)
    me = server.client("sts").get_caller_identity()["Account"]
    other_id, okey, osecret = new_account(server, "other")
    theirs = kms_of(server, okey, osecret)
    meta = kms.create_key()["KeyMetadata"]
    key, arn = meta["KeyId"], meta["Arn"]
    default = json.loads(kms.get_key_policy(KeyId=key, PolicyName="default")["Policy"])
    assert default["Statement"][0]["Principal"] == {"AWS": f"arn:aws:iam::{me}:root"}
    assert default["Statement"][0]["Action"] == "kms:*"
    assert kms.list_key_policies(KeyId=key)["PolicyNames"] == ["default"]
    ct = kms.encrypt(KeyId=key, Plaintext=b"shared")["CiphertextBlob"]

    # Another account sees nothing by id and may use nothing by ARN.
    with pytest.raises(ClientError) as e:
        theirs.describe_key(KeyId=key)
    assert error_code(e) == "NotFoundException"
    for call in (lambda: theirs.encrypt(KeyId=arn, Plaintext=b"x"), lambda: theirs.decrypt(CiphertextBlob=ct)):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
    assert theirs.list_keys()["Keys"] == []

    doc = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{me}:root"}, "Action": "kms:*", "Resource": "*"},
        {"Effect": "Deny", "Principal": {"AWS": me}, "Action": "kms:Encrypt", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_id}:root"},
         "Action": ["kms:Decrypt", "kms:DescribeKey"], "Resource": "*"},
    ]}
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(doc))
    with pytest.raises(ClientError) as e:
        kms.encrypt(KeyId=key, Plaintext=b"x")
    assert error_code(e) == "AccessDeniedException"
    assert theirs.decrypt(CiphertextBlob=ct)["Plaintext"] == b"shared"
    assert theirs.describe_key(KeyId=arn)["KeyMetadata"]["KeyId"] == key
    with pytest.raises(ClientError) as e:
        theirs.disable_key(KeyId=arn)
    assert error_code(e) == "NotFoundException"

    for bad in ("{", json.dumps({"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject", "Resource": "*"}]}),
                json.dumps({"Statement": [{"Effect": "Allow", "Principal": {"AWS": me}, "Action": "kms:Encrypt", "Resource": "*"}]})):
        with pytest.raises(ClientError) as e:
            kms.put_key_policy(KeyId=key, PolicyName="default", Policy=bad)
        assert error_code(e) == "MalformedPolicyDocumentException"


def test_the_admin_is_not_special_for_another_accounts_keys(server):
    _, okey, osecret = new_account(server, "owner")
    theirs = kms_of(server, okey, osecret)
    meta = theirs.create_key()["KeyMetadata"]
    ct = theirs.encrypt(KeyId=meta["KeyId"], Plaintext=b"private")["CiphertextBlob"]
    admin = kms_of(server)
    for call in (lambda: admin.decrypt(CiphertextBlob=ct),
                 lambda: admin.encrypt(KeyId=meta["Arn"], Plaintext=b"x"),
                 lambda: admin.describe_key(KeyId=meta["Arn"])):
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == "AccessDeniedException"
    with pytest.raises(ClientError) as e:
        admin.schedule_key_deletion(KeyId=meta["Arn"], PendingWindowInDays=7)
    assert error_code(e) == "NotFoundException"
    assert admin.list_keys()["Keys"] == []


def test_bad_input_gets_json_errors(server):
    r = raw(server, "TrentService.NoSuchThing", "{}")
    assert r.status_code == 400 and r.json()["__type"] == "UnknownOperationException"
    r = raw(server, "TrentService.DescribeKey", "{}")
    assert r.status_code == 400 and r.json()["__type"] == "ValidationException"
    assert r.headers["Content-Type"] == "application/x-amz-json-1.1"
    r = raw(server, "TrentService.DescribeKey", json.dumps({"KeyId": "no-such-key"}))
    assert r.json()["__type"] == "NotFoundException"
    r = raw(server, "TrentService.Decrypt", json.dumps({"CiphertextBlob": "!!!"}))
    assert r.json()["__type"] == "SerializationException"
    r = raw(server, "TrentService.Decrypt", json.dumps({"CiphertextBlob": base64.b64encode(b"x" * 80).decode()}))
    assert r.json()["__type"] == "InvalidCiphertextException"
    r = raw(server, "TrentService.CreateKey", json.dumps({"KeySpec": "RSA_2048"}))
    assert r.json()["__type"] == "UnsupportedOperationException"
    r = raw(server, "TrentService.GenerateDataKey", json.dumps({"KeyId": "alias/none", "NumberOfBytes": 5000}))
    assert r.json()["__type"] == "ValidationException"
    r = raw(server, "TrentService.CreateKey", "not json")
    assert r.json()["__type"] == "SerializationException"
    r = raw(server, "TrentService.ListKeys", json.dumps({"Limit": 0}))
    assert r.json()["__type"] == "ValidationException"


def test_kill_9_keeps_keys_and_ciphertexts(tmp_path):
    srv = Server(tmp_path / "data").start()
    try:
        kms = kms_of(srv)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        kms.create_alias(AliasName="alias/durable", TargetKeyId=key)
        ct = kms.encrypt(KeyId=key, Plaintext=b"survives", EncryptionContext={"a": "b"})["CiphertextBlob"]
        srv.kill9()
        srv.start()
        kms = kms_of(srv)
        assert kms.decrypt(CiphertextBlob=ct, EncryptionContext={"a": "b"})["Plaintext"] == b"survives"
        assert kms.describe_key(KeyId="alias/durable")["KeyMetadata"]["KeyId"] == key
        # Key material is sealed: the database never holds it in the clear,
        # and the plaintext of what it encrypted is nowhere in the directory.
        for f in (tmp_path / "data").rglob("*"):
            if f.is_file():
                assert b"survives" not in f.read_bytes(), f
    finally:
        srv.stop()


def test_deleted_key_is_gone_at_its_date_and_its_ciphertexts_undecryptable(tmp_path):
    # A day of one second: a 7-day window ends 7 seconds later.
    srv = Server(tmp_path / "data", ["--lifecycle-day-secs", "1"]).start()
    try:
        kms = kms_of(srv)
        key = kms.create_key()["KeyMetadata"]["KeyId"]
        ct = kms.encrypt(KeyId=key, Plaintext=b"doomed")["CiphertextBlob"]
        kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7)
        deadline = time.monotonic() + 30
        while True:
            try:
                kms.describe_key(KeyId=key)
            except ClientError as e:
                assert e.response["Error"]["Code"] == "NotFoundException"
                break
            assert time.monotonic() < deadline, "key was not deleted"
            time.sleep(0.5)
        with pytest.raises(ClientError) as e:
            kms.decrypt(CiphertextBlob=ct)
        assert error_code(e) == "InvalidCiphertextException"
    finally:
        srv.stop()


def test_every_cryptographic_request_is_metered_to_the_requester(server):
    account, key, secret = new_account(server, "payer")
    kms = kms_of(server, key, secret)
    k = kms.create_key()["KeyMetadata"]["KeyId"]
    ct = kms.encrypt(KeyId=k, Plaintext=b"x")["CiphertextBlob"]
    kms.decrypt(CiphertextBlob=ct)
    kms.generate_data_key(KeyId=k, KeySpec="AES_256")
    kms.generate_data_key_without_plaintext(KeyId=k, KeySpec="AES_256")
    kms.re_encrypt(CiphertextBlob=ct, DestinationKeyId=k)
    kms.describe_key(KeyId=k)  # not cryptographic: not metered
    deadline = time.monotonic() + 20
    while True:
        b = json.loads(nomuck(server.data_dir, "bill", "show", "--account", account, "--json").stdout)
        line = {l["usage_type"]: l for l in b["lines"]}.get("KMS-Requests")
        if line and Decimal(line["quantity"]) >= 5:
            break
        assert time.monotonic() < deadline, b
        time.sleep(0.3)
    assert Decimal(line["quantity"]) == 5
    assert line["service"] == "AWS Key Management Service"
    assert Decimal(line["rate"]) == Decimal("0.000003")

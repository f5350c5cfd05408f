"""Storage access control and versioning (issue 4): bucket policies, ACLs, public
access block and versions, driven with boto3 and plain HTTP against nomuck."""

import json

import botocore.exceptions
import pytest
import requests

from conftest import error_code, policy






def test_public_prefix_policy_reads_anonymously_and_nothing_else(server, s3):
    s3.create_bucket(Bucket="site")
    s3.put_object(Bucket="site", Key="public/index.html", Body=b"<h1>hi</h1>")
    s3.put_object(Bucket="site", Key="private/secret.txt", Body=b"secret")
    url = f"{server.endpoint}/site"
    assert requests.get(f"{url}/public/index.html", timeout=10).status_code == 403

    s3.put_bucket_policy(Bucket="site", Policy=policy({
        "Sid": "PublicRead", "Effect": "Allow", "Principal": "*",
        "Action": "s3:GetObject", "Resource": "arn:aws:s3:::site/public/*"}))
    assert s3.get_bucket_policy_status(Bucket="site")["PolicyStatus"]["IsPublic"] is True
    got = requests.get(f"{url}/public/index.html", timeout=10)
    assert got.status_code == 200 and got.content == b"<h1>hi</h1>"
    # Nothing else: other keys, listing, writes and deletes stay private.
    assert requests.get(f"{url}/private/secret.txt", timeout=10).status_code == 403
    assert requests.get(f"{url}/public/missing", timeout=10).status_code == 403
    assert requests.get(url, timeout=10).status_code == 403
    assert requests.put(f"{url}/public/new", data=b"x", timeout=10).status_code == 403
    assert requests.delete(f"{url}/public/index.html", timeout=10).status_code == 403
    assert json.loads(s3.get_bucket_policy(Bucket="site")["Policy"])["Statement"][0]["Sid"] == "PublicRead"

    # A public access block with RestrictPublicBuckets makes the policy grant nothing.
    s3.put_public_access_block(Bucket="site", PublicAccessBlockConfiguration={
        "BlockPublicAcls": False, "IgnorePublicAcls": False,
        "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    assert requests.get(f"{url}/public/index.html", timeout=10).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="site", Policy=policy({
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::site/*"}))
    assert error_code(e) == "AccessDenied"
    s3.delete_public_access_block(Bucket="site")
    assert requests.get(f"{url}/public/index.html", timeout=10).status_code == 200

    s3.delete_bucket_policy(Bucket="site")
    assert requests.get(f"{url}/public/index.html", timeout=10).status_code == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_policy(Bucket="site")
    assert error_code(e) == "NoSuchBucketPolicy"


def test_policy_grant_to_another_account_and_its_revocation(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="shared")
    s3.put_object(Bucket="shared", Key="report.csv", Body=b"a,b")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_object(Bucket="shared", Key="report.csv")
    assert error_code(e) == "AccessDenied"

    s3.put_bucket_policy(Bucket="shared", Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{other_id}:root"},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": ["arn:aws:s3:::shared", "arn:aws:s3:::shared/*"]}))
    assert client.get_object(Bucket="shared", Key="report.csv")["Body"].read() == b"a,b"
    assert [o["Key"] for o in client.list_objects_v2(Bucket="shared")["Contents"]] == ["report.csv"]
    # Read, not write; and anonymous callers still get nothing.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.put_object(Bucket="shared", Key="x", Body=b"x")
    assert error_code(e) == "AccessDenied"
    assert requests.get(f"{server.endpoint}/shared/report.csv", timeout=10).status_code == 403
    # Policy management stays with the owner.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.delete_bucket_policy(Bucket="shared")
    assert error_code(e) == "AccessDenied"

    s3.delete_bucket_policy(Bucket="shared")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_object(Bucket="shared", Key="report.csv")
    assert error_code(e) == "AccessDenied"


def test_explicit_deny_beats_allow_and_conditions_apply(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="guarded")
    s3.put_object(Bucket="guarded", Key="docs/a", Body=b"a")
    s3.put_object(Bucket="guarded", Key="docs/locked", Body=b"l")
    s3.put_bucket_policy(Bucket="guarded", Policy=policy(
        {"Effect": "Allow", "Principal": {"AWS": other_id}, "Action": "s3:*",
         "Resource": ["arn:aws:s3:::guarded", "arn:aws:s3:::guarded/*"]},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::guarded/docs/locked"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::guarded",
         "Condition": {"StringNotLike": {"s3:prefix": "docs/*"}}}))
    assert client.get_object(Bucket="guarded", Key="docs/a")["Body"].read() == b"a"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_object(Bucket="guarded", Key="docs/locked")
    assert error_code(e) == "AccessDenied"
    # The deny holds for the bucket owner too.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="guarded", Key="docs/locked")
    assert error_code(e) == "AccessDenied"
    # s3:prefix: listing is denied unless it stays under docs/.
    assert len(client.list_objects_v2(Bucket="guarded", Prefix="docs/")["Contents"]) == 2
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_objects_v2(Bucket="guarded")
    assert error_code(e) == "AccessDenied"
    # A malformed policy is refused with S3's error.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_policy(Bucket="guarded", Policy=policy(
            {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
             "Resource": "arn:aws:s3:::another-bucket/*"}))
    assert error_code(e) == "MalformedPolicy"


def test_canned_acls_on_buckets(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="listed", ACL="public-read")
    s3.put_object(Bucket="listed", Key="k", Body=b"v")
    acl = s3.get_bucket_acl(Bucket="listed")
    grants = {(g["Grantee"].get("URI") or g["Grantee"].get("ID"), g["Permission"]) for g in acl["Grants"]}
    assert ("http://acs.amazonaws.com/groups/global/AllUsers", "READ") in grants
    # READ on a bucket lets anyone list it (not read its objects).
    assert requests.get(f"{server.endpoint}/listed", timeout=10).status_code == 200
    assert requests.get(f"{server.endpoint}/listed/k", timeout=10).status_code == 403

    s3.put_bucket_acl(Bucket="listed", ACL="private")
    assert requests.get(f"{server.endpoint}/listed", timeout=10).status_code == 403
    # A grant to one account by id.
    s3.put_bucket_acl(Bucket="listed", GrantRead=f'id="{other_id}"',
                      GrantFullControl=f'id="{acl["Owner"]["ID"]}"')
    assert client.list_objects_v2(Bucket="listed")["KeyCount"] == 1
    # Ownership controls can turn ACLs off, which a non-private ACL prevents.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_ownership_controls(Bucket="listed", OwnershipControls={
            "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert error_code(e) == "InvalidBucketAclWithObjectOwnership"
    # WRITE_ACP alone lets the grantee replace the ACL without reading it.
    s3.put_bucket_acl(Bucket="listed", GrantWriteACP=f'id="{other_id}"',
                      GrantFullControl=f'id="{acl["Owner"]["ID"]}"')
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_bucket_acl(Bucket="listed")
    assert error_code(e) == "AccessDenied"
    client.put_bucket_acl(Bucket="listed", ACL="public-read")
    assert requests.get(f"{server.endpoint}/listed", timeout=10).status_code == 200
    # An ACL document naming another owner is refused.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_acl(Bucket="listed", AccessControlPolicy={
            "Owner": {"ID": other_id}, "Grants": []})
    assert error_code(e) == "AccessDenied"


def test_versioning_keeps_every_version_and_delete_markers(server, s3):
    s3.create_bucket(Bucket="history")
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Enabled"})
    assert s3.get_bucket_versioning(Bucket="history")["Status"] == "Enabled"
    v1 = s3.put_object(Bucket="history", Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket="history", Key="doc", Body=b"two")["VersionId"]
    deleted = s3.delete_object(Bucket="history", Key="doc")
    assert deleted["DeleteMarker"] is True
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_object(Bucket="history", Key="doc")
    assert e.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    assert s3.get_object(Bucket="history", Key="doc", VersionId=v1)["Body"].read() == b"one"
    assert s3.get_object(Bucket="history", Key="doc", VersionId=v2)["Body"].read() == b"two"
    listing = s3.list_object_versions(Bucket="history")
    assert [v["VersionId"] for v in listing["Versions"]] == [v2, v1]
    assert listing["DeleteMarkers"][0]["VersionId"] == deleted["VersionId"]
    # Removing the marker brings the newest version back.
    s3.delete_object(Bucket="history", Key="doc", VersionId=deleted["VersionId"])
    assert s3.get_object(Bucket="history", Key="doc")["Body"].read() == b"two"
    # Suspended: writes replace the null version and report no version id.
    s3.put_bucket_versioning(Bucket="history", VersioningConfiguration={"Status": "Suspended"})
    assert "VersionId" not in s3.put_object(Bucket="history", Key="doc", Body=b"three")
    assert len(s3.list_object_versions(Bucket="history")["Versions"]) == 3


def test_object_acls(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="objacl")
    s3.put_object(Bucket="objacl", Key="open", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket="objacl", Key="closed", Body=b"secret")
    url = f"{server.endpoint}/objacl"
    assert requests.get(f"{url}/open", timeout=10).content == b"hello"
    assert requests.get(f"{url}/closed", timeout=10).status_code == 403
    grants = s3.get_object_acl(Bucket="objacl", Key="open")["Grants"]
    assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [
        g["Grantee"] for g in grants]

    s3.put_object_acl(Bucket="objacl", Key="open", ACL="private")
    assert requests.get(f"{url}/open", timeout=10).status_code == 403
    # A grant to another account by id, through x-amz-grant-read.
    s3.put_object_acl(Bucket="objacl", Key="closed", GrantRead=f'id="{other_id}"')
    assert client.get_object(Bucket="objacl", Key="closed")["Body"].read() == b"secret"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.put_object_acl(Bucket="objacl", Key="closed", ACL="public-read")
    assert error_code(e) == "AccessDenied"

    # A bucket that blocks public ACLs refuses them.
    s3.put_public_access_block(Bucket="objacl", PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False,
        "BlockPublicPolicy": False, "RestrictPublicBuckets": False})
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_object(Bucket="objacl", Key="x", Body=b"x", ACL="public-read")
    assert error_code(e) == "AccessDenied"


def test_cors_preflight_answers_per_rule(server, s3):
    s3.create_bucket(Bucket="webapp")
    s3.put_object(Bucket="webapp", Key="data.json", Body=b"{}", ACL="public-read")
    s3.put_bucket_cors(Bucket="webapp", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["https://app.example"], "AllowedMethods": ["GET", "PUT"],
         "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
         "MaxAgeSeconds": 600},
        {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
    ]})
    rules = s3.get_bucket_cors(Bucket="webapp")["CORSRules"]
    assert rules[0]["AllowedOrigins"] == ["https://app.example"] and rules[0]["MaxAgeSeconds"] == 600
    url = f"{server.endpoint}/webapp/data.json"

    ok = requests.options(url, timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "Content-Type, X-Amz-Meta-Color"})
    assert ok.status_code == 200
    assert ok.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert "PUT" in ok.headers["Access-Control-Allow-Methods"]
    assert ok.headers["Access-Control-Max-Age"] == "600"
    # Any origin may GET (second rule), but not PUT.
    anyone = requests.options(url, timeout=10, headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "GET"})
    assert anyone.status_code == 200 and anyone.headers["Access-Control-Allow-Origin"] == "*"
    denied = requests.options(url, timeout=10, headers={
        "Origin": "https://other.example", "Access-Control-Request-Method": "PUT"})
    assert denied.status_code == 403
    # A header no rule allows is refused; no Origin at all is a bad request.
    assert requests.options(url, timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "x-secret"}).status_code == 403
    assert requests.options(url, timeout=10).status_code == 400
    # The actual request carries the headers too.
    got = requests.get(url, timeout=10, headers={"Origin": "https://app.example"})
    assert got.status_code == 200
    assert got.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert got.headers["Access-Control-Expose-Headers"] == "ETag"

    s3.delete_bucket_cors(Bucket="webapp")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_cors(Bucket="webapp")
    assert error_code(e) == "NoSuchCORSConfiguration"
    assert requests.options(url, timeout=10, headers={
        "Origin": "https://app.example", "Access-Control-Request-Method": "GET"}).status_code == 403


def test_bucket_tagging(server, s3, other):
    client, _ = other
    s3.create_bucket(Bucket="tagged")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="tagged")
    assert error_code(e) == "NoSuchTagSet"
    s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [
        {"Key": "team", "Value": "storage"}, {"Key": "env", "Value": "prod"}]})
    assert s3.get_bucket_tagging(Bucket="tagged")["TagSet"] == [
        {"Key": "team", "Value": "storage"}, {"Key": "env", "Value": "prod"}]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.get_bucket_tagging(Bucket="tagged")
    assert error_code(e) == "AccessDenied"
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.put_bucket_tagging(Bucket="tagged", Tagging={"TagSet": [
            {"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]})
    assert error_code(e) == "InvalidTag"
    s3.delete_bucket_tagging(Bucket="tagged")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_tagging(Bucket="tagged")
    assert error_code(e) == "NoSuchTagSet"


def test_website_serves_index_and_error_documents(server, s3):
    s3.create_bucket(Bucket="www")
    for key, body in [("index.html", b"<h1>home</h1>"), ("docs/index.html", b"<h1>docs</h1>"),
                      ("404.html", b"<h1>not here</h1>"), ("about.html", b"about")]:
        s3.put_object(Bucket="www", Key=key, Body=body, ContentType="text/html")
    s3.put_bucket_policy(Bucket="www", Policy=policy({
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": "arn:aws:s3:::www/*"}))
    s3.put_bucket_website(Bucket="www", WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "404.html"},
        "RoutingRules": [{"Condition": {"KeyPrefixEquals": "old/"},
                          "Redirect": {"ReplaceKeyPrefixWith": "docs/", "HttpRedirectCode": "301"}}]})
    assert s3.get_bucket_website(Bucket="www")["IndexDocument"]["Suffix"] == "index.html"
    site = {"Host": "www.s3-website.localhost"}

    def get(path, **kw):
        return requests.get(f"{server.endpoint}{path}", headers=site, timeout=10,
                            allow_redirects=False, **kw)

    home = get("/")
    assert home.status_code == 200 and home.content == b"<h1>home</h1>"
    assert home.headers["Content-Type"] == "text/html"
    assert get("/docs/").content == b"<h1>docs</h1>"
    assert get("/about.html").content == b"about"
    # A directory without its slash redirects to it.
    moved = get("/docs")
    assert moved.status_code == 302 and moved.headers["Location"] == "/docs/"
    # Missing pages get the error document: 403 to visitors who may not list the
    # bucket (as on S3), 404 once the policy lets them.
    missing = get("/nope.html")
    assert missing.status_code == 403 and missing.content == b"<h1>not here</h1>"
    s3.put_bucket_policy(Bucket="www", Policy=policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": "arn:aws:s3:::www/*"},
        {"Effect": "Allow", "Principal": "*", "Action": "s3:ListBucket",
         "Resource": "arn:aws:s3:::www"}))
    missing = get("/nope.html")
    assert missing.status_code == 404 and missing.content == b"<h1>not here</h1>"
    # Routing rules redirect by prefix.
    old = get("/old/page.html")
    assert old.status_code == 301
    assert old.headers["Location"].endswith("/docs/page.html")
    # The API endpoint is unchanged, and a bucket without a website has none.
    assert requests.get(f"{server.endpoint}/www/about.html", timeout=10).content == b"about"
    s3.delete_bucket_website(Bucket="www")
    assert get("/").status_code == 404


def test_bucket_reads_need_their_own_action(server, s3, other):
    client, other_id = other
    s3.create_bucket(Bucket="located")
    s3.put_bucket_policy(Bucket="located", Policy=policy({
        "Effect": "Allow", "Principal": {"AWS": other_id},
        "Action": ["s3:GetBucketLocation", "s3:GetBucketVersioning"],
        "Resource": "arn:aws:s3:::located"}))
    assert "LocationConstraint" in client.get_bucket_location(Bucket="located")
    assert "Status" not in client.get_bucket_versioning(Bucket="located")
    # Neither grants s3:ListBucket, which HeadBucket and listing need.
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.head_bucket(Bucket="located")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(botocore.exceptions.ClientError) as e:
        client.list_objects_v2(Bucket="located")
    assert error_code(e) == "AccessDenied"


def test_lifecycle_expires_objects_versions_and_stale_uploads(make_server):
    """A lifecycle day of 2 s: rules set with aws-cli, effects watched with boto3."""
    import time
    srv = make_server("lifecycle", extra_args=("--lifecycle-day-secs", "2"))
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="lc-1")
    s3.put_object(Bucket="lc-1", Key="tmp/a", Body=b"a")
    s3.put_object(Bucket="lc-1", Key="data/tagged", Body=b"t", Tagging="temp=yes")
    s3.put_object(Bucket="lc-1", Key="data/b", Body=b"b")
    stale = s3.create_multipart_upload(Bucket="lc-1", Key="uploads/x")["UploadId"]
    s3.create_bucket(Bucket="lcv")
    s3.put_bucket_versioning(Bucket="lcv", VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket="lcv", Key="doc", Body=body)

    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lc-1")
    assert error_code(e) == "NoSuchLifecycleConfiguration"
    rules = {"Rules": [
        {"ID": "tmp", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "tagged", "Filter": {"Tag": {"Key": "temp", "Value": "yes"}},
         "Status": "Enabled", "Expiration": {"Days": 1}},
        {"ID": "uploads", "Filter": {"Prefix": "uploads/"}, "Status": "Enabled",
         "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
    ]}
    srv.aws("s3api", "put-bucket-lifecycle-configuration", "--bucket", "lc-1",
            "--lifecycle-configuration", json.dumps(rules))
    got = s3.get_bucket_lifecycle_configuration(Bucket="lc-1")["Rules"]
    assert [r["ID"] for r in got] == ["tmp", "tagged", "uploads"]
    assert got[0]["Filter"] == {"Prefix": "tmp/"} and got[0]["Expiration"] == {"Days": 1}
    # Reads and writes under a rule say when the object will go.
    head = s3.head_object(Bucket="lc-1", Key="tmp/a")
    assert 'rule-id="tmp"' in head["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    assert "x-amz-expiration" not in s3.head_object(Bucket="lc-1", Key="data/b")["ResponseMetadata"]["HTTPHeaders"]
    copied = s3.copy_object(Bucket="lc-1", Key="tmp/copy", CopySource={"Bucket": "lc-1", "Key": "data/b"})
    assert 'rule-id="tmp"' in copied["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    mpu = s3.create_multipart_upload(Bucket="lc-1", Key="tmp/mp")["UploadId"]
    part = s3.upload_part(Bucket="lc-1", Key="tmp/mp", UploadId=mpu, PartNumber=1, Body=b"m")
    done = s3.complete_multipart_upload(Bucket="lc-1", Key="tmp/mp", UploadId=mpu,
                                        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
    assert 'rule-id="tmp"' in done["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]

    s3.put_bucket_lifecycle_configuration(Bucket="lcv", LifecycleConfiguration={"Rules": [
        {"ID": "old-versions", "Filter": {}, "Status": "Enabled",
         "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 1}}]})
    # Bad rules get S3's errors.
    for bad, code in [({"ID": "x", "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 0}}, "InvalidArgument"),
                      ({"ID": "x" * 256, "Filter": {}, "Status": "Enabled", "Expiration": {"Days": 1}}, "InvalidArgument")]:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_lifecycle_configuration(Bucket="lcv", LifecycleConfiguration={"Rules": [bad]})
        assert error_code(e) == code

    deadline = time.time() + 30
    while time.time() < deadline:
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="lc-1").get("Contents", [])]
        versions = s3.list_object_versions(Bucket="lcv").get("Versions", [])
        uploads = s3.list_multipart_uploads(Bucket="lc-1").get("Uploads", [])
        if keys == ["data/b"] and len(versions) == 2 and not uploads:
            break
        time.sleep(0.5)
    assert keys == ["data/b"]
    assert not uploads
    assert [v["IsLatest"] for v in versions] == [True, False]
    assert s3.get_object(Bucket="lcv", Key="doc")["Body"].read() == b"3"
    with pytest.raises(botocore.exceptions.ClientError):
        s3.abort_multipart_upload(Bucket="lc-1", Key="uploads/x", UploadId=stale)

    srv.aws("s3api", "delete-bucket-lifecycle", "--bucket", "lc-1")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        s3.get_bucket_lifecycle_configuration(Bucket="lc-1")
    assert error_code(e) == "NoSuchLifecycleConfiguration"


def test_browser_post_upload_with_a_signed_policy(server, s3):
    """boto3's generate_presigned_post, posted as a browser would with plain HTTP."""
    import xml.etree.ElementTree as ET
    s3.create_bucket(Bucket="uploads-1")
    v4 = server.client("s3", signature_version="s3v4")
    post = v4.generate_presigned_post(
        "uploads-1", "user/${filename}",
        Fields={"acl": "private", "Content-Type": "text/plain", "x-amz-meta-from": "form"},
        Conditions=[{"acl": "private"}, ["starts-with", "$Content-Type", "text/"],
                    {"x-amz-meta-from": "form"}, ["content-length-range", 1, 100],
                    ["starts-with", "$key", "user/"]],
        ExpiresIn=600)
    assert "x-amz-signature" in post["fields"]
    # Fields after the file are ignored, as S3 does.
    sent = requests.post(post["url"], data=post["fields"], files={"file": ("hello.txt", b"hello")}, timeout=10)
    assert sent.status_code == 204, sent.text
    got = s3.get_object(Bucket="uploads-1", Key="user/hello.txt")
    assert got["Body"].read() == b"hello"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"from": "form"}
    assert sent.headers["ETag"] == got["ETag"]

    # A page on another origin reads the reply when the bucket's CORS allows it.
    s3.put_bucket_cors(Bucket="uploads-1", CORSConfiguration={"CORSRules": [
        {"AllowedOrigins": ["http://app.example"], "AllowedMethods": ["POST"]}]})
    from_page = requests.post(post["url"], data=post["fields"], files={"file": ("page.txt", b"page")},
                              headers={"Origin": "http://app.example"}, timeout=10)
    assert from_page.status_code == 204, from_page.text
    assert from_page.headers["Access-Control-Allow-Origin"] == "http://app.example"

    # 201 answers with a PostResponse document.
    fields = dict(post["fields"], success_action_status="201")
    created = requests.post(post["url"], data=fields, files={"file": ("two.txt", b"two")}, timeout=10)
    assert created.status_code == 403  # success_action_status is not in the policy
    # boto3's default signer here is SigV2 (`AWSAccessKeyId`, `signature`).
    post201 = s3.generate_presigned_post(
        "uploads-1", "user/${filename}", Fields={"success_action_status": "201"},
        Conditions=[{"success_action_status": "201"}, ["starts-with", "$key", "user/"]])
    assert "signature" in post201["fields"]
    created = requests.post(post201["url"], data=post201["fields"], files={"file": ("two.txt", b"two")}, timeout=10)
    assert created.status_code == 201, created.text
    assert ET.fromstring(created.content).find("{*}Key").text == "user/two.txt"

    def refused(fields, body=b"hello", status=403):
        r = requests.post(post["url"], data=fields, files={"file": ("bad.txt", body)}, timeout=10)
        assert r.status_code == status, r.text
        return ET.fromstring(r.content).find("Code").text

    # Violations of the policy, a bad signature, and unsigned forms are refused.
    assert refused(post["fields"], b"x" * 101, status=400) == "EntityTooLarge"
    assert refused(dict(post["fields"], key="elsewhere/x")) == "AccessDenied"
    assert refused(dict(post["fields"], **{"Content-Type": "image/png"})) == "AccessDenied"
    sig = post["fields"]["x-amz-signature"]
    assert refused(dict(post["fields"], **{"x-amz-signature": sig[::-1]})) == "SignatureDoesNotMatch"
    assert refused({"key": "user/anon.txt"}) == "AccessDenied"
    listed = [o["Key"] for o in s3.list_objects_v2(Bucket="uploads-1")["Contents"]]
    assert listed == ["user/hello.txt", "user/page.txt", "user/two.txt"]

    # A bucket that lets anyone write takes unsigned forms.
    s3.create_bucket(Bucket="dropbox-1", ACL="public-read-write")
    r = requests.post(f"{server.endpoint}/dropbox-1", data={"key": "anon.txt"},
                      files={"file": ("a.txt", b"anon")}, timeout=10)
    assert r.status_code == 204, r.text
    assert s3.get_object(Bucket="dropbox-1", Key="anon.txt")["Body"].read() == b"anon"


class Receiver:
    """An HTTP endpoint on loopback that records every POST it gets."""

    def __init__(self):
        import http.server
        import threading
        received = self.received = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                received.append((dict((k.lower(), v) for k, v in self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def wait_for(self, n, timeout=20):
        import time
        deadline = time.time() + timeout
        while len(self.received) < n and time.time() < deadline:
            time.sleep(0.1)
        return self.received

    def close(self):
        self.server.shutdown()


def test_event_notifications_are_signed_webhooks(server, s3, other):
    """SNS topics with a push endpoint (as RGW users make them), S3 notification
    rules, and signed deliveries for created and removed objects."""
    import hashlib
    import hmac
    receiver = Receiver()
    try:
        sns = server.client("sns")
        arn = sns.create_topic(Name="uploads", Attributes={"push-endpoint": receiver.url})["TopicArn"]
        assert arn.startswith("arn:aws:sns:") and arn.endswith(":uploads")
        assert [t["TopicArn"] for t in sns.list_topics()["Topics"]] == [arn]
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
        assert attrs["push-endpoint"] == receiver.url
        secret = attrs["nomuck:SigningSecret"]

        s3.create_bucket(Bucket="events-1")
        s3.put_bucket_versioning(Bucket="events-1", VersioningConfiguration={"Status": "Enabled"})
        s3.put_bucket_notification_configuration(Bucket="events-1", NotificationConfiguration={
            "TopicConfigurations": [{
                "Id": "docs", "TopicArn": arn,
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
                "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "docs/"}]}}}]})
        got = s3.get_bucket_notification_configuration(Bucket="events-1")["TopicConfigurations"]
        assert got[0]["Id"] == "docs" and got[0]["TopicArn"] == arn

        put = s3.put_object(Bucket="events-1", Key="docs/a b.txt", Body=b"hello")
        s3.put_object(Bucket="events-1", Key="other/ignored.txt", Body=b"x")
        s3.copy_object(Bucket="events-1", Key="docs/copy.txt", CopySource={"Bucket": "events-1", "Key": "docs/a b.txt"})
        mpu = s3.create_multipart_upload(Bucket="events-1", Key="docs/big")["UploadId"]
        part = s3.upload_part(Bucket="events-1", Key="docs/big", UploadId=mpu, PartNumber=1, Body=b"p" * 10)
        done = s3.complete_multipart_upload(Bucket="events-1", Key="docs/big", UploadId=mpu,
                                            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]})
        marker = s3.delete_object(Bucket="events-1", Key="docs/copy.txt")
        s3.delete_object(Bucket="events-1", Key="docs/big", VersionId=done["VersionId"])

        received = receiver.wait_for(5)
        assert len(received) == 5
        records = []
        for headers, body in received:
            t, v1 = (p.split("=", 1)[1] for p in headers["x-nomuck-signature"].split(","))
            expected = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
            assert hmac.compare_digest(v1, expected)
            assert headers["x-nomuck-topic-arn"] == arn
            records.append(json.loads(body)["Records"][0])
        records.sort(key=lambda r: (r["s3"]["object"]["sequencer"], r["eventName"]))
        by_name = {r["eventName"]: r for r in records}
        assert set(by_name) == {"ObjectCreated:Put", "ObjectCreated:Copy", "ObjectCreated:CompleteMultipartUpload",
                                "ObjectRemoved:DeleteMarkerCreated", "ObjectRemoved:Delete"}
        created = by_name["ObjectCreated:Put"]["s3"]
        assert created["bucket"]["name"] == "events-1" and created["configurationId"] == "docs"
        assert created["object"]["key"] == "docs/a+b.txt" and created["object"]["size"] == 5
        assert f'"{created["object"]["eTag"]}"' == put["ETag"]
        assert created["object"]["versionId"] == put["VersionId"]
        big = by_name["ObjectCreated:CompleteMultipartUpload"]["s3"]["object"]
        assert f'"{big["eTag"]}"' == done["ETag"] and big["size"] == 10
        assert by_name["ObjectRemoved:DeleteMarkerCreated"]["s3"]["object"]["versionId"] == marker["VersionId"]

        # Only the owner's existing topics, and only events nomuck emits.
        other_s3, _ = other
        other_sns = server.client("sns", other_s3._request_signer._credentials.access_key,
                                  other_s3._request_signer._credentials.secret_key)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            other_sns.get_topic_attributes(TopicArn=arn)
        assert error_code(e) == "AuthorizationError"
        assert other_sns.list_topics()["Topics"] == []
        other_s3.create_bucket(Bucket="events-2")
        with pytest.raises(botocore.exceptions.ClientError) as e:
            other_s3.put_bucket_notification_configuration(Bucket="events-2", NotificationConfiguration={
                "TopicConfigurations": [{"TopicArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        assert error_code(e) == "InvalidArgument"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            s3.put_bucket_notification_configuration(Bucket="events-1", NotificationConfiguration={
                "TopicConfigurations": [{"TopicArn": arn, "Events": ["s3:ObjectRestore:*"]}]})
        assert error_code(e) == "InvalidArgument"
        with pytest.raises(botocore.exceptions.ClientError) as e:
            other_s3.get_bucket_notification_configuration(Bucket="events-1")
        assert error_code(e) == "AccessDenied"

        # An empty configuration stops the events; deleting the topic removes it.
        s3.put_bucket_notification_configuration(Bucket="events-1", NotificationConfiguration={})
        s3.put_object(Bucket="events-1", Key="docs/late.txt", Body=b"x")
        sns.delete_topic(TopicArn=arn)
        assert sns.list_topics()["Topics"] == []
        import time
        time.sleep(1.5)
        assert len(receiver.received) == 5
    finally:
        receiver.close()


def test_operators_can_limit_where_webhooks_go(make_server):
    srv = make_server("limited", extra_args=("--webhook-allowed-hosts", "hooks.example.com"))
    sns = srv.client("sns")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.create_topic(Name="inside", Attributes={"push-endpoint": "http://127.0.0.1:9/hook"})
    assert error_code(e) == "InvalidParameter"
    arn = sns.create_topic(Name="outside", Attributes={"push-endpoint": "http://hooks.example.com/hook"})["TopicArn"]
    with pytest.raises(botocore.exceptions.ClientError) as e:
        sns.set_topic_attributes(TopicArn=arn, AttributeName="push-endpoint", AttributeValue="http://169.254.169.254/")
    assert error_code(e) == "InvalidParameter"
    assert sns.get_topic_attributes(TopicArn=arn)["Attributes"]["push-endpoint"] == "http://hooks.example.com/hook"

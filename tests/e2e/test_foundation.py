"""The foundation (issue 2): one endpoint, accounts and keys, SigV4, STS, limits."""

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import time
import urllib.parse

import botocore.auth
import botocore.awsrequest
import botocore.credentials
import pytest
import requests

from conftest import BIN, REGION, Server, new_account, nomuck


def caller_identity(srv, **creds):
    proc = srv.aws("sts", "get-caller-identity", "--output", "json", **creds)
    return json.loads(proc.stdout)


def aws_error(proc):
    """The error code aws-cli printed, e.g. 'SignatureDoesNotMatch'."""
    assert proc.returncode != 0, proc.stdout
    match = re.search(r"\((\w+)\)", proc.stderr)
    assert match, proc.stderr
    return match.group(1)


def signed_sts_request(srv, key_id, secret, body="Action=GetCallerIdentity&Version=2011-06-15"):
    request = botocore.awsrequest.AWSRequest(
        method="POST",
        url=srv.endpoint + "/",
        data=body,
        headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"},
    )
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "sts", REGION).add_auth(request)
    return request


def test_first_start_writes_admin_credentials_for_aws_cli(server):
    mode = stat.S_IMODE(os.stat(server.credentials_file).st_mode)
    assert mode == 0o600, oct(mode)
    assert stat.S_IMODE(os.stat(server.data_dir / "master.key").st_mode) == 0o600
    key_id, secret = server.admin_keys()
    assert re.fullmatch(r"AKIA[A-Z2-7]{16}", key_id)
    assert len(secret) == 40

    identity = caller_identity(server)
    assert re.fullmatch(r"\d{12}", identity["Account"])
    assert identity["Arn"] == f"arn:aws:iam::{identity['Account']}:root"
    # The secret was printed once, on first start, with the account id.
    assert secret in server.log() and identity["Account"] in server.log()

    accounts = json.loads(nomuck(server.data_dir, "account", "list", "--json").stdout)["accounts"]
    assert [(a["name"], a["admin"]) for a in accounts] == [("admin", True)]


def test_new_account_key_works_and_revocation_is_immediate(server):
    account_id, key_id, secret = new_account(server, "alice")
    assert caller_identity(server, key_id=key_id, secret=secret)["Account"] == account_id
    # boto3 too, with a warm signing-key cache on the server.
    sts = server.client("sts", key_id, secret)
    assert sts.get_caller_identity()["Account"] == account_id

    nomuck(server.data_dir, "key", "revoke", key_id)
    failed = server.aws("sts", "get-caller-identity", key_id=key_id, secret=secret, check=False)
    assert aws_error(failed) == "InvalidClientTokenId"

    keys = json.loads(nomuck(server.data_dir, "key", "list", "alice", "--json").stdout)["keys"]
    assert [(k["accessKeyId"], k["revokedAt"] is not None) for k in keys] == [(key_id, True)]
    # A second key of the same account keeps working.
    key2 = json.loads(nomuck(server.data_dir, "key", "create", account_id, "--json").stdout)
    assert caller_identity(server, key_id=key2["accessKeyId"], secret=key2["secretAccessKey"])["Account"] == account_id


def test_wrong_secret_and_unknown_key_are_refused(server):
    key_id, secret = server.admin_keys()
    wrong = "x" + secret[1:]
    assert aws_error(server.aws("sts", "get-caller-identity", key_id=key_id, secret=wrong, check=False)) == "SignatureDoesNotMatch"
    unknown = server.aws("sts", "get-caller-identity", key_id="AKIAAAAAAAAAAAAAAAAA", secret=secret, check=False)
    assert aws_error(unknown) == "InvalidClientTokenId"


def test_request_skewed_twenty_minutes_is_refused(server):
    if not shutil.which("faketime"):
        pytest.fail("faketime is not installed (dev/test installs it)")
    ok = server.aws("sts", "get-caller-identity", prefix=("faketime", "-f", "-10m"), check=False)
    assert ok.returncode == 0, ok.stderr
    for skew in ("-20m", "+20m"):
        proc = server.aws("sts", "get-caller-identity", prefix=("faketime", "-f", skew), check=False)
        assert aws_error(proc) == "SignatureDoesNotMatch"
        assert "Signature expired" in proc.stderr


def test_presigned_url_works_until_it_expires(server):
    sts = server.client("sts")
    # As EKS tokens do: a GET URL (botocore would otherwise sign the operation's POST).
    url = sts.generate_presigned_url("get_caller_identity", ExpiresIn=2, HttpMethod="GET")
    assert "X-Amz-Signature=" in url
    fresh = requests.get(url, timeout=10)
    assert fresh.status_code == 200, fresh.text
    assert "<Account>" in fresh.text
    time.sleep(3)
    expired = requests.get(url, timeout=10)
    assert expired.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in expired.text and "expired" in expired.text
    # X-Amz-Expires above seven days is refused whatever the signature.
    too_long = sts.generate_presigned_url("get_caller_identity", ExpiresIn=7 * 24 * 3600 + 1, HttpMethod="GET")
    assert requests.get(too_long, timeout=10).status_code in (400, 403)


def test_tampered_body_is_refused(server):
    key_id, secret = server.admin_keys()
    request = signed_sts_request(server, key_id, secret)
    good = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
    assert good.status_code == 200, good.text
    tampered = request.body.replace(b"2011-06-15", b"2011-06-16")
    assert len(tampered) == len(request.body)
    bad = requests.post(request.url, data=tampered, headers=dict(request.headers), timeout=10)
    assert bad.status_code == 403
    assert "<Code>SignatureDoesNotMatch</Code>" in bad.text
    # A declared x-amz-content-sha256 that the body does not match is caught as well.
    request = signed_sts_request(server, key_id, secret)
    request.headers["X-Amz-Content-SHA256"] = "0" * 64
    del request.headers["Authorization"]
    botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), "sts", REGION).add_auth(request)
    mismatch = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
    assert mismatch.status_code in (400, 403), mismatch.text
    assert "GetCallerIdentityResult" not in mismatch.text


def test_every_reply_has_a_request_id_and_errors_are_protocol_xml(server):
    reply = requests.post(server.endpoint + "/", data="Action=GetCallerIdentity", timeout=10,
                          headers={"Content-Type": "application/x-www-form-urlencoded",
                                   "Authorization": "AWS4-HMAC-SHA256 Credential=garbage"})
    assert reply.status_code in (400, 403)
    assert re.fullmatch(r"[0-9A-F]{16}", reply.headers["x-amz-request-id"])
    # The credential names no service, so the anonymous API (S3) answers, in its format.
    assert "<Error>" in reply.text and "<Code>" in reply.text and "<RequestId>" in reply.text


def test_unsupported_service_gets_a_clear_error(server):
    # Signed by botocore for services nomuck does not offer, sent to nomuck explicitly
    # (aws-cli ignores AWS_ENDPOINT_URL for some services and would try AWS itself).
    key_id, secret = server.admin_keys()
    for service in ("sqs", "iam"):
        request = botocore.awsrequest.AWSRequest(
            method="POST", url=server.endpoint + "/", data="Action=ListQueues&Version=2012-11-05",
            headers={"Content-Type": "application/x-www-form-urlencoded"})
        botocore.auth.SigV4Auth(botocore.credentials.Credentials(key_id, secret), service, REGION).add_auth(request)
        reply = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
        assert reply.status_code == 400
        assert reply.headers["x-amzn-ErrorType"] == "UnsupportedService"
        assert "<Code>UnsupportedService</Code>" in reply.text
        assert f'does not offer the service &quot;{service}&quot;' in reply.text and "sts" in reply.text


def test_health_and_metrics(server):
    assert requests.get(server.endpoint + "/_nomuck/health", timeout=5).json() == {"status": "ok"}
    caller_identity(server)
    key_id, _ = server.admin_keys()
    server.aws("sts", "get-caller-identity", key_id=key_id, secret="w" * 40, check=False)
    text = requests.get(server.endpoint + "/_nomuck/metrics", timeout=5).text
    assert re.search(r'nomuck_requests_total\{service="sts",operation="GetCallerIdentity",status="200"\} [1-9]', text), text
    assert 'nomuck_request_errors_total{service="sts",operation="Unknown",code="SignatureDoesNotMatch"} 1' in text
    assert 'nomuck_request_duration_seconds_count{service="sts",operation="GetCallerIdentity"}' in text
    assert "nomuck_connections_open" in text


def test_kill9_keeps_accounts_and_keys_and_the_directory_is_exclusive(tmp_path):
    srv = Server(tmp_path / "data").start()
    account_id, key_id, secret = new_account(srv, "durable")
    _, revoked_id, revoked_secret = new_account(srv, "gone")
    nomuck(srv.data_dir, "key", "revoke", revoked_id)

    # A second server on the same directory is refused, clearly.
    second = subprocess.run([str(BIN), "--data-dir", str(srv.data_dir), "serve", "--listen", "127.0.0.1:0"],
                            capture_output=True, text=True, timeout=30)
    assert second.returncode != 0
    assert "already in use" in second.stderr and str(srv.proc.pid) in second.stderr

    srv.kill9()
    srv.start()
    try:
        assert caller_identity(srv, key_id=key_id, secret=secret)["Account"] == account_id
        proc = srv.aws("sts", "get-caller-identity", key_id=revoked_id, secret=revoked_secret, check=False)
        assert aws_error(proc) == "InvalidClientTokenId"
        names = [a["name"] for a in json.loads(nomuck(srv.data_dir, "account", "list", "--json").stdout)["accounts"]]
        assert names == ["admin", "durable", "gone"]
        # The admin key from first start still works; no second admin was made.
        assert len([n for n in names if n == "admin"]) == 1
        caller_identity(srv)
    finally:
        assert srv.stop() == 0


def made_by_serve(data_dir):
    """A data directory as a first `nomuck serve` leaves it (only serve creates one)."""
    assert Server(data_dir).start().stop() == 0
    return data_dir


def test_cli_works_on_the_directory_when_no_server_runs(tmp_path):
    data = made_by_serve(tmp_path / "offline")
    made = nomuck(data, "account", "create", "bob", "--json")
    assert json.loads(made.stdout)["name"] == "bob"
    key = json.loads(nomuck(data, "key", "create", "bob", "--json").stdout)
    dup = nomuck(data, "account", "create", "bob", check=False)
    assert dup.returncode != 0 and "already exists" in dup.stderr
    missing = nomuck(data, "key", "list", "nobody", check=False)
    assert missing.returncode != 0 and "no account" in missing.stderr
    srv = Server(data).start()
    try:
        assert caller_identity(srv, key_id=key["accessKeyId"], secret=key["secretAccessKey"])["Account"] == key["accountId"]
        # Only admin accounts may use the admin API.
        env = {**os.environ, "AWS_ACCESS_KEY_ID": key["accessKeyId"], "AWS_SECRET_ACCESS_KEY": key["secretAccessKey"]}
        denied = nomuck(data, "account", "list", check=False, env=env)
        assert denied.returncode != 0 and "AccessDenied" in denied.stderr
    finally:
        srv.stop()


def test_bad_data_directories_give_clear_errors(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    proc = nomuck(not_a_dir, "account", "list", check=False)
    assert proc.returncode == 1 and "not a directory" in proc.stderr

    under_file = not_a_dir / "data"
    proc = subprocess.run([str(BIN), "--data-dir", str(under_file), "serve", "--listen", "127.0.0.1:0"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "cannot create data directory" in proc.stderr

    corrupt = made_by_serve(tmp_path / "corrupt")
    (corrupt / "meta.db").write_bytes(b"this is not a database" * 100)
    proc = nomuck(corrupt, "account", "list", check=False)
    assert proc.returncode == 1 and "not a valid nomuck database" in proc.stderr, proc.stderr
    assert "panicked" not in proc.stderr

    newer = made_by_serve(tmp_path / "newer")
    subprocess.run(["sqlite3", str(newer / "meta.db"), "PRAGMA user_version = 9999;"], check=True)
    proc = nomuck(newer, "account", "list", check=False)
    assert proc.returncode == 1 and "newer nomuck" in proc.stderr, proc.stderr

    bad_key = made_by_serve(tmp_path / "badkey")
    (bad_key / "master.key").write_bytes(b"short")
    proc = nomuck(bad_key, "account", "list", check=False)
    assert proc.returncode == 1 and "master.key is corrupt" in proc.stderr


def test_configuration_layers(tmp_path):
    config = tmp_path / "nomuck.toml"
    config.write_text(f'listen = "127.0.0.1:1"\ndata_dir = "{tmp_path / "from-file"}"\nregion = "eu-west-1"\n')
    env = {**os.environ, "NOMUCK_CONFIG": str(config), "NOMUCK_LISTEN": "127.0.0.1:0"}
    proc = subprocess.Popen([str(BIN), "serve"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        # The data directory comes from the file, the address from the environment.
        line = ""
        deadline = time.monotonic() + 30
        while "serving on" not in line and time.monotonic() < deadline:
            line = proc.stdout.readline()
        assert "serving on http://127.0.0.1:" in line and ":1 " not in line
        assert (tmp_path / "from-file" / "server.json").exists()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    bad = tmp_path / "bad.toml"
    bad.write_text("lisen = 1\n")
    proc = subprocess.run([str(BIN), "--config", str(bad), "serve"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1 and "invalid config file" in proc.stderr


def raw_request(endpoint, head: bytes, timeout=10):
    host, port = urllib.parse.urlsplit(endpoint).netloc.split(":")
    sock = socket.create_connection((host, int(port)), timeout=timeout)
    sock.sendall(head)
    return sock


def read_reply(sock):
    data = b""
    while True:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
        if b"\r\n\r\n" in data:
            head, _, body = data.partition(b"\r\n\r\n")
            m = re.search(rb"(?i)content-length: (\d+)", head)
            if m and len(body) >= int(m.group(1)):
                return data


def test_limits_on_headers_bodies_and_connections(make_server):
    srv = make_server(extra_args=["--max-connections", "2"])
    # Header block over the limit: 431 from the HTTP layer.
    big = b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n"
    sock = raw_request(srv.endpoint, big)
    assert read_reply(sock).startswith(b"HTTP/1.1 431")
    sock.close()

    # A body over the operation's limit is refused before it is read.
    key_id, secret = srv.admin_keys()
    request = signed_sts_request(srv, key_id, secret, body="Action=GetCallerIdentity&Pad=" + "p" * 70_000)
    reply = requests.post(request.url, data=request.body, headers=dict(request.headers), timeout=10)
    assert reply.status_code == 413 and "RequestEntityTooLarge" in reply.text

    # Two connections held open fill the limit; a third is told to slow down. Each
    # held one is proven to hold a slot by an answered request: a connection closed
    # above may keep its slot for a moment (the refused body's socket lingers).
    def hold_a_slot():
        deadline = time.monotonic() + 10
        while True:
            sock = raw_request(srv.endpoint, b"GET /_nomuck/health HTTP/1.1\r\nHost: x\r\n\r\n")
            reply = read_reply(sock)
            if reply.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
                assert reply.startswith(b"HTTP/1.1 200"), reply
                return sock
            sock.close()
            time.sleep(0.05)

    held = [hold_a_slot() for _ in range(2)]
    third = raw_request(srv.endpoint, b"GET /_nomuck/health HTTP/1.1\r\nHost: x\r\n\r\n")
    reply = read_reply(third)
    assert reply.startswith(b"HTTP/1.1 503") and b"SlowDown" in reply
    for s in held:
        s.close()
    time.sleep(0.3)
    assert requests.get(srv.endpoint + "/_nomuck/health", timeout=5).ok


def test_graceful_shutdown_finishes_in_flight_requests(server):
    key_id, secret = server.admin_keys()
    request = signed_sts_request(server, key_id, secret)
    headers = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    head = f"POST / HTTP/1.1\r\nHost: {urllib.parse.urlsplit(server.endpoint).netloc}\r\nContent-Length: {len(request.body)}\r\n{headers}\r\n"
    # Send the head and half the body, then ask the server to stop.
    sock = raw_request(server.endpoint, head.encode() + request.body[:10])
    time.sleep(0.3)
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    assert server.proc.poll() is None, "server quit with a request in flight"
    # New connections are no longer accepted.
    host, port = urllib.parse.urlsplit(server.endpoint).netloc.split(":")
    with pytest.raises(OSError):
        socket.create_connection((host, int(port)), timeout=2).close()
    sock.sendall(request.body[10:])
    reply = read_reply(sock)
    assert reply.startswith(b"HTTP/1.1 200"), reply[:200]
    assert b"<Account>" in reply
    sock.close()
    assert server.proc.wait(timeout=30) == 0

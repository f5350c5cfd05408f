"""The edge, driven over raw sockets and by real clients: what happens to request bytes
a refusal did not read, requests signed for another region, and the ops listener."""

import socket
import subprocess
import time
from xml.etree import ElementTree

import boto3
import botocore.auth
import botocore.awsrequest
import botocore.config
import botocore.credentials
import pytest
import requests
from botocore.exceptions import ClientError

from conftest import BIN, REGION, Server, new_account

OTHER_REGION = "eu-west-1"


# --- raw HTTP/1.1 ---------------------------------------------------------------


def connect(srv):
    host, port = srv.endpoint.removeprefix("http://").rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=5)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def send_all(sock, data):
    """Send `data`; False if the server reset the connection first."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def read_until_closed(sock, timeout=5):
    """Everything the server sends, and how the connection ended: "eof", "reset" or
    "open" (nothing more within `timeout`)."""
    sock.settimeout(timeout)
    data = b""
    while True:
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return data, "open"
        except ConnectionResetError:
            return data, "reset"
        if not chunk:
            return data, "eof"
        data += chunk


def responses(data):
    """Split a byte stream into (status, headers, body) responses; every nomuck
    response carries Content-Length."""
    out = []
    while data:
        head, sep, rest = data.partition(b"\r\n\r\n")
        assert sep, f"truncated response head: {data[:200]!r}"
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ")[1])
        headers = {}
        for line in lines[1:]:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        assert len(rest) >= length, f"truncated body: {rest!r}"
        out.append((status, headers, rest[:length]))
        data = rest[length:]
    return out


def put_head(path, length, expect=True, extra=""):
    lines = [f"PUT {path} HTTP/1.1", "Host: 127.0.0.1", f"Content-Length: {length}"]
    if expect:
        lines.append("Expect: 100-continue")
    return ("\r\n".join(lines) + "\r\n" + extra + "\r\n").encode()


@pytest.fixture
def private_bucket(server):
    server.client("s3").create_bucket(Bucket="private")
    return "private"


# --- item: unread bodies never become requests ------------------------------------


def test_refused_expect_continue_put_never_turns_the_next_request_into_another(server, private_bucket):
    """botocore skips the body of a PUT refused before `100 Continue`. The bytes that
    follow are its next request: they must never be read as the body, nor their tail
    as a request. Here the next request is a POST whose body is a whole request of
    its own (a metrics GET), exactly as long as the refused PUT's Content-Length
    would need to reach it."""
    smuggled = b"GET /_nomuck/metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    second = (
        f"POST /{private_bucket}/other HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Content-Length: {len(smuggled)}\r\n\r\n"
    ).encode()
    first = put_head(f"/{private_bucket}/key", len(second))
    for attempt in range(30):
        sock = connect(server)
        sock.sendall(first)
        # Vary how the next request races the refusal: at once, or after it.
        time.sleep((attempt % 3) * 0.01)
        sock.sendall(second + smuggled)
        data, ended = read_until_closed(sock)
        sock.close()
        got = responses(data)
        assert [status for status, _, _ in got] == [403], data
        assert got[0][1].get("connection") == "close", got[0][1]
        assert b"<Code>AccessDenied</Code>" in got[0][2]
        assert b"nomuck_requests_total" not in data
        assert ended == "eof", (attempt, ended)


def test_refusal_reaches_a_client_that_sends_the_body_anyway(server, private_bucket):
    """A client that does not wait for `100 Continue` streams its body into the
    refusal; it must still read the whole 403, not a connection reset."""
    # More than socket buffers hold, so the refusal comes while the client still sends.
    body = b"x" * (32 << 20)
    for expect in (True, False):
        sock = connect(server)
        sock.sendall(put_head(f"/{private_bucket}/key", len(body), expect=expect))
        assert send_all(sock, body + b"GET /_nomuck/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        data, ended = read_until_closed(sock)
        sock.close()
        got = responses(data)
        assert [status for status, _, _ in got] == [403], data
        assert got[0][1].get("connection") == "close"
        assert ended == "eof", (expect, ended)


def test_small_unread_body_is_discarded_and_the_connection_kept(server, private_bucket):
    """Without `Expect`, a small body is surely coming: the edge reads and discards
    it, answers without closing, and serves the next request on the connection."""
    body = b"y" * 1000
    sock = connect(server)
    sock.sendall(put_head(f"/{private_bucket}/key", len(body), expect=False) + body)
    sock.sendall(b"GET /_nomuck/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data, ended = read_until_closed(sock, timeout=1)
    sock.close()
    got = responses(data)
    assert [status for status, _, _ in got] == [403, 200], data
    assert "connection" not in got[0][1] or got[0][1]["connection"] == "keep-alive"
    assert got[1][2] == b'{"status":"ok"}'
    assert ended == "open"


def test_body_limit_refusal_closes_the_connection(server, private_bucket):
    """EntityTooLarge (400, as S3) is decided from Content-Length before any of the
    body is read."""
    sock = connect(server)
    sock.sendall(put_head(f"/{private_bucket}/key", 6 << 30))
    sock.sendall(b"GET /_nomuck/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    data, ended = read_until_closed(sock)
    sock.close()
    got = responses(data)
    assert [status for status, _, _ in got] == [400], data
    assert b"<Code>EntityTooLarge</Code>" in got[0][2]
    assert got[0][1].get("connection") == "close"
    assert ended == "eof"


def test_connection_limit_refusal_is_read_not_reset(make_server):
    srv = make_server(extra_args=["--max-connections", "1"])
    # The start-up health check's connection may hold the one slot for a moment
    # after it closed, until the server sees its end: take the slot once it is free.
    deadline = time.monotonic() + 10
    while True:
        held = connect(srv)
        held.sendall(b"GET /_nomuck/health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        reply = held.recv(65536)
        if reply.startswith(b"HTTP/1.1 200") or time.monotonic() > deadline:
            break
        held.close()
        time.sleep(0.05)
    assert reply.startswith(b"HTTP/1.1 200"), reply
    refused = connect(srv)
    assert send_all(refused, put_head("/bucket/key", 32 << 20, expect=False) + b"z" * (32 << 20))
    data, ended = read_until_closed(refused)
    got = responses(data)
    assert [status for status, _, _ in got] == [503]
    assert b"<Code>SlowDown</Code>" in got[0][2]
    assert got[0][1].get("connection") == "close"
    assert ended == "eof"
    refused.close()
    held.close()


def test_boto3_refused_uploads_leave_its_connections_usable(server, private_bucket):
    """The review's symptom: after refused uploads, stray 400s on unrelated calls of
    the same client (which reuses connections and skips refused bodies)."""
    _, key_id, secret = new_account(server, "mallory")
    other = server.client("s3", key_id, secret, max_pool_connections=1)
    body = b"m" * (2 << 20)  # large enough for botocore to send Expect: 100-continue
    for _ in range(20):
        with pytest.raises(ClientError) as refused:
            other.put_object(Bucket=private_bucket, Key="k", Body=body)
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
        assert other.list_buckets()["Buckets"] == []


# --- item: requests signed for another region -----------------------------------


def signed(method, url, region, service="s3", body=b"", headers=None, keys=None):
    creds = botocore.credentials.Credentials(*keys)
    request = botocore.awsrequest.AWSRequest(method=method, url=url, data=body, headers=headers or {})
    auth = botocore.auth.S3SigV4Auth if service == "s3" else botocore.auth.SigV4Auth
    auth(creds, service, region).add_auth(request)
    return requests.request(method, url, data=body, headers=dict(request.headers), timeout=10)


def s3_error(response):
    """Code, Message and Region of an S3 <Error> document."""
    root = ElementTree.fromstring(response.content)
    return {name: root.findtext(name) for name in ("Code", "Message", "Region")}


def test_s3_refuses_another_region_naming_its_own(server, private_bucket):
    keys = server.admin_keys()
    url = f"{server.endpoint}/{private_bucket}"
    wrong = signed("GET", url, OTHER_REGION, keys=keys)
    assert wrong.status_code == 400
    assert s3_error(wrong) == {
        "Code": "AuthorizationHeaderMalformed",
        "Message": f"The authorization header is malformed; the region '{OTHER_REGION}' is wrong; "
        f"expecting '{REGION}'",
        "Region": REGION,
    }
    assert signed("GET", url, REGION, keys=keys).status_code == 200

    # The same for a PUT refused before its body is read, over a kept connection.
    put = signed("PUT", f"{url}/k", OTHER_REGION, body=b"data", keys=keys)
    assert put.status_code == 400 and s3_error(put)["Region"] == REGION

    presigner = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=OTHER_REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=botocore.config.Config(signature_version="s3v4"),
    )
    presigned = presigner.generate_presigned_url("list_objects_v2", Params={"Bucket": private_bucket})
    refused = requests.get(presigned, timeout=10)
    assert refused.status_code == 400
    assert s3_error(refused) == {
        "Code": "AuthorizationQueryParametersError",
        "Message": f"Error parsing the X-Amz-Credential parameter; the region '{OTHER_REGION}' is wrong; "
        f"expecting '{REGION}'",
        "Region": REGION,
    }


def test_boto3_for_another_region_is_told_the_right_one(server, private_bucket):
    """botocore reacts to AuthorizationHeaderMalformed as with AWS: it re-signs for
    the region the error names, so S3 works; STS answers as AWS's regional STS does."""
    keys = server.admin_keys()
    s3 = server.client("s3", *keys)
    s3.put_object(Bucket=private_bucket, Key="k", Body=b"v")
    elsewhere = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        region_name=OTHER_REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
    )
    scopes = []
    elsewhere.meta.events.register(
        "before-send.s3",
        lambda request, **_: scopes.append(request.headers["Authorization"].decode().split("/")[2]),
    )
    assert elsewhere.get_object(Bucket=private_bucket, Key="k")["Body"].read() == b"v"
    assert scopes == [OTHER_REGION, REGION]  # refused, then re-signed for the region named

    sts = boto3.client(
        "sts",
        endpoint_url=server.endpoint,
        region_name=OTHER_REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as wrong:
        sts.get_caller_identity()
    error = wrong.value.response["Error"]
    assert error["Code"] == "SignatureDoesNotMatch"
    assert error["Message"] == f"Credential should be scoped to a valid region, not '{OTHER_REGION}'."
    assert wrong.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert server.client("sts", *keys).get_caller_identity()["Arn"]


def test_a_server_in_another_region_serves_clients_of_that_region(make_server):
    srv = make_server(extra_args=["--region", OTHER_REGION])
    keys = srv.admin_keys()
    env = {"AWS_DEFAULT_REGION": OTHER_REGION}
    srv.aws("s3", "mb", "s3://regional", env_extra=env)
    srv.aws("s3api", "put-object", "--bucket", "regional", "--key", "k", env_extra=env)
    assert "regional" in srv.aws("s3", "ls", env_extra=env).stdout
    assert srv.aws("sts", "get-caller-identity", env_extra=env).returncode == 0
    sts = boto3.client(
        "sts",
        endpoint_url=srv.endpoint,
        region_name=REGION,
        aws_access_key_id=keys[0],
        aws_secret_access_key=keys[1],
        config=botocore.config.Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as wrong:
        sts.get_caller_identity()
    assert wrong.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    # The CLI's account commands go through the admin API, which accepts any region.
    new_account(srv, "regional-user")


# --- item: the ops listener and start-up checks ------------------------------------


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class OpsServer(Server):
    def __init__(self, data_dir, ops_port):
        super().__init__(data_dir, ["--ops-listen", f"127.0.0.1:{ops_port}"])
        self.ops = f"http://127.0.0.1:{ops_port}"

    def health_url(self):
        return f"{self.ops}/_nomuck/health"


def test_ops_listener_takes_health_and_metrics_off_the_main_endpoint(tmp_path):
    srv = OpsServer(tmp_path / "data", free_port()).start()
    try:
        assert requests.get(f"{srv.ops}/_nomuck/health", timeout=5).json() == {"status": "ok"}
        for path in ("/_nomuck/health", "/_nomuck/metrics"):
            assert requests.get(f"{srv.endpoint}{path}", timeout=5).status_code == 404
        assert requests.get(f"{srv.ops}/some-bucket", timeout=5).status_code == 404
        # The main endpoint still serves the APIs, whose requests the ops port counts.
        srv.client("s3").list_buckets()
        metrics = requests.get(f"{srv.ops}/_nomuck/metrics", timeout=5).text
        assert 'service="s3",operation="ListBuckets",status="200"' in metrics
        assert 'operation="NotFound",status="404"' in metrics
        # One convention for labels: operations are AWS operation names, PascalCase.
        requests.get(f"{srv.endpoint}/bucket", headers={"Authorization": "Bearer x"}, timeout=5)
        requests.put(f"{srv.endpoint}/", timeout=5)
        metrics = requests.get(f"{srv.ops}/_nomuck/metrics", timeout=5).text
        assert 'operation="unknown"' not in metrics
        assert 'operation="Unknown"' in metrics
    finally:
        srv.stop()


@pytest.mark.parametrize(
    ("args", "config", "message"),
    [
        (["--ops-listen", "0.0.0.0:9109"], None, "is not a loopback address"),
        ([], "[limits]\nmax_header_bytes = 4096\n", "below the minimum of 8192 bytes"),
    ],
)
def test_unsafe_or_unhonourable_settings_are_refused_at_start(tmp_path, args, config, message):
    cmd = [str(BIN), "--data-dir", str(tmp_path / "data"), "serve", "--listen", "127.0.0.1:0", *args]
    if config:
        (tmp_path / "nomuck.toml").write_text(config)
        cmd[1:1] = ["--config", str(tmp_path / "nomuck.toml")]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    assert proc.returncode != 0
    assert message in proc.stderr, proc.stderr


def test_requests_that_read_their_body_keep_the_connection(server, private_bucket):
    """Only refusals close: uploads read to their end (signed payloads, aws-chunked
    streaming with trailers, multipart parts, XML documents) keep the connection."""
    s3 = server.client("s3")
    headers = []
    s3.meta.events.register(
        "after-call.s3", lambda http_response, **_: headers.append(dict(http_response.headers))
    )
    s3.put_object(Bucket=private_bucket, Key="small", Body=b"s" * 100)
    s3.put_object(Bucket=private_bucket, Key="large", Body=b"l" * (3 << 20))
    upload = s3.create_multipart_upload(Bucket=private_bucket, Key="mp")["UploadId"]
    part = s3.upload_part(Bucket=private_bucket, Key="mp", UploadId=upload, PartNumber=1, Body=b"p" * 1000)
    s3.complete_multipart_upload(
        Bucket=private_bucket,
        Key="mp",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )
    s3.put_bucket_tagging(Bucket=private_bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
    assert len(headers) == 6
    assert all(h.get("connection", "keep-alive") != "close" for h in headers), headers
    keys = server.admin_keys()
    url = f"{server.endpoint}/{private_bucket}/signed"
    stored = signed("PUT", url, REGION, body=b"signed payload", keys=keys)
    assert stored.status_code == 200 and stored.headers.get("connection") != "close"

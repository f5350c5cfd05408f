"""HTTPS on the endpoint (issue 13, encryption in transit): a self-signed certificate
made on first start and trusted with aws-cli's --ca-bundle and boto3's verify=,
plain HTTP refused on the TLS port, aws:SecureTransport in bucket policies, and an
operator's certificate replaced on SIGHUP."""

import hashlib
import os
import signal
import socket
import ssl
import subprocess
import time
from urllib.parse import urlsplit

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

from conftest import REGION, Server, error_code, new_account, nomuck, policy


def host_port(endpoint):
    url = urlsplit(endpoint)
    return url.hostname, url.port


def served_fingerprint(endpoint):
    """SHA-256 of the certificate a new connection is shown (not verified)."""
    pem = ssl.get_server_certificate(host_port(endpoint), timeout=10)
    return hashlib.sha256(ssl.PEM_cert_to_DER_cert(pem)).hexdigest()


def file_fingerprint(path):
    with open(path) as f:
        return hashlib.sha256(ssl.PEM_cert_to_DER_cert(f.read())).hexdigest()


def test_self_signed_certificate_serves_aws_cli_and_boto3_and_refuses_plain_http(tmp_path):
    srv = Server(tmp_path / "data", ["--tls-self-signed"]).start()
    try:
        assert srv.endpoint.startswith("https://127.0.0.1:")
        cert = srv.data_dir / "tls" / "cert.pem"
        key = srv.data_dir / "tls" / "key.pem"
        assert srv.ca_bundle == str(cert)
        assert os.stat(key).st_mode & 0o777 == 0o600
        assert f"TLS certificate: {cert}" in srv.log()
        # The certificate served is the one in the data directory.
        assert served_fingerprint(srv.endpoint) == file_fingerprint(cert)

        # aws-cli trusts it only when told to.
        untrusted = srv.aws("s3", "ls", trust=False, check=False)
        assert untrusted.returncode != 0
        assert "certificate verify failed" in untrusted.stderr, untrusted.stderr
        body = tmp_path / "hello.txt"
        body.write_bytes(b"hello over tls\n")
        srv.aws("s3", "mb", "s3://secure", "--ca-bundle", str(cert), trust=False)
        srv.aws("s3", "cp", str(body), "s3://secure/hello.txt", "--ca-bundle", str(cert), trust=False)
        listed = srv.aws("s3", "ls", "s3://secure/", "--ca-bundle", str(cert), trust=False)
        assert "hello.txt" in listed.stdout

        # boto3 with verify=<cert>, by name and by address.
        key_id, secret = srv.admin_keys()
        for endpoint in (srv.endpoint, srv.endpoint.replace("127.0.0.1", "localhost")):
            s3 = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                              aws_access_key_id=key_id, aws_secret_access_key=secret,
                              verify=str(cert), config=botocore.config.Config(retries={"max_attempts": 1}))
            got = s3.get_object(Bucket="secure", Key="hello.txt")
            assert got["Body"].read() == b"hello over tls\n"
        # Without the certificate, boto3 refuses the server.
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          config=botocore.config.Config(retries={"max_attempts": 1}))
        with pytest.raises(botocore.exceptions.SSLError):
            s3.list_buckets()

        # Plain HTTP on the TLS port is told to use https and served nothing.
        host, port = host_port(srv.endpoint)
        plain = requests.get(f"http://{host}:{port}/secure/hello.txt", timeout=10)
        assert plain.status_code == 400 and "HttpsRequired" in plain.text
        assert "hello over tls" not in plain.text
        s3_plain = boto3.client("s3", endpoint_url=f"http://{host}:{port}", region_name=REGION,
                                aws_access_key_id=key_id, aws_secret_access_key=secret,
                                config=botocore.config.Config(retries={"max_attempts": 1}))
        with pytest.raises(botocore.exceptions.ClientError):
            s3_plain.get_object(Bucket="secure", Key="hello.txt")

        # nomuck's own commands reach the https server through server.json.
        listed = nomuck(srv.data_dir, "account", "list").stdout
        assert "admin" in listed
        # Health and metrics answer over TLS on the main listener.
        assert requests.get(srv.health_url(), verify=str(cert), timeout=10).ok
        metrics = requests.get(f"{srv.endpoint}/_nomuck/metrics", verify=str(cert), timeout=10).text
        failed = [l for l in metrics.splitlines() if l.startswith("nomuck_tls_handshakes_failed_total")]
        assert failed and int(failed[0].split()[1]) >= 2, failed
    finally:
        srv.stop()

    # A later start reuses the certificate, so clients keep trusting it.
    before = file_fingerprint(cert)
    again = Server(tmp_path / "data", ["--tls-self-signed"]).start()
    try:
        assert served_fingerprint(again.endpoint) == before == file_fingerprint(cert)
        assert "Created a self-signed certificate" not in again.log().split("nomuck is serving")[-1]
    finally:
        again.stop()


def test_secure_transport_condition_allows_tls_and_denies_plain_http(tmp_path):
    """One data directory served first over HTTPS, then over plain HTTP: a policy that
    denies requests without TLS lets the first through and stops the second."""
    data = tmp_path / "data"
    srv = Server(data, ["--tls-self-signed"]).start()
    try:
        s3 = srv.client("s3")
        s3.create_bucket(Bucket="tls-only")
        s3.put_object(Bucket="tls-only", Key="doc", Body=b"doc")
        other_id, other_key, other_secret = new_account(srv, "reader")
        s3.put_bucket_policy(Bucket="tls-only", Policy=policy(
            {"Sid": "Reader", "Effect": "Allow", "Principal": {"AWS": other_id},
             "Action": "s3:GetObject", "Resource": "arn:aws:s3:::tls-only/*"},
            {"Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
             "Resource": ["arn:aws:s3:::tls-only", "arn:aws:s3:::tls-only/*"],
             "Condition": {"Bool": {"aws:SecureTransport": "false"}}}))
        reader = srv.client("s3", other_key, other_secret)
        assert reader.get_object(Bucket="tls-only", Key="doc")["Body"].read() == b"doc"
        assert s3.get_object(Bucket="tls-only", Key="doc")["Body"].read() == b"doc"
    finally:
        srv.stop()

    plain = Server(data).start()
    try:
        assert plain.endpoint.startswith("http://") and plain.ca_bundle is None
        reader = plain.client("s3", other_key, other_secret)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            reader.get_object(Bucket="tls-only", Key="doc")
        assert error_code(e) == "AccessDenied"
        # The explicit deny binds the bucket's owner as well.
        with pytest.raises(botocore.exceptions.ClientError) as e:
            plain.client("s3").get_object(Bucket="tls-only", Key="doc")
        assert error_code(e) == "AccessDenied"
    finally:
        plain.stop()


def openssl_pair(directory, name, *key_args):
    """A self-signed certificate for 127.0.0.1 made by OpenSSL, as an operator would."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(
        ["openssl", "req", "-x509", *key_args, "-nodes", "-days", "2",
         "-subj", f"/CN={name}", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=60)
    return cert, key


def wait_for(predicate, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_sighup_presents_a_new_certificate_and_keeps_the_old_one_over_a_bad_pair(tmp_path):
    # RSA first, then ECDSA: a reload may change the key type too.
    first_cert, first_key = openssl_pair(tmp_path, "first", "-newkey", "rsa:2048")
    second_cert, second_key = openssl_pair(
        tmp_path, "second", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    cert, key = tmp_path / "live.crt", tmp_path / "live.key"
    cert.write_bytes(first_cert.read_bytes())
    key.write_bytes(first_key.read_bytes())
    srv = Server(tmp_path / "data", ["--tls-cert", str(cert), "--tls-key", str(key)]).start()
    try:
        assert srv.ca_bundle == str(cert)
        assert served_fingerprint(srv.endpoint) == file_fingerprint(first_cert)
        # A connection opened before the reload keeps working after it.
        host, port = host_port(srv.endpoint)
        context = ssl.create_default_context(cafile=str(first_cert))
        held = context.wrap_socket(socket.create_connection((host, port), timeout=10), server_hostname=host)

        cert.write_bytes(second_cert.read_bytes())
        key.write_bytes(second_key.read_bytes())
        # Until SIGHUP, the files are not re-read.
        assert served_fingerprint(srv.endpoint) == file_fingerprint(first_cert)
        srv.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: served_fingerprint(srv.endpoint) == file_fingerprint(second_cert)), srv.log()
        key_id, secret = srv.admin_keys()
        s3 = boto3.client("s3", endpoint_url=srv.endpoint, region_name=REGION,
                          aws_access_key_id=key_id, aws_secret_access_key=secret,
                          verify=str(second_cert), config=botocore.config.Config(retries={"max_attempts": 1}))
        s3.list_buckets()
        held.sendall(b"GET /_nomuck/health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        reply = b""
        while chunk := held.recv(4096):
            reply += chunk
        assert reply.startswith(b"HTTP/1.1 200") and b'"ok"' in reply, reply
        held.close()

        # A key that does not fit the certificate: logged, and the second pair stays.
        key.write_bytes(first_key.read_bytes())
        srv.proc.send_signal(signal.SIGHUP)
        assert wait_for(lambda: "TLS certificate not reloaded" in srv.log()), srv.log()
        assert "does not fit" in srv.log()
        assert served_fingerprint(srv.endpoint) == file_fingerprint(second_cert)
        s3.list_buckets()
        # No key material reaches the log.
        key_body = "".join(second_key.read_text().splitlines()[1:-1])[:40]
        assert key_body not in srv.log()
        assert srv.proc.poll() is None
        # SIGTERM drains and exits cleanly over TLS as over HTTP.
        assert srv.stop() == 0, srv.log()
    finally:
        srv.stop()

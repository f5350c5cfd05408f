"""Fixtures that run the real nomuck binary and point real AWS clients at it.

Each `Server` is a `nomuck serve` process on a free loopback port (`--listen
127.0.0.1:0`; the bound address is read from `<data-dir>/server.json`) with its own
temporary data directory. It is stopped by its PID, never by name. A server
serving HTTPS (`--tls-…`) names its endpoint and the certificate to trust there
too; the clients below trust it.
"""

import configparser
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import boto3
import botocore.config
import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("NOMUCK_BIN", ROOT / "target" / "debug" / "nomuck"))
REGION = "us-east-1"


def nomuck(data_dir, *args, check=True, env=None):
    """Run a `nomuck` CLI command against `data_dir`."""
    proc = subprocess.run(
        [str(BIN), "--data-dir", str(data_dir), *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"nomuck {args} failed ({proc.returncode}): {proc.stderr}")
    return proc


class Server:
    def __init__(self, data_dir, extra_args=(), listen="127.0.0.1:0", default_image=False):
        self.data_dir = Path(data_dir)
        self.extra_args = list(extra_args)
        self.listen = listen
        # Registering the default image uploads tens of MiB: only compute tests ask.
        self.default_image = default_image
        self.proc = None
        self.endpoint = None
        # The PEM certificate an https server presents; None over plain HTTP.
        self.ca_bundle = None
        self.log_path = self.data_dir.parent / f"{self.data_dir.name}-server.log"

    def start(self, timeout=30):
        self.data_dir.mkdir(parents=True, exist_ok=True)
        server_file = self.data_dir / "server.json"
        log = open(self.log_path, "ab")
        env = dict(os.environ, NOMUCK_DEFAULT_IMAGE=str(self.default_image).lower())
        self.proc = subprocess.Popen(
            [str(BIN), "--data-dir", str(self.data_dir), "serve", "--listen", self.listen, *self.extra_args],
            stdout=log,
            stderr=log,
            env=env,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"nomuck exited with {self.proc.returncode}: {self.log()}")
            try:
                info = json.loads(server_file.read_text())
                if info["pid"] == self.proc.pid:
                    self.endpoint = info.get("endpoint", f"http://{info['listen']}")
                    self.ca_bundle = info.get("ca_bundle")
                    if requests.get(self.health_url(), timeout=2, verify=self.ca_bundle or True).ok:
                        return self
            except (OSError, ValueError, KeyError, requests.RequestException):
                pass
            time.sleep(0.05)
        raise AssertionError(f"nomuck did not become ready: {self.log()}")

    def health_url(self):
        return f"{self.endpoint}/_nomuck/health"

    def log(self):
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.returncode

    @property
    def credentials_file(self):
        return self.data_dir / "admin-credentials"

    def admin_keys(self):
        parser = configparser.ConfigParser()
        parser.read(self.credentials_file)
        section = parser["default"]
        return section["aws_access_key_id"], section["aws_secret_access_key"]

    def client(self, service, key_id=None, secret=None, **config):
        if key_id is None:
            key_id, secret = self.admin_keys()
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            region_name=REGION,
            aws_access_key_id=key_id,
            aws_secret_access_key=secret,
            verify=self.ca_bundle,
            config=botocore.config.Config(retries={"max_attempts": 1}, **config),
        )

    def aws(self, *args, key_id=None, secret=None, env_extra=None, prefix=(), check=True, trust=True):
        """Run aws-cli against this server. Credentials default to the admin file.
        An https server's certificate is trusted (AWS_CA_BUNDLE) unless `trust` is false."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update(
            AWS_ENDPOINT_URL=self.endpoint,
            AWS_DEFAULT_REGION=REGION,
            AWS_MAX_ATTEMPTS="1",
            AWS_CONFIG_FILE=os.devnull,
        )
        if self.ca_bundle and trust:
            env["AWS_CA_BUNDLE"] = self.ca_bundle
        if key_id is None:
            env["AWS_SHARED_CREDENTIALS_FILE"] = str(self.credentials_file)
        else:
            env.update(AWS_ACCESS_KEY_ID=key_id, AWS_SECRET_ACCESS_KEY=secret, AWS_SHARED_CREDENTIALS_FILE=os.devnull)
        env.update(env_extra or {})
        proc = subprocess.run([*prefix, "aws", *args], capture_output=True, text=True, env=env, timeout=120)
        if check and proc.returncode != 0:
            raise AssertionError(f"aws {args} failed ({proc.returncode}): {proc.stderr}")
        return proc


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "data").start()
    yield srv
    srv.stop()


@pytest.fixture
def make_server(tmp_path):
    """Start servers with custom arguments; all are stopped at the end."""
    started = []

    def make(name="data", extra_args=()):
        srv = Server(tmp_path / name, extra_args).start()
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


def new_account(srv, name):
    """Create an account and a key through the CLI; returns (account_id, key_id, secret)."""
    account = json.loads(nomuck(srv.data_dir, "account", "create", name, "--json").stdout)
    key = json.loads(nomuck(srv.data_dir, "key", "create", name, "--json").stdout)
    assert key["accountId"] == account["accountId"]
    return account["accountId"], key["accessKeyId"], key["secretAccessKey"]


def error_code(excinfo):
    """The AWS error code of a botocore ClientError caught by pytest.raises."""
    return excinfo.value.response["Error"]["Code"]


def policy(*statements):
    """A bucket policy document of these statements."""
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


@pytest.fixture
def s3(server):
    """The admin account's S3 client."""
    return server.client("s3")


@pytest.fixture
def other(server):
    """A second account's S3 client and its account id."""
    account_id, key, secret = new_account(server, "other")
    return server.client("s3", key, secret), account_id

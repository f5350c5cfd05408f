"""The README's examples, pasted in order as a newcomer would, against a fresh server.

README.md itself is parsed, so an example that stops working, or a new example without
a check here, fails this test. How the blocks are run:

- Every ```sh and ```python block, in order. A block that is just `dev/test` is skipped
  (it runs this test). A block that is `dev/serve [ARGS]` (re)starts the test's server
  with ARGS, as the reader restarts theirs.
- All other blocks are sourced, in turn, by one bash session, so exports and variables
  carry over as in a terminal; ```python blocks run there as `python3 - <<EOF`. Any failing command fails
  the test (an ERR trap reports it).
- The session runs in a fresh directory laid out like the checkout after `dev/serve`:
  the server's data directory is ./nomuck-data, .venv is the virtual environment running
  this test (with aws-cli), target/release/nomuck is the binary under test (NOMUCK_BIN).
  It starts with no AWS_* or NOMUCK_* variables, and with neither `nomuck` nor this
  virtual environment on PATH, so the README's own PATH line must provide them.
- The only edit to the text: the ports 2006 (the server) and 9000 (the webhook receiver)
  become free ports chosen by the test. Processes the examples start in the background
  (the receiver) are stopped with the session's process group at the end.
"""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

from conftest import BIN, ROOT, Server

# What each runnable block must print: (text that identifies the block, patterns that
# must each appear in its output). Every block needs exactly one entry.
EXPECT = [
    ("aws cur put-report-definition", [r"make_bucket: costs", r"^monthly\s+costs\s+reports$"]),
    ("export AWS_DEFAULT_REGION", [r'"Arn": "arn:aws:iam::\d{12}:root"']),
    ("aws s3 mb s3://photos", [r"make_bucket: photos", r"upload: \./picture\.jpg to s3://photos/picture\.jpg",
                               r"picture\.jpg", r"^not really a picture$"]),
    ("put-bucket-policy --bucket photos", [r"^not really a picture$"]),
    ("aws s3 website s3://site", [r"^<h1>Hello from nomuck</h1>$", r"^<h1>Not here</h1>$"]),
    ("cat > receiver.py", []),
    ("aws sns create-topic", [r"verified \S+ arn:aws:sns:us-east-1:\d{12}:uploads \['docs/notes\.txt'\]"]),
    ("put-bucket-lifecycle-configuration", [r"^tmp/notes\.txt$\n(.*\n)*None$"]),
    ("import boto3", [r"^\d{12}$"]),
    ("aws kms create-key", [r"^database password$"]),
    ("aws ec2 wait image-available", [r"^Linux 6\.", r"^hello from ip-172-31-", r'"shutting-down"']),
    ("fws() { curl", [r'"centerId":"SIM1"', r'"ShipmentId":"IN-1"', r'"fulfillableQuantity":50',
                      r'"isFulfillable":true', r'"fulfillmentOrderStatus":"Complete"',
                      r'"currentStatus":"DELIVERED"', r'"eventType":"FULFILLMENT_ORDER_STATUS"']),
    ("--sse aws:kms", [r"^aws:kms$", r"\(AccessDenied\).*object lock", r"^kept until its date$"]),
    ("nomuck bill show", [r"^TOTAL \d+\.\d{2} USD$", r'"total_usd": "\d+\.\d{2}"',
                          r"^account,service,usage type,operation,start,end,quantity,unit,rate,cost\r?$"]),
    ("aws ce get-cost-and-usage", [r'"Amazon Simple Storage Service"', r'"Unit": "USD"',
                                   r'^\s*"monthly",\s*$']),
    ("nomuck account create alice", [r"created account alice \(\d{12}\)", r"aws_access_key_id = AKIA",
                                     r"^\d{12} +admin .* admin$", r"^\d{12} +user .* alice$",
                                     r"^AKIA\w+ +\d{12} .* active$", r"^revoked AKIA\w+$",
                                     r"^client_id: amzn1\.application-oa2-client\.[0-9a-f]{32}$",
                                     r"^refresh_token: Atzr\|",
                                     r"^amzn1\.application-oa2-client\.[0-9a-f]{32} +\d{12} .* active$"]),
    ("export AWS_CA_BUNDLE", [r"picture\.jpg", r"^not really a picture$", r"<Code>HttpsRequired</Code>"]),
]


def readme_blocks():
    """(language, code) of every fenced block of README.md, in order."""
    text = (ROOT / "README.md").read_text()
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Session:
    """One bash process the blocks are pasted into; its output is collected by a thread."""

    def __init__(self, cwd, env, scratch):
        self.scratch = scratch  # where the blocks are written, outside the working directory
        self.proc = subprocess.Popen(["bash", "--noprofile", "--norc"], cwd=cwd, env=env, text=True,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        self.lines = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()
        self.send("set -E; trap 'echo \"__FAILED__ exit $?: $BASH_COMMAND\"' ERR")

    def _read(self):
        for line in self.proc.stdout:
            with self.lock:
                self.lines.append(line.rstrip("\n"))

    def send(self, code):
        self.proc.stdin.write(code + "\n")
        self.proc.stdin.flush()

    def run(self, code, timeout=120):
        """Run `code` as if pasted, wait until it has finished; returns the index of its
        first output line. It is sourced from a file with stdin from /dev/null, so a
        command that reads stdin cannot swallow what follows."""
        with self.lock:
            start = len(self.lines)
        marker = f"__DONE_{time.monotonic_ns()}__"
        script = self.scratch / f"block-{start}.sh"
        script.write_text(code)
        self.send(f"source {script} </dev/null; echo {marker}")
        assert self.wait_for(start, re.escape(marker), timeout, raw=True), f"still running after {timeout} s:\n{code}"
        return start

    def output(self, start):
        """What was printed since line `start`, without the end markers."""
        with self.lock:
            text = "\n".join(self.lines[start:])
        return re.sub(r"__DONE_\d+__\n?", "", text)

    def wait_for(self, start, pattern, timeout=30, raw=False):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                text = "\n".join(self.lines[start:])
            if re.search(pattern, text if raw else self.output(start), re.M):
                return True
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        return False

    def close(self):
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)  # bash and what the examples started
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


def without(path, *programs):
    """PATH without the directories that hold any of `programs`."""
    return os.pathsep.join(d for d in path.split(os.pathsep)
                           if d and not any(os.access(os.path.join(d, p), os.X_OK) for p in programs))


def test_readme_examples_work_in_order(tmp_path):
    blocks = [(lang, code) for lang, code in readme_blocks() if lang in ("sh", "python")]
    assert blocks, "README.md has no examples"

    work = tmp_path / "checkout"
    (work / "target" / "release").mkdir(parents=True)
    (work / "target" / "release" / "nomuck").symlink_to(BIN)
    venv = Path(sys.prefix)
    assert (venv / "bin" / "aws").exists(), f"{venv} has no aws-cli (run dev/setup)"
    (work / ".venv").symlink_to(venv)
    ports = {"2006": str(free_port()), "9000": str(free_port())}
    server = None
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "NOMUCK_", "VIRTUAL_ENV"))}
    # No nomuck and not this virtual environment: the README's PATH line must find them.
    path = os.pathsep.join(d for d in without(os.environ["PATH"], "nomuck").split(os.pathsep)
                           if Path(d).resolve() != (venv / "bin").resolve())
    env.update(HOME=str(tmp_path / "home"), PATH=path)
    (tmp_path / "blocks").mkdir()
    session = Session(work, env, tmp_path / "blocks")
    used = set()
    try:
        for lang, code in blocks:
            code = re.sub(r"\b(2006|9000)\b", lambda m: ports[m.group(1)], code)
            first = code.strip().splitlines()[0]
            if code.strip() == "dev/test":
                continue
            if first.startswith("dev/serve"):
                args = first.split()[1:]
                if server:
                    assert server.stop() == 0, server.log()
                server = Server(work / "nomuck-data", args, listen=f"127.0.0.1:{ports['2006']}",
                                default_image=True).start()
                continue
            matching = [i for i, (needle, _) in enumerate(EXPECT) if needle in code]
            assert len(matching) == 1, f"README block needs exactly one entry in EXPECT:\n{code}"
            used.add(matching[0])
            if lang == "python":
                code = f"python3 - <<'PYTHON'\n{code}PYTHON"
            start = session.run(code, timeout=300)
            for pattern in EXPECT[matching[0]][1]:
                # Webhook deliveries arrive a moment after the upload.
                assert session.wait_for(start, pattern, timeout=20), (
                    f"README block did not print {pattern!r}:\n{code}\n--- output ---\n{session.output(start)}"
                    + (f"\n--- server log ---\n{server.log()}" if server else ""))
            failed = [line for line in session.output(start).splitlines() if line.startswith("__FAILED__")]
            assert not failed, f"README block failed: {failed}\n{code}\n--- output ---\n{session.output(start)}"
        assert used == set(range(len(EXPECT))), f"EXPECT entries without a README block: " \
            f"{[EXPECT[i][0] for i in set(range(len(EXPECT))) - used]}"
        # The receiver verified each delivery; none was rejected.
        assert "REJECTED" not in session.output(0)
    finally:
        session.close()
        if server:
            server.stop()

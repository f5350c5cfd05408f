"""The compute benchmark behind dev/bench-compute (run that: it builds the release binary).

Measures, against a `nomuck serve` of its own (release binary, temp data directory,
free loopback port, the built-in default image):

1. launch latency: RunInstances call -> the guest's first userspace line on its
   serial console (`nomuck-init: userspace reached`), over N sequential launches,
   each instance terminated (its QEMU gone) before the next; interleaved with the
   SAME QEMU command line run by hand (argv copied from the first instance's
   /proc/<pid>/cmdline, its own files moved to a scratch dir, a fresh qcow2
   overlay on the same base), from process start to the same line;
2. RunInstances round trip over the same launches;
3. time from the RunInstances call until the forwarded SSH port answers with its
   banner, and until `nomuck instance ssh -i KEY ID -- true` succeeds;
4. capacity: idle instances launched one after another (each waited to userspace)
   until --capacity run or RunInstances refuses; then nomuck's own CPU and RSS, the
   QEMUs' RSS and CPU, and the host's load over --measure-secs; then all terminated
   and no QEMU of the data dir may remain.

Both the console of a nomuck guest and of a by-hand guest are polled the same way
(every --poll-ms), so the polling delay is the same on both sides.
"""

import argparse
import configparser
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import botocore.config
from botocore.exceptions import ClientError

MARKER = b"nomuck-init: userspace reached"
REGION = "us-east-1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
ROOT = Path(__file__).resolve().parents[1]


def log(*parts):
    print("bench-compute:", *parts, file=sys.stderr, flush=True)


def wait_for(what, check, timeout, step=0.2):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(step)


def wait_for_line(path, start, timeout, poll, alive=lambda: True):
    """Seconds from `start` (a monotonic time) until MARKER appears in `path`, which
    may not exist yet. `alive` says whether waiting still makes sense."""
    deadline = start + timeout
    buf = b""
    pos = 0
    f = None
    try:
        while True:
            if f is None:
                try:
                    f = open(path, "rb")
                except FileNotFoundError:
                    pass
            if f is not None:
                chunk = f.read()
                if chunk:
                    buf += chunk
                    if MARKER in buf[max(0, pos - len(MARKER)):]:
                        return time.monotonic() - start
                    pos = len(buf)
            if time.monotonic() > deadline:
                raise RuntimeError(f"no userspace line in {path} after {timeout:.0f} s")
            if not alive():
                raise RuntimeError(f"gave up on {path} (its QEMU, or the server, exited) before the userspace line: "
                                   f"{buf[-2000:].decode(errors='replace')}")
            time.sleep(poll)
    finally:
        if f is not None:
            f.close()


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie is gone for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def proc_cpu_secs(pid):
    """utime + stime of `pid`, in seconds (None once it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    # Fields 14 and 15 of stat(5); index 0 here is field 3 (state).
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_started_boottime(pid):
    """When `pid` started, in seconds of CLOCK_BOOTTIME (to the kernel's clock tick)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1].split()
    except (OSError, IndexError):
        return None
    return int(fields[19]) / CLK_TCK  # field 22, starttime


def proc_rss_kib(pid):
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def host_cpu_ticks():
    """(busy, total) jiffies of the whole host, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def mem_available_kib():
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1])
    return None


def cpu_model():
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown"


def pids_with(fragment):
    """PIDs (not ours) whose command line contains `fragment`, like `pgrep -f`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            continue
        if fragment.encode() in cmdline:
            found.append(int(entry.name))
    return sorted(found)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ssh_banner(host, port):
    try:
        with socket.create_connection((host, port), timeout=2) as s:
            s.settimeout(2)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def summary(values):
    """n, median, p90 and range of a list of seconds (None if empty)."""
    if not values:
        return None
    s = sorted(values)
    p90 = statistics.quantiles(s, n=10, method="inclusive")[8] if len(s) > 1 else s[0]
    return {"n": len(s), "median": statistics.median(s), "p90": p90, "min": s[0], "max": s[-1]}


# ---------------------------------------------------------------------------------
# QEMU option strings: `key=value,key=value` where a literal comma is written `,,`.

def split_opts(text):
    parts, cur, i = [], "", 0
    while i < len(text):
        if text[i] == ",":
            if text[i + 1:i + 2] == ",":
                cur += ","
                i += 2
                continue
            parts.append(cur)
            cur = ""
        else:
            cur += text[i]
        i += 1
    parts.append(cur)
    return parts


def join_opts(parts):
    return ",".join(p.replace(",", ",,") for p in parts)


def set_opt(parts, key, value):
    return [f"{key}={value}" if p.startswith(key + "=") else p for p in parts]


class HandBuilt:
    """The argv of a nomuck guest, re-pointed so it runs by hand beside nomuck: its
    QMP socket, pid file, console log, disk overlay and private-network socket in a
    scratch directory; forwarded host ports fresh; the metadata guestfwd (a `cmd:`
    that bridges to nomuck's per-instance metadata socket) dropped, since the
    instance it served is gone and nothing before the first userspace line uses it.
    Kernel, initrd and the overlay's backing file are nomuck's own files, used as-is."""

    def __init__(self, argv, qemu_img, base, base_format):
        self.argv = argv
        self.qemu_img = qemu_img
        self.base = base
        self.base_format = base_format

    @classmethod
    def from_instance(cls, pid, qemu_img):
        argv = [a.decode() for a in Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[:-1]]
        disk = None
        for i, a in enumerate(argv[:-1]):
            if a == "-drive":
                file = [p for p in split_opts(argv[i + 1]) if p.startswith("file=")]
                disk = file[0][len("file="):] if file else None
        if disk is None:
            raise RuntimeError(f"no -drive file= in the guest's command line: {argv}")
        info = json.loads(subprocess.run([qemu_img, "info", "-U", "--output=json", disk],
                                         check=True, capture_output=True, text=True).stdout)
        base = info.get("full-backing-filename") or info.get("backing-filename")
        if not base:
            raise RuntimeError(f"{disk} has no backing file")
        return cls(argv, qemu_img, base, info.get("backing-filename-format", "qcow2"))

    def prepare(self, scratch):
        """Creates the run's overlay and returns (argv, seconds qemu-img took)."""
        scratch.mkdir(parents=True)
        t0 = time.monotonic()
        subprocess.run([self.qemu_img, "create", "-q", "-f", "qcow2", "-b", self.base,
                        "-F", self.base_format, str(scratch / "disk.qcow2")], check=True)
        overlay_secs = time.monotonic() - t0
        out = list(self.argv)
        for i in range(1, len(out)):
            flag, value = out[i - 1], out[i]
            parts = split_opts(value)
            if flag == "-pidfile":
                out[i] = str(scratch / "qemu.pid")
            elif flag == "-chardev" and parts[0] == "socket":
                out[i] = join_opts(set_opt(parts, "path", str(scratch / "qmp.sock")))
            elif flag == "-chardev" and parts[0] == "file":
                out[i] = join_opts(set_opt(parts, "path", str(scratch / "console.log")))
            elif flag == "-drive":
                out[i] = join_opts(set_opt(parts, "file", str(scratch / "disk.qcow2")))
            elif flag == "-netdev" and parts[0] == "user":
                kept = []
                for p in parts:
                    if p.startswith("guestfwd="):
                        continue
                    if p.startswith("hostfwd="):
                        # hostfwd=tcp:ADDR:PORT-:GUESTPORT
                        head, guest = p.split("-", 1)
                        proto_addr = head.rsplit(":", 1)[0]
                        p = f"{proto_addr}:{free_port()}-{guest}"
                    kept.append(p)
                out[i] = join_opts(kept)
            elif flag == "-netdev" and parts[0] == "dgram":
                parts = set_opt(parts, "local.path", str(scratch / "nic.sock"))
                out[i] = join_opts(set_opt(parts, "remote.path", str(scratch / "switch.sock")))
        return out, overlay_secs


class StandInSwitch:
    """A unix datagram socket that reads and drops whatever the by-hand guest's private
    NIC sends, in place of nomuck's switch (so its sends neither fail nor block)."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.sock.settimeout(0.5)
        self.stop = False
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        while not self.stop:
            try:
                self.sock.recv(65536)
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


# ---------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.work = Path(tempfile.mkdtemp(prefix="nomuck-bench-compute.",
                                          dir=os.environ.get("TMPDIR", "/tmp")))
        self.data = self.work / "data"
        self.vm_dir = self.data / "compute" / "vm"
        self.hand_dir = self.work / "hand"
        self.server = None
        self.ec2 = None
        self.instances = set()      # launched and not yet seen terminated
        self.hand_procs = []        # by-hand QEMUs still to kill
        self.report = {}
        self.hypervisor = None
        self.image_name = None

    # -- server ---------------------------------------------------------------------

    def start_server(self):
        a = self.args
        config = self.work / "config.toml"
        config.write_text(
            "[compute]\n"
            # Room for the capacity phase: the account limit must not be what stops it.
            f"max_instances_per_account = {a.max_instances or max(a.capacity + 5, 20)}\n"
            f"stop_grace_secs = {a.stop_grace}\n"
        )
        env = dict(os.environ, NOMUCK_DEFAULT_IMAGE="true")
        env = {k: v for k, v in env.items() if not k.startswith("AWS_")}
        if a.accelerator:
            env["NOMUCK_ACCELERATOR"] = a.accelerator
        self.data.mkdir(parents=True)
        self.server_log = self.work / "server.log"
        # Its own session: Ctrl-C reaches this script, which then cleans up in order,
        # rather than the server, which would die under its instances.
        self.server = subprocess.Popen(
            [a.bin, "--data-dir", str(self.data), "--config", str(config), "serve", "--listen", "127.0.0.1:0"],
            stdout=open(self.server_log, "ab"), stderr=subprocess.STDOUT, env=env,
            start_new_session=True)
        log(f"server pid {self.server.pid}, data {self.data}")

        def ready():
            if self.server.poll() is not None:
                raise RuntimeError(f"nomuck exited with {self.server.returncode}: {self.server_tail()}")
            try:
                info = json.loads((self.data / "server.json").read_text())
            except (OSError, ValueError):
                return None
            return info if info.get("pid") == self.server.pid else None

        info = wait_for("the server", ready, 60, 0.05)
        self.endpoint = f"http://{info['listen']}"
        creds = configparser.ConfigParser()
        creds.read(self.data / "admin-credentials")
        self.ec2 = boto3.client(
            "ec2", endpoint_url=self.endpoint, region_name=REGION,
            aws_access_key_id=creds["default"]["aws_access_key_id"],
            aws_secret_access_key=creds["default"]["aws_secret_access_key"],
            config=botocore.config.Config(retries={"max_attempts": 1}))
        log("waiting for the default image (built once into the guest cache, then uploaded)")
        self.image_id = wait_for("the default image", self.default_image, a.image_timeout, 1)
        self.key_path = self.work / "bench-key.pem"
        material = self.ec2.create_key_pair(KeyName="bench", KeyType="ed25519")["KeyMaterial"]
        self.key_path.write_text(material)
        self.key_path.chmod(0o600)

    def server_tail(self):
        try:
            return self.server_log.read_text(errors="replace")[-3000:]
        except OSError:
            return ""

    def default_image(self):
        if self.server.poll() is not None:
            raise RuntimeError(f"nomuck exited with {self.server.returncode}: {self.server_tail()}")
        images = self.ec2.describe_images(
            Owners=["self"], Filters=[{"Name": "name", "Values": ["nomuck-default-*"]}])["Images"]
        ok = [i for i in images if i["ImageType"] == "machine" and i["State"] == "available"]
        if ok:
            self.image_name = ok[0]["Name"]
        return ok[0]["ImageId"] if ok else None

    # -- instances --------------------------------------------------------------------

    def run_instance(self):
        """RunInstances; returns (instance id, call start, round-trip seconds)."""
        self.last_call_boottime = time.clock_gettime(time.CLOCK_BOOTTIME)
        t0 = time.monotonic()
        r = self.ec2.run_instances(ImageId=self.image_id, InstanceType=self.args.instance_type,
                                   KeyName="bench", MinCount=1, MaxCount=1)
        api = time.monotonic() - t0
        iid = r["Instances"][0]["InstanceId"]
        self.instances.add(iid)
        return iid, t0, api

    def qemu_pid(self, iid):
        try:
            pid = int((self.vm_dir / iid / "qemu.pid").read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def wait_userspace(self, iid, t0):
        return wait_for_line(self.vm_dir / iid / "console.log", t0, self.args.boot_timeout,
                             self.args.poll_ms / 1000, alive=lambda: self.server.poll() is None)

    def describe(self, iid):
        return self.ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]

    def ssh_port(self, iid):
        tags = {t["Key"]: t["Value"] for t in self.describe(iid).get("Tags", [])}
        for fwd in tags.get("nomuck:forwards", "").split(","):
            guest, _, addr = fwd.partition("=")
            if guest == "22":
                host, _, port = addr.rpartition(":")
                return host, int(port)
        return None

    def ssh_login(self, iid):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        try:
            p = subprocess.run([self.args.bin, "--data-dir", str(self.data), "instance", "ssh",
                                "-i", str(self.key_path), iid, "--", "true"],
                               capture_output=True, env=env, timeout=30)
            return p.returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def terminate(self, ids, timeout=180):
        """Terminates `ids` and waits until each is terminated and its QEMU gone."""
        if not ids:
            return
        pids = {i: self.qemu_pid(i) for i in ids}
        for k in range(0, len(ids), 50):
            self.ec2.terminate_instances(InstanceIds=list(ids)[k:k + 50])

        def done():
            if any(p and pid_alive(p) for p in pids.values()):
                return False
            states = [i["State"]["Name"] for r in self.ec2.describe_instances(InstanceIds=list(ids))["Reservations"]
                      for i in r["Instances"]]
            return all(s == "terminated" for s in states)

        wait_for(f"{len(ids)} instance(s) to terminate", done, timeout, 0.2)
        self.instances.difference_update(ids)

    # -- phases -----------------------------------------------------------------------

    def launches(self):
        a = self.args
        hand = None
        rows = self.report["launches"] = []
        for n in range(a.launches):
            iid, t0, api = self.run_instance()
            called = self.last_call_boottime
            userspace = self.wait_userspace(iid, t0)
            pid = self.qemu_pid(iid)
            # Where nomuck's time goes: before its QEMU exists, and after.
            spawned = proc_started_boottime(pid) - called
            if hand is None:
                hand = HandBuilt.from_instance(pid, a.qemu_img)
                self.report["qemu_argv"] = hand.argv
                self.hypervisor = self.describe(iid).get("Hypervisor")
            fwd = wait_for("the SSH forward", lambda: self.ssh_port(iid), 60, 0.2)
            banner = wait_for_line_like(lambda: ssh_banner(*fwd), t0, a.boot_timeout, a.poll_ms / 1000)
            login = None
            if not a.no_login:
                login = wait_for_line_like(lambda: self.ssh_login(iid), t0, a.boot_timeout, 0.5)
            self.terminate([iid])
            by_hand, overlay = self.run_by_hand(hand, n)
            row = {"instance": iid, "run_instances_s": api, "userspace_s": userspace,
                   "qemu_started_s": spawned,
                   "ssh_banner_s": banner, "ssh_login_s": login,
                   "by_hand_userspace_s": by_hand, "by_hand_overlay_create_s": overlay}
            rows.append(row)
            log(f"launch {n + 1}/{a.launches}: RunInstances {api * 1000:.0f} ms, userspace {userspace:.2f} s "
                f"(by hand {by_hand:.2f} s; QEMU started after {spawned:.2f} s), SSH banner {banner:.2f} s"
                + (f", ssh login {login:.2f} s" if login is not None else ""))
        col = lambda k: [r[k] for r in rows if r[k] is not None]
        nomuck, by_hand = summary(col("userspace_s")), summary(col("by_hand_userspace_s"))
        self.report["launch"] = {
            "nomuck_userspace_s": nomuck,
            "by_hand_userspace_s": by_hand,
            "by_hand_overlay_create_s": summary(col("by_hand_overlay_create_s")),
            "nomuck_minus_by_hand_paired_s": summary([r["userspace_s"] - r["by_hand_userspace_s"] for r in rows]),
            "overhead_of_medians_pct": 100 * (nomuck["median"] / by_hand["median"] - 1),
            "nomuck_qemu_started_s": summary(col("qemu_started_s")),
            "run_instances_s": summary(col("run_instances_s")),
            "ssh_banner_s": summary(col("ssh_banner_s")),
            "ssh_login_s": summary(col("ssh_login_s")),
        }

    def run_by_hand(self, hand, n):
        scratch = self.hand_dir / str(n)
        argv, overlay = hand.prepare(scratch)
        switch = StandInSwitch(scratch / "switch.sock")
        try:
            with open(scratch / "qemu.log", "ab") as qlog:
                t0 = time.monotonic()
                p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=qlog, stderr=qlog,
                                     start_new_session=True)
            self.hand_procs.append(p)
            try:
                secs = wait_for_line(scratch / "console.log", t0, self.args.boot_timeout,
                                     self.args.poll_ms / 1000, alive=lambda: p.poll() is None)
            except RuntimeError as e:
                raise RuntimeError(f"{e}\nQEMU said: {(scratch / 'qemu.log').read_text(errors='replace')[-2000:]}")
            stop_process(p)
            self.hand_procs.remove(p)
        finally:
            switch.close()
        shutil.rmtree(scratch, ignore_errors=True)
        return secs, overlay

    def capacity(self):
        a = self.args
        running, boots, refused = [], [], None
        for n in range(a.capacity):
            try:
                iid, t0, _ = self.run_instance()
            except ClientError as e:
                refused = {"code": e.response["Error"]["Code"], "message": e.response["Error"]["Message"],
                           "after": len(running)}
                log(f"capacity: RunInstances refused after {len(running)}: {refused['code']}")
                break
            boots.append(self.wait_userspace(iid, t0))
            running.append(iid)
            log(f"capacity: {len(running)} running (the last reached userspace in {boots[-1]:.2f} s)")
        if running:
            # Idle means booted: the last guest's SSH server answers, then a short settle.
            fwd = wait_for("the SSH forward", lambda: self.ssh_port(running[-1]), 60, 0.2)
            wait_for("the last guest's SSH banner", lambda: ssh_banner(*fwd), a.boot_timeout, 0.5)
            time.sleep(a.settle_secs)
        qemu_pids = [p for p in (self.qemu_pid(i) for i in running) if p]
        server = self.server.pid
        log(f"capacity: measuring {a.measure_secs} s with {len(running)} idle instances")
        cpu0 = proc_cpu_secs(server)
        qcpu0 = sum(proc_cpu_secs(p) or 0 for p in qemu_pids)
        host0 = host_cpu_ticks()
        t0 = time.monotonic()
        server_rss, qemu_rss = [], []
        while time.monotonic() - t0 < a.measure_secs:
            server_rss.append(proc_rss_kib(server) or 0)
            qemu_rss.append(sum(proc_rss_kib(p) or 0 for p in qemu_pids))
            time.sleep(1)
        elapsed = time.monotonic() - t0
        cpu1 = proc_cpu_secs(server)
        qcpu1 = sum(proc_cpu_secs(p) or 0 for p in qemu_pids)
        host1 = host_cpu_ticks()
        load = Path("/proc/loadavg").read_text().split()[:3]
        result = {
            "instance_type": a.instance_type,
            "asked": a.capacity,
            "running": len(running),
            "refused": refused,
            "userspace_s_by_order": boots,
            "measure_secs": elapsed,
            "server_cpu_s": cpu1 - cpu0,
            "server_cpu_pct_of_one_core": 100 * (cpu1 - cpu0) / elapsed,
            "server_rss_mib_mean": statistics.mean(server_rss) / 1024,
            "server_rss_mib_max": max(server_rss) / 1024,
            "qemu_count": len(qemu_pids),
            "qemu_rss_mib_total_mean": statistics.mean(qemu_rss) / 1024,
            "qemu_rss_mib_total_max": max(qemu_rss) / 1024,
            "qemu_cpu_pct_of_one_core_total": 100 * (qcpu1 - qcpu0) / elapsed,
            "host_cpu_busy_pct": 100 * (host1[0] - host0[0]) / max(1, host1[1] - host0[1]),
            "host_loadavg_1_5_15": [float(x) for x in load],
            "host_mem_available_mib": (mem_available_kib() or 0) / 1024,
        }
        self.terminate(running, timeout=max(180, 10 * len(running)))
        result["leftover_qemu_pids"] = pids_with(str(self.vm_dir) + "/")
        self.report["capacity"] = result
        if result["leftover_qemu_pids"]:
            raise RuntimeError(f"QEMUs left after terminating all: {result['leftover_qemu_pids']}")

    # -- cleanup --------------------------------------------------------------------

    def cleanup(self):
        if self.ec2 is not None and self.instances and self.server.poll() is None:
            try:
                self.terminate(sorted(self.instances), timeout=self.args.stop_grace + 60)
            except Exception as e:  # noqa: BLE001 - whatever failed, the kills below follow
                log(f"cleanup: terminating failed ({e}); killing QEMUs")
        for p in self.hand_procs:
            stop_process(p)
        # Last resort: any QEMU still running from this run's directories, by PID.
        for pid in pids_with(str(self.work) + "/"):
            if self.server and pid == self.server.pid:
                continue
            log(f"cleanup: killing leftover process {pid}")
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if self.server is not None:
            stop_process(self.server, grace=30)
        left = pids_with(str(self.work) + "/")
        if left:
            log(f"cleanup: still running: {left}")
        if self.args.keep:
            log(f"kept {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)


def wait_for_line_like(check, t0, timeout, step):
    """Seconds from `t0` until `check()` is true."""
    while True:
        if check():
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise RuntimeError(f"timed out after {timeout:.0f} s")
        time.sleep(step)


def stop_process(p, grace=5):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def markdown(r):
    def ms(v):
        return f"{v * 1000:,.0f} ms" if v < 10 else f"{v:,.1f} s"

    def row(name, s, note=""):
        if s is None:
            return f"| {name} | – | – | 0 | {note} |"
        return f"| {name} | {ms(s['median'])} | {ms(s['p90'])} | {s['n']} | {note} |"

    m = r["machine"]
    out = [f"CPU: {m['cpu_model']}, {m['cores']} cores, {m['mem_total_gib']:.0f} GiB; accelerator "
           f"(Hypervisor): **{r.get('hypervisor') or '?'}**; {r['instance_type']}; image {r.get('image_name')}; "
           f"commit {r['commit']}; {r['started_utc']}", ""]
    if "launch" in r:
        L = r["launch"]
        first = r["launches"][0]
        out += ["| figure | median | p90 | n | note |", "|---|---|---|---|---|",
                row("RunInstances → first userspace line, nomuck", L["nomuck_userspace_s"],
                    f"first launch {ms(first['userspace_s'])}"),
                row("same QEMU command line by hand → same line", L["by_hand_userspace_s"],
                    f"overlay `qemu-img create` before start: {ms(L['by_hand_overlay_create_s']['median'])}"),
                row("nomuck − by hand, paired launch by launch", L["nomuck_minus_by_hand_paired_s"],
                    f"**nomuck adds {L['overhead_of_medians_pct']:+.1f} %** (ratio of medians)"),
                row("RunInstances → its QEMU process starts (clock-tick resolution)", L["nomuck_qemu_started_s"]),
                row("RunInstances round trip", L["run_instances_s"]),
                row("RunInstances → SSH banner on the forwarded port", L["ssh_banner_s"]),
                row("RunInstances → `nomuck instance ssh -- true` succeeds", L["ssh_login_s"]),
                ""]
    if "capacity" in r:
        c = r["capacity"]
        refused = f" (RunInstances refused the next: {c['refused']['code']})" if c["refused"] else ""
        out += [f"Capacity: **{c['running']}** idle {c['instance_type']} instances running of {c['asked']} asked"
                f"{refused}; over {c['measure_secs']:.0f} s with all of them idle:", "",
                "| | |", "|---|---|",
                f"| nomuck server CPU | {c['server_cpu_pct_of_one_core']:.2f} % of one core ({c['server_cpu_s']:.2f} s) |",
                f"| nomuck server RSS | {c['server_rss_mib_mean']:.0f} MiB (max {c['server_rss_mib_max']:.0f}) |",
                f"| QEMUs' RSS, total of {c['qemu_count']} | {c['qemu_rss_mib_total_mean']:,.0f} MiB "
                f"({c['qemu_rss_mib_total_mean'] / max(1, c['qemu_count']):.0f} MiB each) |",
                f"| QEMUs' CPU, total | {c['qemu_cpu_pct_of_one_core_total']:.0f} % of one core |",
                f"| host CPU busy / load average (1, 5, 15 min) | {c['host_cpu_busy_pct']:.0f} % / "
                f"{', '.join(f'{x:.2f}' for x in c['host_loadavg_1_5_15'])} |",
                f"| time to userspace of the 1st / last instance launched | {ms(c['userspace_s_by_order'][0])} / "
                f"{ms(c['userspace_s_by_order'][-1])} |" if c["userspace_s_by_order"] else "",
                f"| QEMUs left after terminating all | {len(c['leftover_qemu_pids'])} |", ""]
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bin", default=str(ROOT / "target" / "release" / "nomuck"))
    ap.add_argument("--launches", type=int, default=20, help="sequential launches measured (default 20)")
    ap.add_argument("--capacity", type=int, default=20, help="idle instances to hold at once (default 20)")
    ap.add_argument("--skip-capacity", action="store_true")
    ap.add_argument("--max-instances", type=int,
                    help="the server's max_instances_per_account (default: --capacity + 5, at least 20)")
    ap.add_argument("--no-login", action="store_true", help="skip `nomuck instance ssh -- true` per launch")
    ap.add_argument("--instance-type", default="t2.nano")
    ap.add_argument("--accelerator", choices=["kvm", "tcg"], help="force one (default: nomuck's probe)")
    ap.add_argument("--measure-secs", type=float, default=30)
    ap.add_argument("--settle-secs", type=float, default=5)
    ap.add_argument("--stop-grace", type=int, default=10, help="the server's stop_grace_secs")
    ap.add_argument("--boot-timeout", type=float, default=300)
    ap.add_argument("--image-timeout", type=float, default=900)
    ap.add_argument("--poll-ms", type=float, default=5, help="console polling period (both sides)")
    ap.add_argument("--qemu-img", default="qemu-img")
    ap.add_argument("--json", help="also write the JSON report to this file")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (data, logs)")
    args = ap.parse_args()
    if args.launches < 1:
        ap.error("--launches must be at least 1")

    # SIGINT (even when started ignoring it, as a background job does), SIGTERM and
    # SIGHUP unwind through the cleanup below.
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, interrupted)

    bench = Bench(args)
    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    mem_total = next(int(l.split()[1]) for l in Path("/proc/meminfo").read_text().splitlines()
                     if l.startswith("MemTotal:"))
    r = bench.report
    r.update(started_utc=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit=commit,
             machine={"cpu_model": cpu_model(), "cores": os.cpu_count(), "mem_total_gib": mem_total / 2**20,
                      "kernel": platform.release()},
             instance_type=args.instance_type,
             settings={k: v for k, v in vars(args).items() if k not in ("json", "keep")},
             by_hand_method="argv of the first instance's QEMU from /proc/PID/cmdline; pidfile, QMP socket, "
                            "console log, disk overlay (fresh qemu-img create -f qcow2 -b BASE -F FMT) and "
                            "private-NIC socket moved to a scratch dir; hostfwd ports fresh; the metadata "
                            "guestfwd cmd: dropped; the private NIC's peer is a socket that drops every packet")
    failed = None
    try:
        bench.start_server()
        bench.launches()
        if not args.skip_capacity:
            bench.capacity()
    except (Exception, KeyboardInterrupt) as e:  # noqa: BLE001 - reported, then cleaned up
        failed = e
        log(f"failed: {type(e).__name__}: {e}")
    finally:
        r["image_name"], r["hypervisor"] = bench.image_name, bench.hypervisor
        bench.cleanup()
    if failed is not None:
        r["error"] = f"{type(failed).__name__}: {failed}"
    text = json.dumps(r, indent=2)
    if args.json:
        Path(args.json).write_text(text + "\n")
    print(text)
    print()
    print(markdown(r))
    return 1 if failed is not None else 0


if __name__ == "__main__":
    sys.exit(main())

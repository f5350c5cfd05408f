"""Compute end to end: real QEMU guests booted from the default image, driven with
boto3, aws-cli and `nomuck instance ssh`.

Guests under software emulation are slow on two cores, so the module shares one
server and one small fleet (account A: two instances; account B: one), and every
test terminates what it started itself. Tests run in file order: the fleet's
instances are stopped, imaged and terminated by the later tests.
"""

import base64
import json
import os
import socket
import sqlite3
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import BIN, Server, error_code, new_account
from test_s3_access import Receiver

TYPE = "t2.nano"  # 1 vCPU, 512 MiB: the smallest in the catalog

USER_DATA = """#!/bin/sh
echo "USER-DATA-RAN on $(hostname)"
"""


def wait(what, check, timeout=120, step=1):
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


class Fleet:
    """A compute server with two accounts, a key pair each and running instances."""

    def __init__(self, tmp):
        self.server = Server(tmp / "data", default_image=True).start()
        self.receiver = Receiver()
        self.a = self.server.client("ec2")
        _, key_b, secret_b = new_account(self.server, "bravo")
        self.b = self.server.client("ec2", key_b, secret_b)
        self.b_keys = (key_b, secret_b)
        self.image_id = wait("the default image", self.default_image, timeout=300, step=2)
        self.key_path = {}
        for name, client in (("a", self.a), ("b", self.b)):
            material = client.create_key_pair(KeyName=f"key-{name}", KeyType="ed25519")["KeyMaterial"]
            path = tmp / f"key-{name}.pem"
            path.write_text(material)
            path.chmod(0o600)
            self.key_path[name] = path
        # State-change events of account A go to its topic.
        sns = self.server.client("sns")
        sns.create_topic(Name="ec2-events", Attributes={
            "push-endpoint": self.receiver.url, "nomuck:EventSources": "aws.ec2"})
        run = self.a.run_instances(ImageId=self.image_id, MinCount=2, MaxCount=2, InstanceType=TYPE,
                                   KeyName="key-a", UserData=USER_DATA,
                                   MetadataOptions={"HttpTokens": "required"},
                                   TagSpecifications=[{"ResourceType": "instance",
                                                       "Tags": [{"Key": "fleet", "Value": "a"}]}])
        self.a_ids = [i["InstanceId"] for i in run["Instances"]]
        self.a_ips = [i["PrivateIpAddress"] for i in run["Instances"]]
        run_b = self.b.run_instances(ImageId=self.image_id, MinCount=1, MaxCount=1, InstanceType=TYPE,
                                     KeyName="key-b")
        self.b_ids = [i["InstanceId"] for i in run_b["Instances"]]
        self.b_ips = [i["PrivateIpAddress"] for i in run_b["Instances"]]

    def default_image(self):
        images = self.a.describe_images(Owners=["self"],
                                        Filters=[{"Name": "name", "Values": ["nomuck-default-*"]}])["Images"]
        machines = [i for i in images if i["ImageType"] == "machine" and i["State"] == "available"]
        return machines[0]["ImageId"] if machines else None

    def console(self, client, instance_id):
        return client.get_console_output(InstanceId=instance_id, Latest=True).get("Output", "")

    def ssh(self, who, instance_id, script, check=True, timeout=60):
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        if who == "b":
            env.update(AWS_ACCESS_KEY_ID=self.b_keys[0], AWS_SECRET_ACCESS_KEY=self.b_keys[1])
        proc = subprocess.run(
            [str(BIN), "--data-dir", str(self.server.data_dir), "instance", "ssh",
             "-i", str(self.key_path[who]), instance_id, "--", "sh", "-s"],
            input=script, capture_output=True, text=True, timeout=timeout, env=env)
        if check and proc.returncode != 0:
            raise AssertionError(f"ssh {instance_id} failed ({proc.returncode}): {proc.stderr}")
        return proc

    def ssh_ready(self, who, instance_id):
        return wait(f"ssh to {instance_id}",
                    lambda: self.ssh(who, instance_id, "echo ready", check=False, timeout=30).returncode == 0,
                    timeout=120, step=2)

    def close(self):
        for client, ids in ((self.a, self.a_ids), (self.b, self.b_ids)):
            try:
                client.terminate_instances(InstanceIds=ids)
            except ClientError:
                pass
        try:
            waiter_ids = self.a_ids
            self.a.get_waiter("instance_terminated").wait(InstanceIds=waiter_ids,
                                                          WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        except Exception:
            pass
        self.server.stop()
        self.receiver.close()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory):
    f = Fleet(tmp_path_factory.mktemp("compute"))
    yield f
    f.close()


# An IMDS client in the guest's shell (busybox nc; HTTP/1.0, so the reply ends with the
# connection): `imds METHOD PATH [HEADER]` prints the raw reply.
IMDS_SH = r"""
imds() {
  { printf '%s %s HTTP/1.0\r\nHost: 169.254.169.254\r\n' "$1" "$2"
    [ -n "$3" ] && printf '%s\r\n' "$3"
    printf '\r\n'; } | nc -w 3 169.254.169.254 80
}
"""


def http_body(raw):
    # subprocess's text mode has already turned CRLF into LF.
    head, _, body = raw.replace("\r\n", "\n").partition("\n\n")
    return head.split(" ", 2)[1], body


def test_instances_run_with_their_user_data_key_and_tags(fleet):
    ids = fleet.a_ids
    fleet.a.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1})
    found = fleet.a.describe_instances(InstanceIds=ids)["Reservations"]
    instances = [i for r in found for i in r["Instances"]]
    assert {i["InstanceId"] for i in instances} == set(ids)
    for i in instances:
        assert i["State"]["Name"] == "running"
        assert i["KeyName"] == "key-a"
        assert i["InstanceType"] == TYPE
        assert i["ImageId"] == fleet.image_id
        assert i["Hypervisor"] in ("kvm", "tcg")
        assert i["PrivateIpAddress"].startswith("172.31.")
        assert {"Key": "fleet", "Value": "a"} in i["Tags"]
        forwards = {t["Key"]: t["Value"] for t in i["Tags"]}["nomuck:forwards"]
        assert forwards.startswith("22=127.0.0.1:")
    for iid in ids:
        out = wait("user-data output", lambda: "USER-DATA-RAN" in fleet.console(fleet.a, iid) and fleet.console(fleet.a, iid))
        assert f"instance-id {iid} (IMDSv2)" in out
        assert "installed the key pair's public key" in out


def test_ssh_runs_a_command_and_returns_its_status(fleet):
    iid = fleet.a_ids[0]
    fleet.ssh_ready("a", iid)
    proc = fleet.ssh("a", iid, "hostname; echo to-stderr >&2; exit 7", check=False)
    assert proc.returncode == 7, proc.stderr
    assert proc.stdout.strip().startswith("ip-172-31-")
    # Another account's key and credentials get nowhere.
    denied = fleet.ssh("b", iid, "true", check=False)
    assert denied.returncode != 0
    assert "does not exist" in denied.stderr


def test_the_guest_reads_its_metadata_as_ec2_serves_it(fleet):
    iid = fleet.a_ids[0]
    fleet.ssh_ready("a", iid)
    script = IMDS_SH + r"""
T=$(imds PUT /latest/api/token 'X-aws-ec2-metadata-token-ttl-seconds: 60' | tail -n 1)
for p in /latest/meta-data/ /latest/meta-data/instance-id /latest/meta-data/local-ipv4 \
         /latest/meta-data/public-keys/0/openssh-key /latest/user-data \
         /latest/dynamic/instance-identity/document /latest/meta-data/placement/availability-zone; do
  echo "=== $p"; imds GET "$p" "X-aws-ec2-metadata-token: $T"; echo
done
echo "=== v1"; imds GET /latest/meta-data/instance-id
"""
    out = fleet.ssh("a", iid, script).stdout
    parts = {}
    for chunk in out.split("=== ")[1:]:
        name, _, raw = chunk.partition("\n")
        parts[name] = http_body(raw.rstrip("\n"))
    assert parts["/latest/meta-data/instance-id"] == ("200", iid)
    listing = parts["/latest/meta-data/"][1].split("\n")
    for entry in ("ami-id", "instance-id", "instance-type", "local-ipv4", "hostname", "public-keys/",
                  "placement/", "security-groups", "mac", "network/"):
        assert entry in listing, listing
    assert parts["/latest/meta-data/local-ipv4"][1] == fleet.a_ips[0]
    public = fleet.a.describe_key_pairs(KeyNames=["key-a"], IncludePublicKey=True)["KeyPairs"][0]["PublicKey"]
    assert parts["/latest/meta-data/public-keys/0/openssh-key"][1].strip() == public.strip()
    # (The split above drops the body's final newline.)
    assert parts["/latest/user-data"][1] == USER_DATA.rstrip("\n")
    doc = json.loads(parts["/latest/dynamic/instance-identity/document"][1])
    assert doc["instanceId"] == iid and doc["region"] == "us-east-1" and doc["imageId"] == fleet.image_id
    assert parts["/latest/meta-data/placement/availability-zone"][1] == "us-east-1a"
    # The instance requires IMDSv2: a request without a token is refused.
    assert parts["v1"][0] == "401"


def test_instances_of_one_account_reach_each_other_and_no_one_else(fleet):
    a1, a2 = fleet.a_ids
    b1 = fleet.b_ids[0]
    fleet.b.get_waiter("instance_running").wait(InstanceIds=[b1], WaiterConfig={"Delay": 1})
    fleet.ssh_ready("a", a1)
    fleet.ssh_ready("b", b1)
    ping = "ping -c 2 -W 2 {ip} >/dev/null && echo REACHED || echo UNREACHABLE"
    assert fleet.ssh("a", a1, ping.format(ip=fleet.a_ips[1])).stdout.strip() == "REACHED"
    # B's network has its own 172.31/20: A's second address is nobody there.
    assert fleet.b_ips[0] == fleet.a_ips[0], "each account has its own address space"
    assert fleet.ssh("b", b1, ping.format(ip=fleet.a_ips[1])).stdout.strip() == "UNREACHABLE"
    # And B cannot see or touch A's instances through the API.
    with pytest.raises(ClientError) as e:
        fleet.b.describe_instances(InstanceIds=[a1])
    assert error_code(e) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as e:
        fleet.b.terminate_instances(InstanceIds=[a1])
    assert error_code(e) == "InvalidInstanceID.NotFound"
    mine = [i["InstanceId"] for r in fleet.b.describe_instances()["Reservations"] for i in r["Instances"]]
    assert mine == [b1]


def forwarded(fleet, iid):
    """Guest port -> host port, from the instance's `nomuck:forwards` tag."""
    i = fleet.a.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    text = {t["Key"]: t["Value"] for t in i.get("Tags", [])}.get("nomuck:forwards", "")
    return {int(g): int(h.rsplit(":", 1)[1]) for g, h in (f.split("=") for f in text.split(",") if f)}


def test_security_group_rules_open_ports_of_running_instances(fleet):
    iid = fleet.a_ids[1]
    fleet.ssh_ready("a", iid)
    group = fleet.a.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]["GroupId"]
    assert 8080 not in forwarded(fleet, iid)
    rule = [{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    fleet.a.authorize_security_group_ingress(GroupId=group, IpPermissions=rule)
    port = forwarded(fleet, iid)[8080]
    # (busybox has no nohup; with its descriptors redirected the loop outlives the session.)
    fleet.ssh("a", iid, "sh -c 'while true; do echo HELLO-8080 | nc -l -p 8080; done' "
                        ">/dev/null 2>&1 </dev/null &")

    def answer():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=3) as c:
                return c.recv(64).decode().strip() or None
        except OSError:
            return None
    assert wait("the guest's port 8080", answer, timeout=30) == "HELLO-8080"
    fleet.a.revoke_security_group_ingress(GroupId=group, IpPermissions=rule)
    assert 8080 not in forwarded(fleet, iid)
    assert 22 in forwarded(fleet, iid)


def test_a_guest_that_powers_off_stops_or_terminates_as_asked(fleet):
    ids = {}
    for behavior in ("stop", "terminate"):
        run = fleet.a.run_instances(ImageId=fleet.image_id, MinCount=1, MaxCount=1, InstanceType=TYPE,
                                    UserData="#!/bin/sh\npoweroff\n",
                                    InstanceInitiatedShutdownBehavior=behavior)
        ids[behavior] = run["Instances"][0]["InstanceId"]
    def state(iid):
        return fleet.a.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["State"]["Name"]
    try:
        # (boto3's instance_stopped waiter gives up on seeing "pending", so poll.)
        wait("the guest that stops", lambda: state(ids["stop"]) == "stopped")
        wait("the guest that terminates", lambda: state(ids["terminate"]) == "terminated")
        for iid in ids.values():
            i = fleet.a.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
            assert i["StateReason"]["Code"] == "Client.InstanceInitiatedShutdown"
    finally:
        fleet.a.terminate_instances(InstanceIds=list(ids.values()))
    fleet.a.get_waiter("instance_terminated").wait(InstanceIds=list(ids.values()), WaiterConfig={"Delay": 1})


def test_stop_keeps_the_disk_start_and_reboot_work(fleet):
    iid = fleet.a_ids[0]
    fleet.ssh_ready("a", iid)
    fleet.ssh("a", iid, "echo kept-across-stop > /mnt/marker; sync")
    stopping = fleet.a.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stopping["PreviousState"]["Name"] == "running"
    assert stopping["CurrentState"]["Name"] == "stopping"
    fleet.a.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    stopped = fleet.a.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert stopped["StateTransitionReason"].startswith("User initiated (")
    # A stopped instance's type and user data may change.
    fleet.a.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.nano"})
    attr = fleet.a.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")
    assert attr["InstanceType"]["Value"] == "t3.nano"
    fleet.a.start_instances(InstanceIds=[iid])
    fleet.a.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    fleet.ssh_ready("a", iid)
    assert fleet.ssh("a", iid, "cat /mnt/marker").stdout.strip() == "kept-across-stop"
    before = fleet.ssh("a", iid, "cat /proc/sys/kernel/random/boot_id").stdout.strip()
    fleet.a.reboot_instances(InstanceIds=[iid])
    after = wait("the rebooted guest", lambda: (
        (p := fleet.ssh("a", iid, "cat /proc/sys/kernel/random/boot_id", check=False, timeout=20)).returncode == 0
        and p.stdout.strip() != before and p.stdout.strip()), timeout=120, step=2)
    assert after != before
    assert fleet.ssh("a", iid, "cat /mnt/marker").stdout.strip() == "kept-across-stop"


def test_create_image_from_a_stopped_instance_and_launch_it(fleet):
    iid = fleet.a_ids[0]
    fleet.a.stop_instances(InstanceIds=[iid])
    fleet.a.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})
    image_id = fleet.a.create_image(InstanceId=iid, Name="with-marker")["ImageId"]
    fleet.a.get_waiter("image_available").wait(ImageIds=[image_id], WaiterConfig={"Delay": 1})
    run = fleet.a.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType=TYPE, KeyName="key-a")
    copy = run["Instances"][0]["InstanceId"]
    try:
        fleet.a.get_waiter("instance_running").wait(InstanceIds=[copy], WaiterConfig={"Delay": 1})
        fleet.ssh_ready("a", copy)
        assert fleet.ssh("a", copy, "cat /mnt/marker").stdout.strip() == "kept-across-stop"
    finally:
        fleet.a.terminate_instances(InstanceIds=[copy])
    fleet.a.get_waiter("instance_terminated").wait(InstanceIds=[copy], WaiterConfig={"Delay": 1})
    # Another account cannot launch it until it is shared.
    with pytest.raises(ClientError) as e:
        fleet.b.run_instances(ImageId=image_id, MinCount=1, MaxCount=1, InstanceType=TYPE)
    assert error_code(e) == "InvalidAMIID.NotFound"


def boot_sector(message):
    """A BIOS boot sector that writes `message` to the first serial port and halts."""
    code = bytes([
        0xFC,                    # cld
        0x31, 0xC0,              # xor ax, ax
        0x8E, 0xD8,              # mov ds, ax
        0xBE, 0x00, 0x00,        # mov si, message (patched below)
        0xBA, 0xF8, 0x03,        # mov dx, 0x3f8 (COM1)
        0xAC,                    # next: lodsb
        0x84, 0xC0,              # test al, al
        0x74, 0x03,              # jz done
        0xEE,                    # out dx, al
        0xEB, 0xF8,              # jmp next
        0xFA,                    # done: cli
        0xF4,                    # hlt
        0xEB, 0xFD,              # jmp hlt
    ])
    at = 0x7C00 + len(code)
    code = code[:6] + bytes([at & 0xFF, at >> 8]) + code[8:]
    sector = code + message + b"\0"
    return sector.ljust(510, b"\0") + b"\x55\xAA"


def test_a_disk_image_without_a_kernel_boots_through_the_bios(fleet):
    """RegisterImage of a raw disk with its own boot code: booted by the firmware from
    its virtio disk (as a cloud image with a bootloader is), console captured."""
    s3 = fleet.server.client("s3")
    s3.create_bucket(Bucket="bios-images")
    disk = boot_sector(b"nomuck-bios-boot-ok\r\n").ljust(1 << 20, b"\0")
    s3.put_object(Bucket="bios-images", Key="boot.raw", Body=disk)
    image = fleet.a.register_image(Name="bios-boot", ImageLocation="bios-images/boot.raw")["ImageId"]
    assert image.startswith("ami-")
    iid = fleet.a.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=TYPE)["Instances"][0]["InstanceId"]
    try:
        wait("the boot sector's line", lambda: "nomuck-bios-boot-ok" in fleet.console(fleet.a, iid), timeout=60)
    finally:
        fleet.a.terminate_instances(InstanceIds=[iid])
    fleet.a.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig={"Delay": 1})


def test_bad_requests_get_ec2_errors_and_leave_nothing_behind(fleet):
    before = len([i for r in fleet.a.describe_instances()["Reservations"] for i in r["Instances"]])
    cases = [
        (dict(ImageId="ami-zzz", MinCount=1, MaxCount=1), "InvalidAMIID.Malformed"),
        (dict(ImageId="ami-0123456789abcdef0", MinCount=1, MaxCount=1), "InvalidAMIID.NotFound"),
        (dict(ImageId=fleet.image_id, MinCount=1, MaxCount=1, InstanceType="x9.huge"), "InvalidParameterValue"),
        (dict(ImageId=fleet.image_id, MinCount=1, MaxCount=1, KeyName="nope"), "InvalidKeyPair.NotFound"),
        (dict(ImageId=fleet.image_id, MinCount=1, MaxCount=1, SecurityGroupIds=["sg-0123456789abcdef0"]),
         "InvalidGroup.NotFound"),
        (dict(ImageId=fleet.image_id, MinCount=1, MaxCount=1, UserData="x" * (16 * 1024 + 1)),
         "InvalidParameterValue"),
        (dict(ImageId=fleet.image_id, MinCount=2, MaxCount=1), "InvalidParameterValue"),
        (dict(ImageId=fleet.image_id, MinCount=1, MaxCount=1, DryRun=True), "DryRunOperation"),
    ]
    for params, code in cases:
        with pytest.raises(ClientError) as e:
            fleet.a.run_instances(**params)
        assert error_code(e) == code, params
    for call, code in [
        (lambda: fleet.a.describe_instances(InstanceIds=["i-123"]), "InvalidInstanceID.Malformed"),
        (lambda: fleet.a.stop_instances(InstanceIds=["i-0123456789abcdef0"]), "InvalidInstanceID.NotFound"),
        (lambda: fleet.a.terminate_instances(InstanceIds=fleet.b_ids), "InvalidInstanceID.NotFound"),
        (lambda: fleet.a.describe_instances(Filters=[{"Name": "no-such-filter", "Values": ["x"]}]),
         "InvalidParameterValue"),
    ]:
        with pytest.raises(ClientError) as e:
            call()
        assert error_code(e) == code
    after = len([i for r in fleet.a.describe_instances()["Reservations"] for i in r["Instances"]])
    assert after == before


def test_aws_cli_runs_filters_and_terminates(fleet):
    run = json.loads(fleet.server.aws("ec2", "run-instances", "--image-id", fleet.image_id,
                                      "--instance-type", TYPE, "--count", "1",
                                      "--tag-specifications",
                                      "ResourceType=instance,Tags=[{Key=via,Value=cli}]").stdout)
    iid = run["Instances"][0]["InstanceId"]
    try:
        fleet.server.aws("ec2", "wait", "instance-running", "--instance-ids", iid)
        found = json.loads(fleet.server.aws(
            "ec2", "describe-instances", "--filters", "Name=tag:via,Values=cli",
            "Name=instance-state-name,Values=running", "--query", "Reservations[].Instances[].InstanceId").stdout)
        assert found == [iid]
    finally:
        fleet.server.aws("ec2", "terminate-instances", "--instance-ids", iid)
    fleet.server.aws("ec2", "wait", "instance-terminated", "--instance-ids", iid)
    none = json.loads(fleet.server.aws(
        "ec2", "describe-instances", "--filters", "Name=tag:via,Values=cli",
        "Name=instance-state-name,Values=running", "--query", "Reservations[].Instances[].InstanceId").stdout)
    assert none == []


def test_terminate_waiter_events_and_metering(fleet):
    ids = fleet.a_ids + fleet.b_ids
    fleet.a.terminate_instances(InstanceIds=fleet.a_ids)
    fleet.b.terminate_instances(InstanceIds=fleet.b_ids)
    fleet.a.get_waiter("instance_terminated").wait(InstanceIds=fleet.a_ids, WaiterConfig={"Delay": 1})
    fleet.b.get_waiter("instance_terminated").wait(InstanceIds=fleet.b_ids, WaiterConfig={"Delay": 1})
    gone = fleet.a.describe_instances(InstanceIds=fleet.a_ids)["Reservations"]
    assert {i["State"]["Name"] for r in gone for i in r["Instances"]} == {"terminated"}
    # Account A's topic heard every state its instances went through, in order.
    states = {}
    for _, body in wait("state-change events",
                        lambda: len(fleet.receiver.received) >= 2 * 4 and fleet.receiver.received, timeout=30):
        event = json.loads(body)
        assert event["detail-type"] == "EC2 Instance State-change Notification"
        assert event["source"] == "aws.ec2"
        states.setdefault(event["detail"]["instance-id"], []).append(event["detail"]["state"])
    assert not set(states) & set(fleet.b_ids), "B's instances are not A's events"
    for iid in fleet.a_ids:
        assert states[iid][0] == "pending" and states[iid][-1] == "terminated"
        assert "running" in states[iid] and "shutting-down" in states[iid]
    # Running time is metered per instance type, each interval once.
    db = sqlite3.connect(fleet.server.data_dir / "meta.db")
    rows = db.execute("SELECT meter, quantity, idempotency_key FROM usage_events WHERE service = 'ec2'").fetchall()
    keys = [k for _, _, k in rows]
    assert len(keys) == len(set(keys))
    for iid in ids:
        assert any(iid in k for k in keys), f"{iid} was never metered"
    assert all(m.startswith("BoxUsage:") and q >= 1 for m, q, _ in rows)

"""Compute survives `kill -9` of nomuck: guests keep running, nomuck re-attaches to
them, finishes the launch it was in the middle of, and meters no running time twice
and none not at all."""

import sqlite3
import subprocess
import time

from conftest import Server

TYPE = "t2.nano"


def qemus_of(data_dir):
    """PIDs of QEMU processes working for this data directory (by their pid files)."""
    out = subprocess.run(["pgrep", "-f", f"{data_dir}/compute/vm/"], capture_output=True, text=True).stdout
    return sorted(int(p) for p in out.split())


def states(ec2, ids):
    found = ec2.describe_instances(InstanceIds=ids)["Reservations"]
    return {i["InstanceId"]: i["State"]["Name"] for r in found for i in r["Instances"]}


def test_kill9_with_two_running_and_one_launching(tmp_path):
    data = tmp_path / "data"
    srv = Server(data, default_image=True).start()
    try:
        ec2 = srv.client("ec2")
        image = None
        deadline = time.monotonic() + 300
        while image is None and time.monotonic() < deadline:
            images = ec2.describe_images(Owners=["self"], Filters=[{"Name": "name", "Values": ["nomuck-default-*"]},
                                                                   {"Name": "image-type", "Values": ["machine"]}])
            image = next((i["ImageId"] for i in images["Images"]), None)
            time.sleep(1)
        assert image, srv.log()
        running = [i["InstanceId"] for i in ec2.run_instances(
            ImageId=image, MinCount=2, MaxCount=2, InstanceType=TYPE)["Instances"]]
        ec2.get_waiter("instance_running").wait(InstanceIds=running, WaiterConfig={"Delay": 1})
        guests = qemus_of(data)
        assert len(guests) == 2
        launching = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType=TYPE)["Instances"][0]
        srv.kill9()  # at once: the third instance is pending, maybe half launched

        assert set(guests) <= set(qemus_of(data)), "guests outlive nomuck"
        srv = Server(data, default_image=True).start()
        ec2 = srv.client("ec2")
        all_ids = running + [launching["InstanceId"]]
        ec2.get_waiter("instance_running").wait(InstanceIds=all_ids, WaiterConfig={"Delay": 1})
        assert set(states(ec2, all_ids).values()) == {"running"}
        # The two re-attached guests are the same processes; the third has exactly one.
        now = qemus_of(data)
        assert set(guests) <= set(now) and len(now) == 3, (guests, now)
        # All three are manageable: stop one, terminate all.
        ec2.stop_instances(InstanceIds=[running[0]])
        ec2.get_waiter("instance_stopped").wait(InstanceIds=[running[0]], WaiterConfig={"Delay": 1})
        ec2.terminate_instances(InstanceIds=all_ids)
        ec2.get_waiter("instance_terminated").wait(InstanceIds=all_ids, WaiterConfig={"Delay": 1})
        assert qemus_of(data) == [], "no QEMU is left behind"
    finally:
        srv.stop()
        for pid in qemus_of(data):  # never leave a guest running, even on failure
            subprocess.run(["kill", "-9", str(pid)])

    db = sqlite3.connect(data / "meta.db")
    rows = db.execute("SELECT quantity, idempotency_key FROM usage_events WHERE service = 'ec2'").fetchall()
    keys = [k for _, k in rows]
    assert len(keys) == len(set(keys)), "an interval was metered twice"
    for iid in all_ids:
        assert any(iid in k for k in keys), f"{iid}'s running time was lost"

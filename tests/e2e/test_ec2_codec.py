"""botocore reads what nomuck-ec2 writes.

crates/nomuck-ec2/tests/render.rs asserts that the renderer produces exactly the golden
XML in crates/nomuck-ec2/tests/golden/; this file feeds those same files through
botocore's own EC2 response parser with the real ec2 service model and checks the
values boto3 users would get. Needs no server: the protocol layer is not wired in yet.
"""

import base64
import datetime
from pathlib import Path

import botocore.session
import pytest
from botocore.parsers import EC2QueryParser

GOLDEN = Path(__file__).resolve().parents[2] / "crates" / "nomuck-ec2" / "tests" / "golden"
REQUEST_ID = "59dbff89-35bd-4eac-99ed-be587EXAMPLE"
MODEL = botocore.session.get_session().get_service_model("ec2")


def parse(action, status=200, golden=None):
    body = (GOLDEN / f"{golden or action}.xml").read_bytes()
    shape = MODEL.operation_model(action).output_shape
    parsed = EC2QueryParser().parse(
        {"body": body, "headers": {}, "status_code": status}, shape
    )
    if status == 200:
        assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID
    return parsed


def test_every_golden_file_is_checked_here():
    checked = {
        "RunInstances", "DescribeInstances", "TerminateInstances", "RebootInstances",
        "DescribeInstanceStatus", "DescribeInstanceAttribute", "GetConsoleOutput",
        "DescribeInstanceTypes", "CreateKeyPair", "ImportKeyPair", "DescribeKeyPairs",
        "CreateSecurityGroup", "DescribeSecurityGroups", "DescribeTags", "DescribeRegions",
        "DescribeAvailabilityZones", "DescribeAccountAttributes", "RegisterImage",
        "DescribeImages", "DescribeImageAttribute", "Error",
    }
    assert {p.stem for p in GOLDEN.glob("*.xml")} == checked


def check_instance(i, index):
    assert i["InstanceId"] == f"i-0123456789abcdef{index}"
    assert i["ImageId"] == "ami-0123456789abcdef0"
    assert i["AmiLaunchIndex"] == index
    assert i["InstanceType"] == "m1.small"
    assert i["LaunchTime"] == datetime.datetime(
        2026, 12, 3, 15, 4, 5, 678000, tzinfo=datetime.timezone.utc
    )
    assert i["Placement"]["AvailabilityZone"] == "us-east-1a"
    assert i["Monitoring"] == {"State": "disabled"}
    assert i["PrivateIpAddress"] == "172.31.0.5"
    assert i["PublicIpAddress"] == "127.0.0.1"
    assert i["PrivateDnsName"] == "ip-172-31-0-5.ec2.internal"
    assert i["KeyName"] == "k1"
    assert i["KernelId"] == "aki-12345678"
    assert "RamdiskId" not in i
    assert i["SecurityGroups"] == [{"GroupId": "sg-0123456789abcdef0", "GroupName": "default"}]
    assert i["Architecture"] == "x86_64"
    assert i["RootDeviceType"] == "instance-store"
    assert i["Hypervisor"] == "xen"
    assert i["VirtualizationType"] == "hvm"
    assert i["ClientToken"] == "tok"
    assert i["MetadataOptions"]["HttpTokens"] == "required"
    assert i["SubnetId"] == "subnet-12345678" and i["VpcId"] == "vpc-12345678"


def test_run_and_describe_instances():
    for parsed in (parse("RunInstances"), parse("DescribeInstances")["Reservations"][0]):
        assert parsed["ReservationId"] == "r-0123456789abcdef0"
        assert parsed["OwnerId"] == "111122223333"
        running, stopped = parsed["Instances"]
        check_instance(running, 0)
        check_instance(stopped, 1)
        assert running["State"] == {"Code": 16, "Name": "running"}
        assert running["Tags"] == [
            {"Key": "Name", "Value": "web & <db>"},
            {"Key": "env", "Value": ""},
        ]
        assert "StateReason" not in running
        assert stopped["State"] == {"Code": 80, "Name": "stopped"}
        assert stopped["StateTransitionReason"] == "User initiated (2026-12-03 15:10:00 GMT)"
        assert stopped["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
        assert "Tags" not in stopped
    assert parse("DescribeInstances")["NextToken"] == "MTppLTE"


def test_state_changes_status_attributes_console():
    change = parse("TerminateInstances")["TerminatingInstances"][0]
    assert change == {
        "InstanceId": "i-0123456789abcdef0",
        "CurrentState": {"Code": 32, "Name": "shutting-down"},
        "PreviousState": {"Code": 16, "Name": "running"},
    }
    assert set(parse("RebootInstances")) == {"ResponseMetadata"}

    status = parse("DescribeInstanceStatus")["InstanceStatuses"][0]
    assert status["InstanceId"] == "i-0123456789abcdef0"
    assert status["InstanceState"] == {"Code": 16, "Name": "running"}
    assert status["SystemStatus"]["Status"] == "ok"
    assert status["SystemStatus"]["Details"] == [{"Name": "reachability", "Status": "passed"}]
    assert status["InstanceStatus"]["Status"] == "initializing"

    attribute = parse("DescribeInstanceAttribute")
    assert attribute["InstanceId"] == "i-0123456789abcdef0"
    assert base64.b64decode(attribute["UserData"]["Value"]) == b"#!/bin/sh\necho hi\n"

    console = parse("GetConsoleOutput")
    assert console["InstanceId"] == "i-0123456789abcdef0"
    assert base64.b64decode(console["Output"]) == b"Linux version 6.1\r\nhello from user-data\r\n"
    assert console["Timestamp"].year == 2026

    itype = parse("DescribeInstanceTypes")["InstanceTypes"][0]
    assert itype["InstanceType"] == "m1.small"
    assert itype["VCpuInfo"]["DefaultVCpus"] == 1
    assert itype["MemoryInfo"]["SizeInMiB"] == 1740
    assert itype["ProcessorInfo"]["SupportedArchitectures"] == ["i386", "x86_64"]
    assert itype["SupportedUsageClasses"] == ["on-demand"]
    assert itype["CurrentGeneration"] is False


def test_key_pairs_and_groups():
    created = parse("CreateKeyPair")
    assert created["KeyName"] == "k1"
    assert created["KeyPairId"] == "key-0123456789abcdef0"
    assert created["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----\n")
    imported = parse("ImportKeyPair")
    assert imported["KeyFingerprint"] == "1f:51:ae:28"
    assert imported["Tags"] == [{"Key": "team", "Value": "a"}]
    key = parse("DescribeKeyPairs")["KeyPairs"][0]
    assert key["KeyType"] == "ed25519"
    assert key["PublicKey"] == "ssh-ed25519 AAAA k1"

    assert parse("CreateSecurityGroup")["GroupId"] == "sg-0123456789abcdef1"
    group = parse("DescribeSecurityGroups")["SecurityGroups"][0]
    assert group["GroupName"] == "default"
    assert group["Description"] == "default VPC security group"
    assert group["IpPermissions"] == [
        {
            "IpProtocol": "tcp",
            "FromPort": 22,
            "ToPort": 22,
            "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "ssh"}],
            "UserIdGroupPairs": [],
            "Ipv6Ranges": [],
            "PrefixListIds": [],
        }
    ]
    egress = group["IpPermissionsEgress"][0]
    assert egress["IpProtocol"] == "-1"
    assert egress["UserIdGroupPairs"] == [
        {"UserId": "111122223333", "GroupId": "sg-0123456789abcdef0"}
    ]


def test_tags_regions_zones_account():
    assert parse("DescribeTags")["Tags"] == [
        {"ResourceId": "i-0123456789abcdef0", "ResourceType": "instance", "Key": "Name", "Value": "web"}
    ]
    region = parse("DescribeRegions")["Regions"][0]
    assert region["RegionName"] == "us-east-1" and region["Endpoint"] == "127.0.0.1:9000"
    zone = parse("DescribeAvailabilityZones")["AvailabilityZones"][0]
    assert zone["ZoneName"] == "us-east-1a" and zone["State"] == "available"
    assert zone["ZoneId"] == "use1-az1"
    attr = parse("DescribeAccountAttributes")["AccountAttributes"][0]
    assert attr == {"AttributeName": "max-instances", "AttributeValues": [{"AttributeValue": "20"}]}


def test_images():
    assert parse("RegisterImage")["ImageId"] == "ami-0123456789abcdef0"
    image = parse("DescribeImages")["Images"][0]
    assert image["ImageId"] == "ami-0123456789abcdef0"
    assert image["ImageLocation"] == "nomuck-images/default/root.img"
    assert image["State"] == "available"
    assert image["OwnerId"] == "000000000000"
    assert image["ImageOwnerAlias"] == "amazon"
    assert image["Public"] is True
    assert image["ImageType"] == "machine"
    assert image["KernelId"] == "aki-12345678"
    assert image["RamdiskId"] == "ari-12345678"
    assert image["CreationDate"] == "2026-12-01T00:00:00.000Z"
    perms = parse("DescribeImageAttribute")["LaunchPermissions"]
    assert perms == [{"UserId": "444455556666"}, {"Group": "all"}]


def test_errors():
    parsed = parse("DescribeInstances", status=400, golden="Error")
    assert parsed["Error"] == {
        "Code": "InvalidInstanceID.NotFound",
        "Message": "The instance ID 'i-0123456789abcdef0' does not exist",
    }
    assert parsed["ResponseMetadata"]["RequestId"] == REQUEST_ID


@pytest.mark.parametrize("action", ["RunInstances", "DescribeImages"])
def test_golden_files_name_the_ec2_namespace(action):
    text = (GOLDEN / f"{action}.xml").read_text()
    assert f'<{action}Response xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">' in text

"""The EC2 API on the real binary: key pairs, security groups, tags, the account's
view of the region, images, and isolation between accounts, through boto3.

No guests are started here: every action below is served from records (and, for
images, from objects in storage).
"""

import os
import subprocess

import pytest
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from conftest import REGION, error_code, new_account


@pytest.fixture
def ec2(server):
    return server.client("ec2")


@pytest.fixture
def other_ec2(server):
    """A second account's EC2 client and its account id."""
    account_id, key, secret = new_account(server, "other")
    return server.client("ec2", key, secret), account_id


def raises(code, call, *args, **kwargs):
    with pytest.raises(ClientError) as e:
        call(*args, **kwargs)
    assert error_code(e) == code, e.value.response
    return e.value.response


def public_key(tmp_path, kind="ed25519"):
    path = tmp_path / f"imported-{kind}"
    subprocess.run(
        ["ssh-keygen", "-q", "-t", kind, "-N", "", "-C", "me@host", "-f", str(path)],
        check=True,
    )
    return (tmp_path / f"imported-{kind}.pub").read_text()


def test_key_pairs_create_import_describe_delete(ec2, tmp_path):
    rsa = ec2.create_key_pair(KeyName="rsa-key")
    assert rsa["KeyMaterial"].startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert len(rsa["KeyFingerprint"].split(":")) == 16  # MD5, colon hex
    assert rsa["KeyPairId"].startswith("key-")

    ed = ec2.create_key_pair(
        KeyName="ed-key",
        KeyType="ed25519",
        TagSpecifications=[{"ResourceType": "key-pair", "Tags": [{"Key": "team", "Value": "a"}]}],
    )
    assert ed["KeyMaterial"].startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
    assert ed["Tags"] == [{"Key": "team", "Value": "a"}]

    # The private key really belongs to the public key kept.
    key_file = tmp_path / "ed"
    key_file.write_text(ed["KeyMaterial"])
    key_file.chmod(0o600)
    derived = subprocess.run(
        ["ssh-keygen", "-y", "-f", str(key_file)], capture_output=True, text=True, check=True
    ).stdout.split()[:2]
    described = ec2.describe_key_pairs(KeyNames=["ed-key"], IncludePublicKey=True)["KeyPairs"]
    assert described[0]["PublicKey"].split()[:2] == derived
    assert described[0]["KeyType"] == "ed25519"

    line = public_key(tmp_path)
    imported = ec2.import_key_pair(KeyName="imported", PublicKeyMaterial=line.encode())
    assert imported["KeyName"] == "imported"

    names = lambda **kw: sorted(k["KeyName"] for k in ec2.describe_key_pairs(**kw)["KeyPairs"])
    assert names() == ["ed-key", "imported", "rsa-key"]
    assert names(Filters=[{"Name": "key-type", "Values": ["ed25519"]}]) == ["ed-key", "imported"]
    assert names(Filters=[{"Name": "key-name", "Values": ["*-key"]}]) == ["ed-key", "rsa-key"]
    assert names(Filters=[{"Name": "tag:team", "Values": ["a"]}]) == ["ed-key"]
    assert names(KeyPairIds=[rsa["KeyPairId"]]) == ["rsa-key"]

    raises("InvalidKeyPair.Duplicate", ec2.create_key_pair, KeyName="rsa-key")
    raises("InvalidKeyPair.Duplicate", ec2.import_key_pair, KeyName="imported",
           PublicKeyMaterial=line.encode())
    raises("InvalidKey.Format", ec2.import_key_pair, KeyName="bad",
           PublicKeyMaterial=b"not a key")
    raises("InvalidKeyPair.NotFound", ec2.describe_key_pairs, KeyNames=["nope"])
    raises("InvalidParameterValue", ec2.describe_key_pairs,
           Filters=[{"Name": "no-such-filter", "Values": ["x"]}])

    ec2.delete_key_pair(KeyName="rsa-key")
    ec2.delete_key_pair(KeyPairId=ed["KeyPairId"])
    ec2.delete_key_pair(KeyName="never-existed")  # EC2 answers true
    assert names() == ["imported"]


def test_security_groups(ec2):
    vpc = ec2.describe_account_attributes(AttributeNames=["default-vpc"])
    default_vpc = vpc["AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"]
    default = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"]
    assert len(default) == 1 and default[0]["VpcId"] == default_vpc
    assert default[0]["IpPermissionsEgress"][0]["IpProtocol"] == "-1"

    web = ec2.create_security_group(
        GroupName="web",
        Description="web servers",
        TagSpecifications=[{"ResourceType": "security-group", "Tags": [{"Key": "tier", "Value": "front"}]}],
    )["GroupId"]
    lb = ec2.create_security_group(GroupName="lb", Description="balancers")["GroupId"]
    raises("InvalidGroup.Duplicate", ec2.create_security_group, GroupName="web", Description="again")
    raises("InvalidGroup.Reserved", ec2.create_security_group, GroupName="default", Description="x")
    raises("InvalidVpcID.NotFound", ec2.create_security_group, GroupName="elsewhere",
           Description="x", VpcId="vpc-0123456789abcdef0")
    in_vpc = ec2.create_security_group(GroupName="in-vpc", Description="x", VpcId=default_vpc)
    ec2.delete_security_group(GroupId=in_vpc["GroupId"])

    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    from_lb = {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": lb}]}
    ec2.authorize_security_group_ingress(GroupId=web, IpPermissions=[http, from_lb])
    raises("InvalidPermission.Duplicate", ec2.authorize_security_group_ingress,
           GroupId=web, IpPermissions=[http])

    (g,) = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert g["GroupName"] == "web" and g["Description"] == "web servers"
    assert g["Tags"] == [{"Key": "tier", "Value": "front"}]
    rules = {p["FromPort"]: p for p in g["IpPermissions"]}
    assert rules[80]["IpRanges"] == [{"CidrIp": "0.0.0.0/0"}]
    assert rules[8080]["UserIdGroupPairs"][0]["GroupId"] == lb

    by = lambda *filters: sorted(
        x["GroupName"] for x in ec2.describe_security_groups(Filters=list(filters))["SecurityGroups"]
    )
    assert by({"Name": "ip-permission.from-port", "Values": ["80"]}) == ["web"]
    assert by({"Name": "ip-permission.group-id", "Values": [lb]}) == ["web"]
    assert by({"Name": "group-name", "Values": ["*b"]}) == ["lb", "web"]
    assert by({"Name": "tag:tier", "Values": ["front"]}) == ["web"]

    # Pages of at least five: make enough groups for two.
    for n in range(4):
        ec2.create_security_group(GroupName=f"extra-{n}", Description="x")
    first = ec2.describe_security_groups(MaxResults=5)
    assert len(first["SecurityGroups"]) == 5 and first["NextToken"]
    rest = ec2.describe_security_groups(MaxResults=5, NextToken=first["NextToken"])
    ids = [x["GroupId"] for x in first["SecurityGroups"] + rest["SecurityGroups"]]
    assert len(ids) == len(set(ids)) == 7 and "NextToken" not in rest

    ec2.revoke_security_group_ingress(GroupId=web, IpPermissions=[http])
    raises("InvalidPermission.NotFound", ec2.revoke_security_group_ingress,
           GroupId=web, IpPermissions=[http])
    (g,) = ec2.describe_security_groups(GroupIds=[web])["SecurityGroups"]
    assert [p["FromPort"] for p in g["IpPermissions"]] == [8080]

    raises("CannotDelete", ec2.delete_security_group, GroupId=default[0]["GroupId"])
    raises("CannotDelete", ec2.delete_security_group, GroupName="default")
    ec2.delete_security_group(GroupName="web")
    raises("InvalidGroup.NotFound", ec2.describe_security_groups, GroupIds=[web])
    raises("InvalidGroup.NotFound", ec2.delete_security_group, GroupId=web)
    raises("InvalidGroupId.Malformed", ec2.delete_security_group, GroupId="sg-nothex")


def test_tags(ec2):
    sg = ec2.create_security_group(GroupName="tagged", Description="x")["GroupId"]
    key = ec2.create_key_pair(KeyName="tagged")["KeyPairId"]
    ec2.create_tags(Resources=[sg, key], Tags=[{"Key": "env", "Value": "prod"}, {"Key": "owner", "Value": "me"}])

    tags = lambda *filters: sorted(
        (t["ResourceId"], t["ResourceType"], t["Key"], t["Value"])
        for t in ec2.describe_tags(Filters=list(filters))["Tags"]
    )
    assert tags({"Name": "key", "Values": ["env"]}) == sorted(
        [(sg, "security-group", "env", "prod"), (key, "key-pair", "env", "prod")]
    )
    assert tags({"Name": "resource-type", "Values": ["key-pair"]}, {"Name": "value", "Values": ["m*"]}) == [
        (key, "key-pair", "owner", "me")
    ]

    # Value-conditional delete: a mismatched value leaves the tag.
    ec2.delete_tags(Resources=[sg], Tags=[{"Key": "env", "Value": "dev"}])
    ec2.delete_tags(Resources=[sg], Tags=[{"Key": "owner"}])
    assert tags({"Name": "resource-id", "Values": [sg]}) == [(sg, "security-group", "env", "prod")]
    ec2.delete_tags(Resources=[key])  # no tags: all of them
    assert tags({"Name": "resource-id", "Values": [key]}) == []

    raises("InvalidInstanceID.NotFound", ec2.create_tags,
           Resources=["i-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
    raises("InvalidGroup.NotFound", ec2.create_tags,
           Resources=["sg-0123456789abcdef0"], Tags=[{"Key": "a", "Value": "b"}])
    raises("InvalidParameterValue", ec2.create_tags,
           Resources=[sg], Tags=[{"Key": "aws:reserved", "Value": "b"}])


def test_region_zone_account_and_instance_types(ec2, server):
    regions = ec2.describe_regions()["Regions"]
    assert regions == [{"RegionName": REGION, "Endpoint": f"ec2.{REGION}.amazonaws.com",
                        "OptInStatus": "opt-in-not-required"}]
    raises("InvalidRegion.NotFound", ec2.describe_regions, RegionNames=["eu-west-1"])

    (zone,) = ec2.describe_availability_zones()["AvailabilityZones"]
    assert zone["ZoneName"] == f"{REGION}a" and zone["State"] == "available"
    assert zone["RegionName"] == REGION
    assert ec2.describe_availability_zones(
        Filters=[{"Name": "zone-name", "Values": ["nowhere"]}])["AvailabilityZones"] == []
    raises("InvalidZone.NotFound", ec2.describe_availability_zones, ZoneNames=["us-east-1z"])

    attrs = {
        a["AttributeName"]: [v["AttributeValue"] for v in a["AttributeValues"]]
        for a in ec2.describe_account_attributes()["AccountAttributes"]
    }
    assert attrs["supported-platforms"] == ["VPC"]
    assert attrs["default-vpc"][0].startswith("vpc-")
    assert int(attrs["max-instances"][0]) > 0

    types = {t["InstanceType"]: t for t in ec2.describe_instance_types()["InstanceTypes"]}
    assert {"m1.small", "t2.micro", "t3.micro"} <= set(types)
    small = types["m1.small"]
    assert small["VCpuInfo"]["DefaultVCpus"] == 1
    assert small["MemoryInfo"]["SizeInMiB"] == 1740
    assert small["Hypervisor"] in ("kvm", "tcg")
    micro = ec2.describe_instance_types(
        Filters=[{"Name": "free-tier-eligible", "Values": ["true"]}])["InstanceTypes"]
    assert {t["InstanceType"] for t in micro} == {"t2.micro", "t3.micro"}
    raises("InvalidInstanceType", ec2.describe_instance_types, InstanceTypes=["m9.huge"])

    # boto3's paginator walks the pages.
    pages = list(ec2.get_paginator("describe_instance_types").paginate(PaginationConfig={"PageSize": 5}))
    assert len(pages) >= 2
    assert sum(len(p["InstanceTypes"]) for p in pages) == len(types)


def test_accounts_are_isolated(ec2, other_ec2):
    theirs, their_id = other_ec2
    ec2.create_key_pair(KeyName="mine")
    sg = ec2.create_security_group(GroupName="mine", Description="x")["GroupId"]

    assert theirs.describe_key_pairs()["KeyPairs"] == []
    raises("InvalidKeyPair.NotFound", theirs.describe_key_pairs, KeyNames=["mine"])
    # Deleting a name one does not have succeeds and deletes nothing (as EC2).
    theirs.delete_key_pair(KeyName="mine")
    assert [k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]] == ["mine"]

    raises("InvalidGroup.NotFound", theirs.describe_security_groups, GroupIds=[sg])
    raises("InvalidGroup.NotFound", theirs.delete_security_group, GroupId=sg)
    raises("InvalidGroup.NotFound", theirs.authorize_security_group_ingress, GroupId=sg,
           IpPermissions=[{"IpProtocol": "tcp", "FromPort": 1, "ToPort": 1, "IpRanges": [{"CidrIp": "1.2.3.4/32"}]}])
    raises("InvalidGroup.NotFound", theirs.create_tags, Resources=[sg], Tags=[{"Key": "a", "Value": "b"}])
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0]["GroupName"] == "mine"

    # Each account has its own default group, and the same names are free to both.
    mine = ec2.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    their_default = theirs.describe_security_groups(GroupNames=["default"])["SecurityGroups"][0]
    assert mine["GroupId"] != their_default["GroupId"]
    assert their_default["OwnerId"] == their_id
    theirs.create_key_pair(KeyName="mine")
    theirs.create_security_group(GroupName="mine", Description="theirs")
    assert theirs.describe_tags()["Tags"] == []


def test_dry_run_and_unknown_action(ec2, server):
    raises("DryRunOperation", ec2.create_key_pair, KeyName="dry", DryRun=True)
    assert ec2.describe_key_pairs()["KeyPairs"] == []
    raises("DryRunOperation", ec2.create_security_group, GroupName="dry", Description="x", DryRun=True)
    raises("DryRunOperation", ec2.describe_regions, DryRun=True)
    raises("DryRunOperation", ec2.describe_security_groups, DryRun=True)
    sg = ec2.create_security_group(GroupName="real", Description="x")["GroupId"]
    raises("DryRunOperation", ec2.delete_security_group, GroupId=sg, DryRun=True)
    raises("DryRunOperation", ec2.create_tags, Resources=[sg], Tags=[{"Key": "a", "Value": "b"}], DryRun=True)
    assert ec2.describe_security_groups(GroupIds=[sg])["SecurityGroups"][0].get("Tags") is None

    key_id, secret = server.admin_keys()
    body = "Action=LaunchRocket&Version=2016-11-15"
    req = AWSRequest(method="POST", url=server.endpoint + "/", data=body,
                     headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key_id, secret), "ec2", REGION).add_auth(req)
    r = requests.post(server.endpoint + "/", data=body, headers=dict(req.headers), timeout=10)
    assert r.status_code == 400
    assert "<Code>InvalidAction</Code>" in r.text


def disk_image(tmp_path):
    """A raw disk image: 1 MiB with an MBR boot signature (never booted here)."""
    data = bytearray(1 << 20)
    data[510:512] = b"\x55\xaa"
    return bytes(data)


def test_images_register_share_and_deregister(server, ec2, other_ec2, tmp_path):
    theirs, their_id = other_ec2
    s3 = server.client("s3")
    s3.create_bucket(Bucket="my-images")
    s3.put_object(Bucket="my-images", Key="disk.raw", Body=disk_image(tmp_path))

    image_id = ec2.register_image(
        Name="my-disk",
        ImageLocation="my-images/disk.raw",
        Description="a raw disk",
        TagSpecifications=[{"ResourceType": "image", "Tags": [{"Key": "os", "Value": "none"}]}],
    )["ImageId"]
    assert image_id.startswith("ami-")
    raises("InvalidAMIName.Duplicate", ec2.register_image, Name="my-disk",
           ImageLocation="my-images/disk.raw")
    raises("InvalidParameterValue", ec2.register_image, Name="missing",
           ImageLocation="my-images/nothing-here.raw")

    (img,) = ec2.describe_images(ImageIds=[image_id])["Images"]
    assert img["Name"] == "my-disk" and img["Description"] == "a raw disk"
    assert img["State"] == "available" and img["ImageType"] == "machine"
    assert img["Public"] is False and img["ImageLocation"] == "my-images/disk.raw"
    assert img["Tags"] == [{"Key": "os", "Value": "none"}]
    assert [i["ImageId"] for i in ec2.describe_images(Owners=["self"])["Images"]] == [image_id]
    assert ec2.describe_images(Filters=[{"Name": "name", "Values": ["other*"]}])["Images"] == []

    # Private: the other account neither sees nor changes it.
    assert theirs.describe_images()["Images"] == []
    raises("InvalidAMIID.NotFound", theirs.describe_images, ImageIds=[image_id])
    raises("InvalidAMIID.NotFound", theirs.deregister_image, ImageId=image_id)

    # Shared with it: visible (untagged) as executable by self, not as its own.
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"UserId": their_id}]})
    perms = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert perms["LaunchPermissions"] == [{"UserId": their_id}]
    (shared,) = theirs.describe_images(ExecutableUsers=["self"])["Images"]
    assert shared["ImageId"] == image_id and "Tags" not in shared
    assert theirs.describe_images(Owners=["self"])["Images"] == []
    assert theirs.describe_images(ExecutableUsers=["all"])["Images"] == []
    # A launcher is not an owner: EC2's "Not authorized for image".
    raises("AuthFailure", theirs.modify_image_attribute, ImageId=image_id,
           Description={"Value": "hijacked"})
    raises("AuthFailure", theirs.describe_image_attribute, ImageId=image_id,
           Attribute="launchPermission")
    raises("AuthFailure", theirs.deregister_image, ImageId=image_id)
    assert theirs.describe_image_attribute(ImageId=image_id, Attribute="description")[
        "Description"]["Value"] == "a raw disk"

    # Public, then reset to private.
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [{"Group": "all"}]})
    assert theirs.describe_images(ExecutableUsers=["all"])["Images"][0]["Public"] is True
    ec2.reset_image_attribute(ImageId=image_id, Attribute="launchPermission")
    assert ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")["LaunchPermissions"] == []
    assert theirs.describe_images()["Images"] == []

    ec2.modify_image_attribute(ImageId=image_id, Description={"Value": "renamed"})
    desc = ec2.describe_image_attribute(ImageId=image_id, Attribute="description")
    assert desc["Description"]["Value"] == "renamed"

    raises("DryRunOperation", ec2.deregister_image, ImageId=image_id, DryRun=True)
    ec2.deregister_image(ImageId=image_id)
    raises("InvalidAMIID.NotFound", ec2.describe_images, ImageIds=[image_id])
    raises("InvalidAMIID.Malformed", ec2.describe_images, ImageIds=["ami-zzz"])


def test_create_image_refuses_instances_it_cannot_image(ec2):
    raises("InvalidInstanceID.NotFound", ec2.create_image,
           InstanceId="i-0123456789abcdef0", Name="from-nothing")

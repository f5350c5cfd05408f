"""Capacity and limits: refused before anything boots, and nothing is left half-made."""

import pytest
from botocore.exceptions import ClientError

from conftest import error_code


def machine_image(srv, ec2):
    """A machine image whose kernel is a (never booted) ELF object in storage."""
    s3 = srv.client("s3")
    s3.create_bucket(Bucket="kernels")
    s3.put_object(Bucket="kernels", Key="vmlinux", Body=b"\x7fELF" + b"\0" * 4092)
    kernel = ec2.register_image(Name="kernel-1", ImageLocation="kernels/vmlinux")["ImageId"]
    assert kernel.startswith("aki-")
    image = ec2.register_image(Name="machine-1", KernelId=kernel)["ImageId"]
    assert image.startswith("ami-")
    return image


def test_instance_limit_and_host_capacity_are_refused_as_ec2_does(make_server, tmp_path):
    config = tmp_path / "limits.toml"
    # One instance per account; instances may claim a few KiB of the host's memory.
    config.write_text("[compute]\nmax_instances_per_account = 1\nmemory_overcommit = 0.00001\n")
    srv = make_server(extra_args=["--config", str(config)])
    ec2 = srv.client("ec2")
    image = machine_image(srv, ec2)
    assert ec2.describe_account_attributes(AttributeNames=["max-instances"])[
        "AccountAttributes"][0]["AttributeValues"][0]["AttributeValue"] == "1"

    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=image, MinCount=2, MaxCount=2, InstanceType="t2.nano")
    assert error_code(e) == "InstanceLimitExceeded"
    with pytest.raises(ClientError) as e:
        ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.nano")
    assert error_code(e) == "InsufficientInstanceCapacity"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert ec2.describe_instances()["Reservations"] == []

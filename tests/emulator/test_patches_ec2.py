"""EC2 patches of the emulator whose tests do not fit test_patches.py (one file per service from here on)."""

from __future__ import annotations

import boto3

REGION = "us-east-1"


def test_a_filter_with_several_values_finds_a_resource_holding_any_of_them(in_process_aws):
    # AWS ORs a filter's values: an ENI in groups {a, b} is found by group-id=[a, c]
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.7.1.0/24")["Subnet"]["SubnetId"]
    a, b, c = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in "abc")
    eni = ec2.create_network_interface(SubnetId=subnet, Groups=[a, b])["NetworkInterface"]["NetworkInterfaceId"]

    def found(*values):
        filters = [{"Name": "group-id", "Values": list(values)}]
        return [e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]]

    assert found(a, c) == [eni]
    assert found(c, b) == [eni]
    assert found(a, b) == [eni]
    assert found(a) == [eni]
    assert found(c) == []
    assert found("sg-*") == [eni]

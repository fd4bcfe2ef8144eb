"""The emulator's patches of moto's EC2 (emulator/patches/ec2.py)."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

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


def test_nat_gateway_tags_are_found_by_resource_type_natgateway(in_process_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.0.0/24")["Subnet"]["SubnetId"]
    eip = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(
        SubnetId=subnet,
        AllocationId=eip,
        TagSpecifications=[{"ResourceType": "natgateway", "Tags": [{"Key": "Name", "Value": "n"}]}],
    )["NatGateway"]["NatGatewayId"]

    tags = ec2.describe_tags(
        Filters=[{"Name": "resource-id", "Values": [nat]}, {"Name": "resource-type", "Values": ["natgateway"]}]
    )["Tags"]

    assert [(t["Key"], t["Value"], t["ResourceType"]) for t in tags] == [("Name", "n", "natgateway")]


def test_network_acls_filter_by_their_id(in_process_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    nacl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    found = ec2.describe_network_acls(Filters=[{"Name": "network-acl-id", "Values": [nacl]}])["NetworkAcls"]
    assert [n["NetworkAclId"] for n in found] == [nacl]
    assert ec2.describe_network_acls(Filters=[{"Name": "network-acl-id", "Values": ["acl-0"]}])["NetworkAcls"] == []


def test_a_vpc_goes_only_without_its_own_network_acls_and_takes_the_default_one(in_process_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    nacl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
    with pytest.raises(ClientError) as err:
        ec2.delete_vpc(VpcId=vpc)
    assert err.value.response["Error"]["Code"] == "DependencyViolation"
    ec2.delete_network_acl(NetworkAclId=nacl)
    ec2.delete_vpc(VpcId=vpc)
    assert ec2.describe_network_acls(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkAcls"] == []


def test_a_rule_naming_a_group_is_the_same_rule_whatever_its_description(in_process_aws):
    # AWS: the description is not part of a rule: it is updated in place, the rule is revoked without it,
    # and authorized again with another description it is a duplicate.
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    db, app = (ec2.create_security_group(GroupName=n, Description=n, VpcId=vpc)["GroupId"] for n in ("db", "app"))

    def permission(description=None):
        pair = {"GroupId": app, **({"Description": description} if description else {})}
        return [{"IpProtocol": "tcp", "FromPort": 5432, "ToPort": 5432, "UserIdGroupPairs": [pair]}]

    def pairs():
        group = ec2.describe_security_groups(GroupIds=[db])["SecurityGroups"][0]
        return [p for rule in group["IpPermissions"] for p in rule["UserIdGroupPairs"]]

    ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=permission("old"))
    ec2.update_security_group_rule_descriptions_ingress(GroupId=db, IpPermissions=permission("new"))
    assert [p["Description"] for p in pairs()] == ["new"]
    with pytest.raises(ClientError) as raised:
        ec2.authorize_security_group_ingress(GroupId=db, IpPermissions=permission("other"))
    assert raised.value.response["Error"]["Code"] == "InvalidPermission.Duplicate"
    ec2.revoke_security_group_ingress(GroupId=db, IpPermissions=permission())
    assert pairs() == []


def test_modify_vpc_endpoint_turns_private_dns_off_and_on(in_process_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.5.0.0/16")["Vpc"]["VpcId"]
    endpoint = ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName=f"com.amazonaws.{REGION}.kinesis-streams", VpcEndpointType="Interface"
    )["VpcEndpoint"]["VpcEndpointId"]

    def private_dns():
        return ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint])["VpcEndpoints"][0]["PrivateDnsEnabled"]

    assert private_dns() is True
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PrivateDnsEnabled=False)
    assert private_dns() is False
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, AddSubnetIds=[])  # not named: left as it is
    assert private_dns() is False
    ec2.modify_vpc_endpoint(VpcEndpointId=endpoint, PrivateDnsEnabled=True)
    assert private_dns() is True

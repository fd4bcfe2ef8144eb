"""DMS replication subnet groups keep their subnets, are modified in place and are not deleted in use."""

from __future__ import annotations

import boto3
import pytest
from botocore.exceptions import ClientError

from emulator import patches

patches.apply_all()
REGION = "us-east-1"


@pytest.fixture
def clients(in_process_aws):
    ec2 = boto3.client("ec2", region_name=REGION)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.8.{i}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for i, az in enumerate("aab")
    ]
    return boto3.client("dms", region_name=REGION), vpc, subnets


def described(dms, name):
    return dms.describe_replication_subnet_groups(Filters=[{"Name": "replication-subnet-group-id", "Values": [name]}])[
        "ReplicationSubnetGroups"
    ][0]


def test_a_group_describes_its_own_subnets_and_vpc(clients):
    dms, vpc, (a1, _a2, b) = clients
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="g", ReplicationSubnetGroupDescription="d", SubnetIds=[a1, b]
    )
    group = described(dms, "g")
    assert group["VpcId"] == vpc
    assert {(s["SubnetIdentifier"], s["SubnetAvailabilityZone"]["Name"]) for s in group["Subnets"]} == {
        (a1, "us-east-1a"),
        (b, "us-east-1b"),
    }


@pytest.mark.parametrize(
    ("subnets", "code"),
    [(["subnet-00000000"], "InvalidSubnet"), ("one zone", "ReplicationSubnetGroupDoesNotCoverEnoughAZs")],
)
def test_unknown_subnets_and_one_zone_are_refused(clients, subnets, code):
    dms, _, (a1, a2, _b) = clients
    ids = [a1, a2] if subnets == "one zone" else subnets
    with pytest.raises(ClientError) as raised:
        dms.create_replication_subnet_group(
            ReplicationSubnetGroupIdentifier="g", ReplicationSubnetGroupDescription="d", SubnetIds=ids
        )
    assert raised.value.response["Error"]["Code"] == code


def test_modify_changes_description_and_subnets(clients):
    dms, _, (a1, a2, b) = clients
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="g", ReplicationSubnetGroupDescription="d", SubnetIds=[a1, b]
    )
    dms.modify_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="g", ReplicationSubnetGroupDescription="new", SubnetIds=[a2, b]
    )
    group = described(dms, "g")
    assert group["ReplicationSubnetGroupDescription"] == "new"
    assert sorted(s["SubnetIdentifier"] for s in group["Subnets"]) == sorted([a2, b])
    with pytest.raises(ClientError) as raised:
        dms.modify_replication_subnet_group(ReplicationSubnetGroupIdentifier="nope", SubnetIds=[a1, b])
    assert raised.value.response["Error"]["Code"] == "ResourceNotFoundFault"


def test_a_group_in_use_is_not_deleted(clients):
    dms, _, (a1, _a2, b) = clients
    dms.create_replication_subnet_group(
        ReplicationSubnetGroupIdentifier="g", ReplicationSubnetGroupDescription="d", SubnetIds=[a1, b]
    )
    arn = dms.create_replication_instance(
        ReplicationInstanceIdentifier="i", ReplicationInstanceClass="dms.t3.micro", ReplicationSubnetGroupIdentifier="g"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    with pytest.raises(ClientError) as raised:
        dms.delete_replication_subnet_group(ReplicationSubnetGroupIdentifier="g")
    assert raised.value.response["Error"]["Code"] == "InvalidResourceStateFault"
    dms.delete_replication_instance(ReplicationInstanceArn=arn)
    dms.delete_replication_subnet_group(ReplicationSubnetGroupIdentifier="g")
    assert dms.describe_replication_subnet_groups()["ReplicationSubnetGroups"] == []

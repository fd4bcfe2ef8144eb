"""ec2_vpc_subnets and ec2_vpc_endpoints: what they would change, computed from described state (no AWS)."""

from __future__ import annotations

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.smartstream_aws import WaitTimeout
from ansible_collections.smartstream.pipeline.plugins.modules import ec2_vpc_endpoints as endpoints
from ansible_collections.smartstream.pipeline.plugins.modules import ec2_vpc_subnets as subnets
from botocore.exceptions import ClientError


def subnet(cidr, az="us-east-1a", map_public=False, tags=None, subnet_id=None):
    return {
        "SubnetId": subnet_id or f"subnet-{cidr.split('.')[2]}",
        "CidrBlock": cidr,
        "AvailabilityZone": az,
        "MapPublicIpOnLaunch": map_public,
        "State": "available",
        "VpcId": "vpc-1",
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
    }


def item(cidr, az="us-east-1a", map_public=False, tags=None, purge_tags=True, state="present"):
    return {"cidr": cidr, "az": az, "map_public": map_public, "tags": tags, "purge_tags": purge_tags, "state": state}


def test_a_converged_list_plans_nothing():
    current = {"10.0.0.0/24": subnet("10.0.0.0/24", tags={"Name": "a", "aws:cloudformation:stack": "x"})}
    assert subnets.plan([item("10.0.0.0/24", tags={"Name": "a"})], current, purge=False) == ([], {}, [])


def test_missing_subnets_are_created_and_differing_ones_updated():
    current = {"10.0.1.0/24": subnet("10.0.1.0/24", tags={"Name": "old", "Extra": "x"})}
    wanted = [item("10.0.0.0/24", tags={"Name": "a"}), item("10.0.1.0/24", map_public=True, tags={"Name": "b"})]
    create, update, delete = subnets.plan(wanted, current, purge=False)
    assert [i["cidr"] for i in create] == ["10.0.0.0/24"]
    assert update == {"10.0.1.0/24": (True, {"Name": "b"}, ["Extra"])}
    assert delete == []


def test_tags_unset_are_left_alone_and_purge_tags_false_keeps_foreign_ones():
    current = {"10.0.1.0/24": subnet("10.0.1.0/24", tags={"Name": "b", "Extra": "x"})}
    assert subnets.plan([item("10.0.1.0/24")], current, purge=False) == ([], {}, [])
    assert subnets.plan([item("10.0.1.0/24", tags={"Name": "b"}, purge_tags=False)], current, purge=False) == (
        [],
        {},
        [],
    )


def test_absent_items_and_purge_delete_in_order():
    current = {c: subnet(c) for c in ("10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24")}
    wanted = [item("10.0.1.0/24", state="absent"), item("10.0.0.0/24")]
    assert subnets.plan(wanted, current, purge=False)[2] == ["10.0.1.0/24"]
    assert subnets.plan(wanted, current, purge=True)[2] == ["10.0.1.0/24", "10.0.2.0/24"]
    assert subnets.plan([], current, purge=True)[2] == sorted(current)


def test_a_subnet_in_another_zone_is_a_conflict_named_with_both_zones():
    current = {"10.0.0.0/24": subnet("10.0.0.0/24", az="us-east-1b")}
    [message] = subnets.zone_conflicts([item("10.0.0.0/24", az="us-east-1a")], current)
    assert "10.0.0.0/24" in message and "us-east-1b" in message and "us-east-1a" in message
    assert subnets.zone_conflicts([item("10.0.0.0/24", az=None)], current) == []
    assert subnets.zone_conflicts([item("10.0.0.0/24", az="us-east-1a", state="absent")], current) == []


def test_the_wanted_view_of_a_new_subnet_has_no_id():
    after = subnets.wanted_view(item("10.0.0.0/24", tags={"Name": "a"}), None, "vpc-1")
    assert "id" not in after and after["tags"] == {"Name": "a"} and after["availability_zone"] == "us-east-1a"


class DeleteClient:
    """delete_subnet refuses with DependencyViolation ``refusals`` times, then deletes."""

    def __init__(self, refusals):
        self.refusals = refusals
        self.deleted = []

    def delete_subnet(self, aws_retry, SubnetId):
        if self.refusals:
            self.refusals -= 1
            raise ClientError({"Error": {"Code": "DependencyViolation", "Message": "in use"}}, "DeleteSubnet")
        self.deleted.append(SubnetId)


def test_a_deletion_refused_for_a_dependency_is_retried(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _s: None)
    client = DeleteClient(refusals=2)
    subnets.delete(client, ["subnet-1"], timeout=60, delay=0)
    assert client.deleted == ["subnet-1"]


def test_a_dependency_that_stays_times_out_clearly():
    client = DeleteClient(refusals=10**6)
    with pytest.raises(WaitTimeout, match="DependencyViolation"):
        subnets.delete(client, ["subnet-1"], timeout=0, delay=0)


# Endpoints


def endpoint(name, endpoint_id, subnets_=("subnet-a",), groups=("sg-1",), dns=True, state="available", tags=None):
    return {
        "VpcEndpointId": endpoint_id,
        "VpcEndpointType": "Interface",
        "ServiceName": f"com.amazonaws.us-east-1.{name}",
        "State": state,
        "SubnetIds": list(subnets_),
        "Groups": [{"GroupId": g, "GroupName": g} for g in groups],
        "PrivateDnsEnabled": dns,
        "Tags": [{"Key": k, "Value": v} for k, v in (tags or {}).items()],
        "CreationTimestamp": f"2026-01-0{endpoint_id[-1]}",
    }


def want(name, subnets_=("subnet-a",), groups=("sg-1",), dns=True, tags=None, state="present"):
    return {
        "service": name,
        "name": endpoints.service_name(name, "us-east-1"),
        "subnet_ids": list(subnets_),
        "security_group_ids": list(groups),
        "private_dns_enabled": dns,
        "tags": tags,
        "purge_tags": True,
        "state": state,
        "policy": '{"Statement": []}',
    }


def test_short_service_names_are_completed_with_the_region():
    assert endpoints.service_name("kinesis-streams", "eu-north-1") == "com.amazonaws.eu-north-1.kinesis-streams"
    assert endpoints.service_name("ecr.api", "eu-north-1") == "com.amazonaws.eu-north-1.ecr.api"
    assert endpoints.service_name("com.amazonaws.us-east-1.sts", "eu-north-1") == "com.amazonaws.us-east-1.sts"


def test_only_a_live_interface_endpoint_matches_the_oldest_first():
    gone = endpoint("sts", "vpce-1", state="deleted")
    gateway = {**endpoint("sts", "vpce-2"), "VpcEndpointType": "Gateway"}
    newer, older = endpoint("sts", "vpce-4"), endpoint("sts", "vpce-3")
    assert endpoints.matching([gone, gateway], "com.amazonaws.us-east-1.sts") is None
    assert endpoints.matching([gone, newer, older], "com.amazonaws.us-east-1.sts") is older


def test_subnets_groups_and_dns_are_modified_never_the_policy():
    current = endpoint("sts", "vpce-1", subnets_=("subnet-a", "subnet-old"), groups=("sg-old",), dns=False)
    mod = endpoints.modification(want("sts", subnets_=("subnet-a", "subnet-b")), current)
    assert mod == {
        "AddSubnetIds": ["subnet-b"],
        "RemoveSubnetIds": ["subnet-old"],
        "AddSecurityGroupIds": ["sg-1"],
        "RemoveSecurityGroupIds": ["sg-old"],
        "PrivateDnsEnabled": True,
    }
    assert endpoints.modification(want("sts"), endpoint("sts", "vpce-1")) == {}
    unmanaged = {**want("sts"), "subnet_ids": None, "security_group_ids": None, "private_dns_enabled": None}
    assert endpoints.modification(unmanaged, current) == {}


def test_a_converged_list_plans_nothing_whatever_the_policy():
    current = [{**endpoint("sts", "vpce-1", tags={"Name": "x"}), "PolicyDocument": '{"Statement": ["other"]}'}]
    assert endpoints.plan([want("sts", tags={"Name": "x"})], current, purge=False) == ([], {}, [])


def test_plan_creates_updates_and_deletes():
    current = [endpoint("sts", "vpce-1", tags={"Name": "old"}), endpoint("logs", "vpce-2")]
    wanted = [want("sts", tags={"Name": "sts"}), want("kinesis-streams"), want("logs", state="absent")]
    create, update, delete = endpoints.plan(wanted, current, purge=False)
    assert [i["service"] for i in create] == ["kinesis-streams"]
    assert list(update) == ["com.amazonaws.us-east-1.sts"] and update["com.amazonaws.us-east-1.sts"][2:] == (
        {"Name": "sts"},
        [],
    )
    assert delete == ["vpce-2"]


def test_purge_deletes_every_other_live_endpoint_of_any_type_once():
    s3 = {**endpoint("s3", "vpce-3"), "VpcEndpointType": "Gateway"}
    current = [endpoint("sts", "vpce-1"), endpoint("logs", "vpce-2"), s3, endpoint("kms", "vpce-4", state="deleting")]
    assert endpoints.plan([want("sts")], current, purge=True)[2] == ["vpce-2", "vpce-3"]
    assert endpoints.plan([want("logs", state="absent")], current, purge=True)[2] == ["vpce-2", "vpce-1", "vpce-3"]
    assert endpoints.plan([], current, purge=True)[2] == ["vpce-1", "vpce-2", "vpce-3"]


def test_the_wanted_view_of_a_new_endpoint_has_no_id_nor_state():
    after = endpoints.wanted_view(want("sts", tags={"Name": "sts"}), None)
    assert "vpc_endpoint_id" not in after and "state" not in after
    assert after["service"] == "sts" and after["tags"] == {"Name": "sts"} and after["subnet_ids"] == ["subnet-a"]

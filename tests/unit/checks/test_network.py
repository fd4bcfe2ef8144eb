"""Network checks against moto: a network built as the network role builds it passes; each fault fails."""

from __future__ import annotations

import json
from typing import Any

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import network

from .conftest import ACCOUNT, NAMES, PREFIX, REGION, TAGS, client

EXPECTED = {
    "tags": TAGS,
    "network": {
        "vpc_cidr": "10.20.0.0/16",
        "private_subnet_cidrs": ["10.20.10.0/24", "10.20.11.0/24"],
        "interface_endpoints": ["sts"],
        "nat_gateways": "none",
        "flow_logs_retention_days": 7,
    },
}
FLOW_LOG_GROUP = f"/aws/vpc/{PREFIX}-flow-logs"
FLOW_LOG_ROLE = f"{PREFIX}-vpc-flow-logs"
ACCOUNT_SCOPED = {"StringEquals": {"aws:PrincipalAccount": ACCOUNT, "aws:ResourceAccount": ACCOUNT}}


def interface_policy(service: str) -> str:
    """As roles/network/templates/interface_endpoint_policy.json.j2 renders it."""
    statement = {"Effect": "Allow", "Principal": "*", "Action": f"{service}:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Condition": ACCOUNT_SCOPED}]})


def s3_policy(*extra: dict[str, Any]) -> str:
    """As roles/network/templates/s3_endpoint_policy.json.j2 renders it (plus ``extra`` statements)."""
    buckets = [NAMES["data_lake_bucket"], NAMES["athena_results_bucket"]]
    statement = {
        "Sid": "PlatformBucketsByThisAccount",
        "Effect": "Allow",
        "Principal": "*",
        "Action": ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{b}{tail}" for b in buckets for tail in ("", "/*")],
        "Condition": ACCOUNT_SCOPED,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement, *extra]})


def flow_log_trust(conditions: dict[str, Any] | None = None) -> str:
    source_arn = f"arn:aws:ec2:{REGION}:{ACCOUNT}:vpc-flow-log/*"
    condition = (
        conditions
        if conditions is not None
        else {"StringEquals": {"aws:SourceAccount": ACCOUNT}, "ArnLike": {"aws:SourceArn": source_arn}}
    )
    statement = {"Effect": "Allow", "Principal": {"Service": "vpc-flow-logs.amazonaws.com"}, "Action": "sts:AssumeRole"}
    return json.dumps({"Version": "2012-10-17", "Statement": [{**statement, "Condition": condition}]})


def build_flow_logs(vpc: str) -> str:
    """The flow-log group (7 days), its role and the flow log of the VPC, as the role builds them."""
    logs, iam = client("logs"), client("iam")
    logs.create_log_group(logGroupName=FLOW_LOG_GROUP)
    logs.put_retention_policy(logGroupName=FLOW_LOG_GROUP, retentionInDays=7)
    role = iam.create_role(RoleName=FLOW_LOG_ROLE, AssumeRolePolicyDocument=flow_log_trust())["Role"]["Arn"]
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{FLOW_LOG_GROUP}"
    grant = {
        "Effect": "Allow",
        "Action": ["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
        "Resource": [group_arn, f"{group_arn}:log-stream:*"],
    }
    iam.put_role_policy(
        RoleName=FLOW_LOG_ROLE,
        PolicyName="flow-logs-delivery",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [grant]}),
    )
    return client("ec2").create_flow_logs(
        ResourceIds=[vpc],
        ResourceType="VPC",
        TrafficType="ALL",
        LogGroupName=FLOW_LOG_GROUP,
        DeliverLogsPermissionArn=role,
    )["FlowLogIds"][0]


# The network ACLs as roles/network/vars/main.yml writes them: (number, protocol, cidr, from, to).
NACL_RULES = {
    "private": {
        "ingress": [
            (100, "6", "10.20.0.0/16", 443, 443),
            (110, "6", "10.20.0.0/16", 5432, 5432),
            (120, "6", "10.20.0.0/16", 1024, 65535),
            (130, "17", "10.20.0.2/32", 1024, 65535),
            (900, "6", "0.0.0.0/0", 1024, 3388),
            (910, "6", "0.0.0.0/0", 3390, 65535),
        ],
        "egress": [
            (100, "6", "0.0.0.0/0", 443, 443),
            (110, "6", "10.20.0.0/16", 5432, 5432),
            (120, "6", "10.20.0.0/16", 1024, 65535),
            (130, "17", "10.20.0.2/32", 53, 53),
            (140, "6", "10.20.0.2/32", 53, 53),
        ],
    },
    "public": {
        "ingress": [
            (100, "6", "10.20.0.0/16", 443, 443),
            (900, "6", "0.0.0.0/0", 1024, 3388),
            (910, "6", "0.0.0.0/0", 3390, 65535),
        ],
        "egress": [(100, "6", "0.0.0.0/0", 443, 443), (110, "6", "10.20.0.0/16", 1024, 65535)],
    },
}


def add_nacl_entry(nacl: str, egress: bool, number: int, protocol: str, cidr: str, low: int, high: int, action="allow"):
    family = {"Ipv6CidrBlock": cidr} if ":" in cidr else {"CidrBlock": cidr}
    ports = {} if protocol == "-1" else {"PortRange": {"From": low, "To": high}}
    client("ec2").create_network_acl_entry(
        NetworkAclId=nacl, RuleNumber=number, Protocol=protocol, RuleAction=action, Egress=egress, **family, **ports
    )


def build_nacls(vpc: str, subnets: dict[str, list[str]]) -> dict[str, str]:
    """A NACL per tier associated with its subnets, and the default NACL emptied, as the role does."""
    ec2 = client("ec2")
    default = ec2.describe_network_acls(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "default", "Values": ["true"]}]
    )["NetworkAcls"][0]
    nacls = {"default": default["NetworkAclId"]}
    for tier, rules in NACL_RULES.items():
        nacl = ec2.create_network_acl(VpcId=vpc)["NetworkAcl"]["NetworkAclId"]
        ec2.create_tags(Resources=[nacl], Tags=tags(f"{PREFIX}-{tier}", Tier=tier))
        for direction, entries in rules.items():
            for entry in entries:
                add_nacl_entry(nacl, direction == "egress", *entry)
        for subnet in subnets[tier]:
            found = ec2.describe_network_acls(Filters=[{"Name": "association.subnet-id", "Values": [subnet]}])
            association = next(
                a["NetworkAclAssociationId"] for a in found["NetworkAcls"][0]["Associations"] if a["SubnetId"] == subnet
            )
            ec2.replace_network_acl_association(AssociationId=association, NetworkAclId=nacl)
        nacls[tier] = nacl
    for entry in default["Entries"]:
        if entry["RuleNumber"] < 32767:
            ec2.delete_network_acl_entry(
                NetworkAclId=nacls["default"], RuleNumber=entry["RuleNumber"], Egress=entry["Egress"]
            )
    return nacls


def tags(name: str, **more: str) -> list[dict[str, str]]:
    return [{"Key": k, "Value": v} for k, v in {**TAGS, "Name": name, **more}.items()]


def build() -> dict[str, Any]:
    """VPC, 2 public + 2 private subnets over two AZs, IGW, route tables, endpoints, security groups."""
    ec2 = client("ec2")
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    ec2.create_tags(Resources=[vpc], Tags=tags(f"{PREFIX}-vpc"))
    for attribute in ("EnableDnsSupport", "EnableDnsHostnames"):
        ec2.modify_vpc_attribute(VpcId=vpc, **{attribute: {"Value": True}})
    subnets: dict[str, list[str]] = {"public": [], "private": []}
    for tier, cidrs in (("public", ["10.20.0.0/24", "10.20.1.0/24"]), ("private", ["10.20.10.0/24", "10.20.11.0/24"])):
        for az, cidr in zip(("a", "b"), cidrs, strict=True):
            subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr, AvailabilityZone=f"{REGION}{az}")["Subnet"]
            ec2.create_tags(Resources=[subnet["SubnetId"]], Tags=tags(f"{PREFIX}-{tier}-{az}", Tier=tier))
            subnets[tier].append(subnet["SubnetId"])
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    public = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.create_tags(Resources=[public], Tags=tags(f"{PREFIX}-public"))
    ec2.create_route(RouteTableId=public, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    for subnet in subnets["public"]:
        ec2.associate_route_table(RouteTableId=public, SubnetId=subnet)
    private = []
    for az, subnet in zip(("a", "b"), subnets["private"], strict=True):
        table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
        ec2.create_tags(Resources=[table], Tags=tags(f"{PREFIX}-private-{az}"))
        ec2.associate_route_table(RouteTableId=table, SubnetId=subnet)
        private.append(table)
    groups = {}
    for role in ("lambda", "rds", "dms", "endpoints"):
        group = ec2.create_security_group(VpcId=vpc, GroupName=f"{PREFIX}-{role}", Description=role)["GroupId"]
        ec2.create_tags(Resources=[group], Tags=tags(f"{PREFIX}-{role}"))
        ec2.revoke_security_group_egress(
            GroupId=group, IpPermissions=[{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
        )
        groups[role] = group

    def rule(port: int, peers: list[str]) -> list[dict[str, Any]]:
        pairs = [{"GroupId": g} for g in peers]
        return [{"IpProtocol": "tcp", "FromPort": port, "ToPort": port, "UserIdGroupPairs": pairs}]

    https = [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.20.0.0/16"}]}]
    ec2.authorize_security_group_ingress(GroupId=groups["rds"], IpPermissions=rule(5432, [groups["dms"]]))
    ec2.authorize_security_group_egress(GroupId=groups["dms"], IpPermissions=rule(5432, [groups["rds"]]) + https)
    ec2.authorize_security_group_egress(GroupId=groups["lambda"], IpPermissions=https)
    ec2.authorize_security_group_ingress(
        GroupId=groups["endpoints"], IpPermissions=rule(443, [groups["lambda"], groups["dms"]])
    )
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    ec2.revoke_security_group_egress(GroupId=default["GroupId"], IpPermissions=default["IpPermissionsEgress"])
    ec2.revoke_security_group_ingress(GroupId=default["GroupId"], IpPermissions=default["IpPermissions"])
    s3 = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.s3",
        VpcEndpointType="Gateway",
        RouteTableIds=private,
        PolicyDocument=s3_policy(),
    )["VpcEndpoint"]["VpcEndpointId"]
    sts = ec2.create_vpc_endpoint(
        VpcId=vpc,
        ServiceName=f"com.amazonaws.{REGION}.sts",
        VpcEndpointType="Interface",
        SubnetIds=subnets["private"],
        SecurityGroupIds=[groups["endpoints"]],
        PolicyDocument=interface_policy("sts"),
    )["VpcEndpoint"]["VpcEndpointId"]
    flow_log = build_flow_logs(vpc)
    nacls = build_nacls(vpc, subnets)
    return {
        "nacls": nacls,
        "vpc": vpc,
        "subnets": subnets,
        "groups": groups,
        "public": public,
        "private": private,
        "igw": igw,
        "s3_endpoint": s3,
        "sts_endpoint": sts,
        "flow_log": flow_log,
    }


def test_the_network_as_the_role_builds_it_passes(check):
    build()
    for func in network.CHECKS:
        result = check(func, EXPECTED)
        assert result["ok"], result


def test_no_vpc_is_a_failed_check_naming_it(check):
    result = check(network.vpc_and_subnets, EXPECTED)
    assert not result["ok"] and result["detail"] == f"missing: VPC tagged Name={PREFIX}-vpc"


def test_a_private_subnet_mapping_public_ips_and_an_untagged_subnet_fail(check):
    built = build()
    ec2 = client("ec2")
    ec2.modify_subnet_attribute(SubnetId=built["subnets"]["private"][0], MapPublicIpOnLaunch={"Value": True})
    ec2.delete_tags(Resources=[built["subnets"]["public"][1]], Tags=[{"Key": "Project"}])
    result = check(network.vpc_and_subnets, EXPECTED)
    assert not result["ok"]
    assert result["detail"]["public_ip_on_launch"]["got"] == [built["subnets"]["private"][0]]
    assert result["detail"]["untagged"]["got"] == [f"{built['subnets']['public'][1]}: Project=None"]
    assert set(result["detail"]) == {"public_ip_on_launch", "untagged"}


def test_a_private_route_to_the_internet_fails_when_there_is_no_nat(check):
    built = build()
    client("ec2").create_route(
        RouteTableId=built["private"][0], DestinationCidrBlock="0.0.0.0/0", GatewayId=built["igw"]
    )
    result = check(network.routes, EXPECTED)
    assert not result["ok"] and result["detail"]["private_default_routes"]["got"] == ["igw-"]


def test_a_missing_interface_endpoint_fails(check):
    build()
    expected = {**EXPECTED, "network": {**EXPECTED["network"], "interface_endpoints": ["sts", "logs"]}}
    result = check(network.endpoints, expected)
    assert not result["ok"] and result["detail"]["interface_services"] == {"want": ["logs", "sts"], "got": ["sts"]}


def test_ingress_from_anywhere_and_a_default_group_rule_fail(check):
    built = build()
    ec2 = client("ec2")
    ec2.authorize_security_group_ingress(
        GroupId=built["groups"]["lambda"],
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
    )
    result = check(network.security_groups, EXPECTED)
    assert not result["ok"]
    assert result["detail"]["open_to_internet"]["got"] == [f"{PREFIX}-lambda"]
    assert result["detail"]["lambda_ingress"] == {"want": 0, "got": 1}

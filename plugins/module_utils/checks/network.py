# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Network: the VPC, its subnets, routes, endpoints (and their policies), security groups and flow logs."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    as_list,
    check,
    compare,
    first,
    statements,
    tag_dict,
    tag_problems,
)

ANYWHERE = "0.0.0.0/0"
# Actions on no resource (a request carries no aws:ResourceAccount): an endpoint policy may allow them to this
# account's principals alone (roles/network/vars/main.yml). GetRandomPassword reads nothing.
RESOURCELESS_ACTIONS = {"secretsmanager:GetRandomPassword"}


def _vpc(ctx):
    ec2 = ctx.client("ec2")
    found = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{ctx.name('prefix')}-vpc"]}])["Vpcs"]
    return first(found, f"VPC tagged Name={ctx.name('prefix')}-vpc")


def _in_vpc(ctx, call, key, vpc_id):
    return getattr(ctx.client("ec2"), call)(Filters=[{"Name": "vpc-id", "Values": [vpc_id]}])[key]


def _tier(subnets, tier):
    return [s for s in subnets if tag_dict(s.get("Tags")).get("Tier") == tier]


@check("VPC and subnets span two AZs, private subnets assign no public IPs, all tagged")
def vpc_and_subnets(ctx):
    ec2 = ctx.client("ec2")
    vpc = _vpc(ctx)
    vpc_id = vpc["VpcId"]
    dns = {
        a: ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=a)[a[0].upper() + a[1:]]["Value"]
        for a in ("enableDnsSupport", "enableDnsHostnames")
    }
    subnets = _in_vpc(ctx, "describe_subnets", "Subnets", vpc_id)
    private, public = _tier(subnets, "private"), _tier(subnets, "public")
    got = {
        "cidr": vpc["CidrBlock"],
        "dns": dns,
        "subnets": len(subnets),
        "private_azs": len({s["AvailabilityZone"] for s in private}),
        "public_azs": len({s["AvailabilityZone"] for s in public}),
        "private_cidrs": sorted(s["CidrBlock"] for s in private),
        "public_ip_on_launch": sorted(s["SubnetId"] for s in subnets if s.get("MapPublicIpOnLaunch")),
        "untagged": tag_problems("vpc", vpc.get("Tags"), ctx.want("tags"))
        + [p for s in subnets for p in tag_problems(s["SubnetId"], s.get("Tags"), ctx.want("tags"))],
    }
    want = {
        "cidr": ctx.want("vpc_cidr"),
        "dns": {"enableDnsSupport": True, "enableDnsHostnames": True},
        "subnets": 4,
        "private_azs": 2,
        "public_azs": 2,
        "private_cidrs": sorted(ctx.want("private_subnet_cidrs")),
        "public_ip_on_launch": [],
        "untagged": [],
    }
    return compare(want, got)


@check("public subnets route to the internet gateway; private ones reach the internet only through NAT")
def routes(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    prefix = ctx.name("prefix")
    tables = _in_vpc(ctx, "describe_route_tables", "RouteTables", vpc_id)
    named = {tag_dict(t.get("Tags")).get("Name"): t for t in tables}
    public = named.get(f"{prefix}-public") or {"Routes": [], "Associations": []}
    private = [t for n, t in named.items() if n and n.startswith(f"{prefix}-private-")]
    subnets = _in_vpc(ctx, "describe_subnets", "Subnets", vpc_id)

    def default_targets(table):
        return [
            r.get("GatewayId") or r.get("NatGatewayId")
            for r in table["Routes"]
            if r.get("DestinationCidrBlock") == ANYWHERE
        ]

    nat = ctx.want("nat_gateways", "none")
    private_default = sorted(t or "" for table in private for t in default_targets(table))
    got = {
        "public_default_route": [t[:4] for t in default_targets(public)],
        "public_associations": sorted(a["SubnetId"] for a in public["Associations"] if a.get("SubnetId")),
        "private_tables": len(private),
        "private_default_routes": [t[:4] for t in private_default],
    }
    want = {
        "public_default_route": ["igw-"],
        "public_associations": sorted(s["SubnetId"] for s in _tier(subnets, "public")),
        "private_tables": 2,
        "private_default_routes": [] if nat == "none" else ["nat-", "nat-"],
    }
    return compare(want, got)


@check("S3 gateway endpoint on both private route tables; interface endpoints in both private subnets")
def endpoints(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    region = ctx.name("region")
    found = _in_vpc(ctx, "describe_vpc_endpoints", "VpcEndpoints", vpc_id)
    s3 = [e for e in found if e["ServiceName"] == f"com.amazonaws.{region}.s3"]
    interface = [e for e in found if e["VpcEndpointType"] == "Interface"]
    private = sorted(s["SubnetId"] for s in _tier(_in_vpc(ctx, "describe_subnets", "Subnets", vpc_id), "private"))
    groups = _in_vpc(ctx, "describe_security_groups", "SecurityGroups", vpc_id)
    endpoints_group = [g["GroupId"] for g in groups if g["GroupName"] == f"{ctx.name('prefix')}-endpoints"]
    got = {
        "s3": [(e["VpcEndpointType"], len(e.get("RouteTableIds", []))) for e in s3],
        "interface_services": sorted(e["ServiceName"].replace(f"com.amazonaws.{region}.", "") for e in interface),
        "interface_subnets": sorted({tuple(sorted(e.get("SubnetIds", []))) for e in interface}),
        "interface_groups": sorted({g["GroupId"] for e in interface for g in e.get("Groups", [])}),
    }
    want = {
        "s3": [("Gateway", 2)],
        "interface_services": sorted(ctx.want("interface_endpoints")),
        "interface_subnets": [tuple(private)] if interface else [],
        "interface_groups": endpoints_group if interface else [],
    }
    return compare(want, got)


def _peers(permission):
    return sorted(p["GroupId"] for p in permission.get("UserIdGroupPairs", []))


@check("security groups allow only what the flow needs; nothing admits 0.0.0.0/0; the default group is empty")
def security_groups(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    prefix = ctx.name("prefix")
    groups = _in_vpc(ctx, "describe_security_groups", "SecurityGroups", vpc_id)
    by_name = {g["GroupName"]: g for g in groups}
    sg = {role: by_name.get(f"{prefix}-{role}") for role in ("rds", "dms", "lambda", "endpoints")}
    missing = sorted(r for r, g in sg.items() if g is None)
    if missing:
        return False, {"missing groups": [f"{prefix}-{r}" for r in missing]}
    ids = {r: g["GroupId"] for r, g in sg.items()}
    rds, dms, lam, ep = sg["rds"], sg["dms"], sg["lambda"], sg["endpoints"]
    default = by_name.get("default", {"IpPermissions": [], "IpPermissionsEgress": []})
    dms_db = [p for p in dms["IpPermissionsEgress"] if p.get("FromPort") == 5432]
    got = {
        "open_to_internet": sorted(
            g["GroupName"]
            for g in groups
            for p in g["IpPermissions"]
            if any(r.get("CidrIp") == ANYWHERE for r in p.get("IpRanges", []))
        ),
        "rds_ingress": [(p.get("FromPort"), p.get("ToPort"), _peers(p)) for p in rds["IpPermissions"]],
        "rds_ingress_cidrs": sorted(r["CidrIp"] for p in rds["IpPermissions"] for r in p.get("IpRanges", [])),
        "rds_egress": len(rds["IpPermissionsEgress"]),
        "dms_ingress": len(dms["IpPermissions"]),
        "dms_egress_ports": sorted(p.get("FromPort") for p in dms["IpPermissionsEgress"]),
        "dms_to_database": [_peers(p) for p in dms_db],
        "lambda_ingress": len(lam["IpPermissions"]),
        "lambda_egress_ports": [p.get("FromPort") for p in lam["IpPermissionsEgress"]],
        "endpoints_ports": sorted({p.get("FromPort") for p in ep["IpPermissions"]}),
        "endpoints_peers": sorted(g for p in ep["IpPermissions"] for g in _peers(p)),
        "default_rules": len(default["IpPermissions"]) + len(default["IpPermissionsEgress"]),
        "untagged": [
            p
            for g in groups
            if g["GroupName"] != "default"
            for p in tag_problems(g["GroupName"], g.get("Tags"), ctx.want("tags"))
        ],
    }
    want = {
        "open_to_internet": [],
        "rds_ingress": [(5432, 5432, [ids["dms"]])],
        "rds_ingress_cidrs": sorted(ctx.want("db_admin_cidrs", [])),
        "rds_egress": 0,
        "dms_ingress": 0,
        "dms_egress_ports": [443, 5432],
        "dms_to_database": [[ids["rds"]]],
        "lambda_ingress": 0,
        "lambda_egress_ports": [443],
        "endpoints_ports": [443],
        "endpoints_peers": sorted([ids["lambda"], ids["dms"]]),
        "default_rules": 0,
        "untagged": [],
    }
    return compare(want, got)


def _condition(statement, key):
    """The values a statement's Condition requires for ``key`` (any operator, key case-insensitive): {operator: [values]}."""
    found = {}
    for operator, pairs in (statement.get("Condition") or {}).items():
        for k, v in (pairs or {}).items():
            if k.lower() == key.lower():
                found[operator] = sorted(str(x) for x in as_list(v))
    return found


def _scoped_to(statement, key, account):
    """The statement requires ``key`` to equal the account (StringEquals, exactly that one value)."""
    return _condition(statement, key).get("StringEquals") == [account]


def _bucket_arns(buckets):
    return {f"arn:aws:s3:::{b}{tail}" for b in buckets for tail in ("", "/*")}


def endpoint_policy_problems(service, document, account, buckets, aws_owned=()):
    """What lets more through a VPC endpoint than this account's principals on this account's resources.

    ``buckets``: for the S3 endpoint, the only buckets it may name; ``aws_owned``: AWS-owned object ARNs
    it may allow s3:GetObject on without the account conditions. Empty list: the policy is scoped.
    """
    problems = []
    allows = [st for st in statements(document) if st.get("Effect") == "Allow"]
    if not allows:
        return [f"{service}: no Allow statement (nothing gets through)"]
    for st in allows:
        sid = f"{service}/{st.get('Sid', '?')}"
        resources = as_list(st.get("Resource", []))
        if "NotAction" in st or "NotResource" in st or "NotPrincipal" in st:
            problems.append(f"{sid}: NotAction/NotResource/NotPrincipal")
            continue
        if service == "s3" and resources and set(resources) <= set(aws_owned):
            if as_list(st.get("Action")) != ["s3:GetObject"]:
                problems.append(f"{sid}: AWS-owned objects for more than s3:GetObject")
            continue
        actions = set(as_list(st.get("Action", [])))
        resourceless = bool(actions) and actions <= RESOURCELESS_ACTIONS
        for key in ("aws:PrincipalAccount",) if resourceless else ("aws:PrincipalAccount", "aws:ResourceAccount"):
            if not _scoped_to(st, key, account):
                problems.append(f"{sid}: not limited to {key} {account}")
        if service == "s3":
            outside = sorted(set(resources) - _bucket_arns(buckets))
            if outside:
                problems.append(f"{sid}: resources outside the platform's buckets: {outside}")
            if any(a in ("*", "s3:*") for a in as_list(st.get("Action", []))):
                problems.append(f"{sid}: every S3 action")
    return problems


@check("VPC endpoint policies let only this account's principals reach this account's resources; S3 only our buckets")
def endpoint_policies(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    region, account = ctx.name("region"), ctx.name("account_id")
    buckets = ctx.want("s3_endpoint_buckets", [ctx.name("data_lake_bucket"), ctx.name("athena_results_bucket")])
    aws_owned = ctx.want("s3_endpoint_aws_owned_resources", [])
    found = _in_vpc(ctx, "describe_vpc_endpoints", "VpcEndpoints", vpc_id)
    problems = []
    for endpoint in found:
        if endpoint.get("State", "").lower() in ("deleted", "deleting"):
            continue
        service = endpoint["ServiceName"].replace(f"com.amazonaws.{region}.", "")
        problems += endpoint_policy_problems(
            service, endpoint.get("PolicyDocument") or "{}", account, buckets, aws_owned
        )
    if not found:
        problems.append("no VPC endpoint")
    return not problems, problems or "as expected"


def _flow_log_group(ctx):
    return ctx.want("flow_logs_log_group", f"/aws/vpc/{ctx.name('prefix')}-flow-logs")


def _flow_log(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    group = _flow_log_group(ctx)
    found = ctx.client("ec2").describe_flow_logs(Filters=[{"Name": "resource-id", "Values": [vpc_id]}])["FlowLogs"]
    return first([f for f in found if f.get("LogGroupName") == group], f"flow log of {vpc_id} to {group}")


@check("VPC flow logs record all traffic, active, into the flow-log group with its retention (and key when set)")
def flow_logs(ctx):
    flow_log = _flow_log(ctx)
    group_name = flow_log["LogGroupName"]
    groups = ctx.client("logs").describe_log_groups(logGroupNamePrefix=group_name)["logGroups"]
    group = first([g for g in groups if g["logGroupName"] == group_name], f"log group {group_name}")
    key = ctx.want("flow_logs_kms_key_arn", "")
    got = {
        "status": flow_log.get("FlowLogStatus"),
        "traffic_type": flow_log.get("TrafficType"),
        "destination": flow_log.get("LogDestinationType", "cloud-watch-logs"),
        "delivery": flow_log.get("DeliverLogsStatus", "SUCCESS"),
        "retention_days": group.get("retentionInDays"),
        "kms_key": group.get("kmsKeyId", "") if key else "",
    }
    want = {
        "status": "ACTIVE",
        "traffic_type": "ALL",
        "destination": "cloud-watch-logs",
        "delivery": "SUCCESS",
        "retention_days": int(ctx.want("flow_logs_retention_days", None) or ctx.want("log_retention_days")),
        "kms_key": key,
    }
    return compare(want, got)


@check(
    "the flow-log role trusts only this account's VPC flow logs (SourceAccount, SourceArn) and writes only its group"
)
def flow_log_role(ctx):
    flow_log = _flow_log(ctx)
    iam, account = ctx.client("iam"), ctx.name("account_id")
    role_name = flow_log["DeliverLogsPermissionArn"].rsplit("/", 1)[-1]
    role = iam.get_role(RoleName=role_name)["Role"]
    trust = [st for st in statements(role["AssumeRolePolicyDocument"]) if st.get("Effect") == "Allow"]
    source_arn = f"arn:aws:ec2:{ctx.name('region')}:{account}:vpc-flow-log/*"
    group_arn = f"arn:aws:logs:{ctx.name('region')}:{account}:log-group:{flow_log['LogGroupName']}"
    allowed_actions = {"logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"}
    grants = [
        st
        for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]
        for st in statements(iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"])
        if st.get("Effect") == "Allow"
    ]
    got = {
        "principals": sorted({p for st in trust for p in as_list((st.get("Principal") or {}).get("Service", []))}),
        "source_account": sorted({str(_scoped_to(st, "aws:SourceAccount", account)) for st in trust}),
        "source_arn": sorted({str(_condition(st, "aws:SourceArn").get("ArnLike") == [source_arn]) for st in trust}),
        "extra_actions": sorted({a for st in grants for a in as_list(st.get("Action", []))} - allowed_actions),
        "other_resources": sorted(
            {
                r
                for st in grants
                for r in as_list(st.get("Resource", []))
                if r not in (group_arn, f"{group_arn}:*", f"{group_arn}:log-stream:*")
            }
        ),
        "attached_policies": len(iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]),
    }
    want = {
        "principals": ["vpc-flow-logs.amazonaws.com"],
        "source_account": ["True"],
        "source_arn": ["True"],
        "extra_actions": [],
        "other_resources": [],
        "attached_policies": 0,
    }
    return compare(want, got)


# The ports prowler asks about (ec2_networkacl_allow_ingress_*): SSH, RDP, and every port (protocol -1).
EXPOSED_PORTS = (("tcp", 22), ("tcp", 3389), ("all", None))
_PROTOCOLS = {"-1": "all", "6": "tcp", "17": "udp", "1": "icmp"}


def _entry_matches(entry, protocol, port):
    proto = _PROTOCOLS.get(str(entry.get("Protocol")), str(entry.get("Protocol")))
    if proto == "all":
        return True
    if protocol == "all" or proto != protocol:
        return False
    ports = entry.get("PortRange") or {}
    return ports.get("From", 0) <= port <= ports.get("To", 65535)


def nacl_internet_exposure(entries):
    """What a NACL's ingress entries let in from 0.0.0.0/0 or ::/0 of ``EXPOSED_PORTS``: the first matching entry
    (lowest rule number) decides, as AWS evaluates them. Empty list: nothing exposed."""
    exposed = []
    for family, anywhere in (("CidrBlock", ANYWHERE), ("Ipv6CidrBlock", "::/0")):
        ingress = sorted(
            (e for e in entries if not e.get("Egress") and e.get(family) == anywhere), key=lambda e: e["RuleNumber"]
        )
        for protocol, port in EXPOSED_PORTS:
            first_match = next((e for e in ingress if _entry_matches(e, protocol, port)), None)
            if first_match and first_match.get("RuleAction") == "allow":
                what = "every port" if port is None else f"{protocol}/{port}"
                exposed.append(f"{what} from {anywhere} (rule {first_match['RuleNumber']})")
    return exposed


@check("each subnet uses its tier's network ACL; no NACL of the VPC (the default one too) admits 22, 3389 or all ports")
def network_acls(ctx):
    vpc_id = _vpc(ctx)["VpcId"]
    prefix = ctx.name("prefix")
    nacls = _in_vpc(ctx, "describe_network_acls", "NetworkAcls", vpc_id)
    subnets = _in_vpc(ctx, "describe_subnets", "Subnets", vpc_id)
    by_name = {tag_dict(n.get("Tags")).get("Name"): n for n in nacls if not n.get("IsDefault")}
    got, want = {}, {}
    for tier in ("private", "public"):
        nacl = by_name.get(f"{prefix}-{tier}") or {"Associations": [], "NetworkAclId": "missing"}
        got[f"{tier}_subnets"] = sorted(a["SubnetId"] for a in nacl["Associations"] if a.get("SubnetId"))
        want[f"{tier}_subnets"] = sorted(s["SubnetId"] for s in _tier(subnets, tier))
    default = [n for n in nacls if n.get("IsDefault")]
    got["default_subnets"] = sorted(a["SubnetId"] for n in default for a in n["Associations"] if a.get("SubnetId"))
    want["default_subnets"] = []
    if ctx.want("restrict_default_nacl", True):
        got["default_allows"] = sorted(
            e["RuleNumber"] for n in default for e in n["Entries"] if e.get("RuleAction") == "allow"
        )
        want["default_allows"] = []
    exposure = {
        tag_dict(n.get("Tags")).get("Name") or n["NetworkAclId"]: nacl_internet_exposure(n["Entries"]) for n in nacls
    }
    got["exposed"] = {name: found for name, found in exposure.items() if found}
    want["exposed"] = {}
    return compare(want, got)


CHECKS = (
    vpc_and_subnets,
    routes,
    endpoints,
    endpoint_policies,
    security_groups,
    network_acls,
    flow_logs,
    flow_log_role,
)

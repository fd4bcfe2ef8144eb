# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Database: the RDS PostgreSQL instance, its subnet group and parameters."""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    as_list,
    check,
    compare,
    first,
    statements,
)


def _instance(ctx):
    rds, name = ctx.client("rds"), ctx.name("db_instance")
    return first(rds.describe_db_instances(DBInstanceIdentifier=name)["DBInstances"], f"DB instance {name}")


def _security_group(ctx, role, name=None):
    groups = ctx.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [name or f"{ctx.name('prefix')}-{role}"]}]
    )["SecurityGroups"]
    return [g["GroupId"] for g in groups]


@check("instance encrypted, private, backed up, logs exported, per environment")
def instance(ctx):
    d = _instance(ctx)
    name = ctx.name("db_instance")
    got = {
        "StorageEncrypted": d.get("StorageEncrypted"),
        "PubliclyAccessible": d.get("PubliclyAccessible"),
        "MultiAZ": d.get("MultiAZ"),
        "DeletionProtection": d.get("DeletionProtection"),
        "IAMDatabaseAuthenticationEnabled": d.get("IAMDatabaseAuthenticationEnabled"),
        "BackupRetentionPeriod": d.get("BackupRetentionPeriod"),
        "Engine": d.get("Engine"),
        "DBSubnetGroup": d.get("DBSubnetGroup", {}).get("DBSubnetGroupName"),
        "ParameterGroup": [g["DBParameterGroupName"] for g in d.get("DBParameterGroups", [])],
        "SecurityGroups": sorted(g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", [])),
        "LogExports": sorted(d.get("EnabledCloudwatchLogsExports", [])),
    }
    want = {
        "StorageEncrypted": True,
        "PubliclyAccessible": False,
        "MultiAZ": ctx.want("multi_az"),
        "DeletionProtection": ctx.want("deletion_protection"),
        "IAMDatabaseAuthenticationEnabled": ctx.want("iam_authentication"),
        "BackupRetentionPeriod": ctx.want("backup_retention_days"),
        "Engine": "postgres",
        "DBSubnetGroup": name,
        "ParameterGroup": [f"{name}-postgres15"],
        # the network layer's group, and the one admitting the secrets' rotation function (when deployed)
        "SecurityGroups": sorted(_security_group(ctx, "rds") + _security_group(ctx, "", f"{name}-from-rotation")),
        "LogExports": ["postgresql", "upgrade"],
    }
    return compare(want, got)


@check("enhanced monitoring at the interval of the environment, through a role only RDS of this account assumes")
def enhanced_monitoring(ctx):
    d = _instance(ctx)
    interval = ctx.want("monitoring_interval", 0)
    role_arn = d.get("MonitoringRoleArn") or ""
    got = {"interval": d.get("MonitoringInterval", 0), "role": role_arn.rsplit("/", 1)[-1] or None}
    want = {"interval": interval, "role": ctx.want("monitoring_role_name") if interval else None}
    if interval and role_arn:
        trust = statements(ctx.client("iam").get_role(RoleName=got["role"])["Role"]["AssumeRolePolicyDocument"])
        got["trust"] = sorted(
            (service, (st.get("Condition") or {}).get("StringEquals", {}).get("aws:SourceAccount"))
            for st in trust
            if st.get("Effect") == "Allow"
            for service in as_list((st.get("Principal") or {}).get("Service", []))
        )
        want["trust"] = [("monitoring.rds.amazonaws.com", ctx.name("account_id"))]
    return compare(want, got)


@check("subnet group holds the private subnets only")
def subnet_group(ctx):
    name = ctx.name("db_instance")
    group = first(ctx.client("rds").describe_db_subnet_groups(DBSubnetGroupName=name)["DBSubnetGroups"], name)
    ec2 = ctx.client("ec2")
    vpcs = ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{ctx.name('prefix')}-vpc"]}])["Vpcs"]
    vpc_id = first(vpcs, "VPC")["VpcId"]
    private = ec2.describe_subnets(
        Filters=[{"Name": "vpc-id", "Values": [vpc_id]}, {"Name": "tag:Tier", "Values": ["private"]}]
    )["Subnets"]
    got = sorted(s["SubnetIdentifier"] for s in group["Subnets"])
    want = sorted(s["SubnetId"] for s in private)
    return (True, f"{len(got)} private subnet(s)") if got == want else (False, {"want": want, "got": got})


@check("parameter group: logical replication and TLS enforced")
def parameters(ctx):
    rds, group = ctx.client("rds"), f"{ctx.name('db_instance')}-postgres15"
    found = {}
    for page in rds.get_paginator("describe_db_parameters").paginate(DBParameterGroupName=group, Source="user"):
        found.update({p["ParameterName"]: p.get("ParameterValue") for p in page["Parameters"]})
    got = {k: found.get(k) for k in ("rds.logical_replication", "rds.force_ssl")}
    return compare({"rds.logical_replication": "1", "rds.force_ssl": "1"}, got)


@check("instance available", HEALTH)
def available(ctx):
    d = _instance(ctx)
    status = d.get("DBInstanceStatus")
    endpoint = d.get("Endpoint", {})
    detail = (
        f"{status}, {d.get('Engine')} {d.get('EngineVersion', '')}, {endpoint.get('Address')}:{endpoint.get('Port')}"
    )
    return status == "available", detail


CHECKS = (instance, enhanced_monitoring, subnet_group, parameters, available)

# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Ingestion: the DMS replication instance, its endpoints and the full-load-and-CDC task."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    compare,
    first,
)

HEALTHY_TASK_STATES = ("ready", "starting", "running", "stopped", "resuming")


def _instance(ctx):
    name = ctx.name("replication_instance")
    found = ctx.client("dms").describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [name]}]
    )["ReplicationInstances"]
    return first(found, f"replication instance {name}")


def _task(ctx):
    name = ctx.name("replication_task")
    found = ctx.client("dms").describe_replication_tasks(
        Filters=[{"Name": "replication-task-id", "Values": [name]}], WithoutSettings=False
    )["ReplicationTasks"]
    return first(found, f"replication task {name}")


def _lower(value):
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dict):
        return {k: _lower(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_lower(v) for v in value]
    return value


@check("replication instance private, in the private subnet group, DMS security group")
def instance(ctx):
    d = _instance(ctx)
    groups = ctx.client("ec2").describe_security_groups(
        Filters=[{"Name": "group-name", "Values": [f"{ctx.name('prefix')}-dms"]}]
    )["SecurityGroups"]
    got = {
        "public": d.get("PubliclyAccessible"),
        "subnet_group": d.get("ReplicationSubnetGroup", {}).get("ReplicationSubnetGroupIdentifier"),
        "security_groups": [g["VpcSecurityGroupId"] for g in d.get("VpcSecurityGroups", [])],
    }
    want = {
        "public": False,
        "subnet_group": f"{ctx.name('prefix')}-dms",
        "security_groups": [g["GroupId"] for g in groups],
    }
    return compare(want, got)


@check("source reads credentials from the secret over TLS; target writes JSON to the stream")
def endpoints(ctx):
    dms = ctx.client("dms")
    source_id, target_id = ctx.name("source_endpoint"), ctx.name("target_endpoint")
    found = {
        e["EndpointIdentifier"]: e
        for e in dms.describe_endpoints(Filters=[{"Name": "endpoint-id", "Values": [source_id, target_id]}])[
            "Endpoints"
        ]
    }
    src, tgt = found.get(source_id, {}), found.get(target_id, {})
    pg, ks = src.get("PostgreSQLSettings", {}), tgt.get("KinesisSettings", {})
    # the replication user's secret (never the master's: secrets.source_endpoint_secret)
    secret_arn = ctx.client("secretsmanager").describe_secret(SecretId=ctx.name("replication_secret"))["ARN"]
    role_arn = ctx.client("iam").get_role(RoleName=ctx.name("dms_role"))["Role"]["Arn"]
    stream_arn = ctx.client("kinesis").describe_stream_summary(StreamName=ctx.name("stream"))[
        "StreamDescriptionSummary"
    ]["StreamARN"]
    got = {
        "source": [src.get("EndpointType"), src.get("EngineName"), src.get("SslMode")],
        "secret": pg.get("SecretsManagerSecretId"),
        "secret_role": pg.get("SecretsManagerAccessRoleArn"),
        "no_password_in_endpoint": "Password" not in src and "Password" not in pg,
        "target": [tgt.get("EndpointType"), tgt.get("EngineName")],
        "stream": ks.get("StreamArn"),
        "format": ks.get("MessageFormat"),
        "metadata": all(
            ks.get(k) for k in ("IncludeTransactionDetails", "IncludePartitionValue", "IncludeControlDetails")
        ),
    }
    want = {
        "source": ["SOURCE", "postgres", "require"],
        "secret": [ctx.name("replication_secret"), secret_arn],
        "secret_role": role_arn,
        "no_password_in_endpoint": True,
        "target": ["TARGET", "kinesis"],
        "stream": stream_arn,
        "format": "json-unformatted",
        "metadata": True,
    }
    if got["secret"] in want["secret"]:  # the secret's name or its ARN
        want["secret"] = got["secret"]
    ok, detail = compare(_lower(want), _lower(got))
    return ok, detail


@check("task full-load-and-cdc of the inventory's tables, logging and before-images on, on the instance")
def task(ctx):
    t = _task(ctx)
    rules = json.loads(t["TableMappings"])["rules"]
    settings = json.loads(t.get("ReplicationTaskSettings") or "{}")
    got = {
        "type": t["MigrationType"],
        "tables": sorted(
            f"{r['object-locator']['schema-name']}.{r['object-locator']['table-name']}"
            for r in rules
            if r.get("rule-type") == "selection"
        ),
        "logging": settings.get("Logging", {}).get("EnableLogging"),
        # a primary-key change reaches the transform as an update whose before-image holds the old key
        "before_image": settings.get("BeforeImageSettings", {}).get("EnableBeforeImage"),
        "instance": t["ReplicationInstanceArn"],
        "running": t["Status"] == "running",
    }
    want = {
        "type": "full-load-and-cdc",
        "tables": sorted(f"{ctx.want('source_schema')}.{name}" for name in ctx.want("source_tables")),
        "logging": True,
        "before_image": True,
        "instance": _instance(ctx)["ReplicationInstanceArn"],
        "running": True if ctx.want("start_replication", False) else got["running"],
    }
    return compare(want, got)


def table_statistics(ctx, task_arn):
    return ctx.client("dms").describe_table_statistics(ReplicationTaskArn=task_arn)["TableStatistics"]


@check("replication task healthy, per-table statistics", HEALTH)
def task_health(ctx):
    t = _task(ctx)
    status, failure = t.get("Status", "missing"), t.get("LastFailureMessage", "")
    stats = table_statistics(ctx, t["ReplicationTaskArn"])
    tables = [
        f"{s['TableName']} {s.get('TableState', '')} load {s.get('FullLoadRows', 0)} ins {s.get('Inserts', 0)}"
        f" upd {s.get('Updates', 0)} del {s.get('Deletes', 0)}"
        for s in stats
    ]
    reason = f" ({t['StopReason']})" if t.get("StopReason") else ""
    detail = f"task {status}{reason}; {len(stats)} table(s)" + "".join(f", {x}" for x in tables)
    if failure:
        detail += f"; last failure: {failure}"
    return status in HEALTHY_TASK_STATES and not failure, detail


CHECKS = (instance, endpoints, task, task_health)

# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets: the database credentials secret. Only its keys and lengths are ever reported, never a value."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    check,
    compare,
    first,
    tag_problems,
)

KEYS = ["dbInstanceIdentifier", "dbname", "engine", "host", "password", "port", "username"]


def _value(ctx):
    return json.loads(ctx.client("secretsmanager").get_secret_value(SecretId=ctx.name("secret"))["SecretString"])


@check("the secret holds a generated 32-character password and the connection details, tagged, encrypted")
def credentials(ctx):
    sm = ctx.client("secretsmanager")
    described = sm.describe_secret(SecretId=ctx.name("secret"))
    value = _value(ctx)
    got = {
        "keys": sorted(value),
        "password_length": len(str(value.get("password", ""))),
        "username_length": len(str(value.get("username", ""))),
        "dbname_length": len(str(value.get("dbname", ""))),
        "kms_key": described.get("KmsKeyId", "") if ctx.want("kms_key_id", "") else "",
        "untagged": tag_problems("secret", described.get("Tags"), ctx.want("tags")),
    }
    want = {
        "keys": KEYS,
        "password_length": 32,
        "username_length": len(ctx.want("db_username")),
        "dbname_length": len(ctx.want("db_name")),
        "kms_key": ctx.want("kms_key_id", ""),
        "untagged": [],
    }
    return compare(want, got)


@check("the secret holds the endpoint the instance reports (DMS reads it)")
def endpoint(ctx):
    instances = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=ctx.name("db_instance"))["DBInstances"]
    reported = first(instances, f"DB instance {ctx.name('db_instance')}").get("Endpoint", {})
    value = _value(ctx)
    same_host = value.get("host") == reported.get("Address")
    same_port = value.get("port") == reported.get("Port")
    return same_host and same_port, {"host matches": same_host, "port matches": same_port}


def _rotated_secrets(ctx):
    return [ctx.name("secret"), ctx.name("replication_secret")]


def _each_rotated_secret(ctx, problem_of, summary):
    """Describe both rotated secrets; ``problem_of(description)`` says what is wrong with one (falsy: nothing)."""
    sm, problems = ctx.client("secretsmanager"), {}
    for name in _rotated_secrets(ctx):
        problem = problem_of(sm.describe_secret(SecretId=name))
        if problem:
            problems[name] = problem
    return not problems, problems or {summary: _rotated_secrets(ctx)}


@check("the DMS source endpoint logs in with the replication user's secret, not the master's")
def source_endpoint_secret(ctx):
    sm = ctx.client("secretsmanager")
    endpoints = ctx.client("dms").describe_endpoints(
        Filters=[{"Name": "endpoint-id", "Values": [ctx.name("source_endpoint")]}]
    )["Endpoints"]
    settings = first(endpoints, f"DMS endpoint {ctx.name('source_endpoint')}").get("PostgreSQLSettings") or {}
    named = settings.get("SecretsManagerSecretId", "")
    arn = sm.describe_secret(SecretId=named)["ARN"] if named else ""
    got = {
        "replication secret": arn == sm.describe_secret(SecretId=ctx.name("replication_secret"))["ARN"],
        "master secret": arn == sm.describe_secret(SecretId=ctx.name("secret"))["ARN"],
        "access role": bool(settings.get("SecretsManagerAccessRoleArn")),
    }
    return compare({"replication secret": True, "master secret": False, "access role": True}, got)


@check("both database secrets rotate with the rotation function on a schedule")
def rotation_configured(ctx):
    def problem_of(described):
        rules = described.get("RotationRules") or {}
        function = str(described.get("RotationLambdaARN", "")).rsplit(":function:", 1)[-1].split(":")[0]
        got = {
            "enabled": bool(described.get("RotationEnabled")),
            "function": function,
            "scheduled": bool(rules.get("AutomaticallyAfterDays") or rules.get("ScheduleExpression")),
        }
        ok, detail = compare({"enabled": True, "function": ctx.name("rotation_function"), "scheduled": True}, got)
        return None if ok else detail

    return _each_rotated_secret(ctx, problem_of, "secrets")


@check("the last rotation of both secrets succeeded (LastRotatedDate set, no rotation left pending)")
def rotation_succeeded(ctx):
    def problem_of(described):
        stages = described.get("VersionIdsToStages") or {}
        pending = [v for v, labels in stages.items() if "AWSPENDING" in labels and "AWSCURRENT" not in labels]
        if not described.get("LastRotatedDate"):
            return "never rotated (no LastRotatedDate)"
        if pending:
            return "a rotation did not finish (an AWSPENDING version that is not AWSCURRENT)"
        return None

    return _each_rotated_secret(ctx, problem_of, "rotated")


CHECKS = (credentials, endpoint, source_endpoint_secret, rotation_configured, rotation_succeeded)

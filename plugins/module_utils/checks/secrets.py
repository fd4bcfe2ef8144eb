# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Secrets: the database credentials secret. Only its keys and lengths are ever reported, never a value."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    as_list,
    check,
    compare,
    first,
    statements,
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


def _lower_keys(condition):
    return {op: {k.lower(): v for k, v in (pairs or {}).items()} for op, pairs in (condition or {}).items()}


def _everyone(principal):
    return principal == "*" or (isinstance(principal, dict) and as_list(principal.get("AWS", [])) == ["*"])


def secret_policy_problems(document, arn, required, allowed):
    """What is wrong with a secret's resource policy: it must deny every Secrets Manager action to every
    principal whose aws:PrincipalArn is not listed (one StringNotEquals condition, nothing else, as prowler's
    secretsmanager_has_restrictive_resource_policy reads it), list only ``allowed`` principals and every
    ``required`` one (else they are locked out), and allow nothing to anyone. Empty list: as it should be."""
    if not document:
        return ["no resource policy"]
    problems, guards = [], []
    for st in statements(document):
        sid = st.get("Sid", "?")
        if st.get("Effect") == "Allow":
            problems.append(f"{sid}: allows {st.get('Principal')}")
            continue
        actions = as_list(st.get("Action", []))
        resources = as_list(st.get("Resource", []))
        condition = _lower_keys(st.get("Condition"))
        if (
            _everyone(st.get("Principal"))
            and any(a in ("*", "secretsmanager:*") for a in actions)
            and all(r in ("*", arn) for r in resources)
            and list(condition) == ["StringNotEquals"]
            and list(condition["StringNotEquals"]) == ["aws:principalarn"]
        ):
            guards.append(sorted(as_list(condition["StringNotEquals"]["aws:principalarn"])))
    if not guards:
        return [*problems, "no Deny of secretsmanager:* to every principal outside a list of aws:PrincipalArn"]
    listed = set(guards[0])
    outside = sorted(listed - set(allowed))
    locked_out = sorted(set(required) - listed)
    if outside:
        problems.append(f"lets in principals outside the platform's: {outside}")
    if locked_out:
        problems.append(f"locks out: {locked_out}")
    return problems


def _deployer(ctx, iam):
    """The deploying principal as aws:PrincipalArn names it: expected, else the caller of the check."""
    given = ctx.want("policy_deployer_arn", "")
    if given:
        return given
    caller = ctx.client("sts").get_caller_identity()["Arn"]
    partition_account = caller.split(":")[1], caller.split(":")[4]
    if ":assumed-role/" in caller:
        return iam.format(*partition_account, "role/" + caller.split("/")[1])
    if ":sts::" in caller and ":user/" in caller:
        return iam.format(*partition_account, caller.split(":", 5)[5])
    return caller


@check("each secret's resource policy denies every principal but the deployer, the rotation role (and DMS's)")
def resource_policies(ctx):
    if not ctx.want("resource_policy", True):
        return True, "not asked for (secrets_resource_policy: false)"
    sm = ctx.client("secretsmanager")
    iam = "arn:{}:iam::{}:{}"
    partition = sm.describe_secret(SecretId=ctx.name("secret"))["ARN"].split(":")[1]
    role = iam.format(partition, ctx.name("account_id"), "role/{}")
    functions = ctx.client("lambda").list_functions().get("Functions", [])
    rotation = [f["Role"] for f in functions if f["FunctionName"] == ctx.name("rotation_function")]
    common = [_deployer(ctx, iam), rotation[0] if rotation else role.format(ctx.name("rotation_function"))]
    extra = ctx.want("policy_principal_arns", [])
    required = {
        ctx.name("secret"): common,
        ctx.name("replication_secret"): [*common, role.format(ctx.name("dms_role"))],
    }
    problems = {}
    for name, needed in required.items():
        arn = sm.describe_secret(SecretId=name)["ARN"]
        document = sm.get_resource_policy(SecretId=name).get("ResourcePolicy")
        found = secret_policy_problems(document, arn, needed, needed + extra)
        if found:
            problems[name] = found
    return not problems, problems or {"restricted": list(required)}


CHECKS = (credentials, endpoint, source_endpoint_secret, rotation_configured, rotation_succeeded, resource_policies)

# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Processing: the transform and ML functions, their triggers, permissions, dead-letter queue and logs."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    HEALTH,
    check,
    compare,
    first,
)


def _functions(ctx):
    return [ctx.name("transform_function"), ctx.name("ml_function")]


def _configuration(ctx, name):
    return ctx.client("lambda").get_function(FunctionName=name)["Configuration"]


def _dlq_arn(ctx):
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=ctx.name("dlq"))["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]


def _private_subnets_and_group(ctx):
    ec2 = ctx.client("ec2")
    vpc = first(
        ec2.describe_vpcs(Filters=[{"Name": "tag:Name", "Values": [f"{ctx.name('prefix')}-vpc"]}])["Vpcs"], "VPC"
    )
    in_vpc = {"Name": "vpc-id", "Values": [vpc["VpcId"]]}
    subnets = ec2.describe_subnets(Filters=[in_vpc, {"Name": "tag:Tier", "Values": ["private"]}])["Subnets"]
    groups = ec2.describe_security_groups(
        Filters=[in_vpc, {"Name": "group-name", "Values": [f"{ctx.name('prefix')}-lambda"]}]
    )["SecurityGroups"]
    return sorted(s["SubnetId"] for s in subnets), [g["GroupId"] for g in groups]


@check("functions: runtime, pandas layer, private subnets, dead-letter queue, tracing, memory")
def functions(ctx):
    subnets, groups = _private_subnets_and_group(ctx) if ctx.want("in_vpc", True) else ([], [])
    dlq = _dlq_arn(ctx)[1]["QueueArn"]
    problems = {}
    for name in _functions(ctx):
        c = _configuration(ctx, name)
        got = {
            "runtime": c.get("Runtime"),
            "layers": [layer["Arn"] for layer in c.get("Layers", [])],
            "subnets": sorted(c.get("VpcConfig", {}).get("SubnetIds", [])),
            "security_groups": c.get("VpcConfig", {}).get("SecurityGroupIds", []),
            "dlq": c.get("DeadLetterConfig", {}).get("TargetArn"),
            "tracing": c.get("TracingConfig", {}).get("Mode"),
            "memory_at_least_512": c.get("MemorySize", 0) >= 512,
        }
        want = {
            "runtime": "python3.12",
            "layers": [ctx.want("pandas_layer_arn")],
            "subnets": subnets,
            "security_groups": groups,
            "dlq": dlq,
            "tracing": "Active",
            "memory_at_least_512": True,
        }
        ok, diff = compare(want, got)
        if not ok:
            problems[name] = diff
    env = _configuration(ctx, ctx.name("ml_function")).get("Environment", {}).get("Variables", {})
    if env.get("DATA_BUCKET") != ctx.name("data_lake_bucket"):
        problems["ml DATA_BUCKET"] = {"want": ctx.name("data_lake_bucket"), "got": env.get("DATA_BUCKET")}
    return not problems, problems or "as expected"


def _policy(ctx, name):
    return json.loads(ctx.client("lambda").get_policy(FunctionName=name)["Policy"])["Statement"]


@check("invoke permissions scoped to the bucket and account, and to the schedule rule")
def invoke_permissions(ctx):
    account, lake = ctx.name("account_id"), f"arn:aws:s3:::{ctx.name('data_lake_bucket')}"
    rule_arn = f"arn:aws:events:{ctx.name('region')}:{account}:rule/{ctx.name('ml_schedule_rule')}"

    def condition(s, op, key):
        return s.get("Condition", {}).get(op, {}).get(key)

    transform = any(
        s.get("Principal", {}).get("Service") == "s3.amazonaws.com"
        and condition(s, "ArnLike", "AWS:SourceArn") == lake
        and condition(s, "StringEquals", "AWS:SourceAccount") == account
        for s in _policy(ctx, ctx.name("transform_function"))
    )
    ml = any(
        s.get("Principal", {}).get("Service") == "events.amazonaws.com"
        and condition(s, "ArnLike", "AWS:SourceArn") == rule_arn
        for s in _policy(ctx, ctx.name("ml_function"))
    )
    return compare({"transform from the bucket": True, "ml from the rule": True},
                   {"transform from the bucket": transform, "ml from the rule": ml})  # fmt: skip


@check("objects created under raw/ notify the transform")
def raw_notification(ctx):
    conf = ctx.client("s3").get_bucket_notification_configuration(Bucket=ctx.name("data_lake_bucket"))
    arn = _configuration(ctx, ctx.name("transform_function"))["FunctionArn"]
    ok = any(
        c["LambdaFunctionArn"] == arn
        and "s3:ObjectCreated:*" in c["Events"]
        and {"Name": "Prefix", "Value": "raw/"}
        in [
            {"Name": r["Name"].capitalize(), "Value": r["Value"]}
            for r in c.get("Filter", {}).get("Key", {}).get("FilterRules", [])
        ]
        for c in conf.get("LambdaFunctionConfigurations", [])
    )
    return ok, "raw/ -> transform" if ok else conf.get("LambdaFunctionConfigurations", [])


@check("ML schedule per inventory, enabled, targeting the ML function")
def schedule(ctx):
    events, rule_name = ctx.client("events"), ctx.name("ml_schedule_rule")
    rule = events.describe_rule(Name=rule_name)
    targets = [t["Arn"] for t in events.list_targets_by_rule(Rule=rule_name)["Targets"]]
    got = {"expression": rule.get("ScheduleExpression"), "state": rule.get("State"), "targets": targets}
    want = {
        "expression": ctx.want("ml_schedule_expression"),
        "state": "ENABLED",
        "targets": [_configuration(ctx, ctx.name("ml_function"))["FunctionArn"]],
    }
    return compare(want, got)


@check("dead-letter queue encrypted, keeps messages 14 days")
def dead_letter_queue(ctx):
    attrs = _dlq_arn(ctx)[1]
    got = {"kms": attrs.get("KmsMasterKeyId"), "retention": int(attrs.get("MessageRetentionPeriod", 0))}
    return compare(
        {"kms": ctx.want("kms_key_id", "") or "alias/aws/sqs", "retention": ctx.want("dlq_retention_seconds", 1209600)},
        got,
    )


@check("function log groups with retention")
def function_logs(ctx):
    logs, got = ctx.client("logs"), {}
    for name in _functions(ctx):
        group = f"/aws/lambda/{name}"
        found = [
            g for g in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] if g["logGroupName"] == group
        ]
        got[name] = found[0].get("retentionInDays") if found else None
    return compare({n: ctx.want("log_retention_days") for n in got}, got)


@check("functions active, their error alarms not firing", HEALTH)
def functions_health(ctx):
    cw, prefix, details, ok = ctx.client("cloudwatch"), ctx.name("prefix"), [], True
    for name in _functions(ctx):
        c = _configuration(ctx, name)
        alarm_name = f"{name}-errors"
        alarms = cw.describe_alarms(AlarmNames=[alarm_name])["MetricAlarms"]
        alarm = alarms[0]["StateValue"] if alarms else "missing"
        ok = ok and c.get("State", "Active") == "Active" and alarm != "ALARM"
        short = name[len(prefix) + 1 :] if name.startswith(prefix + "-") else name
        details.append(f"{short} {c.get('State', 'Active')} {c.get('Runtime')} errors alarm {alarm}")
    return ok, "; ".join(details)


CHECKS = (functions, invoke_permissions, raw_notification, schedule, dead_letter_queue, function_logs, functions_health)

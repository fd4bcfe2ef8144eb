# Copyright: SmartStream platform team
# GNU General Public License v3.0+ (see COPYING or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Keys: the environment's customer-managed KMS key, and every resource encrypted with it.

``expected.keys.key_arn`` is the key the deployment must use (the keys role's
``smartstream_kms_key_arn``), ``expected.keys.alias`` its alias. Each resource
check fails on its own when one resource uses another key, an AWS managed key
or none.
"""

from __future__ import annotations

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks.common import (
    Missing,
    as_list,
    check,
    compare,
    first,
    is_not_found,
    statements,
    tag_problems,
)


def _key_arn(ctx):
    want = ctx.want("key_arn")
    if not want:
        raise Missing("no environment key: expected.keys.key_arn is empty (the keys layer did not run or found none)")
    return want


def _uses(ctx, found):
    """(ok, detail) of {resource: key it uses}, each wanted to be the environment key."""
    want = _key_arn(ctx)
    return compare(dict.fromkeys(found, want), found)


@check("the environment's key: enabled, symmetric, rotated yearly, under its alias, tagged, scoped key policy")
def key(ctx):
    kms, alias = ctx.client("kms"), ctx.want("alias")
    metadata = kms.describe_key(KeyId=alias)["KeyMetadata"]
    arn = metadata["Arn"]
    policy = statements(kms.get_key_policy(KeyId=arn, PolicyName="default")["Policy"])
    unconditioned = sorted(
        service
        for st in policy
        if not st.get("Condition")
        for service in as_list((st.get("Principal") or {}).get("Service", []))
    )
    open_statements = [st.get("Sid", "?") for st in policy if st.get("Principal") in ("*", {"AWS": "*"})]
    logs = f"logs.{ctx.name('region')}.amazonaws.com"
    logs_scoped = any(
        "kms:EncryptionContext:aws:logs:arn" in (st.get("Condition") or {}).get("ArnLike", {})
        for st in policy
        if logs in as_list((st.get("Principal") or {}).get("Service", []))
    )
    tags = {t["TagKey"]: t["TagValue"] for t in kms.list_resource_tags(KeyId=arn).get("Tags", [])}
    got = {
        "arn": arn,
        "state": metadata.get("KeyState"),
        "spec": metadata.get("KeySpec", metadata.get("CustomerMasterKeySpec")),
        "manager": metadata.get("KeyManager"),
        "rotation": kms.get_key_rotation_status(KeyId=arn).get("KeyRotationEnabled"),
        "open_to_anyone": open_statements,
        "unconditioned_services": unconditioned,
        "logs_scoped_to_log_groups": logs_scoped,
        "untagged": tag_problems("key", tags, ctx.want("tags")),
    }
    want = {
        "arn": _key_arn(ctx),
        "state": "Enabled",
        "spec": "SYMMETRIC_DEFAULT",
        "manager": "CUSTOMER",
        "rotation": ctx.want("rotation", True),
        "open_to_anyone": [],
        "unconditioned_services": [],
        "logs_scoped_to_log_groups": True,
        "untagged": [],
    }
    return compare(want, got)


@check("both buckets: SSE-KMS with the environment's key and an S3 Bucket Key")
def buckets_use_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    s3, found = ctx.client("s3"), {}
    for bucket in (ctx.name("data_lake_bucket"), ctx.name("athena_results_bucket")):
        rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
        default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
        bucket_key = "" if rules[0].get("BucketKeyEnabled") else " (no bucket key)"
        found[bucket] = f"{default.get('SSEAlgorithm')}:{default.get('KMSMasterKeyID', '')}{bucket_key}"
    want = f"aws:kms:{_key_arn(ctx)}"
    return compare(dict.fromkeys(found, want), found)


@check("Kinesis stream encrypted with the environment's key")
def stream_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    d = ctx.client("kinesis").describe_stream_summary(StreamName=ctx.name("stream"))["StreamDescriptionSummary"]
    return _uses(ctx, {ctx.name("stream"): d.get("KeyId") if d.get("EncryptionType") == "KMS" else None})


def _log_group_keys(ctx, groups):
    logs, found = ctx.client("logs"), {}
    for group in groups:
        listed = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
        found[group] = next((g.get("kmsKeyId") for g in listed if g["logGroupName"] == group), "missing")
    return found


@check("log groups of Firehose and of the functions encrypted with the environment's key")
def log_groups_use_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    groups = [f"/aws/kinesisfirehose/{ctx.name('delivery_stream')}"]
    groups += [f"/aws/lambda/{ctx.name(f)}" for f in ("transform_function", "ml_function")]
    return _uses(ctx, _log_group_keys(ctx, groups))


@check("functions' environment variables encrypted with the environment's key")
def functions_use_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    lam, found = ctx.client("lambda"), {}
    for name in (ctx.name("transform_function"), ctx.name("ml_function")):
        found[name] = lam.get_function_configuration(FunctionName=name).get("KMSKeyArn")
    return _uses(ctx, found)


@check("dead-letter queue encrypted with the environment's key")
def queue_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    sqs = ctx.client("sqs")
    url = sqs.get_queue_url(QueueName=ctx.name("dlq"))["QueueUrl"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"]).get("Attributes", {})
    return _uses(ctx, {ctx.name("dlq"): attrs.get("KmsMasterKeyId")})


@check("database secret encrypted with the environment's key")
def secret_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    described = ctx.client("secretsmanager").describe_secret(SecretId=ctx.name("secret"))
    return _uses(ctx, {ctx.name("secret"): described.get("KmsKeyId")})


@check("database storage encrypted with the environment's key")
def database_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    found = ctx.client("rds").describe_db_instances(DBInstanceIdentifier=ctx.name("db_instance"))["DBInstances"]
    d = first(found, f"DB instance {ctx.name('db_instance')}")
    return _uses(ctx, {ctx.name("db_instance"): d.get("KmsKeyId") if d.get("StorageEncrypted") else None})


@check("DMS replication instance storage encrypted with the environment's key")
def replication_instance_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    name = ctx.name("replication_instance")
    found = ctx.client("dms").describe_replication_instances(
        Filters=[{"Name": "replication-instance-id", "Values": [name]}]
    )["ReplicationInstances"]
    return _uses(ctx, {name: first(found, f"replication instance {name}").get("KmsKeyId")})


@check("Athena results encrypted SSE_KMS with the environment's key")
def workgroup_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    wg = ctx.client("athena").get_work_group(WorkGroup=ctx.name("workgroup"))["WorkGroup"]
    enc = wg.get("Configuration", {}).get("ResultConfiguration", {}).get("EncryptionConfiguration", {})
    found = {ctx.name("workgroup"): f"{enc.get('EncryptionOption')}:{enc.get('KmsKey', '')}"}
    return compare({ctx.name("workgroup"): f"SSE_KMS:{_key_arn(ctx)}"}, found)


@check("alert topic encrypted with the environment's key")
def topic_uses_key(ctx):
    _key_arn(ctx)  # no environment key: nothing to compare with
    sns, name = ctx.client("sns"), ctx.name("alert_topic")
    arn = f"arn:aws:sns:{ctx.name('region')}:{ctx.name('account_id')}:{name}"
    try:
        attrs = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    except Exception as exc:  # pylint: disable=broad-except
        if is_not_found(exc) or "NotFound" in str(exc):
            raise Missing(f"topic {name}") from exc
        raise
    return _uses(ctx, {name: attrs.get("KmsMasterKeyId")})


CHECKS = (
    key,
    buckets_use_key,
    stream_uses_key,
    log_groups_use_key,
    functions_use_key,
    queue_uses_key,
    secret_uses_key,
    database_uses_key,
    replication_instance_uses_key,
    workgroup_uses_key,
    topic_uses_key,
)

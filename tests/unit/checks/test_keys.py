"""Keys checks against moto: the environment key as deployed passes, each resource on another key fails."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import keys

from .conftest import ACCOUNT, NAMES, PREFIX, REGION, TAGS, client

ALIAS = f"alias/{PREFIX}"


def key_policy(logs_condition: bool = True) -> str:
    logs: dict = {
        "Sid": "Logs",
        "Effect": "Allow",
        "Principal": {"Service": f"logs.{REGION}.amazonaws.com"},
        "Action": ["kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
    }
    if logs_condition:
        arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/lambda/{PREFIX}-*"
        logs["Condition"] = {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": [arn]}}
    root = {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:root"}}
    root |= {"Action": "kms:*", "Resource": "*"}
    return json.dumps({"Version": "2012-10-17", "Statement": [root, logs]})


def make_key(rotation: bool = True, **policy_args) -> str:
    kms = client("kms")
    arn = kms.create_key(
        Policy=key_policy(**policy_args), Tags=[{"TagKey": k, "TagValue": v} for k, v in TAGS.items()]
    )["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName=ALIAS, TargetKeyId=arn)
    if rotation:
        kms.enable_key_rotation(KeyId=arn)
    return arn


def expected(arn: str) -> dict:
    return {"tags": TAGS, "keys": {"key_arn": arn, "alias": ALIAS, "rotation": True}}


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return 1\n")
    return buffer.getvalue()


@pytest.fixture
def key(aws) -> str:
    return make_key()


def test_the_key_as_deployed_passes(check, key):
    result = check(keys.key, expected(key))
    assert result["ok"], result["detail"]


def test_rotation_off_an_open_logs_statement_or_another_key_fail(check, aws):
    arn = make_key(rotation=False, logs_condition=False)
    result = check(keys.key, expected(arn))
    assert not result["ok"]
    assert result["detail"]["rotation"] == {"want": True, "got": False}
    assert result["detail"]["unconditioned_services"]["got"] == [f"logs.{REGION}.amazonaws.com"]
    assert result["detail"]["logs_scoped_to_log_groups"]["got"] is False
    other = check(keys.key, expected("arn:aws:kms:us-east-1:123456789012:key/other"))
    assert not other["ok"] and "arn" in other["detail"]


def test_a_disabled_key_or_none_fails(check, key):
    client("kms").disable_key(KeyId=key.rsplit("/", 1)[1])
    assert check(keys.key, expected(key))["detail"]["state"] == {"want": "Enabled", "got": "Disabled"}
    result = check(keys.stream_uses_key, expected(""))
    assert not result["ok"] and "no environment key" in result["detail"]


def test_buckets_with_the_key_and_a_bucket_key_pass_sse_s3_fails(check, key):
    s3 = client("s3")
    for bucket in (NAMES["data_lake_bucket"], NAMES["athena_results_bucket"]):
        s3.create_bucket(Bucket=bucket)
        rule = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key}}
        s3.put_bucket_encryption(
            Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [rule | {"BucketKeyEnabled": True}]}
        )
    assert check(keys.buckets_use_key, expected(key))["ok"]
    s3.put_bucket_encryption(
        Bucket=NAMES["athena_results_bucket"],
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    result = check(keys.buckets_use_key, expected(key))
    assert not result["ok"] and list(result["detail"]) == [NAMES["athena_results_bucket"]]


def test_stream_on_the_aws_managed_key_fails(check, key):
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=NAMES["stream"], ShardCount=1)
    kinesis.start_stream_encryption(StreamName=NAMES["stream"], EncryptionType="KMS", KeyId=key)
    assert check(keys.stream_uses_key, expected(key))["ok"]
    kinesis.stop_stream_encryption(StreamName=NAMES["stream"], EncryptionType="KMS", KeyId=key)
    kinesis.start_stream_encryption(StreamName=NAMES["stream"], EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert not check(keys.stream_uses_key, expected(key))["ok"]


def test_a_log_group_without_the_key_fails(check, key):
    logs = client("logs")
    groups = [f"/aws/kinesisfirehose/{NAMES['delivery_stream']}"]
    groups += [f"/aws/lambda/{NAMES[f]}" for f in ("transform_function", "ml_function")]
    for group in groups:
        logs.create_log_group(logGroupName=group, kmsKeyId=key)
    assert check(keys.log_groups_use_key, expected(key))["ok"]
    logs.delete_log_group(logGroupName=groups[1])
    logs.create_log_group(logGroupName=groups[1])
    result = check(keys.log_groups_use_key, expected(key))
    assert not result["ok"] and list(result["detail"]) == [groups[1]]


def test_functions_queue_and_secret_on_other_keys_fail(check, key):
    role = client("iam").create_role(RoleName="r", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam = client("lambda")
    for name, kms in ((NAMES["transform_function"], {"KMSKeyArn": key}), (NAMES["ml_function"], {})):
        code = {"ZipFile": zipped()}
        lam.create_function(FunctionName=name, Runtime="python3.12", Role=role, Handler="h.h", Code=code, **kms)
    result = check(keys.functions_use_key, expected(key))
    assert not result["ok"] and list(result["detail"]) == [NAMES["ml_function"]]

    sqs = client("sqs")
    sqs.create_queue(QueueName=NAMES["dlq"], Attributes={"KmsMasterKeyId": key})
    assert check(keys.queue_uses_key, expected(key))["ok"]
    sqs.set_queue_attributes(
        QueueUrl=sqs.get_queue_url(QueueName=NAMES["dlq"])["QueueUrl"], Attributes={"KmsMasterKeyId": "alias/aws/sqs"}
    )
    assert not check(keys.queue_uses_key, expected(key))["ok"]

    client("secretsmanager").create_secret(Name=NAMES["secret"], SecretString="{}", KmsKeyId=key)
    assert check(keys.secret_uses_key, expected(key))["ok"]
    client("secretsmanager").update_secret(SecretId=NAMES["secret"], KmsKeyId="alias/aws/secretsmanager")
    assert not check(keys.secret_uses_key, expected(key))["ok"]


def test_database_and_replication_instance_on_the_default_keys_fail(check, key):
    rds, dms = client("rds"), client("dms")
    common = {"DBInstanceClass": "db.t3.micro", "Engine": "postgres", "MasterUsername": "u"}
    common |= {"MasterUserPassword": "p" * 32, "AllocatedStorage": 20, "StorageEncrypted": True}
    rds.create_db_instance(DBInstanceIdentifier=NAMES["db_instance"], KmsKeyId=key, **common)
    assert check(keys.database_uses_key, expected(key))["ok"]
    assert not check(keys.database_uses_key, expected(key), db_instance="other-db")["ok"]
    rds.create_db_instance(DBInstanceIdentifier="default-key-db", **common)
    assert not check(keys.database_uses_key, expected(key), db_instance="default-key-db")["ok"]

    dms.create_replication_instance(
        ReplicationInstanceIdentifier=NAMES["replication_instance"],
        ReplicationInstanceClass="dms.t3.micro",
        KmsKeyId=key,
    )
    assert check(keys.replication_instance_uses_key, expected(key))["ok"]
    dms.create_replication_instance(ReplicationInstanceIdentifier="plain", ReplicationInstanceClass="dms.t3.micro")
    assert not check(keys.replication_instance_uses_key, expected(key), replication_instance="plain")["ok"]


def test_workgroup_sse_s3_and_an_unencrypted_topic_fail(check, key):
    athena = client("athena")
    results = {"OutputLocation": "s3://b/results/"}
    athena.create_work_group(
        Name=NAMES["workgroup"],
        Configuration={
            "ResultConfiguration": results | {"EncryptionConfiguration": {"EncryptionOption": "SSE_KMS", "KmsKey": key}}
        },
    )
    assert check(keys.workgroup_uses_key, expected(key))["ok"]
    athena.create_work_group(
        Name="plain",
        Configuration={"ResultConfiguration": results | {"EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}}},
    )
    assert not check(keys.workgroup_uses_key, expected(key), workgroup="plain")["ok"]

    sns = client("sns")
    sns.create_topic(Name=NAMES["alert_topic"], Attributes={"KmsMasterKeyId": key})
    assert check(keys.topic_uses_key, expected(key))["ok"]
    sns.create_topic(Name="plain-topic")
    result = check(keys.topic_uses_key, expected(key), alert_topic="plain-topic")
    assert not result["ok"] and result["detail"]["plain-topic"] == {"want": key, "got": None}

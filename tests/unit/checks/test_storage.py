"""Storage checks against moto: buckets as the storage role makes them pass; each weakened setting fails."""

from __future__ import annotations

import json

from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import storage

from .conftest import NAMES, TAGS, client

LAKE, ATHENA, LOGS = NAMES["data_lake_bucket"], NAMES["athena_results_bucket"], NAMES["access_logs_bucket"]
EXPECTED = {
    "tags": TAGS,
    "storage": {
        "kms_key_id": "",
        "zones": ["raw", "trusted"],
        "noncurrent_version_expiration_days": 7,
        "raw_transition_days": 30,
        "raw_transition_storage_class": "STANDARD_IA",
        "raw_expiration_days": 90,
        "quarantine_expiration_days": 30,
        "athena_results_expiration_days": 7,
        "access_logs_prefix": "s3-access-logs/",
        "access_logs_expiration_days": 90,
    },
}


def log_delivery_statement(source: str, prefix: str | None = None, account: str = "123456789012") -> dict:
    return {
        "Sid": f"S3ServerAccessLogs-{source}",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{LOGS}/{f's3-access-logs/{source}/' if prefix is None else prefix}*",
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:s3:::{source}"},
            "StringEquals": {"aws:SourceAccount": account},
        },
    }


def logs_policy(*delivery: dict) -> str:
    policy = json.loads(tls_policy(LOGS))
    policy["Statement"] = (
        list(delivery or [log_delivery_statement(LAKE), log_delivery_statement(ATHENA)]) + policy["Statement"]
    )
    return json.dumps(policy)


def tls_policy(bucket: str) -> str:
    resources = [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]
    deny = {"Effect": "Deny", "Principal": "*", "Action": "s3:*", "Resource": resources}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Sid": "DenyInsecureTransport", **deny, "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
                {"Sid": "DenyTlsOlderThan12", **deny, "Condition": {"NumericLessThan": {"s3:TlsVersion": "1.2"}}},
            ],
        }
    )


def build(zones: tuple[str, ...] = ("raw", "trusted")) -> None:
    s3 = client("s3")
    versions = {
        "ID": "noncurrent-and-multipart",
        "Filter": {"Prefix": ""},
        "Status": "Enabled",
        "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 7},
    }
    rules = {
        LAKE: [
            {
                "ID": "raw-tiering",
                "Filter": {"Prefix": "raw/"},
                "Status": "Enabled",
                "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}],
                "Expiration": {"Days": 90},
            },
            {
                "ID": "quarantine-expiry",
                "Filter": {"Prefix": "quarantine/"},
                "Status": "Enabled",
                "Expiration": {"Days": 30},
            },
            versions,
        ],
        ATHENA: [
            {"ID": "results-expiry", "Filter": {"Prefix": ""}, "Status": "Enabled", "Expiration": {"Days": 7}},
            versions,
        ],
    }
    rules[LOGS] = [
        {
            "ID": "access-logs-expiry",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Expiration": {"Days": 90},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7},
        }
    ]
    for bucket in (LOGS, LAKE, ATHENA):
        s3.create_bucket(Bucket=bucket)
        s3.put_bucket_encryption(
            Bucket=bucket,
            ServerSideEncryptionConfiguration={
                "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
            },
        )
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        s3.put_public_access_block(
            Bucket=bucket,
            PublicAccessBlockConfiguration={
                "BlockPublicAcls": True,
                "IgnorePublicAcls": True,
                "BlockPublicPolicy": True,
                "RestrictPublicBuckets": True,
            },
        )
        s3.put_bucket_ownership_controls(
            Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
        )
        if bucket == LAKE:  # before the policy: in-process moto is plain HTTP, which it denies
            for zone in zones:
                s3.put_object(Bucket=LAKE, Key=f"{zone}/", Body=b"")
        s3.put_bucket_policy(Bucket=bucket, Policy=logs_policy() if bucket == LOGS else tls_policy(bucket))
        s3.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": k, "Value": v} for k, v in TAGS.items()]})
        s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules[bucket]})
        if bucket != LOGS:
            s3.put_bucket_logging(
                Bucket=bucket,
                BucketLoggingStatus={
                    "LoggingEnabled": {"TargetBucket": LOGS, "TargetPrefix": f"s3-access-logs/{bucket}/"}
                },
            )


def test_buckets_as_the_role_makes_them_pass(check):
    build()
    for func in storage.CHECKS:
        result = check(func, EXPECTED)
        assert result["ok"], result


def test_a_public_access_block_lifted_and_a_policy_without_the_tls_version_rule_fail(check):
    build()
    s3 = client("s3")
    s3.put_public_access_block(
        Bucket=ATHENA,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": False,
            "RestrictPublicBuckets": True,
        },
    )
    policy = json.loads(tls_policy(LAKE))
    policy["Statement"] = policy["Statement"][:1]
    s3.put_bucket_policy(Bucket=LAKE, Policy=json.dumps(policy))
    result = check(storage.buckets, EXPECTED)
    assert not result["ok"]
    assert set(result["detail"]) == {LAKE, ATHENA}
    assert result["detail"][LAKE] == {"deny_tls_before_1_2": {"want": True, "got": False}}
    assert "BlockPublicPolicy" not in result["detail"][ATHENA]["public_access_blocks"]["got"]


def test_unencrypted_unversioned_bucket_fails(check):
    build()
    s3 = client("s3")
    s3.delete_bucket_encryption(Bucket=LAKE)
    s3.put_bucket_versioning(Bucket=LAKE, VersioningConfiguration={"Status": "Suspended"})
    detail = check(storage.buckets, EXPECTED)["detail"][LAKE]
    assert detail["versioning"] == {"want": "Enabled", "got": "Suspended"}
    # moto (like S3 since 2023) still reports SSE-S3 as the default once the configuration is deleted
    assert set(detail) <= {"versioning", "encryption"}


def test_a_lifecycle_that_differs_from_the_inventory_fails(check):
    build()
    expected = {**EXPECTED, "storage": {**EXPECTED["storage"], "raw_expiration_days": 365}}
    result = check(storage.lifecycle, expected)
    assert not result["ok"] and result["detail"] == {"raw": {"expiration_days": {"want": 365, "got": 90}}}


def test_a_missing_zone_fails(check):
    build(zones=("raw",))
    result = check(storage.zones, EXPECTED)
    assert not result["ok"] and result["detail"] == {"missing": ["trusted/"]}


def test_a_missing_bucket_is_a_failed_check(check):
    result = check(storage.buckets, EXPECTED)
    assert not result["ok"] and result["detail"].startswith("missing: NoSuchBucket")


def test_a_bucket_that_stops_logging_or_logs_elsewhere_fails(check):
    build()
    s3 = client("s3")
    s3.put_bucket_logging(Bucket=LAKE, BucketLoggingStatus={})
    s3.put_bucket_logging(
        Bucket=ATHENA,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOGS, "TargetPrefix": f"s3-access-logs/{LAKE}/"}},
    )
    result = check(storage.access_logging, EXPECTED)
    assert not result["ok"]
    assert result["detail"][LAKE]["target_bucket"] == {"want": LOGS, "got": None}
    assert result["detail"][ATHENA] == {
        "target_prefix": {"want": f"s3-access-logs/{ATHENA}/", "got": f"s3-access-logs/{LAKE}/"}
    }


def test_a_logs_bucket_under_sse_kms_fails(check):
    build()
    client("s3").put_bucket_encryption(
        Bucket=LOGS,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": "k"}}]
        },
    )
    result = check(storage.access_logs_bucket, EXPECTED)
    assert not result["ok"] and result["detail"] == {"encryption": {"want": "AES256", "got": "aws:kms"}}


def test_a_logs_bucket_that_logs_itself_or_is_public_fails(check):
    build()
    s3 = client("s3")
    s3.put_bucket_logging(  # under a prefix the policy grants (moto fails on a Principal "*" statement otherwise)
        Bucket=LOGS,
        BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": LOGS, "TargetPrefix": f"s3-access-logs/{LAKE}/"}},
    )
    s3.delete_public_access_block(Bucket=LOGS)
    detail = check(storage.access_logs_bucket, EXPECTED)["detail"]
    assert detail["logs_itself"] is True
    assert detail["public_access_blocks"]["got"] == []


def test_log_delivery_without_source_conditions_or_to_the_whole_bucket_fails(check):
    build()
    loose = log_delivery_statement(ATHENA)
    del loose["Condition"]["StringEquals"]
    wide = log_delivery_statement(LAKE, prefix="")
    client("s3").put_bucket_policy(Bucket=LOGS, Policy=logs_policy(wide, loose))
    detail = check(storage.access_logs_bucket, EXPECTED)["detail"]["log_delivery"]
    assert detail[f"arn:aws:s3:::{ATHENA}"]["got"]["source_account"] is None
    assert detail[f"arn:aws:s3:::{LAKE}"]["got"]["resources"] == [f"arn:aws:s3:::{LOGS}/*"]


def test_log_delivery_for_another_source_and_no_expiry_fail(check):
    build()
    s3 = client("s3")
    extra = log_delivery_statement("someone-elses-bucket")
    s3.put_bucket_policy(
        Bucket=LOGS, Policy=logs_policy(log_delivery_statement(LAKE), log_delivery_statement(ATHENA), extra)
    )
    s3.delete_bucket_lifecycle(Bucket=LOGS)
    detail = check(storage.access_logs_bucket, EXPECTED)["detail"]
    assert detail["log_delivery"] == {"unexpected_sources": ["arn:aws:s3:::someone-elses-bucket"]}
    assert detail["expiry"]["expiration_days"] == {"want": 90, "got": None}

"""Every inventory's settings converge against the emulator, only the endpoint and the credentials overridden.

dev, staging and prod each converge, pass the configuration audit (verify.yml: their own settings read back),
and tear down to nothing but what a protected teardown keeps on purpose: the final DB snapshot (prod) and the
two database secrets in their recovery window (staging, prod). prod's settings are also checked against what prowler's checks
ask of them: RDS Multi-AZ, deletion protection, backups of 7 days or more, enhanced monitoring through a role
only RDS of this account assumes, event subscriptions of the instance to the alert topic, Kinesis retention of
7 days or more, and log groups kept a year or more.
"""

from __future__ import annotations

import json

import boto3
import pytest

from tests.harness.emulator_inventory import emulator_session_kwargs, list_resources

from .conftest import run_playbook

REGION = "eu-north-1"
HOSTS = {"dev": "dev-eu-north-1", "staging": "staging-eu-north-1", "prod": "prod-eu-north-1"}


def emulator_only() -> str:
    """The extra vars that aim an inventory at the emulator: endpoint and credentials, nothing else."""
    kwargs = emulator_session_kwargs()
    return json.dumps(
        {
            "smartstream_aws_endpoint_url": kwargs["endpoint_url"],
            "smartstream_aws_ca_bundle": kwargs["verify"],
            "smartstream_aws_access_key": kwargs["aws_access_key_id"],
            "smartstream_aws_secret_key": kwargs["aws_secret_access_key"],
        }
    )


def aws(service: str):
    return boto3.client(service, region_name=REGION, **emulator_session_kwargs())


def assert_prod_settings_pass_prowler_checks() -> None:
    rds = aws("rds")
    db = rds.describe_db_instances(DBInstanceIdentifier="smartstream-prod-db")["DBInstances"][0]
    # rds_instance_multi_az, rds_instance_deletion_protection, rds_instance_backup_enabled (7 days)
    assert db["MultiAZ"] is True
    assert db["DeletionProtection"] is True
    assert db["BackupRetentionPeriod"] >= 7
    # rds_instance_enhanced_monitoring_enabled, through a role only RDS of this account assumes
    assert db["MonitoringInterval"] > 0
    role = aws("iam").get_role(RoleName=db["MonitoringRoleArn"].rsplit("/", 1)[-1])["Role"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"]["StringEquals"]["aws:SourceAccount"] == "123456789012"
    # rds_instance_critical_event_subscription: instance events (maintenance, configuration change, failure...)
    topic = "arn:aws:sns:eu-north-1:123456789012:smartstream-prod-alerts"
    subscriptions = {s["SourceType"]: s for s in rds.describe_event_subscriptions()["EventSubscriptionsList"]}
    instance = subscriptions["db-instance"]
    assert instance["Enabled"] and instance["SnsTopicArn"] == topic
    assert instance["SourceIdsList"] == ["smartstream-prod-db"]
    assert instance["EventCategoriesList"] == []  # every category (failure, failover, maintenance, notification...)
    # rds_instance_event_subscription_parameter_groups
    assert subscriptions["db-parameter-group"]["EventCategoriesList"] == ["configuration change"]
    assert subscriptions["db-parameter-group"]["SnsTopicArn"] == topic
    policy = json.loads(aws("sns").get_topic_attributes(TopicArn=topic)["Attributes"]["Policy"])
    assert any(s.get("Principal") == {"Service": "events.rds.amazonaws.com"} for s in policy["Statement"])
    # kinesis_stream_data_retention_period (7 days)
    stream = aws("kinesis").describe_stream_summary(StreamName="smartstream-prod-cdc")["StreamDescriptionSummary"]
    assert stream["RetentionPeriodHours"] >= 168
    # cloudwatch_log_group_retention_policy_specific_days_enabled (365 days; never expiring passes too)
    groups = aws("logs").describe_log_groups()["logGroups"]
    assert groups
    short = {g["logGroupName"]: g.get("retentionInDays") for g in groups if g.get("retentionInDays", 365) < 365}
    assert not short, short


def clean_expected_residue(env: str, left: dict[str, list[str]]) -> None:
    """What a teardown keeps on purpose, asserted, then removed so the emulator holds nothing of ours."""
    expected = {}
    if env == "prod":
        assert len(left.get("rds:snapshot", [])) == 1 and left["rds:snapshot"][0].startswith(
            "smartstream-prod-db-final-"
        )
        expected["rds:snapshot"] = left["rds:snapshot"]
    if env in ("staging", "prod"):
        # both database secrets wait out their recovery window (the master's and the replication user's)
        assert sorted(left.get("secretsmanager:secret", [])) == [
            f"smartstream/{env}/rds/master",
            f"smartstream/{env}/rds/replication",
        ]
        expected["secretsmanager:secret"] = left["secretsmanager:secret"]
    assert {k: v for k, v in left.items() if v} == expected
    for snapshot in expected.get("rds:snapshot", []):
        aws("rds").delete_db_snapshot(DBSnapshotIdentifier=snapshot)
    for secret in expected.get("secretsmanager:secret", []):
        aws("secretsmanager").delete_secret(SecretId=secret, ForceDeleteWithoutRecovery=True)


@pytest.mark.parametrize("env", list(HOSTS))
def test_inventory_converges_passes_its_audit_and_tears_down(clean_emulator, env):
    overrides = ("-e", emulator_only())
    inventory = f"inventories/{env}"

    built = run_playbook("site.yml", *overrides, inventory=inventory)
    assert built.returncode == 0, built.stdout[-4000:]

    audit = run_playbook("verify.yml", *overrides, inventory=inventory)
    assert audit.returncode == 0, audit.stdout[-6000:]
    assert "checks passed" in audit.stdout

    if env == "prod":
        assert_prod_settings_pass_prowler_checks()

    gone = run_playbook(
        "teardown.yml", *overrides, "-e", f"smartstream_confirm_teardown={HOSTS[env]}", inventory=inventory
    )
    assert gone.returncode == 0, gone.stdout[-4000:]
    clean_expected_residue(env, list_resources(REGION))
    assert not any(list_resources(REGION).values()), list_resources(REGION)

"""Secrets, database, streaming and ingestion checks against moto: good state passes, each fault fails."""

from __future__ import annotations

import json

import pytest
from ansible_collections.smartstream.pipeline.plugins.module_utils.checks import (
    database,
    ingestion,
    secrets,
    streaming,
)

from .conftest import ACCOUNT, NAMES, TAGS, client

DB = NAMES["db_instance"]


def make_secret(**value) -> None:
    body = {
        "dbInstanceIdentifier": DB,
        "dbname": "employees",
        "engine": "postgres",
        "host": "h",
        "password": "p" * 32,
        "port": 5432,
        "username": "dbadmin",
    }
    body.update(value)
    client("secretsmanager").create_secret(
        Name=NAMES["secret"], SecretString=json.dumps(body), Tags=[{"Key": k, "Value": v} for k, v in TAGS.items()]
    )


SECRETS = {"tags": TAGS, "secrets": {"db_username": "dbadmin", "db_name": "employees"}}


def test_secret_shape_passes_and_never_shows_a_value(check):
    make_secret()
    result = check(secrets.credentials, SECRETS)
    assert result["ok"], result["detail"]
    assert "p" * 32 not in json.dumps(result)


def test_a_short_password_fails_and_the_detail_holds_only_lengths(check):
    make_secret(password="hunter2")
    result = check(secrets.credentials, SECRETS)
    assert not result["ok"]
    assert result["detail"] == {"password_length": {"want": 32, "got": 7}}
    assert "hunter2" not in json.dumps(result)


def make_instance(**settings) -> dict:
    rds = client("rds")
    rds.create_db_parameter_group(
        DBParameterGroupName=f"{DB}-postgres15", DBParameterGroupFamily="postgres15", Description="d"
    )
    rds.modify_db_parameter_group(
        DBParameterGroupName=f"{DB}-postgres15",
        Parameters=[
            {"ParameterName": n, "ParameterValue": "1", "ApplyMethod": "pending-reboot"}
            for n in ("rds.logical_replication", "rds.force_ssl")
        ],
    )
    args = {
        "DBInstanceIdentifier": DB,
        "DBInstanceClass": "db.t3.micro",
        "Engine": "postgres",
        "MasterUsername": "dbadmin",
        "MasterUserPassword": "p" * 32,
        "AllocatedStorage": 20,
        "StorageEncrypted": True,
        "PubliclyAccessible": False,
        "BackupRetentionPeriod": 1,
        "DBParameterGroupName": f"{DB}-postgres15",
        "EnableCloudwatchLogsExports": ["postgresql", "upgrade"],
    }
    args.update(settings)
    return rds.create_db_instance(**args)["DBInstance"]


def test_the_secret_must_hold_the_endpoint_the_instance_reports(check):
    make_instance()
    address = client("rds").describe_db_instances(DBInstanceIdentifier=DB)["DBInstances"][0]["Endpoint"]["Address"]
    make_secret(host="elsewhere.example.com")
    result = check(secrets.endpoint, SECRETS)
    assert not result["ok"] and result["detail"] == {"host matches": False, "port matches": True}
    client("secretsmanager").put_secret_value(
        SecretId=NAMES["secret"], SecretString=json.dumps({"host": address, "port": 5432})
    )
    assert check(secrets.endpoint, SECRETS)["ok"]


DATABASE = {
    "database": {
        "multi_az": False,
        "deletion_protection": False,
        "iam_authentication": True,
        "backup_retention_days": 1,
    }
}


def test_parameters_and_availability(check):
    make_instance()
    assert check(database.parameters, DATABASE)["ok"]
    health = check(database.available, DATABASE)
    assert health["ok"] and health["detail"].startswith("available, postgres")


def test_a_public_unencrypted_instance_fails(check):
    make_instance(PubliclyAccessible=True, StorageEncrypted=False)
    result = check(database.instance, DATABASE)
    assert not result["ok"]
    assert result["detail"]["PubliclyAccessible"] == {"want": False, "got": True}
    assert result["detail"]["StorageEncrypted"] == {"want": True, "got": False}
    # created without IAM database authentication
    assert result["detail"]["IAMDatabaseAuthenticationEnabled"] == {"want": True, "got": False}


def test_parameters_without_forced_tls_fail(check):
    make_instance()
    client("rds").modify_db_parameter_group(
        DBParameterGroupName=f"{DB}-postgres15",
        Parameters=[{"ParameterName": "rds.force_ssl", "ParameterValue": "0", "ApplyMethod": "pending-reboot"}],
    )
    result = check(database.parameters, DATABASE)
    assert not result["ok"] and result["detail"] == {"rds.force_ssl": {"want": "1", "got": "0"}}


def test_no_instance_is_a_failed_check(check):
    result = check(database.available, DATABASE)
    assert not result["ok"] and result["detail"].startswith("missing: DBInstanceNotFound")


STREAMING = {"streaming": {"shards": 2, "retention_hours": 24}}


def test_stream_encryption_and_shards_per_inventory(check):
    kinesis = client("kinesis")
    kinesis.create_stream(StreamName=NAMES["stream"], ShardCount=1)
    result = check(streaming.kinesis_stream, STREAMING)
    assert not result["ok"]
    assert result["detail"]["shards"] == {"want": 2, "got": 1}
    assert result["detail"]["encryption"]["got"] in (None, "NONE")
    kinesis.start_stream_encryption(StreamName=NAMES["stream"], EncryptionType="KMS", KeyId="alias/aws/kinesis")
    assert check(streaming.kinesis_stream, {"streaming": {"shards": 1, "retention_hours": 24}})["ok"]
    health = check(streaming.stream_health, STREAMING)
    assert health["ok"] and health["detail"] == "ACTIVE, 1 shard(s), iterator age alarm missing"


def test_stream_health_fails_while_its_iterator_age_alarm_fires(check):
    client("kinesis").create_stream(StreamName=NAMES["stream"], ShardCount=1)
    cw = client("cloudwatch")
    name = f"{NAMES['prefix']}-kinesis-iterator-age"
    cw.put_metric_alarm(
        AlarmName=name,
        MetricName="GetRecords.IteratorAgeMilliseconds",
        Namespace="AWS/Kinesis",
        Statistic="Maximum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=1,
        ComparisonOperator="GreaterThanThreshold",
    )
    cw.set_alarm_state(AlarmName=name, StateValue="ALARM", StateReason="test")
    result = check(streaming.stream_health, STREAMING)
    assert not result["ok"] and result["detail"].endswith("iterator age alarm ALARM")


def test_no_delivery_stream_fails_its_health(check):
    result = check(streaming.delivery_health, STREAMING)
    assert not result["ok"] and result["detail"].startswith("missing: ResourceNotFoundException")


@pytest.fixture
def dms_task(aws):
    dms = client("dms")
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier=NAMES["replication_instance"],
        ReplicationInstanceClass="dms.t3.micro",
        PubliclyAccessible=True,
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    source = dms.create_endpoint(EndpointIdentifier="s", EndpointType="source", EngineName="postgres")
    target = dms.create_endpoint(EndpointIdentifier="t", EndpointType="target", EngineName="kinesis")
    mappings = {
        "rules": [
            {
                "rule-type": "selection",
                "rule-id": "1",
                "rule-name": "1",
                "object-locator": {"schema-name": "public", "table-name": "employees"},
                "rule-action": "include",
            }
        ]
    }
    settings = {"Logging": {"EnableLogging": True}, "BeforeImageSettings": {"EnableBeforeImage": False}}
    return dms.create_replication_task(
        ReplicationTaskIdentifier=NAMES["replication_task"],
        SourceEndpointArn=source["Endpoint"]["EndpointArn"],
        TargetEndpointArn=target["Endpoint"]["EndpointArn"],
        ReplicationInstanceArn=instance,
        MigrationType="full-load-and-cdc",
        TableMappings=json.dumps(mappings),
        ReplicationTaskSettings=json.dumps(settings),
    )["ReplicationTask"]


INGESTION = {"ingestion": {"source_schema": "public", "source_tables": ["employees"], "start_replication": True}}


def test_task_without_before_images_and_not_started_fails(check, dms_task):
    result = check(ingestion.task, INGESTION)
    assert not result["ok"]
    assert result["detail"] == {
        "before_image": {"want": True, "got": False},
        "running": {"want": True, "got": False},
    }


def test_a_public_replication_instance_fails(check, dms_task):
    result = check(ingestion.instance, INGESTION)
    assert not result["ok"] and result["detail"]["public"] == {"want": False, "got": True}


def test_task_health_reports_status_and_tables(check, dms_task, monkeypatch):
    # moto has no DescribeTableStatistics (the emulator's dms patch adds it)
    stats = [{"TableName": "employees", "TableState": "Table completed", "FullLoadRows": 53, "Inserts": 2}]
    monkeypatch.setattr(ingestion, "table_statistics", lambda ctx, arn: stats if ACCOUNT in arn else [])
    original = ingestion._task
    monkeypatch.setattr(ingestion, "_task", lambda ctx: {**original(ctx), "Status": "running"})  # moto: creating
    result = check(ingestion.task_health, INGESTION)
    assert result["ok"], result["detail"]
    assert result["detail"] == "task running; 1 table(s), employees Table completed load 53 ins 2 upd 0 del 0"


def test_a_failed_task_is_unhealthy(check, dms_task, monkeypatch):
    monkeypatch.setattr(ingestion, "table_statistics", lambda ctx, arn: [])
    original = ingestion._task
    monkeypatch.setattr(
        ingestion, "_task", lambda ctx: {**original(ctx), "Status": "failed", "LastFailureMessage": "slot gone"}
    )
    result = check(ingestion.task_health, INGESTION)
    assert not result["ok"] and result["detail"] == "task failed; 0 table(s); last failure: slot gone"

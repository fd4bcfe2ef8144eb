"""What the DMS engine's tests share: a scratch source database, the deployed pipeline, and their fixtures.

Each test makes its own database and role on the local PostgreSQL (admin
socket ``$SMARTSTREAM_RUN_DIR/postgres/sock``, user postgres) and deploys
what the ingestion layer deploys (secret, role, stream, endpoints, task)
through boto3 against the in-process emulator. A test module imports the
fixtures it uses (``db``, ``dms_engine``, ``fast_iam``) and the autouse
``_local_postgres_answers`` from here.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

import emulator.engines.dms as dms_engine_module
from emulator.engines.dms import task as dms_task

REGION = "us-east-1"
ACCOUNT = "123456789012"
PG_PORT = int(os.environ.get("SMARTSTREAM_PG_PORT", "55432"))
RUN_DIR = Path(os.environ.get("SMARTSTREAM_RUN_DIR", "/tmp/smartstream-local"))
SOCK = RUN_DIR / "postgres" / "sock"
ALL_FLAGS = {
    "IncludeTransactionDetails": True,
    "IncludePartitionValue": True,
    "PartitionIncludeSchemaTable": True,
    "IncludeTableAlterOperations": True,
    "IncludeControlDetails": True,
    "IncludeNullAndEmpty": True,
}


def admin(dbname: str = "postgres") -> psycopg.Connection[Any]:
    """The cluster owner over the admin socket."""
    return psycopg.connect(host=str(SOCK), port=PG_PORT, user="postgres", dbname=dbname, autocommit=True)


def postgres_available() -> bool:
    try:
        admin().close()
        return True
    except psycopg.Error:
        return False


@dataclass
class SourceDb:
    name: str
    role: str
    password: str

    def sql(self, statement: str, params: Any = None) -> list[tuple[Any, ...]]:
        with admin(self.name) as conn:
            cur = conn.execute(statement, params)
            return cur.fetchall() if cur.description else []

    def confirmed_lsn(self) -> str | None:
        rows = self.sql("SELECT confirmed_flush_lsn::text FROM pg_replication_slots WHERE database = %s", (self.name,))
        return rows[0][0] if rows else None

    def slots(self) -> list[str]:
        return [r[0] for r in self.sql("SELECT slot_name FROM pg_replication_slots WHERE database = %s", (self.name,))]


def make_db(tables_sql: str) -> SourceDb:
    suffix = uuid.uuid4().hex[:8]
    db = SourceDb(f"dms_{suffix}", f"dms_{suffix}", uuid.uuid4().hex)
    with admin() as conn:
        conn.execute(f"CREATE ROLE {db.role} LOGIN REPLICATION PASSWORD '{db.password}'")
        conn.execute(f"CREATE DATABASE {db.name} OWNER {db.role}")
    with admin(db.name) as conn:
        conn.execute(tables_sql)
        conn.execute(f"GRANT SELECT ON ALL TABLES IN SCHEMA public TO {db.role}")
    return db


def drop_db(db: SourceDb) -> None:
    with admin() as conn:
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db.name,))
        for _ in range(50):
            rows = conn.execute(
                "SELECT slot_name, active FROM pg_replication_slots WHERE database = %s", (db.name,)
            ).fetchall()
            for slot, active in rows:
                if not active:
                    conn.execute("SELECT pg_drop_replication_slot(%s)", (slot,))
            if not rows:
                break
            time.sleep(0.1)
        conn.execute(f"DROP DATABASE IF EXISTS {db.name} WITH (FORCE)")
        conn.execute(f"DROP ROLE IF EXISTS {db.role}")


@dataclass
class Pipeline:
    task_arn: str
    stream: str
    source_arn: str
    target_arn: str
    secret_arn: str

    @property
    def dms(self) -> Any:
        return boto3.client("dms", region_name=REGION)

    @property
    def kinesis(self) -> Any:
        return boto3.client("kinesis", region_name=REGION)

    def task(self) -> dict[str, Any]:
        return self.dms.describe_replication_tasks(
            Filters=[{"Name": "replication-task-arn", "Values": [self.task_arn]}]
        )["ReplicationTasks"][0]

    def start(self, kind: str = "start-replication") -> None:
        self.dms.start_replication_task(ReplicationTaskArn=self.task_arn, StartReplicationTaskType=kind)

    def stop(self) -> None:
        self.dms.stop_replication_task(ReplicationTaskArn=self.task_arn)

    def wait_status(self, *wanted: str, timeout: float = 20) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            task = self.task()
            if task["Status"] in wanted:
                return task
            if time.monotonic() > deadline:
                raise AssertionError(f"task is {task['Status']} ({task.get('LastFailureMessage')}), not {wanted}")
            time.sleep(0.1)

    def raw(self) -> list[tuple[bytes, str]]:
        """Every record of the (one-shard) stream: (data, partition key), in order."""
        shard = self.kinesis.list_shards(StreamName=self.stream)["Shards"][0]["ShardId"]
        iterator = self.kinesis.get_shard_iterator(
            StreamName=self.stream, ShardId=shard, ShardIteratorType="TRIM_HORIZON"
        )["ShardIterator"]
        out: list[tuple[bytes, str]] = []
        while iterator:
            page = self.kinesis.get_records(ShardIterator=iterator, Limit=10000)
            out.extend((r["Data"], r["PartitionKey"]) for r in page["Records"])
            if not page["Records"]:
                break
            iterator = page.get("NextShardIterator")
        return out

    def records(self) -> list[dict[str, Any]]:
        return [json.loads(data) for data, _key in self.raw()]

    def wait_records(self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 20) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if check(records):
                return records
            if time.monotonic() > deadline:
                task = self.task()
                raise AssertionError(
                    f"{len(records)} records; task {task['Status']} {task.get('LastFailureMessage')}: {records[-3:]}"
                )
            time.sleep(0.1)


def deploy(
    db: SourceDb,
    *,
    kinesis_settings: dict[str, Any] | None = None,
    migration: str = "full-load-and-cdc",
    task_settings: dict[str, Any] | None = None,
    tables: list[str] | None = None,
    port: int | None = None,
    postgres_settings: dict[str, Any] | None = None,
) -> Pipeline:
    """What the ingestion layer deploys, against the in-process emulator."""
    iam = boto3.client("iam", region_name=REGION)
    trust = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"Service": "dms.amazonaws.com"}, "Action": "sts:AssumeRole"}],
    }
    role_arn = iam.create_role(RoleName="smartstream-dms", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    secret = {
        "username": db.role,
        "password": db.password,
        "engine": "postgres",
        "host": "127.0.0.1",
        "port": port or PG_PORT,
        "dbname": db.name,
    }
    secret_arn = boto3.client("secretsmanager", region_name=REGION).create_secret(
        Name="smartstream/test/rds/master", SecretString=json.dumps(secret)
    )["ARN"]
    stream = "smartstream-cdc"
    kinesis = boto3.client("kinesis", region_name=REGION)
    kinesis.create_stream(StreamName=stream, ShardCount=1)
    stream_arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    dms = boto3.client("dms", region_name=REGION)
    instance = dms.create_replication_instance(
        ReplicationInstanceIdentifier="smartstream-dms", ReplicationInstanceClass="dms.t3.micro"
    )["ReplicationInstance"]["ReplicationInstanceArn"]
    source = dms.create_endpoint(
        EndpointIdentifier="smartstream-source",
        EndpointType="source",
        EngineName="postgres",
        SslMode="require",
        PostgreSQLSettings={
            "SecretsManagerSecretId": "smartstream/test/rds/master",
            "SecretsManagerAccessRoleArn": role_arn,
            "DatabaseName": db.name,
            "PluginName": "test-decoding",
            **(postgres_settings or {}),
        },
    )["Endpoint"]["EndpointArn"]
    settings = {"StreamArn": stream_arn, "ServiceAccessRoleArn": role_arn, "MessageFormat": "json-unformatted"}
    settings.update(ALL_FLAGS if kinesis_settings is None else kinesis_settings)
    target = dms.create_endpoint(
        EndpointIdentifier="smartstream-kinesis", EndpointType="target", EngineName="kinesis", KinesisSettings=settings
    )["Endpoint"]["EndpointArn"]
    rules = [
        {
            "rule-type": "selection",
            "rule-id": str(i + 1),
            "rule-name": str(i + 1),
            "object-locator": {"schema-name": "public", "table-name": name},
            "rule-action": "include",
        }
        for i, name in enumerate(tables or ["employees"])
    ]
    task = dms.create_replication_task(
        ReplicationTaskIdentifier="smartstream-cdc",
        SourceEndpointArn=source,
        TargetEndpointArn=target,
        ReplicationInstanceArn=instance,
        MigrationType=migration,
        TableMappings=json.dumps({"rules": rules}),
        ReplicationTaskSettings=json.dumps(task_settings or {}),
    )["ReplicationTask"]["ReplicationTaskArn"]
    pipe = Pipeline(task, stream, source, target, secret_arn)
    pipe.wait_status("ready")
    return pipe


def table_statistics(pipe: Pipeline, fields: tuple[str, ...], settle: float = 2.0) -> list[tuple[Any, ...]]:
    """DescribeTableStatistics, once it stops changing (the engine reports at most twice a second)."""
    last = None
    deadline = time.monotonic() + settle
    while True:
        stats = pipe.dms.describe_table_statistics(ReplicationTaskArn=pipe.task_arn)["TableStatistics"]
        now = [(s["TableName"], *(s[f] for f in fields)) for s in stats]
        if now == last or time.monotonic() > deadline:
            return now
        last = now
        time.sleep(0.6)


def data(records: list[dict[str, Any]], *operations: str) -> list[dict[str, Any]]:
    return [r for r in records if r["metadata"]["record-type"] == "data" and r["metadata"]["operation"] in operations]


# ------------------------------------------------------------------------------------------------
# Fixtures
# ------------------------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _local_postgres_answers():
    """These tests need the local PostgreSQL (make up): without it they fail, never skip."""
    if not postgres_available():
        pytest.fail(f"no local PostgreSQL at {SOCK} port {PG_PORT} (run make up)")


EMPLOYEES = """
CREATE TABLE public.employees (
    id integer PRIMARY KEY, name text, salary numeric(10,2), active boolean, hired date,
    created_at timestamp, doc jsonb, tags text[], photo bytea
);
CREATE TABLE public.other (id integer PRIMARY KEY, v text);
"""


@pytest.fixture
def fast_iam(monkeypatch):
    """No AWS managed policies in IAM for these tests (loading them takes 2 s a reset); before ``emulator``."""
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "false")


@pytest.fixture
def db():
    found = make_db(EMPLOYEES)
    yield found
    drop_db(found)


@pytest.fixture
def dms_engine(db, engine_host, monkeypatch):
    """The DMS engine on the in-process emulator, polling fast."""
    monkeypatch.setenv("SMARTSTREAM_DMS_POLL_S", "0.1")
    monkeypatch.setattr(dms_task, "IDLE_S", 0.05)
    monkeypatch.setattr(dms_task, "METRICS_S", 0.5)
    monkeypatch.setattr(dms_task, "TARGET_RETRY_S", 30.0)
    dms_engine_module.install(engine_host)
    return engine_host

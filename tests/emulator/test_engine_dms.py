"""The DMS engine replicates a PostgreSQL source into Kinesis as DMS does (needs the local PostgreSQL).

Each test makes its own database and role on the local PostgreSQL (admin
socket ``$SMARTSTREAM_RUN_DIR/postgres/sock``, user postgres) and deploys
what the ingestion layer deploys (secret, role, stream, endpoints, task)
through boto3 against the in-process emulator.
"""

from __future__ import annotations

import json
import os
import re
import threading
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


# ------------------------------------------------------------------------------------------------
# Full load, then CDC: the records as DMS writes them
# ------------------------------------------------------------------------------------------------
def test_full_load_then_cdc_records_have_dms_envelope(fast_iam, emulator, dms_engine, db):
    # Given a table with a row and a task with every Include* flag (json-unformatted)
    db.sql(
        "INSERT INTO employees VALUES (1, 'Ann O''Neil', 1234.50, true, '2024-02-03',"
        " '2024-01-01 10:00:00.5', '{\"a\": 1}', '{x,\"y z\"}', '\\x00ff')"
    )
    pipe = deploy(db)
    # When the task starts, and a transaction inserts and updates after the load
    pipe.start()
    pipe.wait_records(lambda r: len(data(r, "load")) == 1)
    db.sql(
        "BEGIN; INSERT INTO employees (id, name) VALUES (2, 'Bo'); UPDATE employees SET salary = 99 WHERE id = 1;"
        " COMMIT"
    )
    records = pipe.wait_records(lambda r: len(data(r, "insert", "update")) == 2)
    raw = pipe.raw()
    # Then the first records are the control records, then the load, then the changes
    ops = [(r["metadata"]["record-type"], r["metadata"]["operation"], r["metadata"]["table-name"]) for r in records]
    assert ops == [
        ("control", "create-table", "awsdms_apply_exceptions"),
        ("control", "create-table", "employees"),
        ("data", "load", "employees"),
        ("data", "insert", "employees"),
        ("data", "update", "employees"),
    ]
    control = records[1]
    assert control["control"]["table-def"]["primary-key"] == ["id"]
    assert control["control"]["table-def"]["columns"]["id"] == {"nullable": False, "type": "INT32"}
    assert control["control"]["table-def"]["columns"]["salary"] == {
        "nullable": True,
        "precision": 10,
        "scale": 2,
        "type": "NUMERIC",
    }
    assert list(control["metadata"]) == [
        "timestamp",
        "record-type",
        "operation",
        "partition-key-type",
        "partition-key-value",
        "schema-name",
        "table-name",
    ]
    assert control["metadata"]["partition-key-type"] == "task-id"
    assert control["metadata"]["partition-key-value"] == pipe.task_arn.split(":")[-1]
    load = records[2]
    assert load["data"] == {
        "id": 1,
        "name": "Ann O'Neil",
        "salary": "1234.50",
        "active": "true",
        "hired": "2024-02-03",
        "created_at": "2024-01-01T10:00:00.500000Z",
        "doc": '{"a": 1}',
        "tags": '{x,"y z"}',
        "photo": "0x00FF",
    }
    assert {k: v for k, v in load["metadata"].items() if k != "timestamp"} == {
        "record-type": "data",
        "operation": "load",
        "partition-key-type": "primary-key",
        "partition-key-value": "public.employees.1",
        "schema-name": "public",
        "table-name": "employees",
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", load["metadata"]["timestamp"])
    insert, update = records[3], records[4]
    assert insert["data"] == {
        "id": 2,
        "name": "Bo",
        "salary": None,
        "active": None,
        "hired": None,
        "created_at": None,
        "doc": None,
        "tags": None,
        "photo": None,
    }
    meta = insert["metadata"]
    assert list(meta) == [
        "timestamp",
        "record-type",
        "operation",
        "partition-key-type",
        "schema-name",
        "table-name",
        "transaction-id",
        "transaction-record-id",
        "commit-timestamp",
        "stream-position",
    ]
    assert meta["partition-key-type"] == "schema-table" and isinstance(meta["transaction-id"], int)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", meta["commit-timestamp"])
    assert re.fullmatch(r"[0-9A-F]{8}/[0-9A-F]{8}\.1\.[0-9A-F]{8}/[0-9A-F]{8}", meta["stream-position"])
    assert update["metadata"]["transaction-id"] == meta["transaction-id"]
    assert update["metadata"]["transaction-record-id"] == 2
    assert update["metadata"]["commit-timestamp"] == meta["commit-timestamp"]
    assert update["data"]["salary"] == "99.00"
    # json-unformatted: one compact line ending in a newline; partition keys as DMS sets them
    assert all(d == (json.dumps(json.loads(d), separators=(",", ":")) + "\n").encode() for d, _k in raw)
    assert [k for _d, k in raw][2:] == ["public.employees.1", "public.employees", "public.employees"]


def test_json_format_flags_off_before_image_and_key_change(fast_iam, emulator, dms_engine, db):
    # Given a task writing pretty JSON with no Include* flag, before-images on (pk-only)
    pipe = deploy(
        db,
        kinesis_settings={"MessageFormat": "json"},
        task_settings={"BeforeImageSettings": {"EnableBeforeImage": True, "ColumnFilter": "pk-only"}},
    )
    pipe.start()
    pipe.wait_status("running")
    pipe.wait_records(lambda r: len(r) == 2)  # the control records
    # When one transaction changes one key several times, changes a key, and deletes (REPLICA IDENTITY DEFAULT)
    db.sql(
        "BEGIN; INSERT INTO employees (id, name) VALUES (1, 'a'); UPDATE employees SET name = 'b' WHERE id = 1;"
        " UPDATE employees SET name = '' WHERE id = 1; UPDATE employees SET id = 7 WHERE id = 1;"
        " DELETE FROM employees WHERE id = 7; COMMIT"
    )
    records = pipe.wait_records(lambda r: len(data(r, "delete")) == 1)
    raw = pipe.raw()
    changes = data(records, "insert", "update", "delete")
    # Then every change is there, in order, in one transaction
    assert [(r["metadata"]["operation"], r["data"]) for r in changes] == [
        ("insert", {"id": 1, "name": "a"}),
        ("update", {"id": 1, "name": "b"}),
        ("update", {"id": 1}),  # the empty string left out without IncludeNullAndEmpty
        ("update", {"id": 7}),
        ("delete", {"id": 7}),
    ]
    assert [r.get("before-image") for r in changes] == [None, {}, {}, {"id": 1}, None]
    assert len({r["metadata"]["transaction-id"] for r in changes}) == 1
    # and the metadata has no transaction details, no partition value
    assert set(changes[0]["metadata"]) == {
        "timestamp",
        "record-type",
        "operation",
        "partition-key-type",
        "schema-name",
        "table-name",
        "transaction-id",
    }
    assert "control" not in records[1] and "partition-key-value" not in records[1]["metadata"]
    # json: indented, no newline at the end
    assert all(d.startswith(b'{\n    "') and not d.endswith(b"\n") for d, _k in raw)


def test_stop_changes_resume_loses_nothing_and_statistics_are_real(fast_iam, emulator, dms_engine, db):
    # Given a running task that loaded 3 rows
    db.sql("INSERT INTO employees (id, name) SELECT g, 'n' || g FROM generate_series(1, 3) g")
    pipe = deploy(db)
    pipe.start()
    pipe.wait_records(lambda r: len(data(r, "load")) == 3)
    db.sql("INSERT INTO employees (id) VALUES (4)")
    pipe.wait_records(lambda r: len(data(r, "insert")) == 1)
    # When it is stopped, the source changes, and it resumes
    pipe.stop()
    stopped = pipe.wait_status("stopped")
    assert stopped["StopReason"] == "Stop Reason NORMAL"
    lsn = db.confirmed_lsn()
    db.sql("BEGIN; INSERT INTO employees (id) VALUES (5); UPDATE employees SET name = 'x' WHERE id = 2; COMMIT")
    db.sql("DELETE FROM employees WHERE id = 3")
    time.sleep(0.5)
    assert len(data(pipe.records(), "insert", "update", "delete")) == 1  # nothing while stopped
    assert db.confirmed_lsn() == lsn
    pipe.start("resume-processing")
    # Then every change made while stopped arrives, once, after the ones before
    records = pipe.wait_records(lambda r: len(data(r, "insert", "update", "delete")) == 4)
    assert [(r["metadata"]["operation"], r["data"]["id"]) for r in data(records, "insert", "update", "delete")] == [
        ("insert", 4),
        ("insert", 5),
        ("update", 2),
        ("delete", 3),
    ]
    assert len(data(records, "load")) == 3  # no second load
    first = data(records, "insert")[1]["metadata"]
    assert first["prev-transaction-id"] == data(records, "insert")[0]["metadata"]["transaction-id"]
    assert first["prev-transaction-record-id"] == 1
    # DescribeTableStatistics counts what went to Kinesis; metrics went to CloudWatch
    assert table_statistics(pipe, ("FullLoadRows", "Inserts", "Updates", "Deletes", "TableState")) == [
        ("employees", 3, 2, 1, 1, "Table completed")
    ]
    assert pipe.task()["ReplicationTaskStats"]["TablesLoaded"] == 1
    cloudwatch = boto3.client("cloudwatch", region_name=REGION)
    deadline = time.monotonic() + 10
    while True:
        metrics = cloudwatch.list_metrics(Namespace="AWS/DMS")["Metrics"]
        names = {m["MetricName"] for m in metrics}
        if names >= {"CDCLatencySource", "CDCLatencyTarget", "CDCIncomingChanges"} or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert names >= {"CDCLatencySource", "CDCLatencyTarget", "CDCIncomingChanges"}
    dims = {d["Name"]: d["Value"] for d in metrics[0]["Dimensions"]}
    assert dims == {
        "ReplicationInstanceIdentifier": "smartstream-dms",
        "ReplicationTaskIdentifier": pipe.task_arn.split(":")[-1],
    }


def test_slot_is_not_confirmed_while_kinesis_refuses_records(fast_iam, emulator, dms_engine, db, monkeypatch):
    # Given a running task, and Kinesis refusing every record (partial failures: throughput exceeded)
    from moto.kinesis.models import KinesisBackend

    pipe = deploy(db)
    pipe.start()
    pipe.wait_records(lambda r: len(r) == 2)
    original = KinesisBackend.put_records
    refusing = {"on": True, "calls": 0}

    def put_records(self, stream_arn, stream_name, records):
        if not refusing["on"]:
            return original(self, stream_arn, stream_name, records)
        refusing["calls"] += 1
        failed = {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "Rate exceeded"}
        return {"FailedRecordCount": len(records), "Records": [failed for _ in records]}

    monkeypatch.setattr(KinesisBackend, "put_records", put_records)
    lsn = db.confirmed_lsn()
    # When changes are made
    db.sql("INSERT INTO employees (id) SELECT generate_series(1, 50)")
    deadline = time.monotonic() + 10
    while refusing["calls"] < 3 and time.monotonic() < deadline:
        time.sleep(0.1)
    # Then the slot stays where it was, and nothing is in the stream
    assert refusing["calls"] >= 3
    assert db.confirmed_lsn() == lsn
    assert len(pipe.records()) == 2
    assert pipe.task()["Status"] == "running"
    # and once Kinesis accepts again, every change arrives and the slot moves on
    refusing["on"] = False
    records = pipe.wait_records(lambda r: len(data(r, "insert")) == 50)
    assert sorted(r["data"]["id"] for r in data(records, "insert")) == list(range(1, 51))
    deadline = time.monotonic() + 5
    while db.confirmed_lsn() == lsn and time.monotonic() < deadline:
        time.sleep(0.1)
    assert db.confirmed_lsn() != lsn


def test_a_deleted_stream_fails_the_task_and_resume_delivers_after_recovery(fast_iam, emulator, dms_engine, db):
    # Given a running task whose stream is deleted
    pipe = deploy(db)
    pipe.start()
    pipe.wait_records(lambda r: len(r) == 2)
    lsn = db.confirmed_lsn()
    pipe.kinesis.delete_stream(StreamName=pipe.stream)
    # When the source changes
    db.sql("INSERT INTO employees (id) VALUES (1), (2)")
    # Then the task fails with DMS's reason, and the slot keeps its position
    failed = pipe.wait_status("failed")
    assert failed["StopReason"] == "Stop Reason FATAL_ERROR"
    assert failed["LastFailureMessage"].startswith("Last Error Stream Component Fatal error.")
    assert "ResourceNotFoundException" in failed["LastFailureMessage"]
    assert db.confirmed_lsn() == lsn
    # and after the stream is back, resume-processing delivers the changes
    pipe.kinesis.create_stream(StreamName=pipe.stream, ShardCount=1)
    pipe.start("resume-processing")
    records = pipe.wait_records(lambda r: len(data(r, "insert")) == 2)
    assert [r["data"]["id"] for r in data(records, "insert")] == [1, 2]


def test_reload_target_loads_everything_again_then_continues(fast_iam, emulator, dms_engine, db):
    db.sql("INSERT INTO employees (id) VALUES (1), (2)")
    pipe = deploy(db)
    pipe.start()
    pipe.wait_records(lambda r: len(data(r, "load")) == 2)
    db.sql("UPDATE employees SET name = 'u' WHERE id = 1")
    pipe.wait_records(lambda r: len(data(r, "update")) == 1)
    pipe.stop()
    pipe.wait_status("stopped")
    db.sql("INSERT INTO employees (id) VALUES (3)")
    # When the task is reloaded
    pipe.start("reload-target")
    # Then the control records and a load of every row come again, then CDC goes on
    records = pipe.wait_records(lambda r: len(data(r, "load")) == 5)
    db.sql("DELETE FROM employees WHERE id = 2")
    records = pipe.wait_records(lambda r: len(data(r, "delete")) == 1)
    ops = [r["metadata"]["operation"] for r in records]
    assert ops.count("create-table") == 4
    assert sorted(r["data"]["id"] for r in data(records, "load")[2:]) == [1, 2, 3]
    assert data(records, "load")[2:][0]["data"]["id"] in (1, 2, 3)
    assert table_statistics(pipe, ("FullLoadRows", "FullLoadReloaded", "Deletes")) == [("employees", 3, True, 1)]
    assert len(db.slots()) == 1


def test_an_unreachable_source_fails_the_task_with_the_reason(fast_iam, emulator, dms_engine, db):
    pipe = deploy(db, port=1)
    pipe.start()
    failed = pipe.wait_status("failed")
    assert failed["StopReason"] == "Stop Reason FATAL_ERROR"
    assert failed["LastFailureMessage"].startswith("Last Error Endpoint initialization failed.")
    assert "127.0.0.1:1" in failed["LastFailureMessage"]
    assert failed["LastFailureMessage"].endswith("Stop Reason FATAL_ERROR Error Level FATAL")
    # Once the secret names the right port, a selection that matches no table fails the load as DMS does
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secret = json.loads(secrets.get_secret_value(SecretId=pipe.secret_arn)["SecretString"])
    secrets.put_secret_value(SecretId=pipe.secret_arn, SecretString=json.dumps({**secret, "port": PG_PORT}))
    rules = [
        {
            "rule-type": "selection",
            "rule-id": "1",
            "rule-name": "1",
            "rule-action": "include",
            "object-locator": {"schema-name": "public", "table-name": "nosuch%"},
        }
    ]
    pipe.dms.modify_replication_task(ReplicationTaskArn=pipe.task_arn, TableMappings=json.dumps({"rules": rules}))
    pipe.wait_status("failed")
    pipe.start("reload-target")  # the task is "starting" when the call returns
    failed = pipe.wait_status("failed")
    assert "Last Error No tables were found at task initialization." in failed["LastFailureMessage"]


def test_a_full_load_task_ends_stopped_and_deleting_a_task_drops_its_slot(fast_iam, emulator, dms_engine, db):
    db.sql("INSERT INTO employees (id) SELECT generate_series(1, 25)")
    db.sql("INSERT INTO other VALUES (1, 'x')")
    load_only = deploy(db, migration="full-load", tables=["%"])
    load_only.start()
    stopped = load_only.wait_status("stopped")
    assert stopped["StopReason"] == "Stop Reason FULL_LOAD_ONLY_FINISHED"
    records = load_only.records()
    assert sorted((r["metadata"]["table-name"], r["data"]["id"]) for r in data(records, "load")) == [
        ("employees", i) for i in range(1, 26)
    ] + [("other", 1)]
    assert db.slots() == []
    # A CDC task has a slot while it exists, none once it is deleted
    dms = load_only.dms
    cdc = dms.create_replication_task(
        ReplicationTaskIdentifier="cdc-only",
        SourceEndpointArn=load_only.source_arn,
        TargetEndpointArn=load_only.target_arn,
        ReplicationInstanceArn=stopped["ReplicationInstanceArn"],
        MigrationType="cdc",
        TableMappings=stopped["TableMappings"],
    )["ReplicationTask"]["ReplicationTaskArn"]
    task = Pipeline(cdc, load_only.stream, load_only.source_arn, load_only.target_arn, load_only.secret_arn)
    task.wait_status("ready")
    task.start()
    task.wait_status("running")
    deadline = time.monotonic() + 10
    while not db.slots() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(db.slots()) == 1
    db.sql("UPDATE other SET v = 'y'")
    task.wait_records(lambda r: len(data(r, "update")) == 1)
    task.stop()
    task.wait_status("stopped")
    dms.delete_replication_task(ReplicationTaskArn=cdc)
    deadline = time.monotonic() + 10
    while db.slots() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert db.slots() == []


def test_changes_during_the_full_load_are_never_lost(fast_iam, emulator, dms_engine, db):
    # Given a table that keeps changing while the task starts and loads it
    db.sql("INSERT INTO employees (id) SELECT generate_series(1, 3000)")
    pipe = deploy(db)
    stop = threading.Event()
    written = []

    def writer():
        with admin(db.name) as conn:
            i = 10_000
            while not stop.is_set():
                conn.execute("INSERT INTO employees (id) VALUES (%s)", (i,))
                written.append(i)
                i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        pipe.start()
        pipe.wait_records(lambda r: len(data(r, "load")) >= 3000, timeout=30)
        time.sleep(0.3)
    finally:
        stop.set()
        thread.join()
    # Then every row written before, during and after the load is in the stream (some maybe twice)
    records = pipe.wait_records(lambda r: {x["data"]["id"] for x in data(r, "load", "insert")} >= set(written))
    seen = {r["data"]["id"] for r in data(records, "load", "insert")}
    assert seen == set(range(1, 3001)) | set(written)

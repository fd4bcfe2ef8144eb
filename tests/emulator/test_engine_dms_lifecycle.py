"""The DMS engine's task lifecycle: stop and resume, reload, a full-load task's end, deletion, and failures.

Needs the local PostgreSQL (make up); the helpers and fixtures are in dms_pipeline.
"""

from __future__ import annotations

import json
import time

import boto3

from tests.emulator.dms_pipeline import (
    PG_PORT,
    REGION,
    Pipeline,
    data,
    deploy,
    table_statistics,
)


# ------------------------------------------------------------------------------------------------
# Stop, resume, reload; failures of the target and the source; the end of a full-load task
# ------------------------------------------------------------------------------------------------
def test_stop_changes_resume_loses_nothing_and_statistics_are_real(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_slot_is_not_confirmed_while_kinesis_refuses_records(fast_iam, emulator, dms_engine, db, monkeypatch):  # noqa: F811
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


def test_a_deleted_stream_fails_the_task_and_resume_delivers_after_recovery(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_reload_target_loads_everything_again_then_continues(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_an_unreachable_source_fails_the_task_with_the_reason(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_a_full_load_task_ends_stopped_and_deleting_a_task_drops_its_slot(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


# The fixtures (and the autouse PostgreSQL check), as test_engine_dms_volume imports them.
from tests.emulator.dms_pipeline import _local_postgres_answers, db, dms_engine, fast_iam  # noqa: E402,F401

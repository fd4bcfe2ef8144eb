"""The DMS engine replicates a PostgreSQL source into Kinesis as DMS does: the records of the full load and CDC.

Needs the local PostgreSQL (make up); the helpers and fixtures are in dms_pipeline.
"""

from __future__ import annotations

import json
import re
import threading
import time

from tests.emulator.dms_pipeline import (
    admin,
    data,
    deploy,
)


# ------------------------------------------------------------------------------------------------
# Full load, then CDC: the records as DMS writes them
# ------------------------------------------------------------------------------------------------
def test_full_load_then_cdc_records_have_dms_envelope(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_json_format_flags_off_before_image_and_key_change(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


def test_changes_during_the_full_load_are_never_lost(fast_iam, emulator, dms_engine, db):  # noqa: F811
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


# The fixtures (and the autouse PostgreSQL check), as test_engine_dms_volume imports them.
from tests.emulator.dms_pipeline import _local_postgres_answers, db, dms_engine, fast_iam  # noqa: E402,F401
